"""Imputation in 2D: the exact conditional of a mixture (a 1D mixture) against the joint density, exact samples, and
the replacement method's bias on SCIENCE.md's example (2D Gaussian, rho = 0.9, x1 = 1)."""

import numpy as np
import pytest
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import make_sde
from playground.core.evaluation.metrics import wasserstein_1d
from playground.core.sampling.imputation import axis_index, gmm_conditional, impute_exact, impute_replacement
from playground.data.targets.gaussian_mixture import GaussianMixture

GMM = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-1.5, 0.0], [1.5, 0.5], [0.0, -1.8]],
    [[[0.3, 0.1], [0.1, 0.2]], [[0.15, 0.05], [0.05, 0.4]], [[0.5, -0.2], [-0.2, 0.25]]],
)
RHO = GaussianMixture([1.0], [[0.0, 0.0]], [[[1.0, 0.9], [0.9, 1.0]]])


@pytest.mark.parametrize("axis, value", [("x1", 0.3), ("x1", -1.2), ("x2", 0.4), ("x2", -1.5)])
def test_exact_conditional_is_the_normalised_joint(axis, value):
    """p(x_o | x_a = c) = p(c, x_o) / int p(c, u) du, on a fine grid."""
    cond = gmm_conditional(GMM, axis, value)
    u = np.linspace(-8, 8, 8001)
    pts = np.zeros((len(u), 2))
    pts[:, axis_index(axis)] = value
    pts[:, 1 - axis_index(axis)] = u
    joint = np.exp(GMM.log_prob(torch.as_tensor(pts)).numpy())
    np.testing.assert_allclose(np.exp(cond.log_prob(u)), joint / np.trapezoid(joint, u), atol=1e-8)
    np.testing.assert_allclose(cond.cdf(np.array([8.0])), [1.0])
    assert cond.mean == pytest.approx(np.trapezoid(u * joint, u) / np.trapezoid(joint, u), abs=1e-8)


def test_exact_imputation_samples():
    x = impute_exact(GMM, "x2", 0.4, 4000, seed=1)
    assert (x[:, 1] == 0.4).all()
    cond = gmm_conditional(GMM, "x2", 0.4)
    assert wasserstein_1d(x[:, 0], cond.cdf) < 0.05
    shifted = wasserstein_1d(x[:, 0] + 0.3, cond.cdf)
    assert shifted == pytest.approx(0.3, abs=0.05)  # W1 of a shift is the shift


def test_replacement_is_biased_on_the_rho_09_example():
    """SCIENCE.md: imputed x2 given x1 = 1 has mean ~0.63 and variance ~0.31 (exact 0.90 / 0.19); corrector steps
    pull it towards the exact answer."""
    sde = make_sde("vp")
    exact = gmm_conditional(RHO, "x1", 1.0)
    assert exact.mean == pytest.approx(0.9) and exact.variance == pytest.approx(0.19)
    x, nfe = impute_replacement(RHO.score_fn(sde), sde, "x1", 1.0, 3000, steps=250, seed=0)
    assert (x[:, 0] == 1.0).all() and nfe == 251
    assert x[:, 1].mean() == pytest.approx(0.63, abs=0.06) and x[:, 1].var() == pytest.approx(0.31, abs=0.05)
    plain = wasserstein_1d(x[:, 1], exact.cdf)
    corrected, _ = impute_replacement(RHO.score_fn(sde), sde, "x1", 1.0, 3000, steps=250, corrector_steps=1, seed=0)
    assert wasserstein_1d(corrected[:, 1], exact.cdf) < 0.6 * plain
    assert plain > 5 * wasserstein_1d(exact.sample(3000, 2), exact.cdf)  # far above the floor


def test_replacement_in_normalised_space_sets_the_value_exactly():
    """A score on normalised data (a model's space): the known coordinate comes back as the given value, exactly."""
    norm = Normalization((0.3, -0.2), 1.7)
    sde = make_sde("vp")
    score = norm.gmm_to_norm(GMM).score_fn(sde)
    x, _ = impute_replacement(score, sde, "x2", 0.123, 500, normalization=norm, steps=60, seed=3)
    assert (x[:, 1] == 0.123).all() and np.isfinite(x).all()
    with pytest.raises(ValueError, match="x3"):
        impute_exact(GMM, "x3", 0.0, 10)
