"""The Target panel's pictures: a 2D target as a histogram image, cached preset thumbnails, an image dataset's grid."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage

from playground.data.targets.presets import make_preset

EXTENT = 4.0  # every 2D page shows [-EXTENT, EXTENT]^2: the drawing canvas, the Gaussian editor, the histograms

_THUMBS: dict[str, QImage] = {}  # preset name -> thumbnail (default noise); process-wide cache
_LUT: np.ndarray | None = None


def _lut() -> np.ndarray:
    global _LUT
    if _LUT is None:
        _LUT = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
    return _LUT


def density_image(values: np.ndarray) -> QImage:
    """A (H, W) array in [0, 1], row 0 at the top, as an RGB QImage through the inferno colour map."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    rgb = np.ascontiguousarray(_lut()[(v * 255).astype(np.uint8)])
    h, w = v.shape
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()  # own the pixels


def histogram_image(points: np.ndarray, bins: int = 64, extent: float | None = None) -> QImage:
    """A square 2D histogram of (N, 2) points (sqrt-scaled), +y up, over [-extent, extent]^2 (default: fit >= 4)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if extent is None:
        extent = EXTENT
        if len(pts):
            extent = max(EXTENT, 1.05 * float(np.percentile(np.abs(pts), 99.5)))
    h, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=bins, range=[[-extent, extent], [-extent, extent]])
    h = h[::-1]  # row 0 = top (+y)
    m = h.max(initial=0.0)
    return density_image(np.sqrt(h / m) if m > 0 else h)


def preset_thumbnail(name: str, size: int = 56) -> QImage:
    """A cached thumbnail of a preset at its default noise."""
    if name not in _THUMBS:
        pts = make_preset(name).sample(6000, 0)
        _THUMBS[name] = histogram_image(pts, bins=size, extent=EXTENT)
    return _THUMBS[name]


def grid_image(images: np.ndarray, columns: int = 4) -> QImage:
    """The first columns² images (N, C, H, W) in [0, 1] as one QImage grid (grayscale or RGB)."""
    from playground.core.io.image_grid import image_grid

    pic = np.ascontiguousarray(image_grid(np.asarray(images[: columns * columns]), columns))
    h, w = pic.shape[:2]
    if pic.ndim == 2:
        return QImage(pic.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(pic.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


__all__ = ["EXTENT", "density_image", "grid_image", "histogram_image", "preset_thumbnail"]
