"""Images as one picture: a grid of tiles (for views, files and sample grids written by the CLI)."""

from __future__ import annotations

import math

import numpy as np


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one uint8 picture (rows, cols) or (rows, cols, 3), tiles on a mid-grey border."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"image_grid needs (N, C in {{1, 3}}, H, W) images, got {images.shape}")
    n, c, h, w = images.shape
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for k in range(n):
        r, q = divmod(k, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = images[k]
    pixels = np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)
    return pixels[0] if c == 1 else pixels.transpose(1, 2, 0)


def save_image_grid(path, images: np.ndarray, columns: int | None = None, zoom: int | None = None) -> None:
    """Write images (N, C, H, W) in [0, 1] as one PNG grid to `path` (a file name or a binary file), each pixel drawn
    as zoom x zoom (default: tiles of about 32 px, so 8x8 digits stay visible)."""
    from PIL import Image

    pic = image_grid(images, columns)
    zoom = zoom or max(1, 32 // np.asarray(images).shape[-1])
    img = Image.fromarray(pic)
    if zoom > 1:
        img = img.resize((img.width * zoom, img.height * zoom), Image.NEAREST)
    img.save(path, format="PNG")
