"""Point-set targets from CSV or NPY files.

The target is the empirical distribution of the points: its sampler resamples them uniformly with replacement, and
Target.points holds the set, so the exact empirical score (the ideal denoiser) is the exact score of this target.

CSV: UTF-8 text, exactly two numeric columns per line, separated by a comma (when the line has one) or by whitespace;
the first non-blank line may be a header (it is one when any field is not a number); blank lines and lines starting
with '#' are skipped. NPY: a numeric (N, 2) array, read without pickle.

Large files. A file over MAX_FILE_BYTES (1 GiB, some 40 million CSV lines) is refused before it is read. A file with
more than `max_points` points (MAX_POINTS = 100,000 unless the caller asks otherwise: the app keeps 10,000, what its
views evaluate fluidly) keeps a uniform random subset of that many (seeded, in file order;
`Target.params['n_points_in_file']` records how many it had and `subset_note` says so in words): every use of the
exact empirical score costs time and memory in proportion to the set, and 100,000 points already resolve a 2D
density far below a pixel of a plot. A CSV is read block by block (`point_stream`); `progress(bytes_done,
bytes_total)` follows the reading and may raise to cancel it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from playground.data.targets.point_stream import PointSubset, Progress, check_coordinates, read_csv_points
from playground.data.targets.target import DataError, Target, read_data_file

MAX_POINTS = 100_000
"""Points kept from a file: a uniform random subset beyond this (module docstring)."""
MAX_FILE_BYTES = 1 << 30
"""Point files larger than this are refused before reading."""
NUMERIC_KINDS = "iuf"
"""numpy dtype kinds accepted in an NPY file: signed and unsigned integers, floats."""


def load_points(path: str | Path, progress: Progress | None = None, max_points: int | None = None) -> Target:
    """A point-set target from a .npy file, or from a CSV text file (any other suffix); at most `max_points` points
    (default MAX_POINTS; module docstring). progress(bytes_done, bytes_total) follows the reading and may raise to
    stop it."""
    where = str(path)
    size = _checked_size(path)
    subset = PointSubset(MAX_POINTS if max_points is None else max_points, where)
    if Path(path).suffix.lower() == ".npy":
        subset.add(_parse_npy(path, read_data_file(path)))
        if progress is not None:
            progress(size, size)
    else:
        read_csv_points(path, subset, progress)
    info = {"path": where}
    if subset.seen > len(subset.points):
        info["n_points_in_file"] = subset.seen
    return points_target(subset.points, Path(path).name, info, where=where)


def subset_note(target: Target) -> str:
    """'' for a point set loaded whole, else a sentence saying that a random subset of the file's points is kept."""
    n_file = (target.params or {}).get("n_points_in_file")
    if not n_file or target.points is None:
        return ""
    return (f"{target.name} has {n_file:,} points; a uniform random {len(target.points):,} of them are kept "
            "(the exact empirical score costs time in proportion to the set).")


def _checked_size(path: str | Path) -> int:
    """The file's size; DataError when it is missing, not a file, empty, or over MAX_FILE_BYTES."""
    try:
        st = Path(path).stat()
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from e
    if Path(path).is_dir():
        raise DataError(f"{path}: is a directory, not a file")
    if st.st_size == 0:
        raise DataError(f"{path}: file is empty")
    if st.st_size > MAX_FILE_BYTES:
        raise DataError(f"{path}: is {size_text(st.st_size)}; point files up to {size_text(MAX_FILE_BYTES)} are "
                        f"read (and a uniform random {MAX_POINTS:,} of their points kept): thin it out first")
    return int(st.st_size)


def size_text(n_bytes: int) -> str:
    """A file size for people: '190 MB', '1.1 GB', '512 kB', '12 bytes'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            value = n_bytes / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{n_bytes} bytes"


def points_target(points: np.ndarray, name: str, info: dict | None = None, where: str | None = None) -> Target:
    """The empirical distribution of an (N, 2) point set: samples resample the points with replacement."""
    where = where or name
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"{where}: points must be an (N, 2) array, got shape {points.shape}")
    check_coordinates(points, where)
    if len(points) < 2:
        raise DataError(f"{where}: has {len(points)} point(s); need at least 2")

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        return points[rng.integers(0, len(points), n)]

    return Target(name, sample, points=points, params={"name": name, **(info or {}), "n_points": len(points)})


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
