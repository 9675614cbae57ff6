"""Piecewise-constant 2D densities (a drawn or PNG raster, the checkerboard) diffused by a linear SDE: exact log p_t
and score.

Each cell [a1, b1] x [a2, b2] carries probability pi_c uniformly. Under x_t = alpha x_0 + sigma eps the diffused
density of a uniform interval [a, b] is A(u) = (Phi((u - alpha a) / sigma) - Phi((u - alpha b) / sigma)) /
(alpha (b - a)), with d log A / du = (phi(z_hi) - phi(z_lo)) / (sigma (Phi(z_hi) - Phi(z_lo))), so
p_t(u, v) = sum_c pi_c A_c(u) B_c(v) and grad log p_t = sum_c w_c (d log A_c / du, d log B_c / dv) with
w_c = pi_c A_c B_c / p_t (SCIENCE.md: marginals of a linear SDE). The per-axis factors are computed in log space
(log Phi differences from the tail that keeps the precision), rescaled per point so that the sums over the cells are
matrix products; a point so far from the support that the rescaled sum underflows falls back to a log-sum-exp over
the non-empty cells. Everything runs in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn, time_vector

ROWS_PER_CHUNK = 2048
"""Query points per block: the factor tables are (rows, W) and (rows, H)."""
NARROW = 1e-7
"""Below this interval width in units of sigma (alpha (b - a) / sigma) the midpoint rule is exact to float64."""
UNDERFLOW = 1e-280
"""A rescaled sum below this is recomputed by log-sum-exp."""
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def normal_cdf(z: torch.Tensor) -> torch.Tensor:
    """Phi(z) = erfc(-z / sqrt 2) / 2, accurate down to ~1e-300 (torch's ndtr flushes to 0 below z ~ -18)."""
    return 0.5 * torch.special.erfc(-z / math.sqrt(2))


def interval_density(u: np.ndarray, edges: np.ndarray, alpha: float, std: float) -> np.ndarray:
    """(len(u), len(edges) - 1): the density at u of alpha X + std eps, X uniform between consecutive edges."""
    lo, hi = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
    z_hi = torch.as_tensor((u[:, None] - alpha * lo[None]) / std)
    z_lo = torch.as_tensor((u[:, None] - alpha * hi[None]) / std)
    upper = z_lo > 0  # both in the upper tail: difference of survival functions keeps the precision
    mass = torch.where(upper, normal_cdf(-z_lo) - normal_cdf(-z_hi), normal_cdf(z_hi) - normal_cdf(z_lo))
    return mass.numpy() / (alpha * (hi - lo))[None]


def interval_log_factors(u: torch.Tensor, edges: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """(log A, d log A / du), each (len(u), len(edges) - 1), for per-point alpha and std (len(u),), in log space."""
    lo, hi = torch.minimum(edges[:-1], edges[1:]), torch.maximum(edges[:-1], edges[1:])
    a, sd = alpha[:, None], std[:, None]
    z_hi, z_lo = (u[:, None] - a * lo[None]) / sd, (u[:, None] - a * hi[None]) / sd
    upper = z_lo > 0  # log(Q(z_lo) - Q(z_hi)) in the upper tail, log(Phi(z_hi) - Phi(z_lo)) below
    big = torch.where(upper, torch.special.log_ndtr(-z_lo), torch.special.log_ndtr(z_hi))
    small = torch.where(upper, torch.special.log_ndtr(-z_hi), torch.special.log_ndtr(z_lo))
    log_mass = big + torch.log(-torch.expm1((small - big).clamp(max=-1e-300)))
    log_phi = lambda z: -0.5 * z * z - LOG_SQRT_2PI  # noqa: E731
    d_log = (torch.exp(log_phi(z_hi) - log_mass) - torch.exp(log_phi(z_lo) - log_mass)) / sd
    log_a = log_mass - torch.log(a * (hi - lo)[None])
    narrow = (z_hi - z_lo) < NARROW  # alpha (b - a) << sigma (e.g. alpha -> 0): A(u) -> N(u; alpha m, sigma^2)
    if bool(narrow.any()):
        z_mid = 0.5 * (z_hi + z_lo)
        log_a = torch.where(narrow, log_phi(z_mid) - torch.log(sd), log_a)
        d_log = torch.where(narrow, -z_mid / sd, d_log)
    return log_a, d_log


class CellDensity:
    """A piecewise-constant density (cell probabilities (H, W), row 0 the top, over the rectangle (xmin, xmax, ymin,
    ymax)) in the SDE's space: `Target.cells` carried through y = (x - mean) / scale."""

    def __init__(self, cells, normalization: Normalization | None = None):
        probs, (xmin, xmax, ymin, ymax) = cells
        norm = normalization or Normalization.identity(2)
        self.probs = torch.as_tensor(np.asarray(probs, dtype=np.float64))
        h, w = self.probs.shape
        mean = np.asarray(norm.mean, dtype=np.float64)
        self.x_edges = torch.as_tensor((np.linspace(xmin, xmax, w + 1) - mean[0]) / norm.scale)
        self.y_edges = torch.as_tensor((np.linspace(ymax, ymin, h + 1) - mean[1]) / norm.scale)  # row 0 the top
        self.nonzero = torch.nonzero(self.probs > 0, as_tuple=True)
        self.log_nonzero = torch.log(self.probs[self.nonzero])

    def factors(self, u: np.ndarray, v: np.ndarray, alpha: float, std: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis densities A (len(u), W) and B (len(v), H) of each cell's diffused uniform interval at one t."""
        return (interval_density(u, self.x_edges.numpy(), alpha, std),
                interval_density(v, self.y_edges.numpy(), alpha, std))  # fmt: skip

    def _log_prob_and_score(self, y: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor):
        """log p_t (n,) and its gradient (n, 2) at points y (n, 2) with per-point alpha, std."""
        log_a, da = interval_log_factors(y[:, 0], self.x_edges, alpha, std)
        log_b, db = interval_log_factors(y[:, 1], self.y_edges, alpha, std)
        shift_a, shift_b = log_a.max(1, keepdim=True).values, log_b.max(1, keepdim=True).values
        a_hat, b_hat = torch.exp(log_a - shift_a), torch.exp(log_b - shift_b)
        pa = a_hat @ self.probs.T  # (n, H): sum_c pi_rc A_c
        total = (b_hat * pa).sum(1)
        grad_u = (b_hat * ((a_hat * da) @ self.probs.T)).sum(1) / total
        grad_v = (b_hat * db * pa).sum(1) / total
        log_p = torch.log(total) + shift_a[:, 0] + shift_b[:, 0]
        far = ~(total > UNDERFLOW)
        if bool(far.any()):
            rows, cols = self.nonzero
            logits = self.log_nonzero[None] + log_a[far][:, cols] + log_b[far][:, rows]
            w = torch.softmax(logits, 1)
            grad_u[far] = (w * da[far][:, cols]).sum(1)
            grad_v[far] = (w * db[far][:, rows]).sum(1)
            log_p[far] = torch.logsumexp(logits, 1)
        return log_p, torch.stack([grad_u, grad_v], 1)

    def _evaluate(self, y: torch.Tensor, t, sde: SDE):
        yd = y.to(torch.float64).reshape(-1, 2)
        alpha, std = sde.marginal_coefficients(time_vector(t, y).to(torch.float64))
        log_p, score = torch.empty(len(yd), dtype=torch.float64), torch.empty_like(yd)
        for s in range(0, len(yd), ROWS_PER_CHUNK):
            sl = slice(s, s + ROWS_PER_CHUNK)
            log_p[sl], score[sl] = self._log_prob_and_score(yd[sl], alpha[sl], std[sl])
        return log_p, score

    def log_prob(self, y: torch.Tensor, t, sde: SDE) -> torch.Tensor:
        """log p_t(y) (n,) in the caller's dtype (-inf where the density is zero, which happens only at t = 0)."""
        return self._evaluate(y, t, sde)[0].to(y.dtype)

    def score(self, y: torch.Tensor, t, sde: SDE) -> torch.Tensor:
        """grad_y log p_t(y) (n, 2) in the caller's dtype."""
        return self._evaluate(y, t, sde)[1].reshape(y.shape).to(y.dtype)

    def score_fn(self, sde: SDE) -> ScoreFn:
        return lambda y, t: self.score(y, t, sde)
