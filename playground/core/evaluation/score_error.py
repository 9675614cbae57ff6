"""Where in time a score is wrong: per time bin, the normalised score error E_{x ~ p_t} |s(x, t) - grad log p_t(x)|^2
std(t)^2 against an exact score (0 for a perfect model at every t), beside the DSM loss E |std s(x_t, t) + z|^2
(Vincent 2011; Song et al. 2021, Eq. 7 with lambda = std^2), whose floor (the exact score's DSM loss) is not zero.

The two are tied by DSM = score error + floor in expectation (the cross term vanishes): the loss curve shows the
score error only above the irreducible variance of its target, which this table removes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from playground.core.diffusion.cell_density import CellDensity
from playground.core.diffusion.exact_score import EmpiricalScore
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn, bcast


@dataclass(frozen=True)
class ScoreErrorTable:
    """Per time bin (edges (K + 1,) over [sampling_eps, T], centres t (K,)): the normalised score error, the DSM loss
    of the score and the DSM floor of the exact score on the same draws."""

    edges: np.ndarray
    t: np.ndarray
    score_error: np.ndarray
    dsm_loss: np.ndarray
    dsm_floor: np.ndarray

    @property
    def mean_error(self) -> float:
        return float(np.mean(self.score_error))

    def as_dict(self) -> dict:
        return {"t": [round(float(v), 6) for v in self.t], "score_error": self.score_error.tolist(), "dsm_loss": self.dsm_loss.tolist(),
                "dsm_floor": self.dsm_floor.tolist()}  # fmt: skip


def time_bin_edges(sde: SDE, bins: int) -> np.ndarray:
    """bins + 1 edges uniform from sde.sampling_eps (where the samplers stop) to sde.T."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    return np.linspace(sde.sampling_eps, sde.T, bins + 1)


@torch.no_grad()
def score_error_by_time(
    score_fn: ScoreFn, exact_score_fn: ScoreFn, sde: SDE, x0: torch.Tensor, bins: int = 10, seed: int = 0,
    before_bin: Callable[[int], None] | None = None,
) -> ScoreErrorTable:
    """Monte Carlo over x0 (target samples, in the SDE's space), with for every sample and bin one t uniform in the bin
    and one perturbation x_t = alpha x0 + std z ~ p_t; sums over the data dimensions, means over the samples.
    `before_bin(k)` is called before bin k (a worker's cancellation check: it may raise)."""
    edges = time_bin_edges(sde, bins)
    g = torch.Generator().manual_seed(seed)
    x0 = x0.detach()
    error, dsm, floor = (np.zeros(bins) for _ in range(3))
    for k in range(bins):
        if before_bin is not None:
            before_bin(k)
        u = torch.rand(len(x0), generator=g, dtype=torch.float64)
        t = (edges[k] + u * (edges[k + 1] - edges[k])).to(x0.dtype)
        z = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
        alpha, std = sde.marginal_coefficients(t)
        x_t = bcast(alpha, x0) * x0 + bcast(std, x0) * z
        s, s_exact = score_fn(x_t, t).to(x0.dtype), exact_score_fn(x_t, t).to(x0.dtype)
        std_b = bcast(std, x0)
        flat = lambda v: v.reshape(len(v), -1).pow(2).sum(-1).mean()  # noqa: E731
        error[k] = float(flat(std_b * (s - s_exact)))
        dsm[k] = float(flat(std_b * s + z))
        floor[k] = float(flat(std_b * s_exact + z))
    return ScoreErrorTable(edges, 0.5 * (edges[:-1] + edges[1:]), error, dsm, floor)


def exact_normalised_score_fn(target, normalization: Normalization, sde: SDE) -> ScoreFn:
    """The exact score of `target` carried into normalised space and diffused by `sde`: its Gaussian mixture's closed
    form, its piecewise-constant density's (a raster, the checkerboard), else the ideal denoiser of its finite point
    set; a ValueError for a target with none of them."""
    if target.gmm is not None:
        return normalization.gmm_to_norm(target.gmm).score_fn(sde)
    if target.cells is not None:
        return CellDensity(target.cells, normalization).score_fn(sde)
    if target.points is not None:
        points = normalization.to_norm(torch.as_tensor(np.asarray(target.points, dtype=np.float32)))
        return EmpiricalScore(points).score_fn(sde)
    raise ValueError(f"target {target.name!r} has no exact score (a Gaussian mixture, a raster or a finite point set "
                     "has one)")


def model_score_error(model, target, n: int = 2000, bins: int = 10, seed: int = 0,
                      before_bin: Callable[[int], None] | None = None) -> ScoreErrorTable:
    """`score_error_by_time` of a 2D ScoreModel against its target's exact score, in the model's normalised space
    (where its SDE runs), on n fresh target samples."""
    norm = model.normalization
    exact = exact_normalised_score_fn(target, norm, model.sde)
    x0 = norm.to_norm(torch.as_tensor(np.asarray(target.sample(n, seed=seed + 4_000_037), dtype=np.float32)))
    return score_error_by_time(model.score_norm, exact, model.sde, x0.to(model.device), bins, seed, before_bin)
