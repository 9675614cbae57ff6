"""One entry point from a data spec string (CLI --data, the app's data picker) to a Target."""

from __future__ import annotations

from pathlib import Path

from playground.data.targets.gmm_file import load_gmm_json
from playground.data.targets.point_stream import Progress
from playground.data.targets.points import load_points
from playground.data.targets.presets import PRESETS, make_preset
from playground.data.targets.raster import load_image
from playground.data.targets.target import DataError, Target

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
POINT_SUFFIXES = (".csv", ".npy")
GMM_SUFFIXES = (".json",)
FILE_SUFFIXES = IMAGE_SUFFIXES + POINT_SUFFIXES + GMM_SUFFIXES


def load_target(spec: str, extent: float = 4.0, noise: float | None = None, progress: Progress | None = None,
                max_points: int | None = None) -> Target:
    """A preset name (any case) or a file path chosen by its suffix; `extent` applies to images, `noise` to presets,
    `progress(bytes_done, bytes_total)` and `max_points` to point files (`load_points`: progress may raise to stop
    the reading; more points than max_points keep a random subset)."""
    if spec.strip().lower() in PRESETS:
        return make_preset(spec.strip().lower(), noise)
    suffix = Path(spec).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise DataError(
            f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor a file ending in {', '.join(FILE_SUFFIXES)}"
        )
    if noise is not None:
        raise DataError(f"{spec}: noise applies only to presets, not to files")
    if suffix in IMAGE_SUFFIXES:
        return load_image(spec, extent)
    if suffix in POINT_SUFFIXES:
        return load_points(spec, progress, max_points)
    return load_gmm_json(spec)
