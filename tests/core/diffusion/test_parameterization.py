"""Output-kind conversions (eps / score / x0 / v) and EDM preconditioning against exact values."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.core.diffusion.parameterization import (
    OUTPUT_KINDS,
    convert,
    edm_coefficients,
    edm_denoise,
    eps_to_score,
    eps_to_x0,
    score_to_eps,
    score_to_x0,
    to_score,
    x0_to_eps,
    x0_to_score,
)
from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE, SubVPSDE

positive = st.floats(min_value=1e-3, max_value=1.0)
noise_level = st.floats(min_value=1e-3, max_value=50.0)


def _batch(seed: int, shape=(6, 2)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64))


@settings(max_examples=60, deadline=None)
@given(alpha=positive, std=noise_level, seed=st.integers(0, 2**16), image=st.booleans())
def test_round_trips_between_eps_score_and_x0(alpha, std, seed, image):
    x0, eps = _batch(seed, (4, 1, 3, 3) if image else (6, 2))
    n = len(x0)
    a, s = torch.full((n,), alpha, dtype=torch.float64), torch.full((n,), std, dtype=torch.float64)
    x = alpha * x0 + std * eps
    score = -eps / std  # the conditional score grad log N(x; alpha x0, std^2 I)
    torch.testing.assert_close(eps_to_score(eps, s), score)
    torch.testing.assert_close(x0_to_score(x0, x, a, s), score)
    torch.testing.assert_close(score_to_eps(score, s), eps)
    torch.testing.assert_close(score_to_x0(score, x, a, s), x0)
    torch.testing.assert_close(eps_to_x0(eps, x, a, s), x0)
    torch.testing.assert_close(x0_to_eps(x0, x, a, s), eps)
    for kind, out in (("eps", eps), ("score", score), ("x0", x0), ("edm", x0)):
        torch.testing.assert_close(to_score(kind, out, x, a, s), score)


def test_conversions_take_per_sample_coefficients():
    x0, eps = _batch(1, (3, 2, 2, 2))
    alpha = torch.tensor([1.0, 0.5, 0.1], dtype=torch.float64)
    std = torch.tensor([0.01, 0.8, 3.0], dtype=torch.float64)
    x = alpha[:, None, None, None] * x0 + std[:, None, None, None] * eps
    torch.testing.assert_close(eps_to_x0(x0_to_eps(x0, x, alpha, std), x, alpha, std), x0)
    torch.testing.assert_close(score_to_x0(x0_to_score(x0, x, alpha, std), x, alpha, std), x0)


def test_unknown_output_kind_is_rejected():
    x = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="unknown output kind"):
        to_score("velocity", x, x, torch.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="velocity coefficients"):
        to_score("v", x, x, torch.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="unknown output kind"):
        convert(x, "eps", "nope", x, torch.ones(2), torch.ones(2))
    assert OUTPUT_KINDS == ("eps", "score", "x0", "edm", "v")


SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=10.0), "rf": RFSDE()}


@pytest.mark.parametrize("name", SDES)
def test_velocity_conversions_are_exact_for_every_sde(name):
    """From one (x0, eps) pair at x_t = alpha x0 + sigma eps the four predictions are the exact eps, -eps / sigma, x0
    and alpha' x0 + sigma' eps; every kind converts to every other (and back) to float64 rounding."""
    sde = SDES[name]
    x0, eps = _batch(3, (5, 2))
    t = torch.tensor([1e-3, 0.1, 0.4, 0.8, sde.T], dtype=torch.float64)
    alpha, std = sde.marginal_coefficients(t)
    d_alpha, d_std = sde.marginal_derivatives(t)
    velocity = sde.velocity_coefficients(t)
    x = alpha[:, None] * x0 + std[:, None] * eps
    truth = {"eps": eps, "score": -eps / std[:, None], "x0": x0, "v": d_alpha[:, None] * x0 + d_std[:, None] * eps}
    for source, out in truth.items():
        for target, expect in truth.items():
            got = convert(out, source, target, x, alpha, std, velocity)
            torch.testing.assert_close(got, expect, rtol=1e-9, atol=1e-9)
            back = convert(got, target, source, x, alpha, std, velocity)
            torch.testing.assert_close(back, out, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", SDES)
def test_velocity_of_the_score_is_the_pf_ode_drift(name):
    """v = f x - g^2 s / 2 (SCIENCE.md): the velocity a score implies is the probability-flow ODE's drift."""
    sde = SDES[name]
    x, score = _batch(4, (5, 2))
    t = torch.tensor([1e-3, 0.2, 0.5, 0.7, sde.T], dtype=torch.float64)
    alpha, std = sde.marginal_coefficients(t)
    v = convert(score, "score", "v", x, alpha, std, sde.velocity_coefficients(t))
    drift, _ = sde.reverse(lambda y, tt: score, probability_flow=True).sde(x, t)
    torch.testing.assert_close(v, drift, rtol=1e-9, atol=1e-9)


def test_rectified_flow_velocity_is_eps_minus_x0():
    x0, eps = _batch(5, (6, 2))
    sde = RFSDE()
    t = torch.linspace(0.01, sde.T, 6, dtype=torch.float64)
    x = (1 - t)[:, None] * x0 + t[:, None] * eps
    alpha, std = sde.marginal_coefficients(t)
    v = convert(eps, "eps", "v", x, alpha, std, sde.velocity_coefficients(t))
    torch.testing.assert_close(v, eps - x0, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "sigma, expected",
    [
        (0.5, (0.5, 0.25 / math.sqrt(0.5), 1 / math.sqrt(0.5), 0.25 * math.log(0.5))),
        (0.002, (0.25 / (0.25 + 0.002**2), 0.001 / math.sqrt(0.25 + 0.002**2), 1 / math.sqrt(0.25 + 0.002**2), 0.25 * math.log(0.002))),
        (80.0, (0.25 / 6400.25, 40.0 / math.sqrt(6400.25), 1 / math.sqrt(6400.25), 0.25 * math.log(80.0))),
    ],
)  # fmt: skip
def test_edm_coefficients_at_known_sigma(sigma, expected):
    """Karras et al. 2022, Table 1 with sigma_data = 0.5."""
    got = edm_coefficients(torch.tensor(sigma, dtype=torch.float64))
    for value, ref in zip(got, expected):
        assert float(value) == pytest.approx(ref, rel=1e-12)


def test_edm_coefficients_give_unit_variance_targets():
    """For data of sd 0.5, c_in makes the network input and c_out the target (x0 - c_skip y) / c_out unit-variance (EDM App. B.6)."""
    sigma = torch.tensor([0.01, 0.3, 2.0, 60.0], dtype=torch.float64)
    c_skip, c_out, c_in, _ = edm_coefficients(sigma)
    sd = 0.5
    torch.testing.assert_close(c_in**2 * (sd**2 + sigma**2), torch.ones_like(sigma))
    target_var = ((1 - c_skip) ** 2 * sd**2 + c_skip**2 * sigma**2) / c_out**2
    torch.testing.assert_close(target_var, torch.ones_like(sigma))


def test_edm_denoiser_with_zero_network_is_exact_for_gaussian_data():
    """For data N(0, sd^2 I) the ideal denoiser is sd^2 / (sigma^2 + sd^2) y = c_skip y, so F = 0 is optimal."""
    y = torch.randn(5, 2, dtype=torch.float64)
    sigma = torch.tensor([0.1, 0.5, 1.0, 3.0, 20.0], dtype=torch.float64)
    out = edm_denoise(lambda inp, c_noise: torch.zeros_like(inp), y, sigma)
    torch.testing.assert_close(out, (0.25 / (sigma**2 + 0.25))[:, None] * y)
    seen = {}

    def raw(inp, c_noise):
        seen["inp"], seen["c_noise"] = inp, c_noise
        return torch.ones_like(inp)

    out = edm_denoise(raw, y, sigma)
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma)
    torch.testing.assert_close(seen["inp"], c_in[:, None] * y)
    torch.testing.assert_close(seen["c_noise"], c_noise)
    torch.testing.assert_close(out, c_skip[:, None] * y + c_out[:, None])
