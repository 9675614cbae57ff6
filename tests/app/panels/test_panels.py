"""Forward diffusion, score field and sampling panels (pytest-qt, offscreen)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from playground.app.geometry import histogram2d  # noqa: E402
from playground.app.panels.forward_panel import ForwardPanel, gmm_log_prob_grid  # noqa: E402
from playground.app.panels.sampling_panel import SamplingPanel  # noqa: E402
from playground.app.sampling_plan import LIVE_PARTICLES  # noqa: E402
from playground.app.panels.score_panel import ScoreFieldPanel  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.widgets.plot_items import TrajectoryCurve
from playground.app.exact_scores import fast_gmm_score_fn  # noqa: E402
from playground.data.targets.gaussian_mixture import GaussianMixture  # noqa: E402
from playground.core.diffusion.sde import make_sde  # noqa: E402
from playground.data.targets.target import Target  # noqa: E402


def eight_gaussians() -> Target:
    """8gaussians at FFJORD scaling (radius 4, sd 0.5, / 1.414) as an exact GMM target."""
    ang = np.arange(8) * 2 * math.pi / 8
    mu = np.stack([np.cos(ang), np.sin(ang)], 1) * 4 / 1.414
    gmm = GaussianMixture(np.ones(8), mu, np.tile(np.eye(2) * (0.5 / 1.414) ** 2, (8, 1, 1)))

    def sampler(n, rng):
        return gmm.sample(n, torch.Generator().manual_seed(int(rng.integers(2**31)))).numpy()

    return Target("8gaussians", sampler, gmm=gmm)


def ring_target() -> Target:
    """A continuous target with no exact score (histogram fallback)."""

    def sampler(n, rng):
        a = rng.uniform(0, 2 * np.pi, n)
        r = 2 + 0.1 * rng.standard_normal(n)
        return np.stack([r * np.cos(a), r * np.sin(a)], 1)

    return Target("ring", sampler)


def point_target() -> Target:
    pts = np.random.default_rng(0).normal(size=(300, 2)) * [2.0, 0.5] + [1.0, -1.0]
    return Target("points", lambda n, rng: pts[rng.integers(0, len(pts), n)], points=pts)


def make_state(target=None, **settings) -> AppState:
    base = dict(n_forward=4000, target_samples=6000, n_particles=2000, sample_steps=100, n_trajectories=16)
    base.update(settings)
    return AppState(target or eight_gaussians(), Settings(**base))


class ExactStandIn:
    """A model stand-in whose data-space .score is the exact score."""

    def __init__(self, fn):
        self.fn = fn

    def score(self, x, t):
        return self.fn(torch.as_tensor(x), torch.as_tensor(t))


# `keep` (tests/app/conftest.py): registers a widget with qtbot, holds it strongly until teardown, stops its workers


def non_blank(widget, path) -> bool:
    img = widget.grab().toImage()
    img.save(str(path))
    ptr = img.constBits()
    a = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return len(np.unique(a[:, : img.width() * 4].reshape(-1, 4)[::7], axis=0)) > 20


# ---- forward --------------------------------------------------------------------------------------------------
def test_forward_particles_t0_are_the_target_and_t1_the_prior(qtbot, keep):
    st = make_state()
    p = keep(ForwardPanel(st))
    st.set_time(0.0)
    p.redraw()
    np.testing.assert_allclose(p.particles(), st.target_samples[:4000], atol=1e-4)
    st.set_time(1.0)
    p.redraw()
    x = p.particles()
    norm = st.normalization
    # VP prior N(0, I) in normalised space = N(mean, scale^2 I) in data space
    assert np.abs(x.mean(0) - np.asarray(norm.mean)).max() < 0.1 * norm.scale
    np.testing.assert_allclose(x.std(0), norm.scale, rtol=0.05)
    assert "exact" in p.density_kind


def test_forward_settings_and_target_changes_in_image_mode_wait_for_the_2d_mode(qtbot, keep, digits):
    """Found by the monkey walk: a forward-particle setting changed in image mode rebuilt the 2D particles with the
    images' pixel normalisation (RuntimeError: shape '[1, 2]' is invalid for input of size 64)."""
    st = make_state()
    p = keep(ForwardPanel(st))
    st.set_images(digits, "digits")
    st.update_settings(n_forward=1500, seed=3)
    st.set_target(ring_target())
    p.redraw()
    st.set_images(None)  # back to 2D: the particles are the new target's, with the new settings
    st.set_time(0.0)
    p.redraw()
    np.testing.assert_allclose(p.particles(), st.target_samples[:1500], atol=1e-4)


@pytest.mark.parametrize("sde", ["vp", "ve"])
def test_forward_exact_heatmap_integrates_to_one(qtbot, sde, keep):
    st = make_state(sde=sde)
    p = keep(ForwardPanel(st))
    ts = [0.0, 0.3, 1.0]  # VE: the view follows p_t by default
    for t in ts:
        st.set_time(t)
        p.redraw()
        assert p.density_kind.startswith("exact (Gaussian mixture)")
        mass = float(p.density.data.sum()) * p.exact_cell_area()
        assert abs(mass - 1.0) < 0.02, (t, mass)


def test_gmm_grid_log_prob_matches_gaussian_mixture():
    gmm = eight_gaussians().gmm
    sde = make_sde("vp")
    y = np.random.default_rng(1).normal(size=(500, 2)) * 3
    for t in (0.0, 0.01, 0.5, 1.0):
        a, s = sde.marginal_coefficients(torch.tensor([t], dtype=torch.float64))
        ours = gmm_log_prob_grid(gmm, y, float(a[0]), float(s[0]))
        ref = gmm.log_prob(torch.as_tensor(y), t, sde).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_forward_redraws_when_time_changes(qtbot, keep):
    st = make_state()
    p = keep(ForwardPanel(st))
    before_img = p.density.data.copy()
    before_x = p.particles().copy()
    n = p.redraws
    st.set_time(0.8)
    qtbot.waitUntil(lambda: p.redraws > n, timeout=2000)
    assert not np.allclose(p.density.data, before_img)
    assert not np.allclose(p.particles(), before_x)
    assert "t = 0.800" in p.info.text()


def test_forward_histogram_and_point_set_targets(qtbot, tmp_path, keep):
    st = make_state(target=ring_target())
    p = keep(ForwardPanel(st))
    st.set_time(0.2)
    p.redraw()
    assert "histogram" in p.density_kind
    assert p.density.data.sum() > 0
    st.set_target(point_target())
    st.set_time(0.3)
    p.redraw()
    assert "point set" in p.density_kind
    score = keep(ScoreFieldPanel(st))  # the exact point-set score is the state's
    score.redraw()
    pts = torch.as_tensor(score.arrow_points, dtype=torch.float32)
    ref = st.exact_score_fn()(pts, torch.full((len(pts),), score.t_eval)).numpy()
    np.testing.assert_allclose(score.exact_field, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    mass = float(p.density.data.sum()) * p.exact_cell_area()
    assert abs(mass - 1.0) < 0.03
    st.set_time(0.0)  # t floored for the point set's heatmap; no crash, no NaN
    p.redraw()
    assert np.isfinite(p.density.data).all()


def test_forward_empty_target_and_screenshot(qtbot, tmp_path, keep):
    st = make_state()
    p = keep(ForwardPanel(st))
    p.resize(600, 640)
    p.show()
    st.set_time(0.25)
    p.redraw()
    assert non_blank(p, tmp_path / "forward.png")
    # AppState.set_target cannot fit a normalisation to an empty set (yet): put the empty sample in directly
    st.target = Target("empty", lambda n, rng: np.zeros((0, 2)))
    st.target_samples = np.zeros((0, 2), np.float32)
    st.targetChanged.emit()
    p.redraw()
    assert "empty" in p.info.text().lower()
    assert len(p.particles()) == 0


# ---- score field ----------------------------------------------------------------------------------------------
def test_score_panel_exact_without_model(qtbot, tmp_path, keep):
    st = make_state()
    st.set_time(0.2)
    p = keep(ScoreFieldPanel(st))
    p.resize(640, 640)
    p.show()
    p.redraw()
    assert p.learned_field is None
    assert p.message.text == ""
    pts = torch.as_tensor(p.arrow_points, dtype=torch.float32)
    ref = st.exact_score_fn()(pts, torch.full((len(pts),), p.t_eval)).numpy()
    np.testing.assert_allclose(p.exact_field, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert p.exact_quiver.item.getData()[0] is not None and len(p.exact_quiver.item.getData()[0]) == 6 * len(pts)
    assert not p.show_error.isEnabled() and p.show_exact.isEnabled()
    assert non_blank(p, tmp_path / "score_exact.png")


def test_every_target_with_samples_has_an_exact_score_in_the_score_panel(qtbot, keep):
    st = make_state(target=ring_target())  # a continuous target without a closed form: the ideal denoiser
    p = keep(ScoreFieldPanel(st))
    p.redraw()
    assert p.message.text == "" and p.show_exact.isEnabled() and p.exact_field is not None
    assert "ideal denoiser" in p.toolTip() + p.show_exact.toolTip() + p.info.text()


def test_score_panel_model_error_heatmap_and_toggles(qtbot, tmp_path, keep):
    st = make_state()
    st.set_time(0.1)
    p = keep(ScoreFieldPanel(st))
    p.resize(640, 640)
    p.show()
    n = p.redraws
    st.set_model(ExactStandIn(st.exact_score_fn()))
    qtbot.waitUntil(lambda: p.redraws > n, timeout=2000)
    assert p.learned_field is not None and p.heat_kind == "|s_θ|"
    assert p.show_error.isEnabled()
    # exact arrows toggle
    p.show_exact.setChecked(False)
    p.redraw()
    assert len(p.exact_quiver.item.getData()[0]) == 0
    p.show_exact.setChecked(True)
    p.redraw()
    assert len(p.exact_quiver.item.getData()[0]) > 0
    np.testing.assert_allclose(p.learned_field, p.exact_field, rtol=1e-5, atol=1e-5)
    # error heatmap ~ 0 for a perfect model
    p.show_error.setChecked(True)
    p.redraw()
    assert p.heat_kind.startswith("error")
    assert float(np.nanmax(p.heat_values)) < 1e-3
    assert non_blank(p, tmp_path / "score_model.png")
    # time follows the slider, floored at 1e-3
    st.set_time(0.0)
    p.redraw()
    assert p.t_eval == pytest.approx(1e-3)


def test_fast_gmm_score_matches_gaussian_mixture():
    gmm = eight_gaussians().gmm
    x = torch.randn(300, 2) * 3
    for name in ("vp", "subvp", "ve"):
        sde = make_sde(name)
        f = fast_gmm_score_fn(gmm, sde)
        for t in (1e-3, 0.3, 1.0):
            tv = torch.full((300,), t)
            torch.testing.assert_close(f(x, tv), gmm.score(x, tv, sde), rtol=1e-5, atol=1e-5)
        tv = torch.rand(300)  # per-sample times: the fallback
        torch.testing.assert_close(f(x, tv), gmm.score(x, tv, sde))


# ---- sampling -------------------------------------------------------------------------------------------------
def _wait_done(qtbot, p, timeout=90_000):
    qtbot.waitUntil(lambda: all(s.outcome is not None for s in p.sides.values()) and not p.running, timeout=timeout)
    p.redraw()


def test_sampling_exact_score_both_sides(qtbot, tmp_path, keep):
    st = make_state()
    p = keep(SamplingPanel(st))
    p.resize(1000, 560)
    p.show()
    assert p.use_exact.isEnabled()
    p.use_exact.setChecked(True)  # no model: ticking it samples with the exact score
    _wait_done(qtbot, p)
    sde, ode = p.sides["sde"].outcome, p.sides["ode"].outcome
    assert sde.error is None and ode.error is None
    assert sde.sampler == "em" and ode.sampler == "ode_heun"
    assert sde.nfe == 101 and 50 <= ode.nfe <= 110
    # one x_T shared by both sides
    np.testing.assert_array_equal(sde.x_T, ode.x_T)
    np.testing.assert_array_equal(sde.x_T, p.x_T.numpy())
    for s in p.sides.values():
        o = s.outcome
        assert o.x.shape == (2000, 2) and np.isfinite(o.x).all()
        assert 0 < o.swd_ratio < 2.0, o.swd_ratio
        text = s.view.info.text()
        assert f"NFE {o.nfe}" in text and "SWD" in text and "floor" in text
        assert ("straightness" in text) == (o.side == "ode") == np.isfinite(o.straightness)  # the PF-ODE's paths
        # trajectories: one curve, NaN-separated paths
        xy = s.view.paths.xy
        assert xy is not None and np.isnan(xy[:, 0]).sum() == st.settings.n_trajectories
        assert s.view.paths.item.opts["connect"] == "finite"
        assert len(o.frames) > 10 and o.frames[0].t == pytest.approx(1.0) and o.frames[-1].t == 0.0
    assert non_blank(p, tmp_path / "sampling.png")
    # playback: the slider picks frames at matching t on both sides
    p.slider.setValue(0)
    p.redraw()
    assert p.sides["sde"].view.shown_frame.t == pytest.approx(1.0)
    assert p.sides["ode"].view.shown_frame.t == pytest.approx(1.0)
    p.slider.setValue(500)
    p.redraw()
    shown = [s.view.shown_frame.t for s in p.sides.values()]
    assert abs(shown[0] - 0.5) < 0.05 and abs(shown[1] - 0.5) < 0.05
    p.play_btn.setChecked(True)
    qtbot.waitUntil(lambda: p.slider.value() > 600, timeout=5000)
    p.play_btn.setChecked(False)
    p.shutdown()


def test_sampling_before_a_model_shows_the_exact_score_labelled_so_and_follows_the_model(qtbot, keep):
    st = make_state(n_particles=1000, sample_steps=40)
    p = keep(SamplingPanel(st))
    assert p.follow.isChecked()
    _wait_done(qtbot, p)  # the first picture: exact-score samples, said to be so
    assert p.plan.source == "exact" and "no model yet" in p.plan.label
    for s in p.sides.values():
        assert "exact score" in s.view.info.text() and "no model yet" in s.view.info.text()
    model = ExactStandIn(st.exact_score_fn())
    model.config = {"steps_done": 420}
    st.set_model(model)  # a data-space-only model: the panel wraps it
    _wait_done(qtbot, p)
    assert p.plan.source == "learned"
    for s in p.sides.values():
        assert s.outcome.swd_ratio < 2.5 and "model at step 420" in s.view.info.text()
    # while training, a new model is shown by the next refresh (every FOLLOW_MS), on fewer particles
    st.set_training(True)
    st.set_model(ExactStandIn(st.exact_score_fn()))
    assert not p.running and p._follow_timer.isActive()
    p._follow_tick()
    assert p.running and p.plan.particles <= LIVE_PARTICLES
    _wait_done(qtbot, p)
    p._follow_tick()  # no new model since: nothing to do
    assert not p.running
    st.set_training(False)
    assert not p._follow_timer.isActive()
    # 'New seed' draws a new x_T and resamples
    old_x_T, old_seed = p.x_T.clone(), p.seed.value()
    p.new_seed()
    assert p.running and p.seed.value() != old_seed and not torch.equal(p.x_T, old_x_T)
    p.shutdown()
    assert not p.running


def test_sampling_nan_samples_are_reported(qtbot, keep):
    st = make_state(n_particles=600, sample_steps=20)

    class NaNModel:
        def score(self, x, t):
            out = -torch.as_tensor(x).clone()
            out[::3] = float("nan")
            return out

    p = keep(SamplingPanel(st))
    st.set_model(NaNModel())
    _wait_done(qtbot, p)
    for s in p.sides.values():
        assert s.outcome.n_nonfinite == 200
        assert "NaN" in s.view.info.text()
    p.shutdown()


def test_sampling_shutdown_mid_run_stops_within_a_second(qtbot, keep):
    st = make_state(n_particles=20000, sample_steps=2000)
    p = keep(SamplingPanel(st))
    p.use_exact.setChecked(True)
    qtbot.waitUntil(lambda: p.sides["sde"].live is not None and p.sides["sde"].live.i > 0, timeout=30_000)
    threads = list(p.threads.current.values())
    t0 = time.perf_counter()
    p.shutdown()
    assert time.perf_counter() - t0 < 1.0
    assert not p.running and all(not th.isRunning() for th in threads)


def test_plot_item_helpers():
    x = np.array([[0.1, 0.1], [0.9, 0.9], [np.nan, 0.5], [5.0, 5.0]], np.float32)
    h = histogram2d(x, (0, 1, 0, 1), 2)
    assert h.sum() == 2 and h[0, 0] == 1 and h[1, 1] == 1
    paths = np.arange(3 * 4 * 2, dtype=float).reshape(3, 4, 2)
    xy = TrajectoryCurve.pack(paths)
    assert xy.shape == (16, 2) and np.isnan(xy[3::4]).all() and not np.isnan(np.delete(xy, slice(3, None, 4), 0)).any()


def test_panels_handle_an_empty_target(qtbot, keep):
    st = make_state()
    score, sampling = keep(ScoreFieldPanel(st)), keep(SamplingPanel(st))
    st.target = Target("empty", lambda n, rng: np.zeros((0, 2)))
    st.target_samples = np.zeros((0, 2), np.float32)
    st.targetChanged.emit()
    score.redraw()
    assert score.message.text == "Empty target"
    assert not sampling.resample()
    assert "empty" in sampling.status.text().lower()
    sampling.shutdown()


def test_real_score_model_drives_score_and_sampling_panels(qtbot, keep):
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    st = make_state(n_particles=500, sample_steps=30, n_trajectories=8)
    tr = Trainer(TrainConfig(steps=100, hidden=32, depth=2, device="cpu", threads=1), data=st.target_samples)
    tr.run()
    score, sampling = keep(ScoreFieldPanel(st)), keep(SamplingPanel(st))
    st.set_time(0.3)
    st.set_model(tr.snapshot())
    qtbot.waitUntil(lambda: sampling.running and sampling.plan.source == "learned", timeout=5000)
    score._redraw.flush()
    assert score.learned_field is not None and np.isfinite(score.learned_field).all()
    assert score.heat_res == 32  # coarse (the arrows' own grid) while inputs change, refined once they settle
    qtbot.waitUntil(lambda: score.heat_res == 96, timeout=3000)
    assert score.heat_res == 96 and np.isfinite(score.heat_values).all()
    _wait_done(qtbot, sampling)
    for s in sampling.sides.values():
        assert s.outcome.error is None and np.isfinite(s.outcome.x).all() and s.outcome.nfe > 0
    # switching to the exact score resamples from the same seed
    sampling.use_exact.setChecked(True)
    qtbot.waitUntil(lambda: sampling.running and sampling.plan.source == "exact", timeout=5000)
    _wait_done(qtbot, sampling)
    sampling.shutdown()


def test_a_sampler_that_cannot_run_says_why_in_its_view(qtbot, keep):
    st = make_state(sde="subvp", sde_sampler="annealed_langevin", ode_sampler="ode_euler", n_particles=500,
                    sample_steps=20)
    p = keep(SamplingPanel(st))
    p.use_exact.setChecked(True)
    qtbot.waitUntil(lambda: p.sides["ode"].outcome is not None and not p.running, timeout=90_000)
    sde, ode = p.sides["sde"], p.sides["ode"]
    assert sde.outcome is None and "too few" in sde.view.message.text
    assert ode.outcome.error is None and ode.outcome.nfe == 21
    p.shutdown()


def test_sampler_error_is_shown_on_its_side(qtbot, keep, monkeypatch):
    from playground.core.sampling import samplers

    def refuses(*_args, **_kwargs):
        raise ValueError("ddim refuses this run")

    monkeypatch.setitem(samplers.SAMPLERS, "ddim", refuses)
    st = make_state(sde_sampler="ddim", ode_sampler="ode_euler", n_particles=500, sample_steps=20)
    p = keep(SamplingPanel(st))
    p.use_exact.setChecked(True)
    _wait_done(qtbot, p)
    sde, ode = p.sides["sde"], p.sides["ode"]
    assert "ddim refuses" in sde.outcome.error
    assert "failed" in sde.view.message.text.lower() and "failed" in sde.view.info.text()
    assert ode.outcome.error is None and ode.outcome.nfe == 21
    p.shutdown()


# ---- speed plumbing: frame pacing, hidden panels, the score cache, safe teardown -----------------------------------
def test_coalescer_paces_from_the_start_of_the_last_run(qtbot):
    from playground.app.widgets.plot_items import Coalescer

    runs = []

    def work():
        runs.append(time.perf_counter())
        time.sleep(0.02)  # a 20 ms redraw

    c = Coalescer(work, 33)
    c.request()
    assert c.timer.isActive() and c.timer.interval() == 0  # never ran: next event-loop turn, not in the caller
    qtbot.waitUntil(lambda: len(runs) == 1, timeout=2000)
    c.request()  # 20+ ms after the start of the last run: wait only what is left of the 33 ms
    assert c.timer.isActive() and c.timer.interval() <= 13
    c.request()  # coalesced into the pending run
    qtbot.waitUntil(lambda: len(runs) == 2, timeout=2000)
    assert runs[1] - runs[0] < 0.033 + 0.025  # a start-to-start pacing (an end-to-start one takes >= 53 ms)
    c.flush()
    assert len(runs) == 3 and not c.active


def test_hidden_panel_skips_redraws_until_shown(qtbot, keep):
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    st = make_state(n_forward=500)
    host = keep(QWidget())
    lay = QVBoxLayout(host)
    p = ForwardPanel(st)
    lay.addWidget(p)
    host.resize(300, 300)
    host.show()
    qtbot.waitExposed(host)
    st.set_time(0.3)
    qtbot.waitUntil(lambda: "t = 0.300" in p.info.text(), timeout=2000)
    p.hide()  # a closed dock
    n = p.redraws
    st.set_time(0.6)
    qtbot.wait(120)
    assert p.redraws == n and p._redraw.pending
    p.show()
    qtbot.waitUntil(lambda: p.redraws > n, timeout=2000)
    assert "t = 0.600" in p.info.text()


def test_score_panel_reuses_evaluations(qtbot, keep):
    st = make_state()
    st.set_model(ExactStandIn(st.exact_score_fn()))
    st.set_time(0.4)
    p = keep(ScoreFieldPanel(st))
    p.redraw()
    assert p.heat_res == 32  # while inputs change: the arrows' own grid, no extra evaluation
    n = p.evaluations
    p.redraw()  # same model, t and view: nothing evaluated again
    assert p.evaluations == n
    p.refine()
    assert p.heat_res == 96 and p.evaluations == n + 1
    p.redraw()  # the fine grid is cached now: shown at once
    assert p.heat_res == 96 and p.evaluations == n + 1
    st.set_time(0.5)
    p.redraw()
    assert p.evaluations == n + 2 and p.heat_res == 32
    st.set_model(ExactStandIn(st.exact_score_fn()))  # a new model: the cache is dropped
    p.redraw()
    assert p.evaluations == n + 3


def test_sampling_panel_deleted_while_sampling_does_not_abort(qtbot):
    import gc

    from playground.app.workers.threads import wait_for_workers

    st = make_state(n_particles=20000, sample_steps=2000)
    p = SamplingPanel(st)
    p.use_exact.setChecked(True)
    side = p.sides["sde"]
    qtbot.waitUntil(lambda: side.live is not None, timeout=30_000)
    threads = list(p.threads.started)
    assert threads and all(th.isRunning() for th in threads) and all(th.parent() is None for th in threads)
    p.deleteLater()  # no shutdown(): destroying the panel cancels its samplers, which outlive it until they finish
    del p
    qtbot.wait(50)
    gc.collect()
    assert wait_for_workers(10.0)
    assert all(not th.isRunning() for th in threads)
