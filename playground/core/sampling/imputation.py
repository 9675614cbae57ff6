"""Imputation in 2D: condition one coordinate, x_axis = c, and sample the other.

Two methods:
- 'replacement' (Song et al. 2021, App. I.2; `playground.core.sampling.inpainting.inpaint`): the reverse process on
  both coordinates, the known one overwritten after every step by a forward-noised copy of c, optional Langevin
  corrector steps. Training-free and approximate: biased (SCIENCE.md: 2D Gaussian rho = 0.9, x1 = 1 gives x2 mean
  ~0.63 and variance ~0.31 against the exact 0.90 / 0.19).
- 'exact', for a Gaussian mixture: p(x_o | x_a = c) is a 1D mixture (SCIENCE.md, "Conditionals of a Gaussian mixture")
  with weights proportional to w_k N(c; mu_ka, S_k,aa), means mu_ko + S_k,oa / S_k,aa (c - mu_ka) and variances
  S_k,oo - S_k,oa^2 / S_k,aa (`gmm_conditional`).

Samples come back in data space with the conditioned coordinate equal to c exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn
from playground.core.sampling.inpainting import inpaint
from playground.data.targets.gaussian_mixture import GaussianMixture

AXES = ("x1", "x2")
METHODS = ("replacement", "exact")


@dataclass(frozen=True)
class Mixture1D:
    """sum_k w_k N(mean_k, std_k^2) on the real line: the exact conditional of a 2D mixture."""

    weights: np.ndarray
    means: np.ndarray
    stds: np.ndarray

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.means[k] + self.stds[k] * rng.standard_normal(n)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64)[:, None] - self.means) / self.stds
        with np.errstate(divide="ignore"):
            logs = np.log(self.weights) - 0.5 * z * z - np.log(self.stds * math.sqrt(2 * math.pi))
        top = logs.max(1, keepdims=True)
        return (top + np.log(np.exp(logs - top).sum(1, keepdims=True)))[:, 0]

    def cdf(self, x: np.ndarray) -> np.ndarray:
        z = torch.as_tensor((np.asarray(x, dtype=np.float64)[:, None] - self.means) / self.stds)
        return (torch.special.ndtr(z).numpy() * self.weights).sum(1)

    @property
    def mean(self) -> float:
        return float(self.weights @ self.means)

    @property
    def variance(self) -> float:
        return float(self.weights @ (self.stds**2 + self.means**2)) - self.mean**2


def axis_index(axis: str) -> int:
    """'x1' -> 0, 'x2' -> 1; ValueError naming the choices otherwise."""
    if axis not in AXES:
        raise ValueError(f"unknown coordinate {axis!r}; choose {' or '.join(AXES)}")
    return AXES.index(axis)


def gmm_conditional(gmm: GaussianMixture, axis: str, value: float) -> Mixture1D:
    """p(x_other | x_axis = value) of a 2D mixture, exactly (module docstring)."""
    if gmm.dim != 2:
        raise ValueError(f"imputation needs a 2D mixture, got {gmm.dim} dimensions")
    a = axis_index(axis)
    o = 1 - a
    mu, cov = gmm.means.numpy(), gmm.covariances.numpy()
    s_aa, s_oa, s_oo = cov[:, a, a], cov[:, o, a], cov[:, o, o]
    with np.errstate(divide="ignore"):
        logw = np.log(gmm.weights.numpy()) - 0.5 * (value - mu[:, a]) ** 2 / s_aa - 0.5 * np.log(2 * math.pi * s_aa)
    w = np.exp(logw - logw.max())
    return Mixture1D(w / w.sum(), mu[:, o] + s_oa / s_aa * (value - mu[:, a]), np.sqrt(s_oo - s_oa**2 / s_aa))


def impute_exact(gmm: GaussianMixture, axis: str, value: float, n: int, seed: int = 0) -> np.ndarray:
    """n exact samples (n, 2) of the mixture given x_axis = value."""
    a = axis_index(axis)
    out = np.empty((n, 2))
    out[:, a] = value
    out[:, 1 - a] = gmm_conditional(gmm, axis, value).sample(n, seed)
    return out


def impute_replacement(
    score_fn: ScoreFn, sde: SDE, axis: str, value: float, n: int, *, normalization: Normalization | None = None,
    steps: int = 500, predictor: str = "em", corrector_steps: int = 0, snr: float = 0.16, seed: int = 0,
    callback=None,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """(n samples (n, 2) in data space, NFE) by the replacement method; score_fn and sde act on normalised data
    (`normalization`, identity by default). callback(StepInfo) after every step (states in normalised space)."""
    a = axis_index(axis)
    norm = normalization or Normalization.identity(2)
    observed = torch.zeros(1, 2, dtype=torch.float64)
    observed[0, a] = float(value)
    observation = norm.to_norm(observed)[0].to(torch.float32)
    known = torch.tensor([a == 0, a == 1])
    generator = torch.Generator().manual_seed(seed)
    result = inpaint(score_fn, sde, observation, known, n=n, steps=steps, predictor=predictor,
                     corrector_steps=corrector_steps, snr=snr, generator=generator, callback=callback)
    x = norm.to_data(result.x.to(torch.float64)).numpy()
    x[:, a] = value
    return x, result.nfe

