"""Compare dock: a short DSM | FM run on a preset fills both columns with finite figures; Cancel, closing the dock,
starting main training and closing the window stop it; main training pauses while comparing and resumes after."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from playground.app.panels.compare_panel import ComparePanel, better_figures  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.workers import compare_worker  # noqa: E402
from playground.app.workers.compare_worker import MethodResult  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402
from tests.app.window_helpers import SMALL, make_window  # noqa: E402


@pytest.fixture
def quick_checks(monkeypatch):
    """Fewer paths, rungs and NLL points than the app's (the figures stay the same kind, only noisier)."""
    for name, value in (("STRAIGHTNESS_PATHS", 100), ("LADDER", (2, 8, 32)), ("LADDER_SAMPLES", 1000),
                        ("LADDER_MAX_RATIO", 100.0), ("NLL_POINTS", 60), ("NLL_CHUNK", 30)):
        monkeypatch.setattr(compare_worker, name, value)


def make_panel(qtbot, preset: str = "8gaussians", **settings) -> ComparePanel:
    state = AppState(make_preset(preset), Settings(**{**SMALL, "n_particles": 1000, **settings}))
    p = ComparePanel(state)
    qtbot.addWidget(p)
    p.resize(900, 600)
    p.show()
    return p


def wait_training(qtbot, p: ComparePanel, key: str = "A") -> None:
    """Until column `key` reports training steps."""
    qtbot.waitUntil(lambda: "step" in p.columns[key].status.text(), timeout=180_000)


def compare_tabs(w) -> int:
    """How many tab bars on the window show a Compare tab."""
    from PySide6.QtWidgets import QTabBar

    bars = [b for b in w.findChildren(QTabBar) if b.isVisible() and b.geometry().x() >= 0]
    return sum(any("Compare" in b.tabText(i) for i in range(b.count())) for b in bars)


def test_short_run_fills_both_columns_with_finite_figures(qtbot, quick_checks):
    p = make_panel(qtbot)
    p.seconds.setValue(1)
    assert p.train_both() and p.running and not p.train_btn.isEnabled() and p.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: not p.running, timeout=300_000)
    res = p._results
    assert set(res) == {"A", "B"} and p.status.text().startswith("Done.")
    assert res["A"].config["objective"] == "dsm" and res["A"].config["output"] == "edm"
    assert (res["B"].config["objective"], res["B"].config["sde"], res["B"].config["output"]) == ("fm", "rf", "v")
    entropy = make_preset("8gaussians").entropy
    for key, r in res.items():
        assert r.done and r.error is None and r.steps > 10 and 0.9 < r.train_seconds < 5.0
        assert r.samples.shape == (1000, 2) and np.isfinite(r.samples).all()
        assert r.paths.shape[1:] == (24, 2) and np.isfinite(r.paths).all()
        assert math.isfinite(r.swd_ratio) and r.swd_ratio > 0.5
        assert math.isfinite(r.straightness) and r.straightness > 0
        assert r.euler_done and not r.euler_skipped and math.isfinite(r.euler_ratio)
        if r.euler_nfe is None:  # no rung of the ladder (2, 8, 32 Euler steps + the final denoise) reached 1.2x
            assert r.euler_ratio > 1.2 and "&gt; 33" in p.columns[key].figures.text()
        else:
            assert r.euler_nfe in (3, 9, 33) and r.euler_ratio <= 1.2
        assert r.entropy == pytest.approx(entropy)
        assert math.isfinite(r.nll) and r.nll - r.entropy > -4 * r.nll_se - 0.05  # KL >= 0 up to the noise
        text = p.columns[key].figures.text()
        for label in ("SWD ÷ floor", "Straightness S", "Euler NFE to 1.2× floor", "NLL − H"):
            assert label in text
        assert f"{r.straightness:.3g}" in text and f"{r.nll - r.entropy:+.3f}" in text
    # every figure has one better column, in bold there
    best = better_figures(res)
    assert set().union(*best.values()) >= {"swd", "straightness", "nll"}
    assert not best["A"] & best["B"]
    assert p.train_btn.isEnabled() and not p.cancel_btn.isEnabled()
    p.grab()  # draws


def test_cancel_stops_the_run_and_keeps_the_panel_usable(qtbot, quick_checks):
    p = make_panel(qtbot)
    p.seconds.setValue(60)
    th = None
    assert p.train_both()
    th = p._thread
    wait_training(qtbot, p)
    p.cancel_btn.click()
    assert not p.running and p.status.text() == "Cancelled." and p.train_btn.isEnabled()
    qtbot.waitUntil(lambda: th.isFinished(), timeout=5_000)  # within a training step
    assert th.outcome.cancelled and not th.outcome.results
    assert all(c.status.text().endswith("cancelled") for c in p.columns.values())
    # a new target after the cancel shows it; a new run starts at once
    p.state.set_target(make_preset("moons"))
    assert p.train_both()
    p.dock_closed()  # closing the dock stops it too
    assert not p.running


def test_one_training_at_a_time_with_main_training(qtbot, tmp_path, quick_checks):
    w = make_window(qtbot, tmp_path, steps=100_000)
    try:
        c, p = w.controller, w.panels["compare"]
        dock, view_action = w.dock_layout.optional_docks["compare"], w.dock_layout.open_actions["compare"]
        assert dock.isHidden() and not view_action.isChecked() and not compare_tabs(w)  # starts closed, no tab
        view_action.trigger()  # View opens it in front of Sampling
        assert not dock.isHidden() and view_action.isChecked()
        assert w.docks["sampling"] in w.tabifiedDockWidgets(dock)
        qtbot.waitUntil(lambda: compare_tabs(w) == 1)
        assert c.play()
        qtbot.waitUntil(lambda: c.step > 0, timeout=180_000)
        p.seconds.setValue(1)
        assert p.train_both()
        assert not c.running and "paused" in p.status.text()  # the comparison pauses main training
        qtbot.waitUntil(lambda: not p.running, timeout=300_000)
        assert c.running  # and it resumes afterwards
        p.seconds.setValue(60)
        assert p.train_both() and not c.running
        wait_training(qtbot, p)
        assert c.play()  # Play meanwhile stops the comparison
        assert not p.running and "one training at a time" in p.status.text() and c.running
        c.pause()
        assert p.train_both()
        wait_training(qtbot, p)
        w.grab().save(str(tmp_path / "window.png"))
        w.reset_layout()  # closes it (stopping the run) without leaving its tab behind
        qtbot.wait(50)
        assert dock.isHidden() and not view_action.isChecked() and not compare_tabs(w) and not p.running
        view_action.trigger()
        assert not dock.isHidden() 
        qtbot.waitUntil(lambda: compare_tabs(w) == 1)
        assert p.train_both()
        wait_training(qtbot, p)
    finally:
        w.close()  # mid-run: the comparison and training stop without a crash
    assert not p.running
    qtbot.waitUntil(lambda: all(not t.isRunning() for t in p._threads) or not p._threads, timeout=5_000)


def test_better_figures_needs_both_and_counts_a_miss_as_worst():
    a = MethodResult("A", {}, steps=10, swd_ratio=1.1, straightness=0.5, euler_nfe=None, euler_done=True,
                     nll=3.0, done=True)
    b = MethodResult("B", {}, steps=20, swd_ratio=1.4, straightness=0.1, euler_nfe=8, euler_done=True, nll=float("nan"),
                     done=True)
    assert better_figures({"A": a, "B": b}) == {"A": {"swd"}, "B": {"steps", "straightness", "euler"}}
    assert better_figures({"A": a}) == {"A": set()}


def visible_tabs(w) -> list[str]:
    from PySide6.QtWidgets import QTabBar

    return [b.tabText(i) for b in w.findChildren(QTabBar) if b.isVisible() and b.geometry().x() >= 0
            for i in range(b.count())]


def test_the_open_dock_is_remembered_and_leaves_no_stray_tabs(qtbot, tmp_path):
    for opened in (True, False):
        w = make_window(qtbot, tmp_path, restore=True)
        if opened:
            w.dock_layout.open_actions["compare"].trigger()
        else:
            w.dock_layout.optional_docks["compare"].close()
        qtbot.wait(20)
        w.close()
        w = make_window(qtbot, tmp_path, restore=True)  # the next run: as it was, in 2D mode no image-dock tab
        try:
            dock = w.dock_layout.optional_docks["compare"]
            # once the restored layout has settled (Qt rebuilds its tab bars in steps): no image-dock tab in 2D mode
            qtbot.waitUntil(lambda: ("Compare (DSM | FM)" in visible_tabs(w)) == opened
                            and "Dataset" not in visible_tabs(w))
            assert dock.isHidden() != opened and w.dock_layout.open_actions["compare"].isChecked() == opened
        finally:
            w.close()


def test_refuses_while_main_training_cannot_pause(qtbot):
    from PySide6.QtCore import QObject, Signal

    class StuckTraining(QObject):  # a main training whose thread does not stop within pause's timeout
        runningChanged = Signal(bool)
        resetDone = Signal()
        running = True

        def pause(self) -> bool:
            return False

    state = AppState(make_preset("moons"), Settings(**SMALL))
    p = ComparePanel(state, StuckTraining())
    qtbot.addWidget(p)
    assert not p.train_both() and not p.running and "did not stop in time" in p.status.text()
    assert p.train_btn.isEnabled() and not p._resume_training
