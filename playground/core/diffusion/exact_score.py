"""Exact scores: the ideal denoiser of a finite point set, and the exact score of any target that has one.

A Gaussian-mixture target carries its own exact marginals (`playground.data.targets.gaussian_mixture`:
p_t = sum_k w_k N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I)); `target_score_fn` picks it, else the point set's.
Finite set {y_i}: D*(x; t) = sum_i softmax_i(-|x - alpha y_i|^2 / 2 sigma^2) y_i (Karras et al. 2022, Eq. 57).
All computations run in float64 internally and return the caller's dtype.
"""

from __future__ import annotations

import math

import torch

from playground.core.diffusion.sde import SDE, ScoreFn, bcast, time_vector


CHUNK_ELEMENTS = 1 << 22
"""Queries x set points evaluated at once (32 MB per float64 temporary): a large set gets fewer queries a chunk."""


class EmpiricalScore:
    """Exact score of p_t for data uniform on a finite set {y_i}: the ideal denoiser's softmax-weighted mean."""

    def __init__(self, points, chunk: int = 4096):
        y = torch.as_tensor(points, dtype=torch.float64)
        if y.ndim < 2 or len(y) == 0:
            raise ValueError("an empirical score needs a non-empty (M, ...) point set")
        self.points = y
        self.flat = y.reshape(len(y), -1)
        self.sq = (self.flat * self.flat).sum(1)
        self.chunk = chunk

    @property
    def rows_per_chunk(self) -> int:
        """Queries per chunk: at most `chunk`, and at most CHUNK_ELEMENTS / (set size) (the memory bound)."""
        return max(1, min(self.chunk, CHUNK_ELEMENTS // len(self.flat)))

    def _weights_mean(self, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor):
        """Softmax weights' weighted mean of y and the log-sum-exp, chunked over the batch."""
        xf = x.reshape(len(x), -1).to(torch.float64)
        means, lse = [], []
        rows = self.rows_per_chunk
        for s in range(0, len(xf), rows):
            xc, a, sd = xf[s : s + rows], alpha[s : s + rows], std[s : s + rows]
            d2 = (xc * xc).sum(1, keepdim=True) - 2 * a[:, None] * xc @ self.flat.T + (a * a)[:, None] * self.sq[None]
            logits = -d2.clamp(min=0) / (2 * sd * sd)[:, None]
            w = torch.softmax(logits, 1)
            means.append(w @ self.flat)
            lse.append(torch.logsumexp(logits, 1))
        return torch.cat(means), torch.cat(lse)

    def denoise(self, x: torch.Tensor, t: float | torch.Tensor, sde: SDE) -> torch.Tensor:
        """D*(x_t) = E[x0 | x_t] = sum_i softmax_i(-|x_t - alpha y_i|^2 / 2 sigma^2) y_i."""
        t = time_vector(t, x).to(torch.float64)
        alpha, std = sde.marginal_coefficients(t)
        mean, _ = self._weights_mean(x, alpha, std)
        return mean.reshape(x.shape).to(x.dtype)

    def score(self, x: torch.Tensor, t: float | torch.Tensor, sde: SDE) -> torch.Tensor:
        """grad log p_t(x) = (alpha D*(x) - x) / sigma^2."""
        t = time_vector(t, x).to(torch.float64)
        alpha, std = sde.marginal_coefficients(t)
        mean, _ = self._weights_mean(x, alpha, std)
        xd = x.to(torch.float64)
        s = (bcast(alpha, xd) * mean.reshape(x.shape) - xd) / bcast(std * std, xd)
        return s.to(x.dtype)

    def log_prob(self, x: torch.Tensor, t: float | torch.Tensor, sde: SDE) -> torch.Tensor:
        """log p_t(x) = logsumexp_i log N(x; alpha y_i, sigma^2 I) - log M."""
        t = time_vector(t, x).to(torch.float64)
        alpha, std = sde.marginal_coefficients(t)
        _, lse = self._weights_mean(x, alpha, std)
        d = self.flat.shape[1]
        out = lse - math.log(len(self.flat)) - 0.5 * d * torch.log(2 * math.pi * std * std)
        return out.to(x.dtype)

    def score_fn(self, sde: SDE) -> ScoreFn:
        return lambda x, t: self.score(x, t, sde)


EXACT_POINTS = 4000  # fixed target samples whose ideal denoiser is the exact score of a continuous target
EXACT_SEED = 12345


def exact_point_set(target, n_points: int = EXACT_POINTS, seed: int = EXACT_SEED):
    """The finite set whose ideal denoiser is `target`'s exact score: its own points, else `n_points` fixed samples
    (seed `seed`); None for a Gaussian mixture (closed form)."""
    if target.gmm is not None:
        return None
    return target.points if target.points is not None else target.sample(n_points, seed)


def exact_score_label(target, n_points: int = EXACT_POINTS) -> str:
    """What a target's exact score is, in the words the README uses: the closed form of its Gaussian mixture, or the
    ideal denoiser of its point set (of `n_points` fixed samples for a continuous target)."""
    if target.gmm is not None:
        k = target.gmm.n_components
        return f"exact GMM score ({k} component{'s' if k != 1 else ''})"
    if target.points is not None:
        return f"ideal denoiser of the {len(target.points):,} target points"
    return f"ideal denoiser of {n_points:,} fixed target samples"


def target_score_fn(target, sde: SDE, n_points: int = EXACT_POINTS, seed: int = EXACT_SEED) -> ScoreFn:
    """The exact score of a `Target`: its Gaussian mixture's, else the ideal denoiser's of its finite point set (or
    of n_points fixed samples for a continuous target without a closed form; `exact_point_set`)."""
    if target.gmm is not None:
        return target.gmm.score_fn(sde)
    return EmpiricalScore(torch.as_tensor(exact_point_set(target, n_points, seed))).score_fn(sde)
