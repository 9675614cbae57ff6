"""Raster densities: a non-negative 2D array (an image, or the app's drawing canvas) as a piecewise-constant target.

Geometry: the array covers [-extent, extent] on its longer side, centred, with square pixels (aspect kept); row 0
is the top row (largest y), column 0 the left. Sampling picks a pixel by its mass, then a uniform point inside it.
The Target keeps the raster in params: "raster" (H, W) pixel probabilities summing to 1 and "rect"
(xmin, xmax, ymin, ymax).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from playground.data.targets.target import DataError, Target, read_data_file

LUMINANCE_WEIGHTS = np.array([0.299, 0.587, 0.114])
"""ITU-R 601 luma, as Pillow's RGB -> L conversion."""
HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "F")
"""Single-channel modes read as their raw values (Pillow's RGBA conversion would clip them to 8 bits)."""
MAX_IMAGE_PIXELS = 64 * 2**20
"""The largest image decoded (64 Mpx, ~256 MB as RGBA): a larger one is refused from its header, before decoding
(decompression bombs: a few kB of PNG that claim 100,000 x 100,000 pixels). Pillow's own limit is twice as high."""


def open_image(source, path, formats: tuple[str, ...] | None = None) -> Image.Image:
    """Open an image file for decoding (source: a path or a binary file object; path names it in messages): its
    header is read and its pixel count checked against MAX_IMAGE_PIXELS before anything is decoded. DataError when it
    is too large or not a readable image; the caller decodes it (e.g. `.load()`, `np.asarray`) and closes it."""
    try:
        image = Image.open(source, formats=formats)
    except Image.DecompressionBombError as e:  # Pillow's own check, on the header, for far larger sizes
        raise DataError(f"{path}: image too large ({e}); the limit is {MAX_IMAGE_PIXELS // 2**20} Mpx") from None
    except Exception as e:  # UnidentifiedImageError, OSError, SyntaxError, ...: not an image Pillow can read
        what = " or ".join(formats) + " image" if formats else "image"
        raise DataError(f"{path}: not a readable {what} ({type(e).__name__}: {e})") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise DataError(
            f"{path}: image too large: {width:,} x {height:,} pixels ({width * height / 2**20:,.0f} Mpx); the limit "
            f"is {MAX_IMAGE_PIXELS // 2**20} Mpx (scale it down, or it may be a decompression bomb)"
        )
    return image


def raster_target(density: np.ndarray, extent: float = 4.0, name: str = "raster") -> Target:
    """A target with density proportional to `density` (H, W) over the rectangle described in the module docstring."""
    grid = np.asarray(density, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        raise DataError(f"{name}: a raster density must be a non-empty 2D array; got shape {grid.shape}")
    if not np.isfinite(grid).all():
        raise DataError(f"{name}: the density contains NaN or infinite values")
    if (grid < 0).any():
        raise DataError(f"{name}: the density has negative values")
    if not (math.isfinite(extent) and extent > 0):
        raise DataError(f"{name}: extent must be a positive number; got {extent}")
    peak = grid.max()
    if peak == 0:
        raise DataError(f"{name}: the density is zero everywhere; nothing to sample")
    probs = grid / peak
    probs /= probs.sum()
    height, width = grid.shape
    pixel = 2 * extent / max(height, width)
    xmin, ymax = -width * pixel / 2, height * pixel / 2
    flat_probs = probs.ravel()
    with np.errstate(divide="ignore"):
        log_pixel_density = np.log(probs) - 2 * math.log(pixel)

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        row, col = np.divmod(rng.choice(flat_probs.size, size=n, p=flat_probs), width)
        return np.stack([xmin + (col + rng.random(n)) * pixel, ymax - (row + rng.random(n)) * pixel], 1)

    def log_density(points: np.ndarray) -> np.ndarray:
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        col = np.floor((xy[:, 0] - xmin) / pixel)
        row = np.floor((ymax - xy[:, 1]) / pixel)
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        out = np.full(len(xy), -np.inf)
        out[inside] = log_pixel_density[row[inside].astype(np.intp), col[inside].astype(np.intp)]
        return out

    mass = flat_probs[flat_probs > 0]
    entropy = float(-(mass * np.log(mass)).sum() + 2 * math.log(pixel))
    params = {"name": name, "extent": float(extent), "raster": probs, "rect": (xmin, -xmin, -ymax, ymax)}
    return Target(name, sample, log_density=log_density, entropy=entropy, params=params, cells=(probs, params["rect"]))


def load_image(path: str | Path, extent: float = 4.0) -> Target:
    """A PNG/JPEG image as a raster target: density = luminance x alpha (brighter is denser; EXIF rotation applied)."""
    data = read_data_file(path)
    try:
        with open_image(io.BytesIO(data), path, formats=("PNG", "JPEG")) as image:
            density = _luminance_times_alpha(ImageOps.exif_transpose(image))
    except DataError:
        raise
    except Image.DecompressionBombError as e:
        raise DataError(f"{path}: image too large ({e})") from e
    except Exception as e:  # Pillow's decoders raise many unrelated types on corrupt bytes
        raise DataError(f"{path}: not a readable PNG or JPEG image ({type(e).__name__}: {e})") from e
    if not (density > 0).any():
        raise DataError(f"{path}: the image is all black (or fully transparent); there is no density to sample")
    target = raster_target(density, extent, name=Path(path).name)
    target.params["path"] = str(path)
    return target


def _luminance_times_alpha(image: Image.Image) -> np.ndarray:
    """Per-pixel luminance in [0, 1] times alpha in [0, 1] (raw values for high-bit-depth grey images)."""
    if image.mode in HIGH_DEPTH_MODES:
        return np.asarray(image, dtype=np.float64)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255
    return (rgba[..., :3] @ LUMINANCE_WEIGHTS) * rgba[..., 3]
