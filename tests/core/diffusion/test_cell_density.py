"""Piecewise-constant densities diffused by an SDE: the score is the gradient of log p_t (central differences), a
finely rasterised Gaussian has the Gaussian mixture's score, points far from the support keep a finite score, and the
score error of the exact raster score is zero."""

import numpy as np
import pytest
import torch

from playground.core.diffusion.cell_density import CellDensity
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE
from playground.core.evaluation.score_error import exact_normalised_score_fn, score_error_by_time
from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.presets import make_preset
from playground.data.targets.raster import raster_target

SDES = {"vp": VPSDE(), "ve": VESDE(sigma_max=10.0), "rf": RFSDE()}


def _raster():
    """A 6 x 9 raster with empty pixels, an empty row and uneven masses."""
    probs = np.zeros((6, 9))
    probs[1:3, 2:7] = 1.0
    probs[4, 0] = 5.0
    probs[5, 8] = 0.5
    return raster_target(probs, extent=2.0)


@pytest.mark.parametrize("sde_name", list(SDES))
def test_the_score_is_the_gradient_of_log_p(sde_name):
    sde = SDES[sde_name]
    cells = CellDensity(_raster().cells, Normalization((0.2, -0.1), 0.8))
    y = torch.tensor([[0.0, 0.0], [1.3, -2.0], [-2.4, 0.7], [0.05, 1.9], [3.0, 3.0]], dtype=torch.float64)
    h = 1e-5
    for t in (0.02, 0.1, 0.5, 0.9):
        tv = torch.full((len(y),), t, dtype=torch.float64)
        score = cells.score(y, tv, sde)
        for d in range(2):
            step = torch.zeros(2, dtype=torch.float64)
            step[d] = h
            fd = (cells.log_prob(y + step, tv, sde) - cells.log_prob(y - step, tv, sde)) / (2 * h)
            np.testing.assert_allclose(score[:, d], fd, rtol=1e-5, atol=1e-5 / float(sde.marginal_coefficients(tv)[1][0]))


def test_log_p_integrates_to_one_and_far_points_keep_a_finite_score():
    sde = VPSDE()
    cells = CellDensity(_raster().cells)
    xs = torch.linspace(-4, 4, 401, dtype=torch.float64)
    grid = torch.cartesian_prod(xs, xs)
    t = torch.full((len(grid),), 0.05, dtype=torch.float64)
    assert float(cells.log_prob(grid, t, sde).exp().sum()) * float(xs[1] - xs[0]) ** 2 == pytest.approx(1.0, abs=1e-3)
    # 60 sigma from the support at t = 1e-3 (sigma ~ 0.014): the rescaled sum underflows, the log-sum-exp does not
    far = torch.tensor([[0.0, 60.0], [-40.0, -40.0]], dtype=torch.float64)
    tf = torch.full((2,), 1e-3, dtype=torch.float64)
    score, log_p = cells.score(far, tf, sde), cells.log_prob(far, tf, sde)
    assert torch.isfinite(score).all() and torch.isfinite(log_p).all()
    alpha, std = (float(v[0]) for v in sde.marginal_coefficients(tf))
    # far away the nearest non-empty cell dominates: the score points back at it, ~ -(y - alpha edge) / sigma^2
    top = float(cells.y_edges[1])  # row 0 of the raster is empty
    assert float(score[0, 1]) == pytest.approx(-(60.0 - alpha * top) / std**2, rel=1e-3)
    assert (score[1] > 0).all()


@pytest.mark.parametrize("sde_name, times", [("vp", (0.05, 0.3)), ("ve", (0.4, 0.7))])
def test_a_finely_rasterised_gaussian_has_the_gmm_score(sde_name, times):
    """N(m, S) on 240 x 240 pixels of side h = 1/30 is N(m, S + h^2/12 I) up to O(h^2) and the tails beyond the
    raster: once sigma(t) >> h (0.17 .. 0.8 here) the diffused scores agree with the mixture's closed form."""
    sde = SDES[sde_name]
    mean, cov = np.array([0.3, -0.2]), np.array([[0.5, 0.15], [0.15, 0.3]])
    side = 240
    centres = (np.arange(side) + 0.5) / side * 8 - 4
    xx, yy = np.meshgrid(centres, centres[::-1])
    d = np.stack([xx - mean[0], yy - mean[1]], -1)
    density = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d))
    target = raster_target(density, extent=4.0)
    h = 8 / side
    gmm = GaussianMixture([1.0], mean[None], (cov + h * h / 12 * np.eye(2))[None])
    y = torch.as_tensor(gmm.sample(500, torch.Generator().manual_seed(0)), dtype=torch.float64)
    for t in times:
        tv = torch.full((len(y),), t, dtype=torch.float64)
        got = CellDensity(target.cells).score(y, tv, sde)
        want = gmm.score(y, tv, sde)
        err = (got - want).norm(dim=1) / want.norm(dim=1).clamp(min=1.0)
        assert float(err.max()) < 5e-3, (t, float(err.max()))


def test_the_exact_raster_score_has_zero_score_error_and_a_perturbed_one_does_not():
    target, norm, sde = _raster(), Normalization((0.1, 0.0), 1.2), VPSDE()
    exact = exact_normalised_score_fn(target, norm, sde)
    x0 = norm.to_norm(torch.as_tensor(target.sample(1000, seed=3), dtype=torch.float64))
    table = score_error_by_time(exact, exact, sde, x0, bins=5)
    np.testing.assert_allclose(table.score_error, 0.0, atol=1e-12)
    assert (table.dsm_floor > 0).all()
    scaled = score_error_by_time(lambda x, t: 1.1 * exact(x, t), exact, sde, x0, bins=5)
    assert (scaled.score_error > 0).all()
    np.testing.assert_allclose(scaled.score_error, 0.01 * _fisher(exact, sde, x0, scaled.edges), rtol=1e-9)


def _fisher(exact, sde, x0, edges):
    """0.01 x std^2 E|s*|^2 is the error of 1.1 s*; recomputed on the same draws as score_error_by_time."""
    g = torch.Generator().manual_seed(0)
    out = []
    for k in range(len(edges) - 1):
        u = torch.rand(len(x0), generator=g, dtype=torch.float64)
        t = edges[k] + u * (edges[k + 1] - edges[k])
        z = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
        alpha, std = sde.marginal_coefficients(t)
        s = exact(alpha[:, None] * x0 + std[:, None] * z, t)
        out.append(float((std[:, None] ** 2 * s * s).sum(1).mean()))
    return np.array(out)


def test_the_checkerboard_preset_reuses_its_cells():
    target = make_preset("checkerboard")
    assert target.has_exact_score and target.cells is not None
    score = exact_normalised_score_fn(target, Normalization.identity(2), VPSDE())
    # the centre of a black square at t small: flat density, zero score by symmetry
    y = torch.tensor([[1.0, 1.0], [-3.0, 1.0]], dtype=torch.float64)
    s = score(y, torch.full((2,), 0.01, dtype=torch.float64))
    np.testing.assert_allclose(s.numpy(), 0.0, atol=1e-6)
