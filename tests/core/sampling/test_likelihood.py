"""PF-ODE likelihood against exact densities: N(0, I) under VP, an anisotropic 3-component GMM, Hutchinson."""

import math

import pytest
import torch

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.core.diffusion.sde import make_sde
from playground.core.sampling.likelihood import (
    divergence_exact,
    divergence_hutchinson,
    hutchinson_probe,
    log_likelihood,
    rademacher,
)

GMM = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
    [[[1.0, 0.6], [0.6, 0.5]], [[0.3, -0.2], [-0.2, 0.8]], [[0.6, 0.0], [0.0, 0.1]]],
)
SDES = [("vp", None), ("subvp", None), ("ve", 10.0), ("ve", 50.0), ("rf", None)]


def _x(n, seed):
    return GMM.sample(n, torch.Generator().manual_seed(seed))


def _exact_prior(sde):
    return lambda z: GMM.log_prob(z.double(), torch.full((len(z),), sde.T, dtype=torch.float64), sde)


def test_standard_normal_vp_is_a_fixed_point():
    """Data N(0, I) under VP: score -x, the PF-ODE drift is 0, the log-density change is 0, logp = log N(x; 0, I)."""
    sde = make_sde("vp")
    x = torch.randn(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    r = log_likelihood(lambda y, t: -y, sde, x)
    assert r.delta_logp.abs().max() < 1e-10
    assert torch.allclose(r.x_T, x, atol=1e-10)
    ref = -0.5 * x.pow(2).sum(1) - math.log(2 * math.pi)
    assert (r.logp - ref).abs().max() < 1e-10
    assert r.nfe > 0 and r.dim == 2 and r.bpd is None


@pytest.mark.parametrize("name,sigma_max", SDES)
@pytest.mark.parametrize("mode", ["autograd", "closed_form"])
def test_gmm_exact_divergence_matches_log_prob(name, sigma_max, mode):
    """Exact-divergence NLL of the GMM against its analytic log p_eps, per sample within 0.01 nats (the ODE stops at
    t = eps = 1e-5; the exact p_T is the prior here, so only the solver and divergence are under test). The solver's
    tolerance sets the error: at the default 1e-5 the worst point is off by 0.005 (VP) and 0.012 (rf), so rf runs at
    1e-6."""
    sde = make_sde(name, sigma_max=sigma_max)
    x = _x(200, 1)
    div_fn = (lambda y, t: GMM.divergence(y, t, sde)) if mode == "closed_form" else None
    tol = 1e-6 if name == "rf" else 1e-5
    r = log_likelihood(GMM.score_fn(sde), sde, x, divergence_fn=div_fn, prior_logp=_exact_prior(sde), rtol=tol, atol=tol)
    eps = torch.full((len(x),), r.eps, dtype=torch.float64)
    ref_eps = GMM.log_prob(x, eps, sde)
    assert (r.logp - ref_eps).abs().max() < 0.01
    assert (r.logp - GMM.log_prob(x)).abs().max() < 0.01  # the clean density: eps = 1e-5 changes it by < 1e-3
    assert r.divergence == "exact"


def test_standard_normal_under_rf_has_the_exact_log_density():
    """Data N(0, I) under rf: p_t = N(0, s(t)^2 I), s(t)^2 = (1 - t)^2 + t^2, score -x / s^2. The PF-ODE likelihood from
    eps with the exact p_T as prior is log N(x; 0, s(eps)^2 I); with the plain prior N(0, I) at T = 0.999 it differs by
    exactly log N(x_T; 0, I) - log N(x_T; 0, 0.998 I), the prior mismatch (below 0.01 nats here)."""
    sde = make_sde("rf")
    s2 = lambda t: (1 - t) ** 2 + t**2  # noqa: E731
    x = torch.randn(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def gauss(y, var):
        return -0.5 * y.pow(2).sum(1) / var - math.log(2 * math.pi * var)

    eps = 1e-3
    exact = log_likelihood(lambda y, t: -y / s2(t)[:, None], sde, x, eps=eps, prior_logp=lambda z: gauss(z, s2(sde.T)))
    assert (exact.logp - gauss(x, s2(eps))).abs().max() < 1e-4  # dopri5 at rtol = atol = 1e-5
    plain = log_likelihood(lambda y, t: -y / s2(t)[:, None], sde, x, eps=eps)
    mismatch = gauss(plain.x_T, 1.0) - gauss(plain.x_T, s2(sde.T))
    torch.testing.assert_close(plain.logp - exact.logp, mismatch, rtol=0, atol=1e-12)
    assert mismatch.abs().max() < 0.01


@pytest.mark.parametrize("name,sigma_max", [("vp", None), ("ve", 50.0), ("rf", None)])
def test_gmm_mean_nll_with_the_plain_prior(name, sigma_max):
    """What a model gets: with the SDE's N(0, prior_std^2) prior the mean NLL matches the analytic one (0.01 nats)."""
    sde = make_sde(name, sigma_max=sigma_max)
    x = _x(400, 2).float()
    r = log_likelihood(GMM.score_fn(sde), sde, x)
    assert abs(r.mean_nll - float(-GMM.log_prob(x.double()).mean())) < 0.01


def test_divergence_helpers_agree_on_a_linear_map():
    a = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=torch.float64)
    x = torch.randn(5, 2, dtype=torch.float64)
    out, div = divergence_exact(lambda y: y @ a.T, x)
    assert torch.allclose(out, x @ a.T) and torch.allclose(div, torch.full((5,), 1.5, dtype=torch.float64))
    probe = rademacher((5, 2), torch.Generator().manual_seed(0), torch.float64)
    assert set(probe.unique().tolist()) <= {-1.0, 1.0}
    _, est = divergence_hutchinson(lambda y: y @ a.T, x, probe)
    assert torch.allclose(est, torch.einsum("ni,ij,nj->n", probe, a, probe))


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased_on_an_image_shaped_2d_problem(probe):
    """The 2D GMM viewed as (N, 2, 1, 1) 'images': Hutchinson log-likelihoods averaged over probes (Rademacher or
    Gaussian) equal the exact ones (one probe per row, fixed over the solve; rows repeat each point)."""
    sde = make_sde("vp")
    pts = _x(4, 3)
    reps = 256
    x = pts.repeat_interleave(reps, 0).reshape(-1, 2, 1, 1)

    def score(y, t):
        return GMM.score(y.reshape(len(y), 2), t, sde).reshape(y.shape)

    exact = log_likelihood(score, sde, pts.reshape(-1, 2, 1, 1), divergence="exact")
    hutch = log_likelihood(score, sde, x, divergence="hutchinson", probe=probe, seed=7)
    assert hutch.divergence == "hutchinson" and hutch.bpd is not None
    est = hutch.logp.reshape(4, reps)
    mean, se = est.mean(1), est.std(1) / math.sqrt(reps)
    assert (est.std(1) > 1e-3).all()  # it is a noisy estimator ...
    assert ((mean - exact.logp).abs() < 4 * se + 1e-3).all()  # ... whose mean is the exact value
    again = log_likelihood(score, sde, x[:8], divergence="hutchinson", probe=probe, seed=7)
    assert torch.equal(again.logp, log_likelihood(score, sde, x[:8], divergence="hutchinson", probe=probe, seed=7).logp)
    assert hutch.eps == sde.likelihood_eps == 1e-5  # the likelihood's eps, not the samplers' 1e-3


def test_probes_have_identity_second_moment():
    """E[v v^T] = I makes v^T A v unbiased for tr A: Rademacher entries are +-1, Gaussian ones N(0, 1)."""
    g = torch.Generator().manual_seed(0)
    for kind in ("rademacher", "gaussian"):
        v = hutchinson_probe(kind, (200_000, 3), g, torch.float64)
        torch.testing.assert_close(v.T @ v / len(v), torch.eye(3, dtype=torch.float64), atol=0.02, rtol=0)
    assert set(hutchinson_probe("rademacher", (50, 3), g).unique().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="probe"):
        hutchinson_probe("uniform", (2, 2))


def test_bits_per_dim_and_log_det_jacobian():
    """bpd = -log p / (D ln 2) + 8; data normalised by y = 2x - 1 adds D ln 2 to log p (and so drops bpd by 1)."""
    sde = make_sde("vp")
    y = torch.randn(6, 1, 2, 2, dtype=torch.float64)
    base = log_likelihood(lambda v, t: -v, sde, y)
    d = 4
    assert torch.allclose(base.bpd, -base.logp / (d * math.log(2)) + 8)
    shifted = log_likelihood(lambda v, t: -v, sde, y, log_det_jacobian=d * math.log(2))
    assert torch.allclose(shifted.logp, base.logp + d * math.log(2))
    assert torch.allclose(shifted.bpd, base.bpd - 1)
    assert torch.allclose(base.bits_per_dim(offset=0.0), base.bpd - 8)


def test_batch_size_splits_and_sums_nfe():
    sde = make_sde("vp")
    x = _x(40, 4)
    whole = log_likelihood(GMM.score_fn(sde), sde, x)
    split = log_likelihood(GMM.score_fn(sde), sde, x, batch_size=20)
    assert (whole.logp - split.logp).abs().max() < 2e-3
    assert split.nfe > whole.nfe


def test_bad_arguments():
    sde = make_sde("vp")
    with pytest.raises(ValueError):
        log_likelihood(lambda v, t: -v, sde, torch.zeros(0, 2))
    with pytest.raises(ValueError):
        log_likelihood(lambda v, t: -v, sde, torch.zeros(3, 2), divergence="magic")
    with pytest.raises(ValueError):
        log_likelihood(lambda v, t: -v, sde, torch.zeros(3, 2), eps=1.0)
    with pytest.raises(ValueError, match="probe"):
        log_likelihood(lambda v, t: -v, sde, torch.zeros(3, 2), probe="uniform")
