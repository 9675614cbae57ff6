"""Qt-free brush / eraser logic for the Target panel's Draw mode.

A `DrawingModel` is a square float32 raster in [0, 1] over the world square [-extent, extent]^2. Row 0 is the
TOP of the canvas (y = +extent), column 0 its left edge (x = -extent): the raster is an image as the user sees it.

A stroke is painted with a soft round brush along the interpolated polyline of the pointer positions. Within one
stroke, coverage is the maximum of the brush profile over the stroke (so the result does not depend on how fast the
pointer moved or how many events arrived); across strokes paint builds up:

    paint:  canvas = base + strength * coverage * (1 - base)
    erase:  canvas = base * (1 - strength * coverage)

where `base` is the canvas when the stroke began. Strokes report the changed rectangle so undo can store a diff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_SIZE = 128
DEFAULT_EXTENT = 4.0


@dataclass(frozen=True)
class RasterDiff:
    """The pixels one edit changed: rows r0:r1, columns c0:c1, before and after (float32 copies)."""

    r0: int
    r1: int
    c0: int
    c1: int
    before: np.ndarray
    after: np.ndarray

    @property
    def empty(self) -> bool:
        return self.r1 <= self.r0 or self.c1 <= self.c0

    def apply(self, canvas: np.ndarray, forward: bool = True) -> None:
        if not self.empty:
            canvas[self.r0 : self.r1, self.c0 : self.c1] = self.after if forward else self.before


def brush_profile(dist: np.ndarray, radius: float, hardness: float = 0.5) -> np.ndarray:
    """Soft round brush: 1 inside hardness * radius, a smoothstep falloff to 0 at radius, 0 beyond."""
    radius = max(float(radius), 1e-6)
    inner = float(np.clip(hardness, 0.0, 0.99)) * radius
    u = np.clip((radius - dist) / (radius - inner), 0.0, 1.0)
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


def segment_distance(px: np.ndarray, py: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """Distance of points (px, py) to the segment a-b (a point when a == b)."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    if len2 <= 1e-12:
        return np.hypot(px - ax, py - ay)
    s = np.clip(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0)
    return np.hypot(px - (ax + s * dx), py - (ay + s * dy))


class DrawingModel:
    """A square paint canvas over [-extent, extent]^2 with soft brush strokes, eraser and clear.

    Brush `size` is the brush RADIUS in world units; `strength` in (0, 1] is how much one stroke paints (or erases).
    """

    def __init__(self, size: int = DEFAULT_SIZE, extent: float = DEFAULT_EXTENT):
        if size < 4:
            raise ValueError("canvas size must be at least 4 pixels")
        self.extent = float(extent)
        self.canvas = np.zeros((int(size), int(size)), dtype=np.float32)
        self._base: np.ndarray | None = None
        self._coverage: np.ndarray | None = None
        self._last: tuple[float, float] | None = None
        self._stroke_params = (0.3, 1.0, False, 0.5)
        self._bbox: list[int] | None = None

    # ---- geometry -------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.canvas.shape  # type: ignore[return-value]

    @property
    def pixel_size(self) -> float:
        return 2.0 * self.extent / self.canvas.shape[1]

    def world_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """World (x, y) -> continuous (col, row); pixel (i, j) covers [j, j+1) x [i, i+1). Row 0 is the top."""
        h, w = self.canvas.shape
        col = (x + self.extent) / (2 * self.extent) * w
        row = (self.extent - y) / (2 * self.extent) * h
        return col, row

    def pixel_to_world(self, col: float, row: float) -> tuple[float, float]:
        h, w = self.canvas.shape
        x = col / w * 2 * self.extent - self.extent
        y = self.extent - row / h * 2 * self.extent
        return x, y

    def pixel_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """World coordinates of the pixel centres, as (X, Y) arrays of the canvas shape."""
        h, w = self.canvas.shape
        xs = (np.arange(w) + 0.5) / w * 2 * self.extent - self.extent
        ys = self.extent - (np.arange(h) + 0.5) / h * 2 * self.extent
        return np.meshgrid(xs, ys)

    # ---- state ----------------------------------------------------------------------------------------------
    def is_empty(self, eps: float = 1e-6) -> bool:
        return float(self.canvas.max(initial=0.0)) <= eps

    def raster(self) -> np.ndarray:
        """A copy of the canvas (H, W), row 0 = top (+y)."""
        return self.canvas.copy()

    def set_raster(self, raster: np.ndarray) -> RasterDiff:
        """Replace the canvas with `raster` (any size; resampled, scaled so its maximum is 1). Returns the diff."""
        a = np.asarray(raster, dtype=np.float64)
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"a raster must be a non-empty 2D array, got shape {a.shape}")
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
        if a.shape != self.canvas.shape:
            a = resample(a, self.canvas.shape)
        m = a.max(initial=0.0)
        new = (a / m if m > 0 else a).astype(np.float32)
        return self._replace(new)

    def clear(self) -> RasterDiff:
        """Erase everything. Returns the diff (empty if the canvas was already blank)."""
        return self._replace(np.zeros_like(self.canvas))

    def _replace(self, new: np.ndarray) -> RasterDiff:
        changed = np.argwhere(new != self.canvas)
        if len(changed) == 0:
            z = np.zeros((0, 0), np.float32)
            return RasterDiff(0, 0, 0, 0, z, z)
        (r0, c0), (r1, c1) = changed.min(0), changed.max(0) + 1
        before = self.canvas[r0:r1, c0:c1].copy()
        self.canvas[...] = new
        return RasterDiff(int(r0), int(r1), int(c0), int(c1), before, new[r0:r1, c0:c1].copy())

    def apply_diff(self, diff: RasterDiff, forward: bool = True) -> None:
        """Redo (forward) or undo a diff returned by a stroke, set_raster or clear."""
        diff.apply(self.canvas, forward)

    # ---- strokes --------------------------------------------------------------------------------------------
    @property
    def in_stroke(self) -> bool:
        return self._base is not None

    def begin_stroke(
        self, x: float, y: float, size: float = 0.3, strength: float = 1.0, erase: bool = False, hardness: float = 0.5
    ) -> None:
        """Start a stroke at world (x, y) and stamp the brush there."""
        if self.in_stroke:
            self.end_stroke()
        self._base = self.canvas.copy()
        self._coverage = np.zeros_like(self.canvas)
        self._stroke_params = (max(float(size), 1e-3), float(np.clip(strength, 0.0, 1.0)), bool(erase), hardness)
        self._bbox = None
        self._last = (float(x), float(y))
        self._paint_segment(self._last, self._last)

    def stroke_to(self, x: float, y: float) -> None:
        """Continue the current stroke with a straight segment to world (x, y)."""
        if not self.in_stroke:
            self.begin_stroke(x, y)
            return
        p = (float(x), float(y))
        self._paint_segment(self._last, p)  # type: ignore[arg-type]
        self._last = p

    def end_stroke(self) -> RasterDiff:
        """Finish the stroke; returns what it changed (an empty diff if it changed nothing)."""
        if not self.in_stroke:
            z = np.zeros((0, 0), np.float32)
            return RasterDiff(0, 0, 0, 0, z, z)
        base, bbox = self._base, self._bbox
        self._base = self._coverage = self._last = self._bbox = None
        if bbox is None:
            z = np.zeros((0, 0), np.float32)
            return RasterDiff(0, 0, 0, 0, z, z)
        r0, r1, c0, c1 = bbox
        before = base[r0:r1, c0:c1].copy()  # type: ignore[index]
        after = self.canvas[r0:r1, c0:c1].copy()
        if np.array_equal(before, after):
            z = np.zeros((0, 0), np.float32)
            return RasterDiff(0, 0, 0, 0, z, z)
        return RasterDiff(r0, r1, c0, c1, before, after)

    def cancel_stroke(self) -> None:
        """Abandon the current stroke, restoring the canvas as it was when the stroke began."""
        if self.in_stroke:
            self.canvas[...] = self._base
            self._base = self._coverage = self._last = self._bbox = None

    def paint_stroke(
        self, points, size: float = 0.3, strength: float = 1.0, erase: bool = False, hardness: float = 0.5
    ) -> RasterDiff:
        """A whole stroke through world points [(x, y), ...] in one call."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            z = np.zeros((0, 0), np.float32)
            return RasterDiff(0, 0, 0, 0, z, z)
        self.begin_stroke(pts[0, 0], pts[0, 1], size, strength, erase, hardness)
        for x, y in pts[1:]:
            self.stroke_to(x, y)
        return self.end_stroke()

    def _paint_segment(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        size, strength, erase, hardness = self._stroke_params
        h, w = self.canvas.shape
        # pixel window around the segment's bounding box, padded by the radius
        ca, ra = self.world_to_pixel(*a)
        cb, rb = self.world_to_pixel(*b)
        rad_px = size / self.pixel_size
        c0 = int(np.clip(np.floor(min(ca, cb) - rad_px) - 1, 0, w))
        c1 = int(np.clip(np.ceil(max(ca, cb) + rad_px) + 1, 0, w))
        r0 = int(np.clip(np.floor(min(ra, rb) - rad_px) - 1, 0, h))
        r1 = int(np.clip(np.ceil(max(ra, rb) + rad_px) + 1, 0, h))
        if c1 <= c0 or r1 <= r0:
            return
        cols = np.arange(c0, c1) + 0.5
        rows = np.arange(r0, r1) + 0.5
        cc, rr = np.meshgrid(cols, rows)
        # distances in pixel units (the canvas is square in world units, pixels are square)
        d = segment_distance(cc, rr, (ca, ra), (cb, rb))
        prof = brush_profile(d, rad_px, hardness)
        if not prof.any():
            return
        cov = self._coverage[r0:r1, c0:c1]  # type: ignore[index]
        np.maximum(cov, prof, out=cov)
        base = self._base[r0:r1, c0:c1]  # type: ignore[index]
        if erase:
            self.canvas[r0:r1, c0:c1] = base * (1.0 - strength * cov)
        else:
            self.canvas[r0:r1, c0:c1] = base + strength * cov * (1.0 - base)
        if self._bbox is None:
            self._bbox = [r0, r1, c0, c1]
        else:
            bb = self._bbox
            self._bbox = [min(bb[0], r0), max(bb[1], r1), min(bb[2], c0), max(bb[3], c1)]


def resample(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-average / bilinear resampling of a 2D array to `shape` (no Qt, no scipy)."""
    h, w = a.shape
    H, W = shape
    # bilinear at the target pixel centres; pre-average by integer blocks when shrinking a lot (anti-aliasing)
    fy, fx = max(1, h // H), max(1, w // W)
    if fy > 1 or fx > 1:
        hh, ww = (h // fy) * fy, (w // fx) * fx
        a = a[:hh, :ww].reshape(hh // fy, fy, ww // fx, fx).mean(axis=(1, 3))
        h, w = a.shape
    ys = np.clip((np.arange(H) + 0.5) * h / H - 0.5, 0, h - 1)
    xs = np.clip((np.arange(W) + 0.5) * w / W - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    wy = (ys - y0)[:, None]
    wx = (xs - x0)[None, :]
    top = a[y0][:, x0] * (1 - wx) + a[y0][:, x1] * wx
    bot = a[y1][:, x0] * (1 - wx) + a[y1][:, x1] * wx
    return top * (1 - wy) + bot * wy
