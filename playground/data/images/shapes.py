"""Procedural shapes drawn with numpy (circle, square, triangle, cross, ring), antialiased, labelled by shape: white
on black, or (`colour`) a saturated colour on a dark coloured background, for RGB training without downloads."""

from __future__ import annotations

import numpy as np

from playground.data.images.dataset import ImageDataset, check_size
from playground.data.targets.target import DataError

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring")
SHAPE_SIZES = (8, 16, 28, 32)


def make_shapes(
    size: int = 16, n: int = 4000, seed: int = 0, classes: tuple[str, ...] = SHAPE_CLASSES, supersample: int = 4,
    colour: bool = False,
) -> ImageDataset:
    """White shapes on black with random centre, size and brightness, labelled by shape; balanced classes.

    Drawn on a `supersample`-times finer grid and box-averaged, so edges are antialiased even at 8x8. colour: RGB
    images (N, 3, H, W), each shape in a random saturated hue over a dark background of another random hue (the
    grey images' coverage blends the two), drawn after the grey set from the same seed.
    """
    size = check_size(size)
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown or not classes:
        raise DataError(f"unknown shape classes {unknown}; choose from {SHAPE_CLASSES}")
    if n < 1:
        raise DataError(f"shapes: need n >= 1 images, got {n}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes))
    # half-extent r in pixels, the shape kept at least half a pixel inside the border
    r = rng.uniform(0.25, 0.42, n) * size
    lo, hi = r + 0.5, np.maximum(size - r - 0.5, r + 0.5)
    cx = rng.uniform(lo, hi)
    cy = rng.uniform(lo, hi)
    level = rng.uniform(0.75, 1.0, n)
    ss = supersample
    coords = (np.arange(size * ss) + 0.5) / ss
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for s in range(0, n, 256):
        sl = slice(s, min(n, s + 256))
        u = coords[None, None, :] - cx[sl, None, None]  # horizontal offset
        v = coords[None, :, None] - cy[sl, None, None]  # vertical offset (down is positive)
        rr = r[sl, None, None]
        inside = np.zeros((sl.stop - sl.start, size * ss, size * ss), dtype=bool)
        lab = labels[sl]
        for k, name in enumerate(classes):
            m = lab == k
            if not m.any():
                continue
            inside[m] = _shape_mask(name, u[m], v[m], rr[m])
        img = inside.reshape(-1, size, ss, size, ss).mean(axis=(2, 4))
        images[sl, 0] = img * level[sl, None, None]
    info = {"seed": seed, "n": n, "size": size}
    if colour:
        fg = hsv_to_rgb(rng.random(n), rng.uniform(0.6, 1.0, n), level)
        bg = hsv_to_rgb(rng.random(n), rng.uniform(0.3, 0.9, n), rng.uniform(0.0, 0.3, n))
        cover = images / level[:, None, None, None]
        images = (bg[:, :, None, None] * (1 - cover) + fg[:, :, None, None] * cover).astype(np.float32)
        info["colour"] = True
    name = f"shapes{size}" + ("-rgb" if colour else "")
    return ImageDataset(images, labels.astype(np.int64), tuple(classes), name, info)


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N, 3) RGB in [0, 1] from hue, saturation and value arrays (N,) in [0, 1] (the standard hexcone model)."""
    k = (np.array([5.0, 3.0, 1.0])[None, :] + 6.0 * h[:, None]) % 6.0
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _shape_mask(name: str, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    d2 = u * u + v * v
    if name == "circle":
        return np.broadcast_to(d2 <= r * r, np.broadcast_shapes(u.shape, v.shape))
    if name == "ring":
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if name == "square":
        h = 0.85 * r
        return (np.abs(u) <= h) & (np.abs(v) <= h)
    if name == "triangle":  # apex up, base at the bottom, base half-width r
        return (v <= r) & (np.abs(u) <= (v + r) / 2)
    if name == "cross":  # a plus sign, arm half-width about a third of r (at least half a pixel)
        w = np.maximum(0.32 * r, 0.5)
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    raise DataError(f"unknown shape {name!r}")
