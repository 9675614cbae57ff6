"""Samples and trajectories to files: the Sampling panel's reverse-SDE / PF-ODE samples and stored paths, the
Forward diffusion panel's particles at the current t, the target samples -> CSV or NPY
(`playground.core.io.sample_files`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from playground.core.io.sample_files import save_samples, save_trajectory


def samples_unavailable(window, key: str) -> str:
    """'' when the samples or trajectories `key` names exist now, else why not."""
    if key in ("samples_sde", "samples_ode", "traj_sde", "traj_ode"):
        side = window.panels["sampling"].sides["sde" if key.endswith("sde") else "ode"]
        if side.outcome is None or side.outcome.x is None:
            return "Run the Sampling panel first (Resample), and wait until it has finished."
        if key.startswith("traj") and (side.outcome.paths is None or len(side.outcome.paths) < 2):
            return "The last sampling run kept no trajectories (Settings: trajectories > 0)."
    elif key == "forward":
        if len(window.state.target_samples) == 0:
            return "The target is empty."
    return ""


def sample_data(window, key: str) -> np.ndarray:
    """The array a samples / trajectories export writes."""
    st = window.state
    sp = window.panels["sampling"]
    if key in ("samples_sde", "samples_ode"):
        return np.asarray(sp.sides[key[-3:]].outcome.x, np.float32)
    if key in ("traj_sde", "traj_ode"):
        return np.asarray(sp.sides[key[-3:]].outcome.paths, np.float32)
    if key == "forward":
        return np.asarray(window.panels["forward"].compute_particles(float(st.t)), np.float32)
    if key == "target":
        return np.asarray(st.target_samples, np.float32)
    raise KeyError(key)


def export_samples(window, key: str, path: Path) -> str:
    """Write the samples (N, 2) or trajectories (K, M, 2) `key` names (the suffix picks CSV or NPY); the message."""
    x = sample_data(window, key)
    if key.startswith("traj"):
        save_trajectory(path, x)
        return f"Wrote {path.name}: {x.shape[0]} frames x {x.shape[1]} particles."
    save_samples(path, x)
    return f"Wrote {len(x):,} samples to {path.name}."
