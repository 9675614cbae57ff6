"""Exact log p_t of a target under a linear SDE, where it is known: Gaussian mixtures and piecewise-constant densities.

The SDE acts on normalised data y = (x - mean) / scale (identity for a data-space SDE), so in data space
x_t = mean + scale (alpha y_0 + sigma eps) and log p_t(x) = log p_t^y((x - mean) / scale) - D log(scale).

- Gaussian mixture: p_t^y = sum_k w_k N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I) (SCIENCE.md), in closed form.
- Piecewise constant (a drawn or PNG raster, the checkerboard): each cell [a1, b1] x [a2, b2] carries probability
  pi_c uniformly; the diffused density of a uniform interval is (Phi((u - alpha a) / sigma) - Phi((u - alpha b) /
  sigma)) / (alpha (b - a)), so p_t^y(u, v) = sum_c pi_c A_c(u) B_c(v): exact, and on a G x G grid a product of
  three matrices (G x H)(H x W)(W x G).
- At t = 0 the target's own log-density (`Target.log_density`) wherever it has one.

Everything runs in float64 and returns numpy arrays (-inf where the density is zero).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

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
        cells = _NormalisedCells(target.cells, norm)

        def cells_log_density(x):
            x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
            out = np.empty(len(x))
            for s in range(0, len(x), 512):
                u, v = cells.factors(x[s : s + 512, 0], x[s : s + 512, 1], alpha, std)
                out[s : s + 512] = np.einsum("nr,rc,nc->n", v, cells.probs, u)
            with np.errstate(divide="ignore"):
                return np.log(np.maximum(out, 0)) + norm.log_det_jacobian

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
    cells = _NormalisedCells(target.cells, norm)
    alpha, std = _coefficients(sde, t)
    u, v = cells.factors(np.asarray(xs, np.float64), np.asarray(ys, np.float64), alpha, std)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(v @ cells.probs @ u.T, 0)) + norm.log_det_jacobian


def _coefficients(sde: SDE, t: float) -> tuple[float, float]:
    alpha, std = sde.marginal_coefficients(torch.tensor(float(t), dtype=torch.float64))
    return float(alpha), float(std)


class _NormalisedCells:
    """A piecewise-constant density's cell edges in normalised coordinates and its per-axis diffusion factors."""

    def __init__(self, cells, norm: Normalization):
        probs, (xmin, xmax, ymin, ymax) = cells
        self.probs = np.asarray(probs, dtype=np.float64)
        h, w = self.probs.shape
        self.norm = norm
        mean = np.asarray(norm.mean, dtype=np.float64)
        self.x_edges = (np.linspace(xmin, xmax, w + 1) - mean[0]) / norm.scale
        self.y_edges = (np.linspace(ymax, ymin, h + 1) - mean[1]) / norm.scale  # row 0 is the top

    def factors(self, xs: np.ndarray, ys: np.ndarray, alpha: float, std: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis densities A (len(xs), W) and B (len(ys), H) of each cell's diffused uniform interval."""
        mean = np.asarray(self.norm.mean, dtype=np.float64)
        u = (np.asarray(xs) - mean[0]) / self.norm.scale
        v = (np.asarray(ys) - mean[1]) / self.norm.scale
        return _interval_density(u, self.x_edges, alpha, std), _interval_density(v, self.y_edges, alpha, std)


def _interval_density(u: np.ndarray, edges: np.ndarray, alpha: float, std: float) -> np.ndarray:
    """(len(u), len(edges) - 1): the density at u of alpha X + std eps, X uniform between consecutive edges."""
    lo, hi = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
    z_hi = torch.as_tensor((u[:, None] - alpha * lo[None]) / std)
    z_lo = torch.as_tensor((u[:, None] - alpha * hi[None]) / std)
    upper = z_lo > 0  # both in the upper tail: difference of survival functions keeps the precision
    mass = torch.where(upper, _normal_cdf(-z_lo) - _normal_cdf(-z_hi), _normal_cdf(z_hi) - _normal_cdf(z_lo))
    return mass.numpy() / (alpha * (hi - lo))[None]


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    """Phi(z) = erfc(-z / sqrt 2) / 2, accurate down to ~1e-300 (torch's ndtr flushes to 0 below z ~ -18)."""
    return 0.5 * torch.special.erfc(-z / math.sqrt(2))

