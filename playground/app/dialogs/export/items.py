"""What File > Export can write: one Item per export, its formats and its default file name (Qt-free).

Keys: samples_sde / samples_ode / forward / target (samples), traj_sde / traj_ode (trajectories), panel:<name>
(pictures), anim_forward / anim_score / anim_sampling (animations), model. `resolve_target` checks a request
(key, path, format) and completes the path's suffix; `frame_count` is an animation's number of frames.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = {"csv": ".csv", "npy": ".npy", "png": ".png", "svg": ".svg", "gif": ".gif", "mp4": ".mp4",
            "onnx": ".onnx", "torch-export": ".pt2"}
FORMAT_LABELS = {"csv": "CSV (.csv)", "npy": "NumPy (.npy)", "png": "PNG image (.png)", "svg": "SVG vector (.svg)",
                 "gif": "GIF animation (.gif)", "mp4": "MP4 video (.mp4)", "onnx": "ONNX (.onnx)",
                 "torch-export": "torch.export program (.pt2)"}
MAX_FRAMES = 600


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    formats: tuple[str, ...]
    tip: str
    filename: str


PANEL_TITLES = {"target": "Target", "forward": "Forward diffusion", "score": "Score field",
                "sampling": "Sampling (SDE | ODE)", "training": "Training", "settings": "Settings"}

ITEMS: tuple[Item, ...] = (
    Item("samples_sde", "Samples — reverse SDE", ("csv", "npy"),
         "The samples of the last run of the Sampling panel's reverse SDE (data space, N x 2).", "samples_sde"),
    Item("samples_ode", "Samples — probability-flow ODE", ("csv", "npy"),
         "The samples of the last run of the Sampling panel's PF-ODE (data space, N x 2).", "samples_ode"),
    Item("forward", "Samples — forward particles at t", ("csv", "npy"),
         "The Forward diffusion panel's particles x_t at the current time t.", "forward"),
    Item("target", "Samples — target", ("csv", "npy"), "The target samples the app trains on.", "target"),
    Item("traj_sde", "Trajectories — reverse SDE", ("npy",),
         "The stored paths of the SDE run: (K frames, M particles, 2), t = T first.", "trajectories_sde"),
    Item("traj_ode", "Trajectories — probability-flow ODE", ("npy",),
         "The stored paths of the ODE run: (K frames, M particles, 2), t = T first.", "trajectories_ode"),
    *(Item(f"panel:{k}", f"Picture — {title} panel", ("png", "svg"), f"The {title} panel as it is on screen.",
           f"{k}_panel") for k, title in PANEL_TITLES.items()),
    Item("panel:window", "Picture — the whole window", ("png", "svg"), "The whole window as it is on screen.",
         "window"),
    Item("anim_forward", "Animation — forward diffusion (t from 0 to T)", ("gif", "mp4"),
         "The Forward diffusion panel as t sweeps from 0 (data) to T (noise).", "forward"),
    Item("anim_score", "Animation — score field (t from 0 to T)", ("gif", "mp4"),
         "The Score field panel as t sweeps from 0 to T.", "score_field"),
    Item("anim_sampling", "Animation — sampling (stored frames, T to 0)", ("gif", "mp4"),
         "The Sampling panel's stored frames replayed from t = T (noise) to t = 0 (samples), SDE | ODE.",
         "sampling"),
    Item("model", "Model — for use elsewhere", ("onnx", "torch-export"),
         "The trained network as ONNX or a torch.export program: inputs x (N, 2) and t (N,), outputs the score "
         "and the denoiser in data space; checked against PyTorch.", "model"),
)
ITEM_BY_KEY = {it.key: it for it in ITEMS}


def kind_of(key: str) -> str:
    """The kind of an export key: 'animation', 'model', 'picture' or 'data' (samples and trajectories)."""
    if key.startswith("anim_"):
        return "animation"
    if key == "model":
        return "model"
    if key.startswith("panel:"):
        return "picture"
    return "data"


def has_video_writer() -> bool:
    """True when imageio can write MP4 (imageio-ffmpeg installed)."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def frame_count(fps: float, duration: float) -> int:
    """Frames of an animation of `duration` seconds at `fps`: at least 2, at most MAX_FRAMES."""
    return int(min(MAX_FRAMES, max(2, round(fps * duration))))


def resolve_target(key: str, path, fmt: str | None) -> tuple[Item, Path, str]:
    """The item, the file and the format of a request to export `key` to `path` as `fmt` (None: from the path's
    suffix, else the item's first format); the format's suffix is appended when the path lacks it. Raises
    ValueError with the message for the user when the key, the path or the format will not do."""
    it = ITEM_BY_KEY.get(key)
    if it is None:
        raise ValueError(f"unknown export {key!r}")
    path = Path(str(path)).expanduser() if str(path) else None
    if path is None:
        raise ValueError("Choose a file to write.")
    if fmt is None:
        fmt = next((f for f in it.formats if SUFFIXES[f] == path.suffix.lower()), it.formats[0])
    if fmt not in it.formats:
        raise ValueError(f"{it.label} can be exported as {', '.join(it.formats)}, not {fmt}")
    if path.suffix.lower() != SUFFIXES[fmt]:
        path = path.with_name(path.name + SUFFIXES[fmt])
    return it, path, fmt
