"""Gaussian-mixture targets: from a JSON file, and the shared Target construction for any 2D GaussianMixture.

File format: {"weights": [...], "means": [[x, y], ...], "covariances": [[[a, b], [b, c]], ...]}.
"weights" may be left out, which means equal weights; given weights are normalised to sum to 1. Any other key is an
error, so that a misspelt "weights" is not silently read as equal weights.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.point_stream import FLOAT32_MAX
from playground.data.targets.target import DataError, Target, read_data_file

GMM_KEYS = ("weights", "means", "covariances")
ENTROPY_SAMPLES = 200_000
"""Monte Carlo samples for a mixture's entropy (standard error about 0.002 nats); seed 0, as GaussianMixture.entropy."""


def gmm_log_density(gmm: GaussianMixture) -> Callable[[np.ndarray], np.ndarray]:
    """Exact log p0 of a 2D mixture as a numpy function (N, 2) -> (N,), evaluated in chunks of bounded memory."""
    weights = gmm.weights.numpy()
    means = gmm.means.numpy().astype(np.float64)
    precisions = np.linalg.inv(gmm.covariances.numpy().astype(np.float64))
    p_xx, p_xy, p_yy = precisions[:, 0, 0], precisions[:, 0, 1] + precisions[:, 1, 0], precisions[:, 1, 1]
    with np.errstate(divide="ignore"):
        log_norms = np.log(weights) - 0.5 * (np.linalg.slogdet(gmm.covariances.numpy())[1] + 2 * math.log(2 * math.pi))
    chunk = max(1, 2**20 // len(weights))

    def log_density(points: np.ndarray) -> np.ndarray:
        x = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.empty(len(x))
        for start in range(0, len(x), chunk):
            dx = x[start : start + chunk, 0, None] - means[None, :, 0]
            dy = x[start : start + chunk, 1, None] - means[None, :, 1]
            # the 2x2 quadratic form written out: several times faster than a batched einsum over (n, k, 2, 2)
            logits = log_norms - 0.5 * (p_xx * dx * dx + p_xy * dx * dy + p_yy * dy * dy)
            top = logits.max(axis=1, keepdims=True)
            out[start : start + chunk] = (top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True)))[:, 0]
        return out

    return log_density


@lru_cache(maxsize=64)
def _mixture_entropy(weights: bytes, means: bytes, covariances: bytes) -> float:
    """Monte Carlo entropy of a mixture given as float64 bytes (memoised: presets and undo/redo rebuild the same
    mixtures, and each estimate costs ENTROPY_SAMPLES log-densities on the UI thread)."""
    k = len(weights) // 8
    gmm = GaussianMixture(torch.from_numpy(np.frombuffer(weights, np.float64).copy()),
                          torch.from_numpy(np.frombuffer(means, np.float64).reshape(k, 2).copy()),
                          torch.from_numpy(np.frombuffer(covariances, np.float64).reshape(k, 2, 2).copy()))
    samples = gmm.sample(ENTROPY_SAMPLES, torch.Generator().manual_seed(0)).numpy()
    return -float(gmm_log_density(gmm)(samples).mean())


def mixture_entropy(gmm: GaussianMixture) -> float:
    """The entropy of a 2D mixture in nats: closed form for one component, else Monte Carlo (seed 0, memoised)."""
    if gmm.n_components == 1:
        return gmm.entropy()
    arrays = [t.detach().to(torch.float64).contiguous().numpy().tobytes()
              for t in (gmm.weights, gmm.means, gmm.covariances)]
    return _mixture_entropy(*arrays)


def gmm_target(name: str, gmm: GaussianMixture, params: dict) -> Target:
    """A Target that samples the mixture exactly and carries its GMM, log-density and entropy."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        return gmm.sample(n, generator).numpy()

    return Target(name, sample, gmm=gmm, log_density=gmm_log_density(gmm), entropy=mixture_entropy(gmm),
                  params=params)


def load_gmm_json(path: str | Path) -> Target:
    """A 2D Gaussian mixture from a JSON file (format in the module docstring)."""
    text = read_data_file(path)
    try:
        spec = json.loads(text.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from e
    except (ValueError, RecursionError) as e:
        raise DataError(f"{path}: malformed JSON ({e})") from e
    if not isinstance(spec, dict):
        raise DataError(f"{path}: expected a JSON object with keys {', '.join(GMM_KEYS)}; got a {type(spec).__name__}")
    missing = [key for key in ("means", "covariances") if key not in spec]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(missing)}; a GMM file needs means and covariances")
    unknown = sorted(set(spec) - set(GMM_KEYS))
    if unknown:
        raise DataError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(GMM_KEYS)}")

    means = _numeric_array(path, spec, "means")
    covariances = _numeric_array(path, spec, "covariances")
    if means.ndim != 2 or means.shape[1] != 2 or len(means) == 0:
        raise DataError(f"{path}: 'means' must be a non-empty list of [x, y] pairs; got shape {means.shape}")
    weights = _numeric_array(path, spec, "weights") if "weights" in spec else np.ones(len(means))
    if covariances.ndim != 3 or covariances.shape[1:] != (2, 2):
        raise DataError(f"{path}: 'covariances' must be a list of 2x2 matrices; got shape {covariances.shape}")
    if weights.ndim != 1:
        raise DataError(f"{path}: 'weights' must be a list of numbers; got shape {weights.shape}")
    if not len(weights) == len(means) == len(covariances):
        raise DataError(
            f"{path}: shape mismatch: {len(weights)} weights, {len(means)} means, {len(covariances)} covariances"
        )
    _check_weights(path, weights)
    _check_covariances(path, covariances)
    try:
        gmm = GaussianMixture(weights, means, covariances)
    except ValueError as e:
        raise DataError(f"{path}: {e}") from e
    return gmm_target(Path(path).name, gmm, {"name": Path(path).name, "path": str(path)})


def _numeric_array(path: str | Path, spec: dict, key: str) -> np.ndarray:
    """spec[key] as a finite float64 array; DataError naming the key otherwise."""
    try:
        values = np.asarray(spec[key], dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise DataError(f"{path}: '{key}' must hold only numbers, in nested lists of equal length") from e
    if not np.isfinite(values).all():
        raise DataError(f"{path}: '{key}' contains NaN, infinity or null")
    if (np.abs(values) > FLOAT32_MAX).any():
        raise DataError(f"{path}: '{key}' has a value beyond {FLOAT32_MAX:.3g}; Target samples are float32")
    return values


def _check_weights(path: str | Path, weights: np.ndarray) -> None:
    """Weights are non-negative with a positive sum."""
    negative = np.flatnonzero(weights < 0)
    if len(negative):
        k = negative[0]
        raise DataError(f"{path}: negative weight {weights[k]:g} (component {k}); weights must be >= 0")
    if weights.sum() <= 0:
        raise DataError(f"{path}: the weights sum to zero")


def _check_covariances(path: str | Path, covariances: np.ndarray) -> None:
    """Each covariance is symmetric and positive definite (the tolerances GaussianMixture uses)."""
    for k, cov in enumerate(covariances):
        if not np.allclose(cov, cov.T, rtol=1e-5, atol=1e-9):
            raise DataError(f"{path}: covariance {k} {cov.tolist()} is not symmetric")
        if np.linalg.eigvalsh(cov).min() <= 0:
            raise DataError(f"{path}: covariance {k} {cov.tolist()} is not positive definite")
