"""The inpainting mask as a (H, W) bool array, True = "generate this pixel" (Qt-free: brush, strokes, presets).

The inpainting core (`playground.core.sampling.inpainting`) takes the opposite, `known` = 1 where a value is kept; the
panel passes `~mask`. A brush of size s covers an s x s square of pixels, rows r - (s - 1) // 2 .. r + s // 2 (and
the same for columns), clipped to the image; a stroke stamps the brush on every pixel of the straight lines between
successive mouse positions, so a fast drag leaves no gaps.
"""

from __future__ import annotations

import numpy as np

PRESETS: dict[str, str] = {
    "left": "Left half",
    "right": "Right half",
    "top": "Top half",
    "bottom": "Bottom half",
    "centre": "Centre square",
    "random": "Random pixels 50%",
}

Cell = tuple[int, int]  # (row, column)


def stamp(mask: np.ndarray, cell: Cell, size: int, value: bool) -> None:
    """Set the size x size brush square at cell (row, column) to value, in place (clipped to the mask)."""
    h, w = mask.shape
    r, c = cell
    size = max(1, int(size))
    r0, c0 = r - (size - 1) // 2, c - (size - 1) // 2
    rows = slice(max(0, r0), max(0, min(h, r0 + size)))
    cols = slice(max(0, c0), max(0, min(w, c0 + size)))
    mask[rows, cols] = value


def line_cells(start: Cell, end: Cell) -> list[Cell]:
    """The cells of the straight line from start to end, both included (Bresenham's algorithm)."""
    (r0, c0), (r1, c1) = start, end
    dr, dc = abs(r1 - r0), -abs(c1 - c0)
    sr, sc = (1 if r1 >= r0 else -1), (1 if c1 >= c0 else -1)
    err = dr + dc
    cells = []
    r, c = r0, c0
    while True:
        cells.append((r, c))
        if (r, c) == (r1, c1):
            return cells
        e2 = 2 * err
        if e2 >= dc:
            err += dc
            r += sr
        if e2 <= dr:
            err += dr
            c += sc


def stamp_line(mask: np.ndarray, start: Cell, end: Cell, size: int, value: bool) -> None:
    """Stamp the brush on every cell of the line from start to end, in place."""
    for cell in line_cells(start, end):
        stamp(mask, cell, size, value)


def preset_mask(name: str, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """The preset `name` (a key of PRESETS) as a new (H, W) bool mask; 'random' draws each pixel with p = 1/2."""
    h, w = shape
    mask = np.zeros((h, w), bool)
    if name == "left":
        mask[:, : w // 2] = True
    elif name == "right":
        mask[:, w // 2:] = True
    elif name == "top":
        mask[: h // 2] = True
    elif name == "bottom":
        mask[h // 2:] = True
    elif name == "centre":
        mask[h // 4: h - h // 4, w // 4: w - w // 4] = True
    elif name == "random":
        mask[:] = np.random.default_rng(seed).random((h, w)) < 0.5
    else:
        raise ValueError(f"unknown mask preset {name!r}; choose one of {sorted(PRESETS)}")
    return mask


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The mask resampled nearest-neighbour to shape (H, W) (a new array), so a painted mask survives a dataset of
    another image size."""
    h, w = shape
    rows = np.arange(h) * mask.shape[0] // h
    cols = np.arange(w) * mask.shape[1] // w
    return mask[np.ix_(rows, cols)].copy()


def masked_errors(results: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-result L2 error on the generated region: ||(x_k - x) * m||_2 over all channels, (N,) float64.

    results (N, C, H, W), original (C, H, W), mask (H, W) bool (True = generated)."""
    diff = (np.asarray(results, np.float64) - np.asarray(original, np.float64)[None]) * mask[None, None]
    return np.sqrt((diff * diff).reshape(len(diff), -1).sum(axis=1))
