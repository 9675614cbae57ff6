"""View geometry and particle histograms for the 2D views, Qt-free (numpy only): data rectangles, grid centres,
histograms and smoothing, shared by the panels, their workers and the time bar."""

from __future__ import annotations

import numpy as np

Rect = tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax) in data space


def sample_bounds(x: np.ndarray, margin: float = 0.15) -> Rect | None:
    """Padded (xmin, xmax, ymin, ymax) of the finite rows of a point set (0.5 / 99.5 percentiles), or None."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2) if np.size(x) else np.zeros((0, 2))
    x = x[np.isfinite(x).all(1)]
    if len(x) == 0:
        return None
    if len(x) > 20000:
        x = x[:: len(x) // 20000 + 1]
    lo, hi = np.percentile(x, 0.5, axis=0), np.percentile(x, 99.5, axis=0)
    pad = margin * float(max(hi - lo)) + 1e-3
    return float(lo[0] - pad), float(hi[0] + pad), float(lo[1] - pad), float(hi[1] + pad)


def robust_rect(points: list[np.ndarray], margin: float = 0.1) -> Rect | None:
    """The square box of the 0.5 / 99.5 % quantiles of all `points` (each (..., 2); None entries skipped), padded by
    `margin` of its size; None when there are no points. The views fit their axes with it ('Fit')."""
    arrays = [np.asarray(p, np.float64).reshape(-1, 2) for p in points if p is not None and np.size(p)]
    if not arrays:
        return None
    r = sample_bounds(np.concatenate(arrays), margin=margin)
    return square_rect(r) if r is not None else None


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def square_rect(r: Rect) -> Rect:
    """The smallest square containing r with the same centre (aspect-locked views waste no space on one axis)."""
    cx, cy = (r[0] + r[1]) / 2, (r[2] + r[3]) / 2
    h = max(r[1] - r[0], r[3] - r[2]) / 2
    return cx - h, cx + h, cy - h, cy + h


def prior_rect(normalization, sde, n_std: float = 3.0) -> Rect:
    """Data-space box of +- n_std prior standard deviations around the normalisation mean."""
    mx, my = normalization.mean[0], normalization.mean[1]
    h = n_std * normalization.scale * float(sde.prior_std)
    return mx - h, mx + h, my - h, my + h


class SdeCache:
    """state.sde() memoised on (settings, target sample, normalisation): VE's suggested sigma_max costs a 2000 x 2000
    cdist per call, too much for every redraw."""

    def __init__(self):
        self._key = None
        self._sde = None

    def get(self, state):
        key = (state.settings, id(state.target_samples), state.normalization)
        if self._key != key or self._sde is None:
            self._sde = state.sde()
            self._key = key
        return self._sde


def has_exact_score(state) -> bool:
    """Whether state.exact_score_fn() would return a score (without building it): every non-empty 2D target has
    one (a Gaussian mixture's closed form, else the ideal denoiser of its point set or of fixed samples)."""
    return len(state.target_samples) > 0


def grid_centres(rect: Rect, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell centres of an n x n grid over rect: xs (n,), ys (n,), and points (n*n, 2) in row-major (y, x) order."""
    x0, x1, y0, y1 = rect
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], 1)


def histogram2d(x: np.ndarray, rect: Rect, bins: int) -> np.ndarray:
    """Counts (bins, bins) in row-major (y, x) order over rect via one np.bincount; NaN / outside rows dropped."""
    x0, x1, y0, y1 = rect
    if len(x) == 0:
        return np.zeros((bins, bins), np.float32)
    fx = (x[:, 0] - x0) * (bins / (x1 - x0))
    fy = (x[:, 1] - y0) * (bins / (y1 - y0))
    ok = (fx >= 0) & (fx < bins) & (fy >= 0) & (fy < bins)  # False for NaN too
    if not ok.all():
        fx, fy = fx[ok], fy[ok]
    idx = fy.astype(np.intp) * bins + fx.astype(np.intp)
    return np.bincount(idx, minlength=bins * bins).reshape(bins, bins).astype(np.float32)


def hist_bins(n: int) -> int:
    """Histogram resolution for n points: ~sqrt(n) bins a side, 64 to 256 (100k points: 256)."""
    return int(np.clip(np.sqrt(max(n, 1)), 64, 256))


def smooth121(a: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur (edges clamped): takes the shot noise off a particle histogram, ~1 ms at 256^2."""
    a = np.asarray(a, np.float32)
    p = np.pad(a, 1, mode="edge")
    r = p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]
    return (r[:-2] + 2 * r[1:-1] + r[2:]) * np.float32(1 / 16)
