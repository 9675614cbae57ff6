"""Sample-set distances with fixed random projections / kernels, each reported against an iid floor.

Sliced Wasserstein-2 (Rabin et al. 2011; Bonneel et al. 2015), energy distance (Szekely & Rizzo 2013),
MMD with a Gaussian kernel (Gretton et al. 2012); in 1D, W1 of samples against a known CDF (imputation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


def _flat64(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).detach().cpu().to(torch.float64)
    return x.reshape(len(x), -1)


def projections(dim: int, n_projections: int = 256, seed: int = 0) -> torch.Tensor:
    """Fixed unit directions (dim, P), reproducible for a seed so every comparison uses the same slices."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(dim, n_projections, generator=g, dtype=torch.float64)
    return v / v.norm(dim=0, keepdim=True)


def sliced_wasserstein(x, y, n_projections: int = 256, seed: int = 0) -> float:
    """SW2(x, y) = sqrt(mean over directions of W2^2 of the 1D projections); unequal sizes via quantiles."""
    a, b = _flat64(x), _flat64(y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"dimension mismatch: {a.shape[1]} vs {b.shape[1]}")
    p = projections(a.shape[1], n_projections, seed)
    pa, pb = torch.sort(a @ p, 0).values, torch.sort(b @ p, 0).values
    if len(pa) != len(pb):
        n = max(len(pa), len(pb))
        q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        pa = torch.quantile(pa, q, dim=0, interpolation="linear")
        pb = torch.quantile(pb, q, dim=0, interpolation="linear")
    return float(((pa - pb) ** 2).mean().sqrt())


def energy_distance(x, y, max_points: int = 4000, seed: int = 0) -> float:
    """E = 2 E|X - Y| - E|X - X'| - E|Y - Y'| on (sub-sampled) sets."""
    a, b = _subsample(_flat64(x), max_points, seed), _subsample(_flat64(y), max_points, seed + 1)
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def mmd(x, y, bandwidth: float | None = None, max_points: int = 4000, seed: int = 0) -> float:
    """Biased MMD^2 with a Gaussian kernel; bandwidth defaults to the median pairwise distance of y."""
    a, b = _subsample(_flat64(x), max_points, seed), _subsample(_flat64(y), max_points, seed + 1)
    if bandwidth is None:
        bandwidth = float(torch.cdist(b, b).median().clamp(min=1e-12))
    k = lambda u, v: torch.exp(-torch.cdist(u, v) ** 2 / (2 * bandwidth**2))  # noqa: E731
    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def _subsample(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    if len(x) <= n:
        return x
    g = torch.Generator().manual_seed(seed)
    return x[torch.randperm(len(x), generator=g)[:n]]


@dataclass
class SwdReport:
    """SWD of generated vs target samples, the floor of two independent target sets, and their ratio."""

    swd: float
    swd_floor: float

    @property
    def swd_ratio(self) -> float:
        return self.swd / self.swd_floor if self.swd_floor > 0 else float("inf")

    def as_dict(self) -> dict:
        return {"swd": self.swd, "swd_floor": self.swd_floor, "swd_ratio": self.swd_ratio}


def swd_report(
    samples, sample_target: Callable[[int, int], np.ndarray], seed: int = 0, n_projections: int = 128, splits: int = 4
) -> SwdReport:
    """Mean SWD of `splits` chunks of `samples` to fresh target sets of the chunk size, and the floor: the mean SWD
    of as many pairs of independent target sets. Averaging over chunks tames the mode-weight noise of one set.

    sample_target(n, seed) -> (n, ...) array of target samples.
    """
    x = _flat64(samples)
    splits = max(1, min(splits, len(x) // 500))
    m = len(x) // splits
    swd, floor = 0.0, 0.0
    for i in range(splits):
        ref = sample_target(m, seed + 1_000_003 + i)
        other = sample_target(m, seed + 2_000_003 + i)
        swd += sliced_wasserstein(x[i * m : (i + 1) * m], ref, n_projections, seed) / splits
        floor += sliced_wasserstein(other, ref, n_projections, seed) / splits
    return SwdReport(swd, floor)


def wasserstein_1d(samples: np.ndarray, cdf, points: int = 20001) -> float:
    """W1 between the empirical distribution of `samples` and a continuous one given by its CDF: the integral of
    |F_n - F| (trapezoid on a fine grid from 8 spreads below the smallest to 8 above the largest sample)."""
    s = np.sort(np.asarray(samples, dtype=np.float64).reshape(-1))
    spread = max(float(s.std()), 1e-12)
    grid = np.linspace(s[0] - 8 * spread, s[-1] + 8 * spread, points)
    empirical = np.searchsorted(s, grid, side="right") / len(s)
    return float(np.trapezoid(np.abs(empirical - cdf(grid)), grid))
