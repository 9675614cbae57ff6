"""Exact log p_t of a target: diffused piecewise-constant densities (checkerboard, rasters) and mixtures, in data
space for an SDE on normalised data, against quadrature over x0."""

import math

import numpy as np
import pytest
import torch

from playground.core.diffusion.exact_density import (
    has_exact_log_density,
    marginal_log_density,
    marginal_log_density_grid,
)
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import make_sde
from playground.data.targets.presets import make_preset
from playground.data.targets.raster import raster_target


def _quadrature(target, sde, t, norm, points, half=5.0, n=2000):
    """p_t(x) = int p0(x0) N(y; alpha y0, sigma^2 I) dx0 / scale^2 with y = (x - mean) / scale, by the midpoint rule
    over x0 on an n x n grid of [-half, half]^2 (independent of the closed form)."""
    alpha, std = (float(v) for v in sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64)))
    h = 2 * half / n
    c = -half + (np.arange(n) + 0.5) * h
    xx, yy = np.meshgrid(c, c)
    x0 = np.stack([xx.ravel(), yy.ravel()], 1)
    w = np.exp(target.log_density(x0)) * h * h
    keep = w > 0
    y0 = norm.to_norm(torch.as_tensor(x0[keep])).numpy()
    y = norm.to_norm(torch.as_tensor(points)).numpy()
    out = []
    for p in y:
        d2 = ((p - alpha * y0) ** 2).sum(1)
        out.append((w[keep] * np.exp(-d2 / (2 * std * std))).sum() / (2 * math.pi * std * std) / norm.scale**2)
    return np.log(out)


@pytest.mark.parametrize("norm", [Normalization.identity(2), Normalization((0.3, -0.4), 1.8)])
def test_checkerboard_diffused_density_matches_quadrature(norm):
    target = make_preset("checkerboard")
    sde = make_sde("vp")
    points = np.array([[1.0, 1.0], [-3.0, 1.0], [0.1, -0.1], [2.0, 0.0], [-4.1, 3.9]])
    for t in (0.05, 0.3):
        got = marginal_log_density(target, sde, t, norm)(points)
        np.testing.assert_allclose(got, _quadrature(target, sde, t, norm, points), atol=2e-3, rtol=1e-4)


def test_raster_grid_integrates_to_one_and_agrees_with_points():
    probs = np.zeros((5, 7))
    probs[1:4, 2:6] = 1.0
    probs[0, 0] = 3.0
    target = raster_target(probs, extent=2.0)
    sde = make_sde("ve", sigma_max=5.0)
    norm = Normalization((0.1, 0.2), 0.7)
    xs = np.linspace(-5, 5, 301)
    grid = marginal_log_density_grid(target, sde, 0.2, xs, xs, norm)
    assert np.exp(grid).sum() * (xs[1] - xs[0]) ** 2 == pytest.approx(1.0, abs=2e-3)
    xx, yy = np.meshgrid(xs[::37], xs[::29])
    pts = marginal_log_density(target, sde, 0.2, norm)(np.stack([xx.ravel(), yy.ravel()], 1))
    sub = grid[::29, ::37].ravel()
    assert np.isfinite(pts).all() and (~np.isfinite(sub)).any()  # the points' log-space path outlives the underflow
    np.testing.assert_allclose(sub[np.isfinite(sub)], pts[np.isfinite(sub)], rtol=1e-12)


def test_t0_is_the_target_density_and_gmm_is_closed_form():
    target = make_preset("checkerboard")
    sde = make_sde("vp")
    pts = np.array([[1.0, 1.0], [1.0, -1.0]])
    np.testing.assert_allclose(marginal_log_density(target, sde, 0.0)(pts), [-math.log(32), -np.inf])
    assert has_exact_log_density(target, 0.3) and not has_exact_log_density(make_preset("moons"), 0.3)
    assert marginal_log_density(make_preset("moons"), sde, 0.3) is None
    gauss = make_preset("8gaussians")
    norm = Normalization((0.5, 0.0), 2.0)
    got = marginal_log_density(gauss, sde, 0.4, norm)(pts)
    np.testing.assert_allclose(got, _quadrature(gauss, sde, 0.4, norm, pts), atol=2e-3)
