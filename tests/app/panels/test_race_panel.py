"""Race dock: the chart fills in run by run with each sampler's NFE rising (exact score, also under rectified flow,
and a trained model); Cancel and a new Run race stop the old race at once; a new target stops and clears it, a new
model or SDE marks it stale; a clicked point loads its sampler and steps into the Sampling panel's left view; a
window closed mid-race does not crash; the controls' choices come back in the next session and unreadable stored
ones leave the defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from playground.app.panels.race_panel import RacePanel  # noqa: E402
from playground.app.samplers import sampler_problem, sampler_steps  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.widgets.race_controls import EXACT, LEARNED, RaceControls  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402
from playground.data.targets.target import Target  # noqa: E402
from tests.app.window_helpers import make_window  # noqa: E402


def trained_model(state: AppState, steps: int = 100):
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    tr = Trainer(TrainConfig(steps=steps, hidden=32, depth=2, device="cpu", threads=1), data=state.target_samples)
    tr.run()
    return tr.snapshot()


def make_panel(keep, preset: str = "8gaussians", **settings) -> RacePanel:
    state = AppState(make_preset(preset), Settings(**{"target_samples": 2000, **settings}))
    p = keep(RacePanel(state))
    p.resize(900, 560)
    p.show()
    return p


def configure(p: RacePanel, samplers, ladder: str, samples: int = 500) -> None:
    p.controls.set_samplers(samplers)
    p.controls.ladder.setText(ladder)
    p.controls.samples.setValue(samples)


def wait_done(qtbot, p: RacePanel, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: p.outcome is not None and not p.running, timeout=timeout)
    p._redraw.flush()


def status(p: RacePanel) -> str:
    """The status line once the panel has drawn its latest report (it redraws at most ~30 times a second)."""
    p._redraw.flush()
    return p.status.text()


def curve_nfe(p: RacePanel, key: str) -> list[int]:
    """The NFE of the points curve `key` draws (each point carries its RaceEntry)."""
    return [pt.data().nfe for pt in p.chart.curves[key].scatter.points()]


@pytest.mark.parametrize("sde", ["vp", "rf"])
def test_the_chart_fills_in_run_by_run_with_each_samplers_nfe_rising(qtbot, keep, sde):
    p = make_panel(keep, sde=sde)
    configure(p, ("em", "ode_heun", "ddim"), "5, 10, 160")
    shown = []
    draw = p.chart.show_entries
    p.chart.show_entries = lambda entries: (shown.append(len(entries)), draw(entries))
    assert p.run_race() and p.running and p.controls.cancel_btn.isEnabled()
    wait_done(qtbot, p)
    assert p.outcome.error is None and not p.outcome.cancelled and len(p.frame.entries) == 9
    assert any(0 < n < 9 for n in shown) and shown == sorted(shown)  # points appeared before the race ended
    assert set(p.chart.curves) == {"em", "ode_heun", "ddim"}
    assert [label.text for _sample, label in p.chart.legend.items] == ["iid floor", "Euler–Maruyama", "Heun", "DDIM"]
    for key in p.chart.curves:
        nfe = curve_nfe(p, key)
        assert len(nfe) == 3 and nfe == sorted(set(nfe)) and nfe[-1] <= 160
    cheap_first = [e.nfe for e in p.frame.entries]
    assert max(cheap_first[:3]) <= 5 < min(cheap_first[6:])  # the 5-NFE rung ran for every sampler first
    assert p.status.text().startswith("Done: 9 runs") and "Heun" in p.status.text()
    assert all(e.swd_ratio < 1.6 for e in p.frame.entries if e.nfe > 100)  # the exact score reaches the target
    assert not p.controls.cancel_btn.isEnabled()


def test_cancel_and_a_new_run_stop_the_old_race_at_once(qtbot, keep):
    p = make_panel(keep)
    configure(p, ("em",), "3000", samples=4000)  # one long run
    assert p.run_race()
    first = p._thread
    qtbot.waitUntil(lambda: p.frame is not None and p.frame.running is not None, timeout=10_000)
    qtbot.wait(200)
    p.controls.cancel_btn.click()
    assert not p.running and first.wait(1000)  # stopped within a sampler step
    assert p.outcome.cancelled and "Cancelled after 0 runs" in status(p)
    assert p.run_race()
    second = p._thread
    qtbot.wait(200)
    configure(p, ("ddim",), "5, 10")
    assert p.run_race() and second.wait(1000)  # the new race stopped the old one
    wait_done(qtbot, p)
    assert {e.sampler for e in p.frame.entries} == {"ddim"} and not p.outcome.cancelled


def test_a_new_target_stops_and_clears_a_new_sde_marks_stale(qtbot, keep):
    p = make_panel(keep)
    configure(p, ("em",), "5, 3000", samples=4000)
    assert p.run_race()
    qtbot.waitUntil(lambda: p.frame is not None and len(p.frame.entries) == 1, timeout=30_000)
    p.state.set_target(make_preset("moons"))
    assert not p.running and p.frame is None and p.chart.entries == ()
    assert "target changed" in p.status.text()
    configure(p, ("ddim",), "5, 10")
    assert p.run_race()
    wait_done(qtbot, p)
    assert "stale" not in status(p)
    p.state.update_settings(sde="ve")
    assert "Stale" in status(p) and "stale: the SDE changed" in p.chart.getPlotItem().titleLabel.text
    assert len(p.chart.entries) == 2  # the points stay


def test_a_trained_model_races_and_a_newer_one_marks_it_stale(qtbot, keep):
    p = make_panel(keep)
    learned = p.controls.source.model().item(1)
    assert not learned.isEnabled() and p.controls.source.currentData() == EXACT  # no model: exact only
    model = trained_model(p.state)
    p.state.set_model(model)
    assert learned.isEnabled() and p.controls.source.currentData() == LEARNED
    configure(p, ("ode_euler", "ancestral"), "5, 20")
    assert p.run_race()
    wait_done(qtbot, p)
    assert p.outcome.error is None and len(p.frame.entries) == 4
    assert all(np.isfinite(e.swd_ratio) for e in p.frame.entries) and "model at step 100" in p.score_label
    p.state.set_model(trained_model(p.state, steps=20))
    p._redraw.flush()
    assert "stale: the model has changed since" in p.chart.getPlotItem().titleLabel.text
    p.state.set_model(None)
    assert not learned.isEnabled() and p.controls.source.currentData() == EXACT


def test_refuses_an_empty_target_no_sampler_or_bad_rungs(qtbot, keep):
    p = make_panel(keep)
    configure(p, (), "5")
    assert not p.run_race() and "No sampler" in p.status.text()
    configure(p, ("em",), "5, ten")
    assert not p.run_race() and "whole numbers" in p.status.text()
    configure(p, ("em",), "1")
    assert not p.run_race() and "at least 2" in p.status.text()
    p.state.target = Target("empty", lambda n, rng: np.zeros((0, 2)))
    p.state.target_samples = np.zeros((0, 2), np.float32)
    configure(p, ("em",), "5")
    assert not p.run_race() and "empty" in p.status.text() and not p.running


def test_clicking_a_point_loads_its_sampler_and_steps_into_the_sampling_panel(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    try:
        race, sampling = w.panels["race"], w.panels["sampling"]
        dock = w.dock_layout.optional_docks["race"]
        assert dock.isHidden()  # starts closed; View opens it
        w.dock_layout.open_actions["race"].trigger()
        assert dock.isVisible() and w.dock_layout.open_actions["race"].isChecked()
        configure(race, ("ode_heun", "annealed_langevin"), "5, 20")
        sampling.use_exact.setChecked(False)
        assert race.run_race()
        wait_done(qtbot, race)
        for key in ("ode_heun", "annealed_langevin"):
            curve = race.chart.curves[key]
            point = curve.scatter.points()[1]  # the 20-NFE rung
            entry = point.data()
            curve.sigPointsClicked.emit(curve, [point], None)
            s = w.state.settings
            assert s.sde_sampler == key and sampler_steps(key, s.sample_steps) == entry.steps
            side = sampling.make_plan().sides["sde"]
            assert (side.sampler, side.steps, side.problem) == (key, entry.steps, None)
            assert sampler_problem(key, side.options, side.steps) is None
            assert sampling.use_exact.isChecked() and "Loaded" in race.status.text()
        assert side.options["levels"] == entry.steps == 19  # annealed Langevin as it raced: a level a step
        w.undo_stack.undo()  # one undoable settings change per click
        assert w.state.settings.sde_sampler == "ode_heun"
    finally:
        w.close()


def test_closing_the_window_mid_race_does_not_crash(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    race = w.panels["race"]
    w.dock_layout.open_actions["race"].trigger()
    configure(race, ("em", "ddim"), "5, 3000", samples=2000)
    assert race.run_race()
    thread = race._thread
    qtbot.waitUntil(lambda: race.frame is not None and len(race.frame.entries) >= 1, timeout=30_000)
    assert "500 samples per run: the exact score sums over 4,000 points" in status(race)  # as the Sampling views cap
    w.close()
    assert not race.running and thread.wait(2000)
    torch.set_num_threads(1)


def test_the_race_choices_come_back_in_the_next_session(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, restore=True)
    c = w.panels["race"].controls
    assert c.options() == RaceControls().options()  # nothing stored yet: the defaults
    configure(w.panels["race"], ("ddim", "ode_heun"), "40, 10,20", samples=3500)
    c.source.activated.emit(c.source.findData(EXACT))  # the user picks the exact score
    w.close()
    w = make_window(qtbot, tmp_path, restore=True)  # the next session, the same settings file
    try:
        race = w.panels["race"]
        c = race.controls
        assert c.chosen_samplers() == ("ode_heun", "ddim") and c.ladder.text() == "10, 20, 40"
        assert c.samples.value() == 3500 and c.preferred_source == EXACT
        w.state.set_model(trained_model(w.state, steps=20))
        assert c.source.currentData() == EXACT  # a model came: the exact score stays, as the user chose
    finally:
        w.close()
    w = make_window(qtbot, tmp_path, restore=True)  # and the model's score, once chosen, comes back too
    try:
        c = w.panels["race"].controls
        w.state.set_model(trained_model(w.state, steps=20))
        c.source.activated.emit(c.source.findData(LEARNED))
        w.close()
        w = make_window(qtbot, tmp_path, restore=True)
        c = w.panels["race"].controls
        assert c.preferred_source == LEARNED and c.source.currentData() == EXACT  # no model yet: exact only
        w.state.set_model(trained_model(w.state, steps=20))
        assert c.source.currentData() == LEARNED
    finally:
        w.close()


@pytest.mark.parametrize("stored", [
    "not json {",
    "[1, 2]",
    '{"source": "bogus", "samplers": ["nope", 3, null], "ladder": "five, six", "samples": "many"}',
    '{"source": ["exact"], "samplers": "em", "ladder": 40, "samples": 1e9}',
    '{"samplers": [], "ladder": "1", "samples": 100000, "source": null}',
    '{"samplers": [[1]], "ladder": null, "samples": true}',
])
def test_unreadable_stored_race_choices_leave_the_defaults(qtbot, tmp_path, stored):
    from PySide6.QtCore import QSettings

    from playground.app.window.persistence import RACE_KEY

    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    store.setValue(RACE_KEY, stored)
    store.sync()
    w = make_window(qtbot, tmp_path, restore=True)
    try:
        assert w.panels["race"].controls.options() == RaceControls().options()
    finally:
        w.close()


def test_readable_stored_choices_are_kept_and_the_rest_default(qtbot, keep):
    c = keep(RaceControls())
    default = c.options()
    c.restore_options({"source": EXACT, "samplers": ["em", "no_such_sampler", 7, "ddim"], "ladder": "8, x",
                       "samples": 600, "extra": {"ignored": True}})
    assert c.options() == {**default, "source": EXACT, "samplers": ["em", "ddim"], "samples": 600}
