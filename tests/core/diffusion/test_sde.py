"""SDEs against exact answers: closed-form marginals, the moment ODEs, a forward simulation, the exact transitions
that discretise them on any grid (DDPM / SMLD steps)."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from playground.core.diffusion.sde import (
    RFSDE,
    VESDE,
    VPSDE,
    SubVPSDE,
    make_sde,
    sde_from_config,
    suggest_sigma_max,
)
from playground.core.sampling.samplers import ode_heun, ode_rk45

SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=10.0), "rf": RFSDE()}
TIMES = torch.tensor([1e-5, 1e-3, 0.05, 0.3, 0.7, 1.0], dtype=torch.float64)


def _closed_form(name: str, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha, std) from SCIENCE.md: VP std^2 = 1 - alpha^2, sub-VP std = 1 - alpha^2, VE std = s_min (s_max/s_min)^t,
    rectified flow (1 - t, t)."""
    if name == "rf":
        return 1 - t, t
    log_alpha = -0.25 * t**2 * (20.0 - 0.1) - 0.5 * t * 0.1
    alpha = torch.exp(log_alpha)
    if name == "vp":
        return alpha, torch.sqrt(1 - alpha**2)
    if name == "subvp":
        return alpha, 1 - alpha**2
    return torch.ones_like(t), 0.01 * (10.0 / 0.01) ** t


@pytest.mark.parametrize("name", SDES)
def test_marginal_coefficients_match_closed_form(name):
    alpha, std = SDES[name].marginal_coefficients(TIMES)
    ref_alpha, ref_std = _closed_form(name, TIMES)
    torch.testing.assert_close(alpha, ref_alpha, rtol=1e-12, atol=0)
    torch.testing.assert_close(std, ref_std, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", SDES)
def test_marginal_solves_the_moment_odes(name):
    """d alpha/dt = -beta alpha / 2 (VP, sub-VP), 0 (VE), -alpha / (1 - t) (rf); d var/dt = 2 a(t) var + g^2 with a = f / x
    (Sarkka & Solin 2019, Eq. 5.51). Solved up to the SDE's T (rf: 0.999, before its drift's pole at t = 1)."""
    sde = SDES[name]
    times = TIMES.clamp(max=sde.T)
    drift_rate = lambda t: float(sde.drift(torch.ones(1, 1, dtype=torch.float64), torch.tensor([t], dtype=torch.float64)))
    g2 = lambda t: float(sde.diffusion(torch.tensor(t, dtype=torch.float64))) ** 2
    var0 = 0.01**2 if name == "ve" else 0.0  # VE's marginal std is sigma_min at t = 0 (score_sde's convention)
    sol = solve_ivp(
        lambda t, y: [drift_rate(t) * y[0], 2 * drift_rate(t) * y[1] + g2(t)],
        (0.0, sde.T), [1.0, var0], t_eval=times.numpy(), rtol=1e-10, atol=1e-14, method="DOP853",
    )  # fmt: skip
    alpha, std = sde.marginal_coefficients(times)
    np.testing.assert_allclose(sol.y[0], alpha.numpy(), rtol=1e-7)
    np.testing.assert_allclose(np.sqrt(sol.y[1]), std.numpy(), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name, t_end", [(name, 0.4) for name in SDES] + [("rf", 0.95)])
def test_forward_simulation_matches_marginal(name, t_end):
    """Monte Carlo: 10000 paths of the forward SDE by small Euler-Maruyama steps (h = 1e-3; rf to 0.95, where its
    drift -x / (1 - t) and g^2 = 2t / (1 - t) are 20x and 38x their t = 0 size, h = 2.5e-4) hit N(alpha x0, std^2 I)."""
    sde = SDES[name]
    g = torch.Generator().manual_seed(0)
    n, n_steps = 10000, round(t_end * (1000 if t_end <= 0.5 else 4000))
    x0 = torch.tensor([1.5, -0.5], dtype=torch.float64).expand(n, 2)
    x = x0 + (0.01 * torch.randn(n, 2, generator=g, dtype=torch.float64) if name == "ve" else 0.0)
    h = t_end / n_steps
    for k in range(n_steps):
        f, gt = sde.sde(x, k * h)
        x = x + f * h + gt[:, None] * math.sqrt(h) * torch.randn(n, 2, generator=g, dtype=torch.float64)
    mean, std = sde.marginal(x0[:1], t_end)
    # Monte Carlo error of the mean is std / sqrt(n) = 0.01 std, of the std 0.007 std; the EM bias is O(beta h) < 1%.
    torch.testing.assert_close(x.mean(0), mean[0], atol=0.04 * float(std), rtol=0)
    torch.testing.assert_close(x.std(0), std.expand(2), rtol=0.03, atol=0)


@pytest.mark.parametrize("name", SDES)
def test_transition_splits_the_marginal(name):
    """x_t | x_s ~ N(a x_s, v): a alpha(s) = alpha(t) and a^2 std(s)^2 + v = std(t)^2 for every s < t."""
    sde = SDES[name]
    s, t = TIMES[:-1], TIMES[1:]
    a, v = sde.transition_coefficients(s, t)
    alpha_s, std_s = _closed_form(name, s)
    alpha_t, std_t = _closed_form(name, t)
    torch.testing.assert_close(a * alpha_s, alpha_t)
    torch.testing.assert_close(a * a * std_s**2 + v, std_t**2)
    assert (v > 0).all()


@pytest.mark.parametrize("name", SDES)
def test_discretize_on_any_grid_reproduces_the_continuous_marginals(name):
    """Composing discretize(x, t_i, t_{i-1}) over a coarse, uneven grid from x0 at t_0 gives exactly the continuous
    SDE's marginal N(alpha(t) x0, std(t)^2) at every grid time (mean and variance propagated in closed form: the step
    is x + f + G z with f linear in x)."""
    sde = SDES[name]
    grid = [1e-5, 2e-3, 0.05, 0.06, 0.4, 1.0]
    x0 = torch.tensor([[1.5, -0.5]], dtype=torch.float64)
    alpha, std = sde.marginal_coefficients(torch.tensor(grid[0], dtype=torch.float64))
    mean, var = alpha * x0, std**2 * torch.ones(1, dtype=torch.float64)
    for t_prev, t in zip(grid, grid[1:]):
        f, G = sde.discretize(mean, t, t_prev)
        gain = (mean + f) / mean  # f = (a - 1) x
        mean, var = mean + f, gain[0, 0] ** 2 * var + G**2
        alpha, std = sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64))
        torch.testing.assert_close(mean, alpha * x0)
        torch.testing.assert_close(var, std**2 * torch.ones(1, dtype=torch.float64))


def _t64(t: float) -> torch.Tensor:
    return torch.tensor(t, dtype=torch.float64)


def test_default_step_is_ddpm_on_vp_and_smld_on_ve():
    """With t_prev = t - 1/N, VP's step is DDPM's x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z (Ho et al. 2020)
    with beta_i = 1 - exp(-int beta) = beta(t) / N + O(1/N^2), and VE's is SMLD's x_i = x_{i-1} + sqrt(s_i^2 -
    s_{i-1}^2) z; the Langevin corrector's alpha_i is 1 - beta_i on VP and sub-VP (the reference has none for
    sub-VP), 1 on VE."""
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    vp = VPSDE(N=1000)
    for t in (0.01, 0.37, 1.0):
        f, G = vp.discretize(x, t)
        beta = G[0] ** 2
        integral = float(vp.beta(_t64(t)) + vp.beta(_t64(t - 1 / vp.N))) / (2 * vp.N)  # beta(t) is linear
        assert float(beta) == pytest.approx(-math.expm1(-integral), rel=1e-9)  # = beta(t) / N + O(1 / N^2)
        assert abs(float(beta) - float(vp.beta(_t64(t))) / vp.N) < 3e-4
        torch.testing.assert_close(f, (torch.sqrt(1 - beta) - 1) * x)
        assert float(vp.langevin_alpha(t, t - 1 / vp.N)) == pytest.approx(1 - float(beta), abs=1e-12)
        same_drift = float(vp.langevin_alpha(t, t - 0.001))
        assert float(SDES["subvp"].langevin_alpha(t, t - 0.001)) == pytest.approx(same_drift)
    ve = VESDE(sigma_max=10.0, N=100)
    for t in (0.01, 0.5, 1.0):
        f, G = ve.discretize(x, t)
        assert torch.equal(f, torch.zeros_like(x))
        expected = math.sqrt(float(ve.sigma(_t64(t)) ** 2 - ve.sigma(_t64(t - 0.01)) ** 2))
        torch.testing.assert_close(G, torch.full((5,), expected, dtype=torch.float64))
        assert float(ve.langevin_alpha(t, t - 0.01)) == 1.0


@pytest.mark.parametrize("name", SDES)
def test_prior_logp_is_the_gaussian_log_density(name):
    sde = SDES[name]
    z = sde.prior_sample((7, 3, 4, 4), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = torch.distributions.Normal(0.0, sde.prior_std).log_prob(z).sum((1, 2, 3))
    torch.testing.assert_close(sde.prior_logp(z), ref)
    assert z.std().item() == pytest.approx(sde.prior_std, rel=0.1)


@pytest.mark.parametrize("name", SDES)
def test_t_of_sigma_edm_inverts_sigma_edm(name):
    sde = SDES[name]
    t = torch.linspace(sde.sampling_eps, sde.T, 50, dtype=torch.float64)
    sigma = sde.sigma_edm(t)
    alpha, std = sde.marginal_coefficients(t)
    torch.testing.assert_close(sigma, std / alpha)
    torch.testing.assert_close(sde.t_of_sigma_edm(sigma), t, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", SDES)
@pytest.mark.parametrize("probability_flow", [False, True])
def test_reverse_drift_formula(name, probability_flow):
    """Reverse SDE: f - g^2 s with diffusion g (Anderson 1982); PF-ODE: f - g^2 s / 2 with no diffusion (Song et al. Eq. 13)."""
    sde = SDES[name]
    score = lambda x, t: torch.sin(x) * t[:, None] - x
    x = torch.randn(6, 2, dtype=torch.float64)
    t = torch.rand(6, dtype=torch.float64)
    drift, diffusion = sde.reverse(score, probability_flow).sde(x, t)
    f, g = sde.drift(x, t), sde.diffusion(t)
    weight = 0.5 if probability_flow else 1.0
    torch.testing.assert_close(drift, f - weight * (g * g)[:, None] * score(x, t))
    torch.testing.assert_close(diffusion, torch.zeros_like(g) if probability_flow else g)


def test_sub_vp_diffusion_and_variance_bound():
    """sub-VP: g^2 = beta (1 - exp(-2 b0 t - (b1 - b0) t^2)), and its variance never exceeds VP's (Song et al. 2021, Eq. 29)."""
    sub, vp = SubVPSDE(), VPSDE()
    t = torch.linspace(1e-3, 1, 30, dtype=torch.float64)
    ref = vp.beta(t) * (1 - torch.exp(-2 * 0.1 * t - (20 - 0.1) * t**2))
    torch.testing.assert_close(sub.diffusion(t) ** 2, ref)
    assert (sub.marginal_coefficients(t)[1] <= vp.marginal_coefficients(t)[1]).all()


def test_config_round_trip_and_sigma_max_suggestion():
    for sde in SDES.values():
        again = sde_from_config(sde.config())
        assert type(again) is type(sde) and again.config() == sde.config()
    pts = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    assert suggest_sigma_max(pts) == pytest.approx(5.0)
    assert make_sde("ve", sigma_max=7.0).prior_std == 7.0
    with pytest.raises(ValueError, match="unknown SDE"):
        make_sde("nope")


@pytest.mark.parametrize("solver", [ode_rk45, ode_heun])
def test_standard_normal_under_vp_pf_ode_is_the_identity(solver):
    """Data N(0, I) under VP: the exact score is -x at every t, the PF-ODE drift is 0, samples map to themselves.

    With the final Tweedie denoise the output is E[x0 | x_eps] = alpha(eps) x exactly.
    """
    sde = make_sde("vp")
    x_T = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = solver(lambda x, t: -x, sde, x_T, steps=20, denoise_last=False)
    torch.testing.assert_close(out.x, x_T, rtol=0, atol=1e-10)
    denoised = solver(lambda x, t: -x, sde, x_T, steps=20).x
    alpha_eps = float(sde.marginal_coefficients(torch.tensor(sde.sampling_eps, dtype=torch.float64))[0])
    torch.testing.assert_close(denoised, alpha_eps * x_T, rtol=0, atol=1e-10)


def test_rectified_flow_is_the_linear_sde_of_its_path():
    """x_t = (1 - t) x0 + t eps: f = a'/a = -1/(1 - t), g^2 = d(b^2)/dt - 2 (a'/a) b^2 = 2t/(1 - t); the path velocity
    alpha' x0 + sigma' eps = eps - x0; at t = 1 the marginal is the prior N(0, I) and sigma_edm = t / (1 - t) is infinite."""
    sde = RFSDE()
    t = torch.tensor([0.0, 1e-3, 0.3, 0.9, sde.T], dtype=torch.float64)
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(sde.drift(x, t), -x / (1 - t)[:, None])
    torch.testing.assert_close(sde.diffusion(t) ** 2, 2 * t / (1 - t))
    d_alpha, d_std = sde.marginal_derivatives(t)
    assert torch.equal(d_alpha, -torch.ones_like(t)) and torch.equal(d_std, torch.ones_like(t))
    general = super(RFSDE, sde).marginal_derivatives(t[1:])  # the family's formula f alpha, g^2 / (2 sigma) + f sigma
    torch.testing.assert_close(general, (d_alpha[1:], d_std[1:]))
    torch.testing.assert_close(super(RFSDE, sde).velocity_coefficients(t[1:]), sde.velocity_coefficients(t[1:]))
    alpha, std = sde.marginal_coefficients(torch.tensor([1.0], dtype=torch.float64))
    assert (float(alpha), float(std)) == (0.0, 1.0) and sde.prior_std == 1.0
    assert float(sde.sigma_edm(torch.tensor(1.0))) == math.inf and float(sde.t_of_sigma_edm(torch.tensor(math.inf))) == 1.0
    assert float(sde.t_of_sigma_edm(torch.tensor(0.0))) == 0.0
    assert sde.T == pytest.approx(0.999) and sde.sampling_eps == pytest.approx(1e-2)


def test_rectified_flow_discrete_form_is_the_exact_transition_between_grid_points():
    """discretize: x_t = r x_s + sqrt(var) z from the previous grid point s keeps the marginals exactly, with
    r = (1 - t) / (1 - s) and var = t^2 - r^2 s^2 (alpha_t = r alpha_s, sigma_t^2 = r^2 sigma_s^2 + var), like DDPM
    for VP; the corrector's alpha_i is r^2."""
    sde = RFSDE()
    grid = torch.linspace(sde.sampling_eps, sde.T, 11, dtype=torch.float64)
    x = torch.ones(len(grid), 1, dtype=torch.float64)
    prev = torch.cat([torch.zeros(1, dtype=torch.float64), grid[:-1]])
    f, G = sde.discretize(x, grid, prev)
    r = 1 + f[:, 0]
    torch.testing.assert_close(r, (1 - grid) / (1 - prev))
    torch.testing.assert_close(G * G, grid * grid - r * r * prev * prev)
    torch.testing.assert_close(sde.langevin_alpha(grid, prev), r * r)


def test_make_sde_passes_each_sde_its_own_parameters():
    settings = {"beta_min": 0.2, "beta_max": 10.0, "sigma_min": 0.02, "sigma_max": 6.0}
    assert make_sde("vp", **settings).config() == {"name": "vp", "N": 1000, "beta_min": 0.2, "beta_max": 10.0}
    assert make_sde("ve", **settings).config() == {"name": "ve", "N": 1000, "sigma_min": 0.02, "sigma_max": 6.0}
    assert make_sde("rf", **settings).config() == {"name": "rf", "N": 1000}
    with pytest.raises(TypeError, match="unknown parameters"):
        make_sde("rf", beta_mx=3.0)


@pytest.mark.parametrize("solver", [ode_rk45, ode_heun])
def test_standard_normal_under_rf_pf_ode_maps_the_prior_to_itself(solver):
    """Data N(0, I) under rf: p_t = N(0, s(t)^2 I) with s(t)^2 = (1 - t)^2 + t^2, the score is -x / s^2 and the PF-ODE
    scales every sample by s(t) / s(T): from T to eps it maps x_T to x_T s(eps) / s(T) (0.991: the identity but for the
    ends' offsets from 0 and 1)."""
    sde = make_sde("rf")
    s2 = lambda t: (1 - t) ** 2 + t**2  # noqa: E731
    x_T = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = solver(lambda x, t: -x / s2(t)[:, None], sde, x_T, steps=20, denoise_last=False)
    ratio = math.sqrt(s2(sde.sampling_eps) / s2(sde.T))
    assert abs(ratio - 1) < 1e-2
    # dopri5 at rtol = atol = 1e-5; 20 Heun steps: a relative error of 1e-4 (second order, h = 0.05)
    torch.testing.assert_close(out.x, ratio * x_T, rtol=1e-6 if solver is ode_rk45 else 2e-4, atol=1e-6)
