"""A scalar map as a colour picture: viridis-coloured PNG of a (G, G) array whose row 0 is the lowest y."""

from __future__ import annotations

import numpy as np

VIRIDIS = np.array(
    [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141), (39, 173, 129), (92, 200, 99),
     (170, 220, 50), (253, 231, 37)], dtype=np.float64,
)  # fmt: skip
"""Viridis (van der Walt & Smith 2015) at 9 evenly spaced stops, interpolated linearly between them."""


def colorize(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 viridis; below vmin (and NaN, -inf) the lowest colour, above vmax the top."""
    v = np.asarray(values, dtype=np.float64)
    u = np.clip(np.nan_to_num((v - vmin) / max(vmax - vmin, 1e-300), nan=0.0, neginf=0.0, posinf=1.0), 0, 1)
    pos = u * (len(VIRIDIS) - 1)
    lo = np.minimum(pos.astype(int), len(VIRIDIS) - 2)
    frac = (pos - lo)[..., None]
    return np.round(VIRIDIS[lo] * (1 - frac) + VIRIDIS[lo + 1] * frac).astype(np.uint8)


def save_heatmap_png(path, values: np.ndarray, vmin: float, vmax: float, zoom: int = 1) -> None:
    """Write (G, G) values (row 0 = lowest y) as a PNG with y up, each cell zoom x zoom pixels."""
    from PIL import Image

    from playground.core.io.atomic import atomic_open

    img = Image.fromarray(colorize(np.asarray(values)[::-1], vmin, vmax))
    if zoom > 1:
        img = img.resize((img.width * zoom, img.height * zoom), Image.NEAREST)
    with atomic_open(path, "wb") as f:
        img.save(f, format="PNG")
