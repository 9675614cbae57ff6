"""The training dock's score error by t: computed off the UI thread for new model snapshots (the core's table, at
most one run every SCORE_ERROR_MS, coalescing the snapshots in between into the latest), nothing computed while the
plot is hidden and one run for the latest snapshot when it shows again, a clear text for targets without an exact
score, and readable axes in a small dock (pytest-qt)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from playground.app.panels import score_error_curve  # noqa: E402
from playground.app.panels.score_error_curve import NO_EXACT, NO_MODEL, SCORE_ERROR_SAMPLES  # noqa: E402
from playground.app.panels.training_panel import TrainingPanel  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.widgets.compact_axes import log_ticks  # noqa: E402
from playground.app.workers.training_controller import TrainingController  # noqa: E402
from playground.app.workers.training_progress import N_BINS  # noqa: E402
from playground.core.evaluation.score_error import model_score_error  # noqa: E402
from playground.core.training.config import TrainConfig  # noqa: E402
from playground.core.training.trainer import Trainer  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402
from playground.data.targets.raster import raster_target  # noqa: E402


def _snapshot(state: AppState, steps: int = 40):
    trainer = Trainer(TrainConfig(steps=steps, hidden=32, depth=2, batch=128, warmup=5), state.target_samples)
    trainer.run()
    return trainer.snapshot()


def _panel(qtbot, keep, target):
    state = AppState(target, Settings(target_samples=4000))
    panel = keep(TrainingPanel(state, TrainingController(state)))
    panel.resize(600, 400)
    panel.show()
    return state, panel


def test_a_snapshot_gets_the_cores_score_error_table(qtbot, keep):
    state, panel = _panel(qtbot, keep, make_preset("8gaussians"))
    curve = panel.score_error
    assert curve.message.text == NO_MODEL and curve.table is None
    model = _snapshot(state)
    state.set_model(model)
    qtbot.waitUntil(lambda: curve.table is not None, timeout=30_000)
    want = model_score_error(model, state.target, n=SCORE_ERROR_SAMPLES, bins=N_BINS)
    np.testing.assert_allclose(curve.table.score_error, want.score_error, rtol=1e-6)
    np.testing.assert_allclose(curve.bars.opts["height"], want.score_error, rtol=1e-6)
    assert curve.message.text == "" and f"step {model.config['steps_done']:,}" in panel.error_plot.titleLabel.text
    state.set_model(None)  # Train > Reset
    assert curve.table is None and curve.message.text == NO_MODEL


def test_snapshots_in_quick_succession_cost_one_run_of_the_latest(qtbot, keep, monkeypatch):
    monkeypatch.setattr(score_error_curve, "SCORE_ERROR_MS", 400)
    state, panel = _panel(qtbot, keep, make_preset("8gaussians"))
    curve = panel.score_error
    base = _snapshot(state)
    state.set_model(base)
    qtbot.waitUntil(lambda: curve.table is not None, timeout=30_000)
    assert curve.runs == 1
    for step in (100, 200, 300, 400):  # snapshots every ~50 ms: the trainer's rate
        m = copy.copy(base)
        m.config = {**base.config, "steps_done": step}
        state.set_model(m)
        qtbot.wait(50)
    qtbot.waitUntil(lambda: curve.step == 400 and not curve.running, timeout=30_000)
    assert curve.runs <= 3  # the first snapshot may start at once; the rest wait for the interval and coalesce


def _docked_panel(qtbot, keep, target):
    """The panel inside a shown window (as in its dock): hiding the panel hides the plot, the window stays shown."""
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    state = AppState(target, Settings(target_samples=4000))
    host = keep(QWidget())
    panel = TrainingPanel(state, TrainingController(state))
    QVBoxLayout(host).addWidget(panel)
    host.resize(600, 400)
    host.show()
    qtbot.waitExposed(host)
    return state, panel


def _at_step(model, step: int):
    m = copy.copy(model)
    m.config = {**model.config, "steps_done": step}
    return m


def test_a_hidden_plot_computes_nothing_and_the_latest_snapshot_once_when_shown(qtbot, keep, monkeypatch):
    monkeypatch.setattr(score_error_curve, "SCORE_ERROR_MS", 200)
    state, panel = _docked_panel(qtbot, keep, make_preset("8gaussians"))
    curve = panel.score_error
    base = _snapshot(state)
    panel.hide()  # the training dock closed
    for step in (100, 200, 300):
        state.set_model(_at_step(base, step))
        qtbot.wait(150)
    qtbot.wait(300)  # past the interval: a visible plot would have run by now
    assert curve.runs == 0 and not curve.running and curve.table is None
    panel.show()  # the dock opened again: one run, for the latest snapshot
    qtbot.waitUntil(lambda: curve.table is not None and not curve.running, timeout=30_000)
    assert curve.step == 300 and f"step {300:,}" in panel.error_plot.titleLabel.text
    qtbot.wait(400)
    assert curve.runs == 1 and not curve.running

    state.set_model(_at_step(base, 400))  # shown: a new snapshot runs
    curve._pacer.flush()  # now, so that it surely still runs below (its end comes through the event loop)
    assert curve.running
    panel.hide()  # hidden mid-run: the run stops and the table keeps step 300 (stale)
    assert not curve.running and curve.runs == 2
    state.set_model(_at_step(base, 500))
    qtbot.wait(400)
    assert curve.runs == 2 and not curve.running and curve.step == 300
    panel.show()
    qtbot.waitUntil(lambda: curve.step == 500 and not curve.running, timeout=30_000)
    assert curve.runs == 3


def test_a_raster_has_an_exact_score_and_a_preset_without_one_says_so(qtbot, keep):
    probs = np.zeros((8, 8))
    probs[2:6, 1:4] = 1.0
    state, panel = _panel(qtbot, keep, raster_target(probs, extent=2.0, name="drawing"))
    curve = panel.score_error
    state.set_model(_snapshot(state))
    qtbot.waitUntil(lambda: curve.table is not None, timeout=30_000)
    assert np.isfinite(curve.table.score_error).all() and (curve.table.score_error > 0).all()
    state.set_target(make_preset("swissroll"))  # no closed form, no point set
    assert curve.table is None and curve.message.text == NO_EXACT
    state.set_model(_snapshot(state, steps=5))
    qtbot.wait(100)
    assert curve.message.text == NO_EXACT and not curve.running


def test_the_small_plots_label_few_ticks_at_1366x768(qtbot, keep):
    """The cosmetic bug: in the default layout at 1366 x 768 the by-time plots are ~40 px tall and pyqtgraph's
    automatic labels 0 / 0.5 / 1.0 overlapped; now every y axis has at most 3 labels and the t axis 3."""
    state, panel = _panel(qtbot, keep, make_preset("8gaussians"))
    panel.resize(365, 243)
    for plot in (panel.bin_plot, panel.error_plot):
        major, minor = plot.getAxis("left")._tickLevels
        assert len(major) <= 2 and not minor
        assert [v for v, _ in plot.getAxis("bottom")._tickLevels[0]] == [0.0, 0.5, 1.0]
    # the log loss axis: at most 3 labels of the 1-2-5 series (pyqtgraph labelled 0.5, 0.6, ... 0.9 below a decade)
    assert log_ticks(0.4, 2.0) == [0.5, 1.0, 2.0] and log_ticks(1e-3, 10.0) == [1e-3, 1e-1, 10.0]
    assert log_ticks(0.31, 0.33) == [0.31, 0.33]
    assert len(panel.loss_plot.getAxis("left")._tickLevels[0]) <= 3
