"""An ImageItem that turns a scalar image into a 32-bit RGB QImage through its colour map in one numpy lookup.

pyqtgraph renders a scalar image with a lookup table as an Indexed8 QImage: it builds the 256-entry colour table with
one Python call per entry on every render (~0.5 ms), and QPainter converts Indexed8 again on every scaled paint
(~2 ms for 256^2 at 800 x 800, measured offscreen; RGB32 draws in ~0.25 ms). This item maps levels -> colour with one
`lut32[index]` gather into a buffer it keeps, and hands QPainter an RGB32 image. Anything else (RGB(A) data, NaNs,
a callable lookup table, no levels) goes through pyqtgraph's own render.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage


def rgb32_table(lut: np.ndarray) -> tuple[np.ndarray, QImage.Format]:
    """A (n, 3|4) uint8 colour table as n 32-bit words and their QImage format: opaque 0xFFRRGGBB (RGB32), or
    premultiplied ARGB when some entry is translucent (ARGB32_Premultiplied, what QPainter blends fastest)."""
    lut = np.asarray(lut, np.uint32)
    a = lut[:, 3] if lut.shape[1] > 3 else np.full(len(lut), 255, np.uint32)
    rgb = lut[:, :3] if (a == 255).all() else lut[:, :3] * a[:, None] // 255
    words = (a << 24) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    fmt = QImage.Format.Format_RGB32 if (a == 255).all() else QImage.Format.Format_ARGB32_Premultiplied
    return words.astype(np.uint32), fmt


def level_indices(image: np.ndarray, levels: tuple[float, float], n: int) -> np.ndarray:
    """Indices 0..n-1 of a scalar image into an n-entry table: levels[0] -> 0, levels[1] -> n - 1 (clipped)."""
    lo, hi = float(levels[0]), float(levels[1])
    if image.dtype == np.uint8 and n == 256 and (lo, hi) == (0.0, 255.0):
        return image
    scale = (n - 1) / (hi - lo) if hi > lo else 0.0
    idx = (np.asarray(image, np.float32) - np.float32(lo)) * np.float32(scale)
    np.clip(idx, 0, n - 1, out=idx)
    idx += np.float32(0.5)  # round to the nearest entry
    return idx.astype(np.intp)


class FastImageItem(pg.ImageItem):
    """pg.ImageItem whose scalar images with fixed levels and a colour map render straight to RGB32 (premultiplied
    ARGB32 for a translucent table; see the module docstring); `render_count` counts the renders (each setImage or colour change makes one, at the next paint)."""

    def __init__(self, *args, **kwargs):
        self._table_key: tuple | None = None
        self._table: tuple[np.ndarray, QImage.Format] | None = None
        self._pixels: np.ndarray | None = None  # the RGB32 buffer the QImage points into
        self.render_count = 0
        super().__init__(*args, **kwargs)

    def _rgb32(self) -> tuple[np.ndarray, QImage.Format] | None:
        lut = self.lut
        if not isinstance(lut, np.ndarray) or lut.dtype != np.uint8 or lut.ndim != 2 or lut.shape[1] < 3:
            return None
        key = (id(lut), lut.shape, lut[:: max(1, len(lut) // 8)].tobytes())
        if key != self._table_key:
            self._table_key, self._table = key, rgb32_table(lut)
        return self._table

    def render(self) -> None:
        self.render_count += 1
        img, levels = self.image, self.levels
        table = self._rgb32() if img is not None and img.ndim == 2 and img.size else None
        if (table is None or levels is None or np.ndim(levels) != 1 or self.autoDownsample
                or (img.dtype.kind == "f" and np.isnan(img.min()))):  # NaNs: pyqtgraph draws them transparent
            super().render()
            return
        if self.axisOrder == "col-major":
            img = img.T
        h, w = img.shape
        if self._pixels is None or self._pixels.shape != (h, w):
            self._pixels = np.empty((h, w), np.uint32)
        words, fmt = table
        np.take(words, level_indices(img, levels, len(words)), out=self._pixels)
        self.qimage = QImage(self._pixels.data, w, h, 4 * w, fmt)
        self._renderRequired = False
        self._unrenderable = False


__all__ = ["FastImageItem", "level_indices", "rgb32_table"]
