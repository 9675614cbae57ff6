"""The continuous-time ELBO (Song, Durkan, Murray & Ermon 2021) against exact answers on a Gaussian: with the exact
score it equals the exact NLL of p_eps (the bound is tight when pi ~ p_T), and with a score off by a constant c its
data average exceeds the NLL by exactly J_SM = 1/2 |c|^2 int g^2 dt (Theorem 1's gap)."""

import math

import pytest
import torch

from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE, SubVPSDE
from playground.core.sampling.likelihood import log_likelihood
from playground.core.sampling.likelihood_bound import likelihood_bound
from playground.data.targets.gaussian_mixture import GaussianMixture

GAUSSIAN = GaussianMixture([1.0], [[0.5, -1.0]], [[[0.6, 0.3], [0.3, 0.4]]])
SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=20.0), "rf": RFSDE()}
N = 200


def _data():
    return GAUSSIAN.sample(N, torch.Generator().manual_seed(0))


def _exact_nll(x, sde):
    return -GAUSSIAN.log_prob(x, sde.likelihood_eps, sde)


@pytest.mark.parametrize("name", list(SDES))
def test_exact_score_bound_equals_the_exact_nll(name):
    """Pointwise the gap is E_{x_T | x}[log p_T / pi] (< 1e-3 here) plus Monte Carlo noise: the mean over 200 points
    is within 4 standard errors of the exact NLL, and the per-point standard error is about right (>= 80% of the
    points within 2 of it; 95% for a normal error; the strata's error has a heavier tail)."""
    sde = SDES[name]
    x = _data()
    bound = likelihood_bound(GAUSSIAN.score_fn(sde), sde, x, n_times=64, seed=1)
    gap = bound.nll_bound - _exact_nll(x, sde)
    sem = float(gap.std()) / math.sqrt(N)
    assert abs(float(gap.mean())) < 4 * sem and sem < 0.03
    assert float(gap.mean()) > -4 * sem  # the bound holds (up to Monte Carlo error)
    assert float((gap.abs() < 2 * bound.nll_sem + 1e-3).double().mean()) >= 0.8
    assert bound.eps == sde.likelihood_eps == 1e-5 and bound.nfe == 64 and bound.dim == 2


@pytest.mark.parametrize("name", list(SDES))
def test_wrong_score_pays_exactly_the_score_matching_loss(name):
    """s = grad log p_t + c: E_p[L] - H(p_eps) = J_SM(g^2) + KL(p_T || pi) with J_SM = 1/2 |c|^2 int_eps^T g^2 dt
    (Theorem 1 with equality for the Gaussian's mean gap; KL(p_T || pi) < 1e-3 here)."""
    sde = SDES[name]
    x = _data()
    c = torch.tensor([0.3, -0.2], dtype=torch.float64)
    bound = likelihood_bound(lambda y, t: GAUSSIAN.score(y, t, sde) + c, sde, x, n_times=64, seed=2)
    t = torch.linspace(sde.likelihood_eps, sde.T, 200_001, dtype=torch.float64)
    j_sm = 0.5 * float(c.pow(2).sum()) * float(torch.trapezoid(sde.diffusion(t) ** 2, t))
    gap = bound.nll_bound - _exact_nll(x, sde)
    sem = float(gap.std()) / math.sqrt(N)
    assert float(gap.mean()) == pytest.approx(j_sm, abs=4 * sem)
    assert j_sm > 10 * sem  # a visible gap: 0.65 nats (VP), 0.62 (sub-VP), 26 (VE)


def test_bound_beside_the_pf_ode_likelihood_with_a_log_det_jacobian():
    """Both likelihoods of the same points on normalised data y = x / 2 (log_det_jacobian = -D ln 2) agree with the
    exact NLL; the bound's bits/dim use the same convention as the PF-ODE's."""
    sde = SDES["vp"]
    x = _data()
    score = GAUSSIAN.score_fn(sde)
    ode = log_likelihood(score, sde, x, divergence_fn=lambda y, t: GAUSSIAN.divergence(y, t, sde),
                         log_det_jacobian=-2 * math.log(2))
    bound = likelihood_bound(score, sde, x, log_det_jacobian=-2 * math.log(2), seed=3)
    exact = float(_exact_nll(x, sde).mean()) + 2 * math.log(2)
    assert ode.mean_nll == pytest.approx(exact, abs=0.01)
    paired_sem = float((bound.nll_bound + ode.logp).std()) / math.sqrt(N)  # the same points: their difference
    assert bound.mean_nll_bound == pytest.approx(ode.mean_nll, abs=4 * paired_sem) and paired_sem < 0.03
    torch.testing.assert_close(bound.bits_per_dim(), bound.nll_bound / (2 * math.log(2)) + 8)


def test_reproducible_batched_and_checked():
    sde = SDES["vp"]
    x = _data()[:20]
    score = GAUSSIAN.score_fn(sde)
    a = likelihood_bound(score, sde, x, n_times=8, seed=4)
    b = likelihood_bound(score, sde, x, n_times=8, seed=4)
    assert torch.equal(a.nll_bound, b.nll_bound)
    split = likelihood_bound(score, sde, x, n_times=8, seed=4, batch_size=7)
    assert split.nfe == 3 * 8 and torch.isfinite(split.nll_bound).all()
    with pytest.raises(ValueError, match="even"):
        likelihood_bound(score, sde, x, n_times=7)
    with pytest.raises(ValueError, match="eps"):
        likelihood_bound(score, sde, x, eps=0.0)
    with pytest.raises(ValueError, match="non-empty"):
        likelihood_bound(score, sde, torch.zeros(0, 2))
