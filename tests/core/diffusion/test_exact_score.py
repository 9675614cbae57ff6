"""Exact scores against autograd of their own log-densities, closed forms and hand-computed denoisers."""

import math

import pytest
import torch

from playground.core.diffusion.exact_score import EmpiricalScore
from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE, SubVPSDE
from playground.core.sampling.samplers import em

GMM = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
    [[[1.0, 0.6], [0.6, 0.5]], [[0.3, -0.2], [-0.2, 0.8]], [[0.6, 0.0], [0.0, 0.1]]],
)
SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=10.0), "rf": RFSDE()}
TIMES = [1e-3, 0.05, 0.3, 1.0]


def _points(n: int, seed: int, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _autograd_score_and_laplacian(log_prob, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    (score,) = torch.autograd.grad(log_prob(x).sum(), x, create_graph=True)
    lap = sum(torch.autograd.grad(score[:, j].sum(), x, retain_graph=True)[0][:, j] for j in range(x.shape[1]))
    return score.detach(), lap.detach()


@pytest.mark.parametrize("name", SDES)
@pytest.mark.parametrize("t", TIMES)
def test_gmm_score_and_divergence_match_autograd(name, t):
    sde = SDES[name]
    x = _points(64, seed=int(1000 * t))
    score, lap = _autograd_score_and_laplacian(lambda y: GMM.log_prob(y, t, sde), x)
    torch.testing.assert_close(GMM.score(x, t, sde), score, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(GMM.divergence(x, t, sde), lap, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(GMM.score_fn(sde)(x, torch.full((64,), t, dtype=torch.float64)), score, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", SDES)
def test_gaussian_marginal_is_the_closed_form(name):
    """One component: p_t = N(alpha mu, alpha^2 Sigma + std^2 I)."""
    sde = SDES[name]
    mu, cov = torch.tensor([0.5, -1.0], dtype=torch.float64), torch.tensor([[0.6, 0.3], [0.3, 0.4]], dtype=torch.float64)
    gauss = GaussianMixture([1.0], mu[None], cov[None])
    x = _points(32, seed=3)
    for t in TIMES:
        alpha, std = (float(v) for v in sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64)))
        ref = torch.distributions.MultivariateNormal(alpha * mu, alpha**2 * cov + std**2 * torch.eye(2, dtype=torch.float64))
        torch.testing.assert_close(gauss.log_prob(x, t, sde), ref.log_prob(x))


def test_gmm_clean_density_responsibilities_and_sampling():
    x = _points(50, seed=4)
    comps = [
        torch.distributions.MultivariateNormal(GMM.means[k], GMM.covariances[k]).log_prob(x) + math.log(GMM.weights[k])
        for k in range(3)
    ]
    torch.testing.assert_close(GMM.log_prob(x), torch.logsumexp(torch.stack(comps, 1), 1))
    torch.testing.assert_close(GMM.responsibilities(x), torch.softmax(torch.stack(comps, 1), 1))
    samples, labels = GMM.sample(40000, torch.Generator().manual_seed(0), return_labels=True)
    freq = torch.bincount(labels, minlength=3).double() / len(labels)
    torch.testing.assert_close(freq, GMM.weights, atol=0.01, rtol=0)  # binomial sd <= 0.0025
    torch.testing.assert_close(samples.mean(0), (GMM.weights[:, None] * GMM.means).sum(0), atol=0.03, rtol=0)


@pytest.mark.parametrize("name", SDES)
def test_empirical_score_matches_autograd(name):
    sde = SDES[name]
    cloud = EmpiricalScore(_points(40, seed=5, scale=1.5))
    x = _points(30, seed=6, scale=2.0)
    for t in (0.02, 0.3, 1.0):
        score, _ = _autograd_score_and_laplacian(lambda y, t=t: cloud.log_prob(y, t, sde), x)
        torch.testing.assert_close(cloud.score(x, t, sde), score, rtol=1e-8, atol=1e-9)


def test_empirical_score_handles_image_shapes():
    sde = VPSDE()
    cloud = EmpiricalScore(torch.randn(10, 1, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    x = torch.randn(4, 1, 3, 3, dtype=torch.float64)
    x_req = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(cloud.log_prob(x_req, 0.4, sde).sum(), x_req)
    torch.testing.assert_close(cloud.score(x, 0.4, sde), ref, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", SDES)
def test_ideal_denoiser_is_the_softmax_weighted_mean(name):
    """D*(x) = sum_i w_i y_i, w_i proportional to exp(-|x - alpha y_i|^2 / (2 std^2)), computed point by point."""
    sde = SDES[name]
    ys = _points(12, seed=7, scale=1.0)
    cloud = EmpiricalScore(ys)
    x = _points(5, seed=8, scale=1.0)
    t = 0.2
    alpha, std = (float(v) for v in sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64)))
    for n in range(len(x)):
        logits = [-float(((x[n] - alpha * y) ** 2).sum()) / (2 * std * std) for y in ys]
        top = max(logits)
        w = [math.exp(v - top) for v in logits]
        hand = sum(wi * y for wi, y in zip(w, ys)) / sum(w)
        torch.testing.assert_close(cloud.denoise(x[n : n + 1], t, sde)[0], hand)
    torch.testing.assert_close(cloud.score(x, t, sde), (alpha * cloud.denoise(x, t, sde) - x) / std**2)


def test_empirical_score_sampler_memorises_the_set():
    """At small t the ideal denoiser snaps to the nearest point: the exact-score sampler returns points of the set."""
    sde = VPSDE()
    ys = _points(16, seed=9, scale=1.0)
    cloud = EmpiricalScore(ys)
    x_T = sde.prior_sample((600, 2), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = em(cloud.score_fn(sde), sde, x_T, steps=200, generator=torch.Generator().manual_seed(2)).x
    nearest = torch.cdist(out, ys).min(1)
    assert nearest.values.max() < 1e-6
    assert len(torch.unique(nearest.indices)) >= 12  # it reproduces the set, not one point of it


def test_a_large_set_is_evaluated_in_chunks_that_bound_the_memory(monkeypatch):
    """Queries x set points per chunk stay under CHUNK_ELEMENTS (a 100,000-point set would otherwise build 4096 x
    100,000 float64 matrices, 3.3 GB each); chunking changes no value."""
    from playground.core.diffusion import exact_score

    assert EmpiricalScore(torch.zeros(100_000, 2)).rows_per_chunk * 100_000 <= exact_score.CHUNK_ELEMENTS
    assert EmpiricalScore(torch.zeros(10, 2)).rows_per_chunk == 4096
    sde = VPSDE()
    ys, x = _points(50, seed=3, scale=1.0), _points(37, seed=4, scale=1.5)
    whole, whole_lp = EmpiricalScore(ys).score(x, 0.3, sde), EmpiricalScore(ys).log_prob(x, 0.3, sde)
    monkeypatch.setattr(exact_score, "CHUNK_ELEMENTS", 50 * 4)  # 4 queries a chunk
    cloud = EmpiricalScore(ys)
    assert cloud.rows_per_chunk == 4
    torch.testing.assert_close(cloud.score(x, 0.3, sde), whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(cloud.log_prob(x, 0.3, sde), whole_lp, rtol=1e-12, atol=1e-12)
