"""Training through the real worker thread: the loss falls, play/pause/step/reset, limits, divergence, settings that
need a reset, saving/opening, and closing mid-run (pytest-qt, offscreen)."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")


from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from playground.app.workers.training_controller import TrainingController  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402
from tests.app import window_helpers  # noqa: E402
from tests.core.training.rng_files import saved_elsewhere  # noqa: E402

SMALL = {**window_helpers.SMALL, "lr": 5e-3}



def make_window(qtbot, tmp_path, **settings) -> MainWindow:
    return window_helpers.make_window(qtbot, tmp_path, size=(1200, 800), **{**SMALL, **settings})


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()


def wait_stopped(qtbot, c: TrainingController, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not c.running, timeout=timeout)


def test_trains_a_few_hundred_steps_and_the_loss_falls(window, qtbot):
    c = window.controller
    models = []
    window.state.modelChanged.connect(lambda: models.append(window.state.model))
    window.act_play.trigger()
    assert c.running and window.state.training and window.act_play.text() == "&Pause"
    wait_stopped(qtbot, c, timeout=90_000)
    assert c.last_reason == "steps" and c.step == 300
    steps, losses = c.losses()
    assert len(losses) == 300 and np.array_equal(steps, np.arange(1, 301))
    assert np.isfinite(losses).all()
    first, last = losses[:40].mean(), losses[-40:].mean()
    assert last < 0.85 * first, (first, last)
    assert models and models[-1] is window.state.model is not None  # snapshots reached the state
    assert np.isfinite(window.state.model.score(np.zeros((3, 2), np.float32), 0.5)).all()
    # the panel and the status bar show it
    qtbot.waitUntil(lambda: window.panels["training"].redraws > 0, timeout=3000)
    assert "step 300" in window.status_labels["step"].text()
    assert window.progress.value() == 1000
    assert "step limit" in window.statusBar().currentMessage()
    bins = window.panels["training"].bars.opts["height"]
    assert np.count_nonzero(bins) >= 8
    # at the limit, Play explains instead of starting
    assert not c.play()
    assert not c.running


def test_sampling_views_end_on_the_trained_model(window, qtbot):
    """With Follow off the Sampling panel does not refresh while training runs; when the run stops it resamples (same
    seed) if a newer model arrived since, so the views show what was trained."""
    c, sp = window.controller, window.panels["sampling"]
    sp.follow.setChecked(False)

    def idle_and_current() -> bool:
        return not sp.running and not sp._model_dirty and all(s.outcome is not None for s in sp.sides.values())

    assert c.play(max_steps=30)
    wait_stopped(qtbot, c)
    qtbot.waitUntil(idle_and_current, timeout=30_000)
    generation = sp.threads.generation
    window.state.set_model(c.trainer.snapshot())  # a snapshot as during a run: nothing resamples yet
    qtbot.wait(200)
    assert sp._model_dirty and sp.threads.generation == generation
    c.runningChanged.emit(False)  # the run stops
    qtbot.waitUntil(idle_and_current, timeout=30_000)
    assert sp.threads.generation == generation + 1


def test_play_pause_step_reset(window, qtbot):
    c = window.controller
    window.request_settings({"steps": 100_000})
    window.act_step.trigger()  # the first step builds the trainer in the worker
    qtbot.waitUntil(lambda: c.step == 1 and not c.running, timeout=60_000)
    assert window.state.model is not None
    assert c.step_once()  # later steps run in the worker too: the UI thread never runs a step
    qtbot.waitUntil(lambda: c.step == 2 and not c.running, timeout=60_000)
    assert np.isfinite(c.last_loss)
    window.act_play.trigger()
    qtbot.waitUntil(lambda: c.step > 20, timeout=30_000)
    t0 = time.perf_counter()
    window.act_play.trigger()  # pause
    assert not c.running and time.perf_counter() - t0 < 1.0
    assert c.last_reason == "paused"
    n = c.step
    qtbot.wait(200)
    assert c.step == n  # paused means paused
    _, losses = c.losses()
    assert len(losses) == n  # every step's loss arrived
    window.act_play.trigger()  # continue from where it was
    qtbot.waitUntil(lambda: c.step > n + 5, timeout=30_000)
    before = c.step
    assert c.step_once()  # Step while running pauses first, then takes one step
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    assert c.step > before and len(c.losses()[1]) == c.step  # the paused run's steps, then Step's one
    window.act_reset.trigger()
    assert c.step == 0 and c.trainer is None and window.state.model is None
    assert len(c.losses()[1]) == 0 and "step 0" in window.status_labels["step"].text()


def test_stop_after_seconds(window, qtbot):
    c = window.controller
    window.request_settings({"steps": 1_000_000, "seconds": 0.5})
    c.play()
    wait_stopped(qtbot, c)
    assert c.last_reason == "seconds"
    assert 0.5 <= c.elapsed_before < 5.0


def test_divergence_keeps_the_last_good_model(window, qtbot):
    c = window.controller
    window.request_settings({"lr": 1e5, "steps": 5000})
    c.trainer = None
    c.play()
    wait_stopped(qtbot, c)
    assert c.last_reason == "diverged"
    title, text = window.messages[-1]
    assert title == "Training diverged" and "diverged at step" in text and "learning rate" in text
    assert window.state.model is not None
    assert np.isfinite(window.state.model.score(np.zeros((4, 2), np.float32), 0.3)).all()
    assert window.isVisible()


def test_model_invalidating_settings_discard_the_model_undoably(window, qtbot):
    c = window.controller
    window.request_settings({"steps": 100_000})
    c.play(max_steps=5)
    wait_stopped(qtbot, c)
    assert c.has_progress
    model = window.state.model
    # samplers and particle counts apply at once and keep the model
    assert window.request_settings({"ode_sampler": "ode_euler", "n_particles": 100_000})
    assert window.state.settings.n_particles == 100_000 and c.has_progress and window.state.model is model
    # lr applies live to the trainer
    assert window.request_settings({"lr": 1e-3}) and c.trainer.config.lr == 1e-3
    assert window.request_settings({"output": "x0"})
    assert window.state.settings.output == "x0" and not c.has_progress and window.state.model is None
    window.undo_stack.undo()
    assert window.state.settings.output == "eps" and window.state.model is model and c.step == 5
    # through the panel's own control
    combo = window.settings_panel.controls["sde"]
    combo.setCurrentIndex(combo.findData("subvp"))
    assert window.state.settings.sde == "subvp" and c.step == 0 and window.state.model is None
    window.undo_stack.undo()
    assert window.settings_panel.value("sde") == "vp" and window.state.model is model


def test_new_target_resets_and_keeps_training(window, qtbot):
    c = window.controller
    window.request_settings({"steps": 100_000})
    c.play()
    qtbot.waitUntil(lambda: c.step > 10, timeout=60_000)
    window.state.set_target(make_preset("8gaussians"))
    assert c.running  # restarted on the new data
    qtbot.waitUntil(lambda: c.trainer is not None and c.step > 5, timeout=30_000)
    c.pause()
    assert np.allclose(c.trainer.normalization.mean, window.state.normalization.mean, atol=1e-4)


def test_save_and_open_a_model(window, qtbot, tmp_path):
    c = window.controller
    assert not window.save_model_to(str(tmp_path / "none.safetensors"))  # nothing trained yet
    c.play(max_steps=30)
    wait_stopped(qtbot, c)
    path = tmp_path / "m.safetensors"
    assert window.save_model_to(str(path)) and path.stat().st_size > 1000
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    before = window.state.model.score(x, 0.4)
    window.controller.reset()
    assert window.open_model(str(path))
    assert window.state.model is not None and np.allclose(window.state.model.score(x, 0.4), before, atol=1e-5)
    assert c.trainer is not None and c.step == 30 and len(c.losses()[1]) == 30  # resumable
    c.play(max_steps=5)
    wait_stopped(qtbot, c)
    assert c.step == 35
    # a file whose generator state belongs to a device type this test does not train on: it resumes with a message
    other = saved_elsewhere(path, tmp_path / "other.safetensors", "mps")
    assert window.open_model(str(other))
    title, text = window.messages[-1]
    assert title == "Training continues on another device" and "saved on mps" in text and "not bit-identical" in text
    assert c.trainer is not None and c.step == 30


def test_closing_during_training_stops_within_a_second(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, steps=1_000_000)
    c = w.controller
    c.play()
    qtbot.waitUntil(lambda: c.step > 10, timeout=60_000)
    th = c._thread
    t0 = time.perf_counter()
    w.close()
    dt = time.perf_counter() - t0
    assert dt < 1.0, dt
    assert th is not None and not th.isRunning() and not c.running
    n = c.step
    qtbot.wait(200)
    assert c.step == n


@pytest.mark.parametrize("in_process", [True, False], ids=["process", "thread"])
def test_controller_without_a_window(qtbot, in_process):
    state = AppState(make_preset("moons"), Settings(**SMALL))
    c = TrainingController(state, emit_hz=30, in_process=in_process)
    reports = []
    c.progressed.connect(reports.append)
    c.play(max_steps=60)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    assert c.step == 60 and sum(len(p.losses) for p in reports) == 60
    assert all(isinstance(p.losses, np.ndarray) for p in reports)
    assert reports[-1].bin_losses is not None and reports[-1].bin_losses.shape == (10,)
    # the UI-side trainer is exactly where the run stopped (the worker process sends its state back)
    assert c.trainer.step_count == 60 and len(c.trainer.history.loss) == 60
    _, losses = c.losses()
    assert np.allclose(c.trainer.history.loss, losses)
    # a local step in between is picked up by the next run (the process gets the changed state)
    assert c.step_once()
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    assert c.step == 61 and c.trainer.step_count == 61
    c.play(max_steps=10)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    assert c.step == 71 and c.trainer.step_count == 71 and len(c.losses()[1]) == 71
    assert c.shutdown(1.0)


def test_training_panel_curves_bins_preview_and_negative_losses(qtbot):
    from playground.app.panels.training_panel import Smoother, TrainingPanel, decimate
    from playground.app.workers.training_progress import TrainProgress

    state = AppState(make_preset("moons"), Settings(**SMALL))
    c = TrainingController(state)
    panel = TrainingPanel(state, c)
    qtbot.addWidget(panel)
    panel.resize(500, 400)
    panel.show()
    losses = np.exp(-np.linspace(0, 3, 5000)) + 0.05
    c._on_progress(TrainProgress(5000, np.arange(1, 5001), losses, np.linspace(1, 0.1, 10), 123.0, 4.0))
    panel._redraw()
    x, y = panel.raw_curve.getData()
    assert len(x) <= 4001 and x[-1] == 5000  # decimated, last point kept
    assert panel._log_y and np.allclose(panel.bars.opts["height"], np.linspace(1, 0.1, 10))
    assert panel.smoother.values[-1] == pytest.approx(losses[-200:].mean(), rel=0.05)
    assert 10 ** panel.smooth_curve.getData()[1][-1] == pytest.approx(panel.smoother.values[-1])  # log10 axis
    panel.set_preview(np.random.default_rng(0).normal(size=(300, 2)))
    assert len(panel.model_dots.points) == 300
    # sliced score matching losses go negative: the axis becomes linear instead of failing
    c._on_progress(TrainProgress(5001, np.array([5001]), np.array([-0.7]), None, 120.0, 4.1))
    panel._redraw()
    assert not panel._log_y
    assert "step 5,001" in panel.info.text()
    c.reset()
    assert len(panel.raw_curve.getData()[0] if panel.raw_curve.getData()[0] is not None else []) == 0
    # the helpers
    s = Smoother(0.5)
    assert np.allclose(s.extend_to(np.array([1.0, 1.0])), [1.0, 1.0])
    assert np.allclose(s.extend_to(np.array([1.0, 1.0, 3.0])), [1.0, 1.0, 1.875 / 0.875])
    st, v = decimate(np.arange(10), np.arange(10.0), 3)
    assert st[-1] == 9 and len(v) <= 5


def test_a_discarded_model_is_named_with_the_way_back(window, qtbot):
    c = window.controller
    c.play(max_steps=3)
    wait_stopped(qtbot, c)
    assert window.request_settings({"sde": "ve"})  # no question: one undo step that keeps the model
    assert "SDE → ve" in window.undo_stack.undoText() or "SDE → VE" in window.undo_stack.undoText()
    message = window.statusBar().currentMessage()
    assert "3 steps" in message and "Undo" in message
    window.undo_stack.undo()
    assert window.state.settings.sde == "vp" and c.has_progress and c.step == 3


def test_step_never_runs_on_the_ui_thread(qtbot, tmp_path, monkeypatch):
    """Step with a trainer in hand used to run the optimiser step on the UI thread (a monkey walk with heavy
    settings froze the window for 55 s): now every Step runs in the worker, like Play with a one-step limit."""
    import threading

    monkeypatch.setenv("PLAYGROUND_TRAIN_IN_PROCESS", "0")  # the in-thread trainer: its step() is observable here
    w = window_helpers.make_window(qtbot, tmp_path, steps=100_000)
    c = w.controller
    assert c.step_once()
    qtbot.waitUntil(lambda: c.step == 1 and not c.running, timeout=60_000)
    threads = []
    original = c.trainer.step
    monkeypatch.setattr(c.trainer, "step", lambda: threads.append(threading.get_ident()) or original())
    assert c.step_once()
    qtbot.waitUntil(lambda: c.step == 2 and not c.running, timeout=60_000)
    assert threads and threading.get_ident() not in threads
    w.close()
