"""SDEs against exact answers: closed-form marginals, the moment ODEs, a forward simulation, DDPM/SMLD discrete forms."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from playground.core.diffusion.sde import VESDE, VPSDE, SubVPSDE, make_sde, sde_from_config, suggest_sigma_max
from playground.core.sampling.samplers import ode_heun, ode_rk45

SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=10.0)}
TIMES = torch.tensor([1e-5, 1e-3, 0.05, 0.3, 0.7, 1.0], dtype=torch.float64)


def _closed_form(name: str, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha, std) from SCIENCE.md: VP std^2 = 1 - alpha^2, sub-VP std = 1 - alpha^2, VE std = s_min (s_max/s_min)^t."""
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
    """d alpha/dt = -beta alpha / 2 (VP, sub-VP) or 0 (VE); d var/dt = 2 a(t) var + g^2 with a = f / x (Sarkka & Solin 2019, Eq. 5.51)."""
    sde = SDES[name]
    drift_rate = lambda t: float(sde.drift(torch.ones(1, 1, dtype=torch.float64), torch.tensor([t], dtype=torch.float64)))
    g2 = lambda t: float(sde.diffusion(torch.tensor(t, dtype=torch.float64))) ** 2
    var0 = 0.01**2 if name == "ve" else 0.0  # VE's marginal std is sigma_min at t = 0 (score_sde's convention)
    sol = solve_ivp(
        lambda t, y: [drift_rate(t) * y[0], 2 * drift_rate(t) * y[1] + g2(t)],
        (0.0, 1.0), [1.0, var0], t_eval=TIMES.numpy(), rtol=1e-10, atol=1e-14, method="DOP853",
    )  # fmt: skip
    alpha, std = sde.marginal_coefficients(TIMES)
    np.testing.assert_allclose(sol.y[0], alpha.numpy(), rtol=1e-7)
    np.testing.assert_allclose(np.sqrt(sol.y[1]), std.numpy(), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", SDES)
def test_forward_simulation_matches_marginal(name):
    """Monte Carlo: 10000 paths of the forward SDE by 400 small Euler-Maruyama steps hit N(alpha x0, std^2 I) at t = 0.4."""
    sde = SDES[name]
    g = torch.Generator().manual_seed(0)
    n, t_end, n_steps = 10000, 0.4, 400
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


def test_ddpm_alpha_bar_matches_continuous_vp():
    sde = VPSDE(N=1000)
    i = torch.arange(sde.N, dtype=torch.float64)
    continuous = torch.exp(2 * sde.log_alpha((i + 1) / sde.N))
    assert (sde.alphas_cumprod - continuous).abs().max() < 1e-3


def test_vp_discretize_is_ddpm_and_ve_discretize_is_smld():
    """x_{i+1} = sqrt(1 - beta_i) x_i + sqrt(beta_i) z (Ho et al. 2020); x_i = x_{i-1} + sqrt(s_i^2 - s_{i-1}^2) z (SMLD)."""
    x = torch.randn(5, 2, dtype=torch.float64)
    vp = VPSDE(N=100)
    for i in (0, 37, 99):
        t = torch.full((5,), vp.sampling_eps + i * (vp.T - vp.sampling_eps) / (vp.N - 1), dtype=torch.float64)
        f, G = vp.discretize(x, t)
        beta = vp.discrete_betas[i]
        torch.testing.assert_close(f, (torch.sqrt(1 - beta) - 1) * x)
        torch.testing.assert_close(G, torch.full((5,), float(torch.sqrt(beta)), dtype=torch.float64))
    ve = VESDE(sigma_max=10.0, N=100)
    sig = ve.discrete_sigmas
    for i in (0, 37, 99):
        t = torch.full((5,), ve.sampling_eps + i * (ve.T - ve.sampling_eps) / (ve.N - 1), dtype=torch.float64)
        f, G = ve.discretize(x, t)
        prev = sig[i - 1] if i > 0 else 0.0
        assert torch.equal(f, torch.zeros_like(x))
        torch.testing.assert_close(G, torch.full((5,), float(torch.sqrt(sig[i] ** 2 - prev**2)), dtype=torch.float64))


@pytest.mark.parametrize("N", [10, 1000, 4000])
def test_step_index_walks_the_sampling_grid(N):
    """On the reference grid linspace(T, eps, N), grid point i is discrete step N - 1 - i, for every i (no repeats)."""
    for sde in (VPSDE(N=N), VESDE(N=N)):
        grid = torch.linspace(sde.T, sde.sampling_eps, N, dtype=torch.float64)
        assert torch.equal(sde.step_index(grid), torch.arange(N - 1, -1, -1))
        assert torch.equal(sde.step_index(grid.float()), torch.arange(N - 1, -1, -1))


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
