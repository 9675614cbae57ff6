"""Particles drawn as a density: one translucent image whose pixels are the particle histogram at about the view's
own pixel size, the particle colour's opacity growing with the count (the datashader idea: aggregate, then shade).

Every particle counts (a dot layer draws a subset: `DotCloud` keeps the first 10,000), and the cost is one
np.bincount over the particles plus one image of a fixed size, whatever their number: 1,000,000 particles histogram
in ~6 ms on one core, where a million 'pairs' segments would take seconds to paint.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from playground.app.geometry import Rect, histogram2d
from playground.app.widgets.fast_image import FastImageItem

MIN_BINS, MAX_BINS = 64, 512
FLOOR = 0.3  # the opacity of a pixel that holds one particle (so single outliers stay visible)


def shade(counts: np.ndarray) -> np.ndarray:
    """Opacity in [0, 1] per pixel: 0 where empty, FLOOR + (1 - FLOOR) sqrt(count / max count) elsewhere."""
    top = float(counts.max(initial=0.0))
    if top <= 0:
        return np.zeros(counts.shape, np.float32)
    a = np.sqrt(counts * np.float32(1.0 / top), dtype=np.float32)
    a *= np.float32(1 - FLOOR)
    a += np.float32(FLOOR)
    a[counts == 0] = 0.0
    return a


def alpha_ramp(color: tuple[int, int, int], n: int = 256) -> np.ndarray:
    """A (n, 4) uint8 lookup table: `color` at opacity 0 .. 255."""
    lut = np.empty((n, 4), np.uint8)
    lut[:, :3] = color
    lut[:, 3] = np.round(np.linspace(0, 255, n)).astype(np.uint8)
    return lut


class ParticleDensity:
    """All particles as one translucent histogram image over a rectangle (see the module docstring). `counts` is
    the last histogram, (bins, bins) row-major (y, x), the same as np.histogram2d(y, x) over the rectangle."""

    def __init__(self, plot: pg.PlotItem, color=(120, 230, 255), z: float = 5.0):
        self.plot = plot
        self.item = FastImageItem(axisOrder="row-major")
        self.item.setLookupTable(alpha_ramp(color))
        self.item.setZValue(z)
        plot.addItem(self.item)
        self.counts: np.ndarray | None = None
        self.rect: Rect = (-1.0, 1.0, -1.0, 1.0)

    def pixel_bins(self) -> int:
        """About one bin per screen pixel of the view's shorter side (MIN_BINS .. MAX_BINS)."""
        box = self.plot.getViewBox().boundingRect()
        return int(np.clip(min(box.width(), box.height()), MIN_BINS, MAX_BINS))

    def set_points(self, x: np.ndarray, rect: Rect, bins: int | None = None) -> np.ndarray:
        """Histogram the particles x (n, 2) over rect (NaN and outside ones dropped) and show it; returns counts."""
        bins = self.pixel_bins() if bins is None else int(bins)
        self.rect = tuple(float(v) for v in rect)
        self.counts = histogram2d(np.asarray(x), self.rect, bins)
        self.item.setImage(shade(self.counts), levels=(0.0, 1.0), autoLevels=False)
        x0, x1, y0, y1 = self.rect
        self.item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        return self.counts

    def clear(self) -> None:
        self.counts = None
        self.item.clear()

    def set_visible(self, on: bool) -> None:
        self.item.setVisible(on)


__all__ = ["ParticleDensity", "alpha_ramp", "shade"]
