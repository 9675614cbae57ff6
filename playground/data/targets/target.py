"""A 2D target distribution: a seeded sampler plus whatever exact knowledge it has (GMM, density, entropy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from playground.data.targets.gaussian_mixture import GaussianMixture


class DataError(ValueError):
    """A target or dataset could not be loaded; the message names the file and the problem."""


def read_data_file(path: str | Path) -> bytes:
    """The bytes of a data file; DataError if it is missing, not a regular file, unreadable or empty."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except IsADirectoryError as e:
        raise DataError(f"{path}: is a directory, not a file") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from e
    if not data:
        raise DataError(f"{path}: file is empty")
    return data


@dataclass
class Target:
    """What the app and CLI train on and compare with.

    sampler(n, rng) -> (n, 2) float64 array. Exact knowledge, when there is any:
    gmm (exact score at every t), points (a finite set: exact empirical score), log_density (log p0),
    entropy (nats, the lowest NLL a model can reach), cells (a piecewise-constant density: cell probabilities
    (H, W), row 0 the top, over the rectangle (xmin, xmax, ymin, ymax); its diffused density is known in closed form).
    """

    name: str
    sampler: Callable[[int, np.random.Generator], np.ndarray]
    gmm: GaussianMixture | None = None
    points: np.ndarray | None = None
    log_density: Callable[[np.ndarray], np.ndarray] | None = None
    entropy: float | None = None
    params: dict = field(default_factory=dict)
    cells: tuple[np.ndarray, tuple[float, float, float, float]] | None = None

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n samples as float32 (n, 2), reproducible for a seed."""
        return np.asarray(self.sampler(int(n), np.random.default_rng(seed)), dtype=np.float32)

    @property
    def has_exact_score(self) -> bool:
        return self.gmm is not None or self.points is not None or self.cells is not None

    def bounds(self, n: int = 20000, margin: float = 0.15) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of a sample, padded: a sensible view rectangle."""
        x = self.points if self.points is not None else self.sample(n, 0)
        lo, hi = np.percentile(x, 0.5, axis=0), np.percentile(x, 99.5, axis=0)
        pad = margin * float(max(hi - lo)) + 1e-6
        return float(lo[0] - pad), float(hi[0] + pad), float(lo[1] - pad), float(hi[1] + pad)
