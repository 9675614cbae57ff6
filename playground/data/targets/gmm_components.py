"""The Gaussian editor's mixture without Qt: axis-aligned components -> an exact GMM Target."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.gmm_file import gmm_log_density
from playground.data.targets.target import DataError, Target

EXTENT = 4.0
MIN_SIGMA = 0.03
MAX_SIGMA = 4.0
DEFAULT_SIGMA = 0.4


@dataclass(frozen=True)
class Component:
    """One axis-aligned Gaussian: mean (x, y), standard deviations (sx, sy) and an unnormalised weight."""

    x: float
    y: float
    sx: float = DEFAULT_SIGMA
    sy: float = DEFAULT_SIGMA
    weight: float = 1.0

    def clamped(self) -> "Component":
        return Component(
            float(self.x),
            float(self.y),
            float(np.clip(self.sx, MIN_SIGMA, MAX_SIGMA)),
            float(np.clip(self.sy, MIN_SIGMA, MAX_SIGMA)),
            float(max(self.weight, 0.0)),
        )


def normalized_weights(components: list[Component]) -> np.ndarray:
    w = np.array([max(c.weight, 0.0) for c in components], dtype=np.float64)
    s = w.sum()
    return w / s if s > 0 else np.full(len(w), 1.0 / max(len(w), 1))


def _diag_log_prob(x: np.ndarray, means: np.ndarray, sig: np.ndarray, w: np.ndarray) -> np.ndarray:
    """log sum_k w_k N(x; mu_k, diag(sig_k^2)) for x (N, 2), in numpy float64."""
    d = (x[:, None, :] - means[None]) / sig[None]
    logn = -0.5 * (d * d).sum(-1) - np.log(sig).sum(-1)[None] - math.log(2 * math.pi)
    with np.errstate(divide="ignore"):
        logw = np.log(w)[None]
    a = logn + logw
    m = a.max(1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0]


def components_target(components: list[Component], name: str | None = None, entropy_samples: int = 20000) -> Target:
    """An exact GMM Target from editor components (weights normalised): exact score, density, samples, entropy.

    Like `playground.data.targets.gmm_file.gmm_target`, but with a cheaper Monte Carlo entropy (20k samples, standard error
    about 0.01 nats) so that live edits stay interactive.
    """
    comps = [c.clamped() for c in components]
    if not comps:
        raise DataError("a Gaussian mixture needs at least one component")
    if not all(math.isfinite(v) for c in comps for v in (c.x, c.y, c.sx, c.sy, c.weight)):
        raise DataError("a Gaussian component has a NaN or infinite value")
    w = normalized_weights(comps)
    means = np.array([[c.x, c.y] for c in comps], dtype=np.float64)
    sig = np.array([[c.sx, c.sy] for c in comps], dtype=np.float64)
    covs = np.stack([np.diag(s * s) for s in sig])
    gmm = GaussianMixture(w, means, covs)
    log_density = gmm_log_density(gmm)

    def sampler(n: int, rng: np.random.Generator) -> np.ndarray:
        k = rng.choice(len(w), size=n, p=w)
        return means[k] + sig[k] * rng.standard_normal((n, 2))

    if len(comps) == 1:
        entropy = float(1.0 + math.log(2 * math.pi) + np.log(sig[0]).sum())
    else:
        entropy = float(-log_density(sampler(entropy_samples, np.random.default_rng(0))).mean())
    params = {"kind": "gmm", "components": [dict(c.__dict__) for c in comps]}
    return Target(name or f"gaussians ({len(comps)})", sampler, gmm=gmm, log_density=log_density, entropy=entropy, params=params)


def components_from_gmm(gmm: GaussianMixture) -> list[Component] | None:
    """Editor components for a 2D GMM with diagonal covariances (None if it has correlated ones)."""
    if gmm.dim != 2:
        return None
    cov = gmm.covariances.numpy()
    if np.abs(cov[:, 0, 1]).max(initial=0.0) > 1e-9:
        return None
    out = []
    for wk, mu, c in zip(gmm.weights.tolist(), gmm.means.numpy(), cov):
        out.append(Component(float(mu[0]), float(mu[1]), math.sqrt(c[0, 0]), math.sqrt(c[1, 1]), float(wk)))
    return out


def density_grid(components: list[Component], n: int = 96, extent: float = EXTENT) -> np.ndarray:
    """The mixture density on an n x n grid over [-extent, extent]^2, rows from y = -extent up (row 0 = bottom)."""
    if not components:
        return np.zeros((n, n), np.float32)
    comps = [c.clamped() for c in components]
    w = normalized_weights(comps)
    means = np.array([[c.x, c.y] for c in comps])
    sig = np.array([[c.sx, c.sy] for c in comps])
    g = (np.arange(n) + 0.5) / n * 2 * extent - extent
    X, Y = np.meshgrid(g, g)
    lp = _diag_log_prob(np.stack([X.ravel(), Y.ravel()], 1), means, sig, w)
    return np.exp(lp).reshape(n, n).astype(np.float32)
