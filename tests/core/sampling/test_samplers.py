"""Every sampler driven by an exact score reaches the iid SWD floor; NFE, callbacks and trajectories are exact."""

import itertools

import pytest
import torch

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE, SubVPSDE
from playground.core.evaluation.metrics import swd_report
from playground.core.sampling.pc_steps import CORRECTORS, PREDICTORS, ald_corrector, langevin_corrector
from playground.core.sampling.samplers import SAMPLERS, StepInfo, karras_sigmas, sample

GAUSSIAN = GaussianMixture([1.0], [[0.5, -1.0]], [[[0.6, 0.3], [0.3, 0.4]]])
GMM3 = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
    [[[1.0, 0.6], [0.6, 0.5]], [[0.3, -0.2], [-0.2, 0.8]], [[0.6, 0.0], [0.0, 0.1]]],
)
TARGETS = {"gaussian": GAUSSIAN, "gmm3": GMM3}
SDES = {
    "vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=20.0), "ve_small": VESDE(sigma_min=1e-3, sigma_max=20.0),
    "rf": RFSDE(),
}
# VE: the PF-ODE carries the prior's mismatch N(0, s_max^2 I) vs p_T to the samples; at s_max = 10 the Gaussian's
# mean, 1.1 from the origin, already costs the ODE samplers a ratio of 1.26 even with dopri5. At 20 it is gone.
# ve_small: sigma_min = 1e-3, where annealed Langevin's old step rule (a_i = eps sigma_i^2 / sigma_L^2) diverged.
N_SAMPLES = 8000  # swd_report splits it into 4 chunks of 2000, each against its own fresh target set
SWD_RATIO_MAX = 1.3

# Every sampler x every SDE on GMM3 (test_every_sampler_on_every_sde_reaches_the_swd_floor), with these steps:
MATRIX_STEPS = {
    "em": 200, "reverse_diffusion": 200, "ancestral": 200, "pc": 100, "ode_euler": 300, "ode_heun": 50, "ode_rk45": 2,
    "ddim": 50, "edm_heun": 18, "langevin": 400, "annealed_langevin": 600,
}  # fmt: skip
# Plain Langevin samples p_eps at one t: on GMM3's separated modes it gets the weights wrong by design
# (test_plain_langevin_gets_mode_weights_wrong_annealed_gets_them_right), so its row runs on the unimodal Gaussian.
MATRIX_TARGET = {"langevin": "gaussian"}
MATRIX_OPTIONS = {"langevin": {"step_size": 0.02}}
# Rectified flow's reverse SDE is stiff near T = 0.999 (g^2 = 2t / (1 - t)): annealed Langevin takes more steps there.
MATRIX_STEPS_FOR = {("annealed_langevin", "rf"): 800}

# (target, sde, sampler, steps, options): the unimodal Gaussian, and options the matrix does not cover.
SWD_CASES = [
    ("gaussian", "vp", "em", 100, {}),
    ("gaussian", "vp", "reverse_diffusion", 100, {}),
    ("gaussian", "vp", "ancestral", 100, {}),
    ("gaussian", "vp", "pc", 50, {}),
    ("gaussian", "vp", "ode_euler", 50, {}),
    ("gaussian", "vp", "ode_heun", 10, {}),
    ("gaussian", "vp", "ode_rk45", 1, {}),
    ("gaussian", "vp", "ddim", 100, {}),
    ("gaussian", "vp", "edm_heun", 18, {}),
    ("gaussian", "vp", "annealed_langevin", 600, {}),
    ("gaussian", "ve", "ancestral", 200, {}),
    ("gaussian", "ve", "ode_heun", 50, {}),
    ("gmm3", "vp", "ddim", 100, {"eta": 1.0}),
    ("gmm3", "vp", "edm_heun", 36, {"S_churn": 10.0}),
    ("gmm3", "rf", "ddim", 100, {"eta": 1.0}),
]

# pc with every predictor and both correctors (score_sde's sampling.py), on GMM3; corrector-only sampling needs more
# and larger corrector steps than the 1 step at snr 0.16 that follows a predictor.
PC_CASES = [
    ("vp", 100, {"predictor": predictor, "corrector": corrector})
    for predictor in ("reverse_diffusion", "em", "ancestral") for corrector in ("langevin", "ald")
] + [
    ("vp", 100, {"predictor": "none", "corrector": "langevin", "n_corrector": 3, "snr": 0.4}),
    ("vp", 100, {"predictor": "none", "corrector": "ald", "n_corrector": 4, "snr": 0.6}),
    ("subvp", 100, {"predictor": "ancestral", "corrector": "ald"}),
    ("ve", 100, {"corrector": "ald"}),
    ("ve_small", 100, {"predictor": "ancestral", "corrector": "ald"}),
    ("rf", 100, {"corrector": "ald"}),
]


def _target_sampler(gmm: GaussianMixture):
    return lambda n, seed: gmm.sample(n, torch.Generator().manual_seed(seed)).numpy()


def _case_id(case) -> str:
    target, sde, name, steps, options = case
    return "-".join([target, sde, name, str(steps)] + [f"{k}={v}" for k, v in options.items()])


def _assert_at_the_swd_floor(gmm: GaussianMixture, x: torch.Tensor, context) -> None:
    assert torch.isfinite(x).all(), context
    report = swd_report(x, _target_sampler(gmm), seed=5)
    assert report.swd_ratio <= SWD_RATIO_MAX, (context, report.as_dict())


@pytest.mark.slow
@pytest.mark.parametrize("case", SWD_CASES, ids=[_case_id(c) for c in SWD_CASES])
def test_exact_score_sampler_reaches_the_swd_floor(case):
    target, sde_name, name, steps, options = case
    gmm, sde = TARGETS[target], SDES[sde_name]
    result = sample(name, gmm.score_fn(sde), sde, N_SAMPLES, steps=steps, seed=11, **options)
    _assert_at_the_swd_floor(gmm, result.x, case)


@pytest.mark.slow
@pytest.mark.parametrize("sde_name", list(SDES))
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_on_every_sde_reaches_the_swd_floor(name, sde_name):
    """With the exact score every sampler is finite and at the SWD floor (ratio <= 1.3) on every SDE, including
    sub-VP and VE with sigma_min = 1e-3, where annealed Langevin's old step rule diverged to NaN (every sampler has a
    form for every SDE: ancestral is DDIM at eta = 1 beyond VP and VE)."""
    gmm, sde = TARGETS[MATRIX_TARGET.get(name, "gmm3")], SDES[sde_name]
    steps = MATRIX_STEPS_FOR.get((name, sde_name), MATRIX_STEPS[name])
    result = sample(name, gmm.score_fn(sde), sde, N_SAMPLES, steps=steps, seed=11, **MATRIX_OPTIONS.get(name, {}))
    _assert_at_the_swd_floor(gmm, result.x, (name, sde_name))


@pytest.mark.slow
@pytest.mark.parametrize("case", PC_CASES, ids=["-".join([c[0], *map(str, c[2].values())]) for c in PC_CASES])
def test_pc_with_every_predictor_and_corrector_reaches_the_swd_floor(case):
    sde_name, steps, options = case
    sde = SDES[sde_name]
    result = sample("pc", GMM3.score_fn(sde), sde, N_SAMPLES, steps=steps, seed=11, **options)
    _assert_at_the_swd_floor(GMM3, result.x, case)


@pytest.mark.slow
def test_plain_langevin_gets_mode_weights_wrong_annealed_gets_them_right():
    """Two modes 6 apart (sd 0.3), weights 0.8 / 0.2, from the VP prior N(0, I), which straddles both basins.

    Plain Langevin never crosses the barrier (exp(-50) between the modes), so each point keeps the basin it starts in:
    about half go to each mode. Annealed Langevin moves mass between the modes while the noise still joins them;
    hops stop near sigma ~ 2, where p_sigma puts 0.8 Phi(1.48) + 0.2 Phi(-1.48) = 0.76 in the right half-plane, so
    its weight may be low by up to ~0.04; the binomial sd at n = 4000 adds 0.006. Tolerance: 0.05.
    """
    two_modes = GaussianMixture([0.8, 0.2], [[3.0, 0.0], [-3.0, 0.0]], [[[0.09, 0.0], [0.0, 0.09]]] * 2)
    sde = SDES["vp"]
    score = two_modes.score_fn(sde)
    plain = sample("langevin", score, sde, 4000, steps=300, seed=3, step_size=0.01).x
    annealed = sample("annealed_langevin", score, sde, 4000, steps=600, seed=3).x
    for x in (plain, annealed):  # both put every point on a mode ...
        assert torch.cdist(x, two_modes.means.float()).min(1).values.quantile(0.99) < 1.5
    plain_weight = (plain[:, 0] > 0).double().mean().item()
    annealed_weight = (annealed[:, 0] > 0).double().mean().item()
    assert abs(plain_weight - 0.8) > 0.2  # ... but plain Langevin splits them about evenly
    assert abs(annealed_weight - 0.8) < 0.05


def _counted(score_fn):
    calls = []

    def counted(x, t):
        calls.append(t)
        assert t.shape == (x.shape[0],)
        return score_fn(x, t)

    return counted, calls


EXPECTED_NFE = {  # (steps, options, nfe with denoise_last, nfe without)
    "em": (7, {}, 8, 7),
    "reverse_diffusion": (21, {}, 22, 21),
    "ancestral": (7, {}, 8, 7),
    "pc": (21, {"n_corrector": 2}, 21 * 3 + 1, 21 * 3),
    "ode_euler": (7, {}, 8, 7),
    "ode_heun": (7, {}, 2 * 7 - 1, 2 * 7),
    "ddim": (7, {}, 8, 7),
    "edm_heun": (18, {}, 35, 36),
    "langevin": (7, {}, 8, 7),
    "annealed_langevin": (20, {"levels": 5}, 21, 20),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("denoise_last", [True, False])
def test_nfe_is_exactly_what_the_algorithm_implies(name, denoise_last):
    sde = SDES["vp"]
    score, calls = _counted(lambda x, t: -x)
    x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    steps, options, with_denoise, without = EXPECTED_NFE.get(name, (5, {}, None, None))
    result = SAMPLERS[name](score, sde, x_T, steps=steps, denoise_last=denoise_last, **options)
    assert result.nfe == len(calls)
    if name == "ode_rk45":
        assert result.nfe > 6 * steps  # dopri5: at least one 6-stage step per frame
    else:
        assert result.nfe == (with_denoise if denoise_last else without)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_callback_every_step_and_trajectory_shape(name):
    sde = SDES["ve"]
    steps, stride = 12, 5
    infos: list[StepInfo] = []
    x_T = sde.prior_sample((10, 2), generator=torch.Generator().manual_seed(0))
    result = SAMPLERS[name](
        GMM3.score_fn(sde), sde, x_T, steps=steps, trajectory_stride=stride,
        callback=lambda info: infos.append(StepInfo(info.i, info.steps, info.t, info.x.clone(), info.nfe)),
        generator=torch.Generator().manual_seed(1), **({"levels": 5} if name == "annealed_langevin" else {}),
    )  # fmt: skip
    assert [info.i for info in infos] == list(range(steps))
    assert all(info.steps == steps for info in infos)
    nfes = [info.nfe for info in infos]
    assert nfes == sorted(nfes) and nfes[-1] == result.nfe
    assert torch.equal(infos[-1].x, result.x) and infos[-1].t == 0.0
    assert all(0.0 < info.t <= sde.T for info in infos[:-1])
    # x_T, the states after steps 5 and 10, and the final state after step 12
    assert result.trajectory.shape == (4, 10, 2) and result.times.shape == (4,)
    assert torch.equal(result.trajectory[0], x_T) and torch.equal(result.trajectory[-1], result.x)
    assert torch.equal(result.trajectory[1], infos[4].x) and torch.equal(result.trajectory[2], infos[9].x)
    assert torch.isfinite(result.x).all()
    assert result.times[0] == sde.T and result.times[-1] == 0.0


def test_trajectory_keeps_the_final_state_once():
    sde = SDES["vp"]
    result = sample("em", lambda x, t: -x, sde, 5, steps=6, trajectory_stride=3)
    assert result.trajectory.shape == (3, 5, 2)
    assert sample("em", lambda x, t: -x, sde, 5, steps=6).trajectory is None


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_samplers_work_on_image_shaped_data(name):
    """Data N(0, I) in N x C x H x W under VP: the score is -x; the PF-ODE samplers keep each sample fixed (up to the
    float32 rounding of f - g^2 s / 2, a difference of two terms of size beta |x| / 2)."""
    sde = SDES["vp"]
    x_T = torch.randn(6, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    options = {"levels": 5} if name == "annealed_langevin" else {}
    result = SAMPLERS[name](lambda x, t: -x, sde, x_T, steps=25, denoise_last=False, **options)
    assert result.x.shape == x_T.shape and result.x.dtype == x_T.dtype and torch.isfinite(result.x).all()
    if name in ("ode_euler", "ode_heun", "ode_rk45"):
        torch.testing.assert_close(result.x, x_T, rtol=0, atol=2e-4)


def test_sample_is_reproducible_and_draws_from_the_prior():
    sde = SDES["ve"]
    score = GMM3.score_fn(sde)
    a = sample("em", score, sde, 50, steps=5, seed=4, trajectory_stride=5)
    b = sample("em", score, sde, 50, steps=5, seed=4)
    c = sample("em", score, sde, 50, steps=5, seed=5)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    x_T = sde.prior_sample((50, 2), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.trajectory[0], x_T)
    given = sample("em", score, sde, x_T, steps=5, seed=4)
    assert given.x.shape == (50, 2)


def test_rectified_flow_ddim_is_euler_on_the_pf_ode():
    """On the straight path x_t = (1 - t) x0 + t eps, DDIM's x_s = (1 - s) x0_hat + s eps_hat is x_t + (s - t)(eps_hat -
    x0_hat): exactly an Euler step of the PF-ODE, whose drift is the velocity eps_hat - x0_hat."""
    sde = SDES["rf"]
    x_T = torch.randn(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    score = GMM3.score_fn(sde)
    a, b = SAMPLERS["ddim"](score, sde, x_T, steps=12), SAMPLERS["ode_euler"](score, sde, x_T, steps=12)
    torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-10)


def test_ancestral_beyond_vp_and_ve_is_ddim_at_eta_one():
    """sub-VP and rf have no closed-form ancestral step of their own: theirs is the DDPM posterior of the path's Markov
    chain, i.e. ddim(eta=1), drawing the same noise."""
    for sde in (SDES["subvp"], SDES["rf"]):
        x_T = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        runs = [
            SAMPLERS[name](GMM3.score_fn(sde), sde, x_T, steps=15, generator=torch.Generator().manual_seed(2), **opt).x
            for name, opt in (("ancestral", {}), ("ddim", {"eta": 1.0}))
        ]
        torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=1e-12)


def test_ddim_is_deterministic_at_eta_zero():
    sde = SDES["vp"]
    x_T = torch.randn(30, 2, generator=torch.Generator().manual_seed(0))
    runs = [SAMPLERS["ddim"](GMM3.score_fn(sde), sde, x_T, steps=10, generator=torch.Generator().manual_seed(s)).x for s in (1, 2)]
    assert torch.equal(runs[0], runs[1])
    noisy = [SAMPLERS["ddim"](GMM3.score_fn(sde), sde, x_T, steps=10, eta=1.0, generator=torch.Generator().manual_seed(s)).x for s in (1, 2)]
    assert not torch.equal(noisy[0], noisy[1])


def test_edm_sigma_grid_follows_karras_and_the_sde_range():
    """sigma_i = (s_max^(1/7) + i/(N-1) (s_min^(1/7) - s_max^(1/7)))^7; VP clips sigma_min to sigma_edm(eps) = 0.01."""
    sigmas = karras_sigmas(18, 0.002, 80.0)
    assert sigmas[0] == pytest.approx(80.0) and sigmas[-1] == pytest.approx(0.002)
    assert all(a > b for a, b in itertools.pairwise(sigmas))
    sde = SDES["vp"]
    score, calls = _counted(lambda x, t: -x)
    SAMPLERS["edm_heun"](score, sde, torch.zeros(2, 2), steps=18)
    seen = [float(t[0]) for t in calls]
    sigma_seen = sde.sigma_edm(torch.tensor(seen, dtype=torch.float64))
    assert sigma_seen.max().item() == pytest.approx(80.0, rel=1e-6)
    assert sigma_seen.min().item() == pytest.approx(float(sde.sigma_edm(torch.tensor(sde.sampling_eps))), rel=1e-4)


def test_invalid_requests_raise_clear_errors():
    score = lambda x, t: -x
    x_T = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="unknown predictor"):
        SAMPLERS["pc"](score, SDES["vp"], x_T, steps=30, predictor="heun")
    with pytest.raises(ValueError, match="unknown corrector"):
        SAMPLERS["pc"](score, SDES["vp"], x_T, steps=30, corrector="hmc")
    with pytest.raises(ValueError, match="nothing would move"):
        SAMPLERS["pc"](score, SDES["vp"], x_T, steps=30, predictor="none", corrector="none")
    with pytest.raises(ValueError, match="nothing would move"):
        SAMPLERS["pc"](score, SDES["vp"], x_T, steps=30, predictor="none", n_corrector=0)
    with pytest.raises(ValueError, match="snr"):
        SAMPLERS["pc"](score, SDES["vp"], x_T, steps=30, snr=float("nan"))
    with pytest.raises(ValueError, match="unknown sampler"):
        sample("dpm", score, SDES["vp"], 4)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        SAMPLERS["em"](score, SDES["vp"], x_T, steps=0)
    with pytest.raises(TypeError):
        SAMPLERS["em"](score, SDES["vp"], x_T, steps=3, eta=0.5)


@pytest.mark.parametrize("name", ["reverse_diffusion", "pc"])
def test_grid_discretisation_takes_any_number_of_steps_on_vp(name):
    """beta_i = 1 - (alpha(t_i) / alpha(t_{i+1}))^2 of the grid is always in (0, 1): no 'steps >= beta_max' limit
    (the old N = steps + 1 DDPM levels needed beta_max / N < 1)."""
    x_T = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    result = SAMPLERS[name](lambda x, t: -x, SDES["vp"], x_T, steps=5, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(result.x).all() and 0.5 < float(result.x.var()) < 2.0


def _gaussian_1d_score(sde, var0):
    """The exact score of data N(0, var0) in 1D at every t, and its marginal variance V(t)."""
    def variance(t):
        alpha, std = sde.marginal_coefficients(torch.as_tensor(t, dtype=torch.float64))
        return alpha * alpha * var0 + std * std

    return (lambda x, t: (-x.double() / variance(t)[:, None]).to(x.dtype)), variance


@pytest.mark.parametrize("sde_name", ["vp", "subvp", "ve"])
def test_reverse_diffusion_follows_the_continuous_sde_at_first_order(sde_name):
    """Started from the exact p_T, reverse diffusion's state on its own grid matches the continuous SDE's marginal
    variance V(t_i) at every grid time to first order: the largest relative error shrinks ~4x from 50 to 200 steps
    (Monte Carlo sd of a variance at n = 2e5: 0.003)."""
    sde = SDES[sde_name]
    score, variance = _gaussian_1d_score(sde, 0.25)
    worst = {}
    for steps in (50, 200):
        x_T = torch.randn(200_000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        x_T = x_T * float(variance(sde.T)) ** 0.5
        errors = []
        SAMPLERS["reverse_diffusion"](
            score, sde, x_T, steps=steps, denoise_last=False, generator=torch.Generator().manual_seed(2),
            callback=lambda info: errors.append(abs(float(info.x.var()) / float(variance(info.t)) - 1)),
        )  # fmt: skip
        worst[steps] = max(errors)
    assert worst[50] < 0.5 and worst[200] < worst[50] / 3, worst


def test_correctors_take_their_documented_steps():
    """With a constant score c the corrector is x + e c + sqrt(2 e) z: Langevin e = 2 alpha_i (r |z| / |c|)^2
    (batch-mean norms), ALD e = 2 alpha_i (r std(t))^2 (Song et al. 2021, Alg. 4; score_sde's ALD), with
    alpha_i = (alpha(t) / alpha(t_next))^2 of the grid step."""
    x = torch.randn(64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    c = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    score = lambda y, t: c.expand_as(y)
    for sde_name in ("vp", "subvp", "ve"):
        sde = SDES[sde_name]
        t, t_next, snr = 0.4, 0.39, 0.2
        alpha_t, std_t = (float(v) for v in sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64)))
        alpha_i = (alpha_t / float(sde.marginal_coefficients(torch.tensor(t_next, dtype=torch.float64))[0])) ** 2
        z = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=x.dtype)
        e = 2 * alpha_i * (snr * z.norm(dim=1).mean() / c.norm()) ** 2
        out = langevin_corrector(score, sde, x, t, t_next, snr, torch.Generator().manual_seed(5))
        torch.testing.assert_close(out, x + e * c + torch.sqrt(2 * e) * z)
        e = 2 * alpha_i * (snr * std_t) ** 2
        out = ald_corrector(score, sde, x, t, t_next, snr, torch.Generator().manual_seed(5))
        torch.testing.assert_close(out, x + e * c + (2 * e) ** 0.5 * z)


@pytest.mark.parametrize("predictor", list(PREDICTORS))
@pytest.mark.parametrize("corrector", list(CORRECTORS))
def test_pc_nfe_for_every_predictor_and_corrector(predictor, corrector):
    if predictor == "none" and corrector == "none":
        return  # rejected: test_invalid_requests_raise_clear_errors
    score, calls = _counted(lambda x, t: -x)
    result = SAMPLERS["pc"](score, SDES["vp"], torch.randn(8, 2), steps=6, predictor=predictor, corrector=corrector,
                            n_corrector=2)
    per_step = (predictor != "none") + (2 if corrector != "none" else 0)
    assert result.nfe == len(calls) == 6 * per_step + 1


def test_all_documented_samplers_are_registered():
    assert set(SAMPLERS) == {
        "em", "reverse_diffusion", "ancestral", "pc", "ode_euler", "ode_heun", "ode_rk45", "ddim", "edm_heun",
        "langevin", "annealed_langevin",
    }  # fmt: skip
