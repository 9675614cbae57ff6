"""Save samples and trajectories (generated, forward at t, target) as CSV or NPY; every write is atomic.

    save_samples("generated.csv", x)        # (N, D): CSV with a header (x,y for 2D; x0,x1,... otherwise)
    save_samples("generated.npy", x)        # (N, D) float32 .npy (np.load(path) reads it; no pickle involved)
    save_trajectory("paths.npy", traj)      # (K, N, D): K frames of N particles, frame 0 first (t = T down to 0)

CSV: UTF-8, '\\n' line ends, one row per sample, values with `%.9g` (exactly round-trips float32; float64 input is
written with `%.17g`), NaN as 'nan'. It reads back with `np.loadtxt(path, delimiter=',', skiprows=1)` and loads as a
point-set target in the app (`playground.data.targets.points`). NPY files are written with allow_pickle=False. A file whose
name ends in neither .csv nor .npy is refused (ValueError) so a typo never writes an unexpected format.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from playground.core.io.atomic import atomic_open, atomic_write

SAMPLE_SUFFIXES = (".csv", ".npy")
TRAJECTORY_SUFFIXES = (".npy",)


def _as_array(array) -> np.ndarray:
    try:
        import torch

        if torch.is_tensor(array):
            array = array.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"samples must be a numeric array, got dtype {a.dtype}")
    return a


def csv_header(dim: int) -> str:
    """'x,y' for 2D samples, 'x0,x1,...' otherwise."""
    return "x,y" if dim == 2 else ",".join(f"x{i}" for i in range(dim))


def samples_to_csv(array) -> str:
    """The CSV text of (N, D) samples (module docstring)."""
    a = _as_array(array)
    if a.ndim != 2:
        raise ValueError(f"CSV holds (N, D) samples; got shape {a.shape} (save trajectories as .npy)")
    fmt = "%.17g" if a.dtype == np.float64 else "%.9g"
    if a.dtype.kind in "biu":
        fmt = "%d"
    buf = io.StringIO()
    buf.write(csv_header(a.shape[1]) + "\n")
    if len(a):
        np.savetxt(buf, a, fmt=fmt, delimiter=",")
    return buf.getvalue()


def save_samples(path, array, *, dtype=np.float32) -> Path:
    """Write (N, D) samples to `path` (.csv or .npy, chosen by the suffix) atomically; returns the path.

    dtype: the NPY dtype (float32 by default, like every sample array in the app; None keeps the input's)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise ValueError(f"{path}: samples are saved as .csv or .npy, not {suffix or 'a file without suffix'!r}")
    a = _as_array(array)
    if a.ndim != 2:
        raise ValueError(f"{path}: samples must be an (N, D) array, got shape {a.shape}")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    if suffix == ".csv":
        with atomic_open(path, "w", newline="\n") as f:
            f.write(samples_to_csv(a))
        return path
    return _save_npy(path, a)


def save_trajectory(path, trajectory, *, dtype=np.float32) -> Path:
    """Write a trajectory (K, N, D) (frames x particles x dimensions) to a .npy file atomically."""
    path = Path(path)
    if path.suffix.lower() not in TRAJECTORY_SUFFIXES:
        raise ValueError(f"{path}: trajectories are saved as .npy (a (K, N, D) array)")
    a = _as_array(trajectory)
    if a.ndim != 3:
        raise ValueError(f"{path}: a trajectory must be a (K, N, D) array, got shape {a.shape}")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return _save_npy(path, a)


def npy_bytes(array) -> bytes:
    """An array as .npy bytes (allow_pickle=False, so object arrays are refused)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _save_npy(path: Path, a: np.ndarray) -> Path:
    atomic_write(path, npy_bytes(a))
    return path
