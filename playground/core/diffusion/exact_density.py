"""Exact log p_t of a target under a linear SDE, where it is known: Gaussian mixtures and piecewise-constant densities.

The SDE acts on normalised data y = (x - mean) / scale (identity for a data-space SDE), so in data space
x_t = mean + scale (alpha y_0 + sigma eps) and log p_t(x) = log p_t^y((x - mean) / scale) - D log(scale).

- Gaussian mixture: p_t^y = sum_k w_k N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I) (SCIENCE.md), in closed form.
- Piecewise constant (a drawn or PNG raster, the checkerboard): `cell_density.CellDensity`,
  p_t^y(u, v) = sum_c pi_c A_c(u) B_c(v): exact, and on a G x G grid a product of three matrices (G x H)(H x W)(W x G).
- At t = 0 the target's own log-density (`Target.log_density`) wherever it has one.

Everything runs in float64 and returns numpy arrays (-inf where the density is zero).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from playground.core.diffusion.cell_density import CellDensity
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE
from playground.data.targets.target import Target

LogDensityFn = Callable[[np.ndarray], np.ndarray]
"""log_density(points (N, 2)) -> (N,) in nats, data space."""


def has_exact_log_density(target: Target, t: float) -> bool:
    """Whether `marginal_log_density` knows log p_t of this target."""
    return target.gmm is not None or (target.cells is not None and t > 0) or (t == 0 and target.log_density is not None)


def marginal_log_density(target: Target, sde: SDE, t: float, normalization: Normalization | None = None
                         ) -> LogDensityFn | None:
    """The exact data-space log p_t of `target` when the SDE runs on normalised data (see the module docstring), or
    None where it is not known (a point cloud, or a preset without a closed form)."""
    norm = normalization or Normalization.identity(2)
    if t == 0 and target.log_density is not None:
        return lambda x: np.asarray(target.log_density(np.asarray(x, dtype=np.float64)), dtype=np.float64)
    alpha, std = _coefficients(sde, t)
    if target.gmm is not None:
        g = norm.gmm_to_norm(target.gmm)
        tv = torch.tensor(t, dtype=torch.float64)

        def gmm_log_density(x):
            y = norm.to_norm(torch.as_tensor(np.asarray(x, dtype=np.float64)))
            return (g.log_prob(y, tv, sde) + norm.log_det_jacobian).numpy()

        return gmm_log_density
    if target.cells is not None and t > 0:
        cells = CellDensity(target.cells, norm)
        tv = torch.tensor(t, dtype=torch.float64)

        def cells_log_density(x):
            y = norm.to_norm(torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1, 2)))
            return (cells.log_prob(y, tv, sde) + norm.log_det_jacobian).numpy()

        return cells_log_density
    return None


def marginal_log_density_grid(target: Target, sde: SDE, t: float, xs: np.ndarray, ys: np.ndarray,
                              normalization: Normalization | None = None) -> np.ndarray | None:
    """log p_t on the grid ys x xs ((len(ys), len(xs)); row i is y = ys[i]), or None where unknown; a
    piecewise-constant target costs three matrix products instead of one sum over all cells per point."""
    if target.cells is None or t <= 0:
        fn = marginal_log_density(target, sde, t, normalization)
        if fn is None:
            return None
        xx, yy = np.meshgrid(np.asarray(xs, np.float64), np.asarray(ys, np.float64))
        return fn(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(len(ys), len(xs))
    norm = normalization or Normalization.identity(2)
    cells = CellDensity(target.cells, norm)
    alpha, std = _coefficients(sde, t)
    mean = np.asarray(norm.mean, dtype=np.float64)
    u = (np.asarray(xs, np.float64) - mean[0]) / norm.scale
    v = (np.asarray(ys, np.float64) - mean[1]) / norm.scale
    a, b = cells.factors(u, v, alpha, std)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(b @ cells.probs.numpy() @ a.T, 0)) + norm.log_det_jacobian


def _coefficients(sde: SDE, t: float) -> tuple[float, float]:
    alpha, std = sde.marginal_coefficients(torch.tensor(float(t), dtype=torch.float64))
    return float(alpha), float(std)
