"""The Sampling panel's stochasticity dial: the left view re-runs alone from the same x_T and noise, λ = 0 is the
PF-ODE Euler path, the end distribution stays at every λ, the value is a saved settings option (pytest-qt)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from playground.app.panels.sampling_panel import SamplingPanel  # noqa: E402
from playground.app.samplers import side_choice  # noqa: E402
from tests.app.panels.test_panels import make_state  # noqa: E402


def _wait_left(qtbot, p, timeout=60_000):
    qtbot.waitUntil(lambda: p.sides["sde"].outcome is not None and not p.running, timeout=timeout)


def _panel(qtbot, keep, **settings):
    st = make_state(n_particles=1500, sample_steps=60, **settings)
    p = keep(SamplingPanel(st))
    p.changeRequested.connect(lambda changes: st.update_settings(**changes))  # as the main window applies them
    p.use_exact.setChecked(True)
    qtbot.waitUntil(lambda: all(s.outcome is not None for s in p.sides.values()) and not p.running, timeout=60_000)
    return st, p


def test_lambda_zero_is_the_pf_ode_euler_path_from_the_same_x_T(qtbot, keep):
    """Right: ode_euler; left: EM moved to λ = 0 by the dial. Same x_T, same grid: the same paths to float
    tolerance; the right view is not re-run."""
    st, p = _panel(qtbot, keep, ode_sampler="ode_euler")
    right, x_T = p.sides["ode"].outcome, p.sides["sde"].outcome.x_T.copy()
    assert p.lam.isEnabled() and p.lam.value() == 1.0
    p.lam.show_value(0.0)
    p.lam.committed.emit(0.0)  # what a released drag sends
    _wait_left(qtbot, p)
    left = p.sides["sde"].outcome
    assert left.options["stochasticity"] == 0.0 and p.sides["ode"].outcome is right
    np.testing.assert_array_equal(left.x_T, x_T)
    np.testing.assert_allclose(left.paths, right.paths, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(left.x, right.x, rtol=1e-5, atol=1e-5)
    # the value is the left sampler's option in the settings (saved in QSettings and workspaces with them)
    assert st.settings.sde_sampler_options == "stochasticity=0.0"
    assert side_choice(st.settings, "sde") == ("em", {"stochasticity": 0.0})
    assert "λ 0" in p.sides["sde"].view.info.text()


def test_the_end_distribution_stays_while_the_paths_change(qtbot, keep):
    st, p = _panel(qtbot, keep)
    outs = {}
    for lam in (0.0, 1.0, 2.0):
        p.dial.commit(lam)
        _wait_left(qtbot, p)
        outs[lam] = p.sides["sde"].outcome
    assert outs[1.0].options["stochasticity"] == 1.0
    for lam, o in outs.items():
        np.testing.assert_array_equal(o.x_T, outs[0.0].x_T)
        assert o.swd_ratio < 1.5, (lam, o.swd_ratio)
    # jitter: the paths' mean squared step grows with λ
    rough = {lam: float(np.nanmean(np.diff(o.paths, axis=0) ** 2)) for lam, o in outs.items()}
    assert rough[0.0] < rough[1.0] < rough[2.0], rough
    # the same Brownian increments: λ = 1 again reproduces the first λ = 1 run exactly
    p.dial.commit(0.5)
    _wait_left(qtbot, p)
    p.dial.commit(1.0)
    _wait_left(qtbot, p)
    np.testing.assert_array_equal(p.sides["sde"].outcome.x, outs[1.0].x)


def test_a_new_value_cancels_the_left_run_in_flight_and_undo_re_runs_it(qtbot, keep):
    st, p = _panel(qtbot, keep)
    p.dial.rerun(2.5)
    first = p.threads.current["sde"]
    p.dial.rerun(0.25)
    assert p.threads.current["sde"] is not first and first.job.options["stochasticity"] == 2.5
    _wait_left(qtbot, p)
    assert p.sides["sde"].outcome.options["stochasticity"] == 0.25
    # a settings change of λ alone (undo, the options menu) re-runs the left view only
    right = p.sides["ode"].outcome
    st.update_settings(sde_sampler_options="stochasticity=1.5")
    assert p.lam.value() == 1.5 and p.threads.current["ode"] is None
    _wait_left(qtbot, p)
    assert p.sides["sde"].outcome.options["stochasticity"] == 1.5 and p.sides["ode"].outcome is right


def test_the_dial_is_disabled_with_a_reason_for_a_sampler_without_lambda(qtbot, keep):
    st, p = _panel(qtbot, keep)
    st.update_settings(sde_sampler="ancestral")
    assert not p.lam.isEnabled() and "has no λ" in p.lam.toolTip() and "ancestral" in p.lam.toolTip()
    _wait_left(qtbot, p)
    before = p.sides["sde"].outcome
    p.dial.rerun(0.0)  # nothing to re-run
    assert p.threads.current["sde"] is None and p.sides["sde"].outcome is before
    st.update_settings(sde_sampler="em")
    assert p.lam.isEnabled()
