"""Point-set targets from CSV or NPY files.

The target is the empirical distribution of the points: its sampler resamples them uniformly with replacement, and
Target.points holds the set, so the exact empirical score (the ideal denoiser) is the exact score of this target.

CSV: UTF-8 text, exactly two numeric columns per line, separated by a comma (when the line has one) or by whitespace;
the first non-blank line may be a header (it is one when any field is not a number); blank lines and lines starting
with '#' are skipped. NPY: a numeric (N, 2) array, read without pickle.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from playground.data.targets.target import DataError, Target, read_data_file

FLOAT32_MAX = float(np.finfo(np.float32).max)
"""Largest coordinate accepted: Target.sample returns float32."""
NUMERIC_KINDS = "iuf"
"""numpy dtype kinds accepted in an NPY file: signed and unsigned integers, floats."""


def load_points(path: str | Path) -> Target:
    """A point-set target from a .npy file, or from a CSV text file (any other suffix)."""
    data = read_data_file(path)
    points = _parse_npy(path, data) if Path(path).suffix.lower() == ".npy" else _parse_csv(path, data)
    name = Path(path).name
    return points_target(points, name, {"path": str(path)}, where=str(path))


def points_target(points: np.ndarray, name: str, info: dict | None = None, where: str | None = None) -> Target:
    """The empirical distribution of an (N, 2) point set: samples resample the points with replacement."""
    where = where or name
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"{where}: points must be an (N, 2) array, got shape {points.shape}")
    out_of_range = ~(np.abs(points) <= FLOAT32_MAX).all(1)
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        raise DataError(
            f"{where}: point {row} is {points[row].tolist()}; coordinates must be finite, |v| <= {FLOAT32_MAX:.3g}"
        )
    if len(points) < 2:
        raise DataError(f"{where}: has {len(points)} point(s); need at least 2")

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        return points[rng.integers(0, len(points), n)]

    return Target(name, sample, points=points, params={"name": name, **(info or {}), "n_points": len(points)})


def _parse_csv(path: str | Path, data: bytes) -> np.ndarray:
    """Rows of two numbers, with an optional header line (module docstring)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from e
    rows: list[tuple[float, float]] = []
    first_line = True
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")] if "," in line else line.split()
        values = _floats(fields)
        if values is None and first_line:
            if len(fields) != 2:
                raise DataError(f"{path}: the header (line {number}) has {len(fields)} columns; need exactly 2 (x, y)")
        elif len(fields) != 2:
            raise DataError(f"{path}: line {number} has {len(fields)} columns; need exactly 2 (x, y)")
        elif values is None:
            bad = next(field for field in fields if _floats([field]) is None)
            raise DataError(f"{path}: line {number}: {bad[:40]!r} is not a number")
        else:
            rows.append((values[0], values[1]))
        first_line = False
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _floats(fields: list[str]) -> list[float] | None:
    """The fields as floats, or None when any is not a number."""
    try:
        return [float(field) for field in fields]
    except ValueError:
        return None


def _parse_npy(path: str | Path, data: bytes) -> np.ndarray:
    """A numeric (N, 2) array from NPY bytes; the header is checked before any data is read."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported NPY format version {version}")
    except Exception as e:  # numpy's header parser raises many unrelated types on corrupt bytes
        raise DataError(f"{path}: not a valid .npy file ({e})") from e
    if dtype.hasobject:
        raise DataError(f"{path}: has an object dtype ({dtype}); only numeric arrays are loaded (no pickle)")
    if dtype.kind not in NUMERIC_KINDS:
        raise DataError(f"{path}: has dtype {dtype}; need a numeric (integer or float) array")
    if len(shape) != 2 or shape[1] != 2 or shape[0] < 0:
        raise DataError(f"{path}: has shape {shape}; need an N x 2 array of points")
    size = shape[0] * 2 * dtype.itemsize
    body = data[stream.tell() :]
    if len(body) < size:
        raise DataError(f"{path}: truncated: the header promises {size} bytes of data, the file has {len(body)}")
    array = np.frombuffer(body, dtype=dtype, count=shape[0] * 2)
    return array.reshape(shape, order="F" if fortran_order else "C").astype(np.float64)
