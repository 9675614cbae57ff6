"""Affine data normalisation y = (x - mean) / scale, and the data-space view of an SDE run on y.

The model's SDE acts on normalised data y; in data space x_t = mean + scale * y_t, so
grad_x log p_t(x) = grad_y log p_t(y) / scale, the PF-ODE velocity v_x = scale * v_y, and a GMM target maps to
GMM((mu - mean) / scale, Sigma / scale^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from playground.core.diffusion.sde import SDE, ScoreFn, bcast, time_vector
from playground.data.targets.gaussian_mixture import GaussianMixture


@dataclass(frozen=True)
class Normalization:
    """y = (x - mean) / scale with a per-dimension mean and one isotropic scale (shapes are kept)."""

    mean: tuple[float, ...]
    scale: float = 1.0

    @classmethod
    def identity(cls, dim: int) -> "Normalization":
        return cls(tuple([0.0] * dim), 1.0)

    @classmethod
    def pixels(cls, dim: int) -> "Normalization":
        """y = 2x - 1 for [0, 1] pixels (mean 0.5, scale 0.5; not fit): log_det_jacobian = D ln 2."""
        return cls(tuple([0.5] * dim), 0.5)

    @classmethod
    def fit(cls, x) -> "Normalization":
        """Mean per dimension and the RMS per-dimension standard deviation as the one scale."""
        a = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        scale = float(np.sqrt(a.var(0).mean()))
        if not np.isfinite(scale) or scale <= 1e-12:
            scale = 1.0
        return cls(tuple(float(v) for v in a.mean(0)), scale)

    def _mean(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).reshape(1, *x.shape[1:])

    def to_norm(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._mean(x)) / self.scale

    def to_data(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.scale + self._mean(y)

    def data_score_fn(self, norm_score_fn: ScoreFn) -> ScoreFn:
        """Score of the data-space process from the score in normalised space."""
        return lambda x, t: norm_score_fn(self.to_norm(x), t) / self.scale

    def data_velocity_fn(self, sde: SDE, data_score_fn: ScoreFn) -> ScoreFn:
        """The velocity of the data-space PF-ODE (Song et al. 2021, Eq. 13; flow matching's v) from the data-space
        score: v_x = scale v_y with v_y = f(t) y - g(t)^2 s_y / 2, i.e. f(t) (x - mean) - g(t)^2 scale^2 s_x / 2."""

        def velocity(x: torch.Tensor, t) -> torch.Tensor:
            tt = time_vector(t, x)
            score = torch.as_tensor(data_score_fn(x, t), dtype=x.dtype)
            g2 = bcast(sde.diffusion(tt) ** 2, x)
            return bcast(sde.drift_coefficient(tt), x) * (x - self._mean(x)) - 0.5 * self.scale**2 * g2 * score

        return velocity

    def gmm_to_norm(self, gmm: GaussianMixture) -> GaussianMixture:
        """The same mixture in normalised coordinates."""
        mean = torch.as_tensor(self.mean, dtype=torch.float64)
        return GaussianMixture(gmm.weights, (gmm.means - mean) / self.scale, gmm.covariances / self.scale**2)

    @property
    def log_det_jacobian(self) -> float:
        """log |dy/dx| per sample: -D log(scale); add it to a density computed in normalised space."""
        return -len(self.mean) * float(np.log(self.scale))

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalization":
        return cls(tuple(float(v) for v in d["mean"]), float(d["scale"]))
