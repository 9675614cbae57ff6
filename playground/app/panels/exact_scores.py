"""The target's exact score in normalised space for the views: the one-t fast path for a Gaussian mixture
(`fast_gmm_score_fn`), the empirical score (the ideal denoiser) of a finite point set, kept while the points and
the normalisation stay."""

from __future__ import annotations

import numpy as np
import torch

from playground.app.workers.sampling_worker import fast_gmm_score_fn
from playground.core.diffusion.exact_score import EmpiricalScore
from playground.core.diffusion.sde import SDE, ScoreFn


class ExactScores:
    """One per view: `norm_score_fn(state, sde)` builds the exact score, reusing the point set's EmpiricalScore."""

    def __init__(self):
        self._points: tuple | None = None  # (the target's points, the normalisation, their EmpiricalScore)

    def norm_score_fn(self, state, sde: SDE) -> ScoreFn | None:
        """The exact score of the state's target in normalised space (a GMM or a point set), or None."""
        target, norm = state.target, state.normalization
        if target.gmm is not None:
            return fast_gmm_score_fn(norm.gmm_to_norm(target.gmm), sde)
        if target.points is None:
            return None
        if self._points is None or self._points[0] is not target.points or self._points[1] != norm:
            pts = norm.to_norm(torch.as_tensor(np.asarray(target.points, np.float32)))
            self._points = (target.points, norm, EmpiricalScore(pts))
        return self._points[2].score_fn(sde)


__all__ = ["ExactScores"]
