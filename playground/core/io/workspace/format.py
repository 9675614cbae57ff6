"""The workspace record (`Workspace`: the whole state of a session) and its file-format constants; `make_workspace`
builds one from live objects (a Target, the settings, a Trainer or ScoreModel, a TrainHistory)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.core.io.workspace.targets import TargetSpec, arrays_equal, target_from_spec, target_to_spec
from playground.core.training.model_file import same_model_file

FORMAT = "diffusion-playground-workspace"
FORMAT_VERSION = 1
SUFFIX = ".dpw"
MANIFEST = "workspace.json"
MODEL_MEMBER = "model.safetensors"


class WorkspaceError(ValueError):
    """A workspace file cannot be read (or a workspace cannot be written); the message names the file."""


@dataclass(eq=False)
class Workspace:
    """The whole state of a session.

    target: the target's description. settings: `Settings.to_dict()` (the app's settings; seed and the number of
    target samples included). t: the time slider. model: the bytes of a model file (`Trainer.save` keeps the
    optimizer state so training resumes; `save_model` output is inference-only), or None when nothing is trained.
    history: training-history arrays by name (see `history_arrays`). view: free-form JSON-able GUI state (open tab,
    zoom, sampler panel options, ...; lists rather than tuples, as JSON reads them back). images: in image mode the
    dataset the model trains on, {'spec': str, 'size': int, 'rgb': bool} (`build_images` reloads it), else None;
    the 2D target is kept either way. info: what `load_workspace` read from the file header (format_version,
    library_version, saved_at, path); ignored by save and by equality.
    """

    target: TargetSpec
    settings: dict = field(default_factory=dict)
    t: float = 0.5
    model: bytes | None = None
    history: dict[str, np.ndarray] = field(default_factory=dict)
    view: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    images: dict | None = None

    def __post_init__(self):
        self._target_cache = None

    def __eq__(self, other) -> bool:
        if not isinstance(other, Workspace):
            return NotImplemented
        return (
            self.target == other.target
            and self.settings == other.settings
            and self.t == other.t
            and same_model_file(self.model, other.model)
            and arrays_equal(self.history, other.history)
            and self.view == other.view
            and self.images == other.images
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def seed(self) -> int:
        """The seed (settings['seed']; 0 when unset)."""
        return int(self.settings.get("seed", 0))

    def build_target(self):
        """The Target (rebuilt once, then cached)."""
        if self._target_cache is None:
            self._target_cache = target_from_spec(self.target)
        return self._target_cache

    def target_samples(self, n: int | None = None, seed: int | None = None) -> np.ndarray:
        """The target samples the app shows: n = settings['target_samples'] (default 20000) at the workspace seed."""
        n = int(self.settings.get("target_samples", 20000)) if n is None else int(n)
        return self.build_target().sample(n, self.seed if seed is None else int(seed))

    def build_images(self):
        """The image dataset of an image-mode workspace (`load_image_dataset(spec, size, rgb)`), or None.
        Raises DataError when it cannot be loaded (e.g. its files moved)."""
        if self.images is None:
            return None
        from playground.data.images.spec import load_image_dataset

        return load_image_dataset(self.images["spec"], self.images.get("size"), bool(self.images.get("rgb", False)))

    def load_model(self, device: str = "cpu", weights: str = "ema"):
        """The ScoreModel in the workspace (eval mode), or None. Raises ModelFileError if the bytes are unusable."""
        if self.model is None:
            return None
        from playground.core.training.model_file import load_model

        with temporary_model_file(self.model) as path:
            return load_model(path, device=device, weights=weights)

    def resume_trainer(self, data, **overrides):
        """A Trainer continuing the saved run (needs a model saved by a Trainer); data: the training samples (and
        labels=... for a class-conditional image model)."""
        if self.model is None:
            raise ValueError("the workspace holds no model to resume")
        from playground.core.training.trainer import Trainer

        with temporary_model_file(self.model) as path:
            return Trainer.resume(path, data, **overrides)

    def train_history(self):
        """The history as a `TrainHistory` (empty lists when the workspace holds none)."""
        from playground.core.training.history import TrainHistory

        h = self.history
        kw = {k: np.asarray(h[k]).tolist() for k in ("step", "loss", "lr", "seconds") if k in h}
        hist = TrainHistory(**kw)
        if "bin_edges" in h and "bin_loss" in h:
            hist.bin_edges = np.asarray(h["bin_edges"], dtype=np.float64)
            hist.bin_loss = np.asarray(h["bin_loss"], dtype=np.float64)
        return hist


@contextlib.contextmanager
def temporary_model_file(data: bytes):
    """The model bytes as a temporary .safetensors file (the model-file API reads paths)."""
    with tempfile.TemporaryDirectory(prefix="playground-ws-") as folder:
        path = Path(folder) / MODEL_MEMBER
        path.write_bytes(data)
        yield path


def model_bytes(obj) -> bytes:
    """The model-file bytes of a Trainer (with optimizer state: resumable), a ScoreModel, bytes or a file path."""
    if obj is None:
        return None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, (str, os.PathLike)):
        return Path(obj).read_bytes()
    with tempfile.TemporaryDirectory(prefix="playground-ws-") as folder:
        path = Path(folder) / MODEL_MEMBER
        if hasattr(obj, "save") and hasattr(obj, "optimizer"):  # a Trainer
            obj.save(path)
        else:
            from playground.core.training.model_file import save_model

            save_model(path, obj)
        return path.read_bytes()


def history_arrays(history) -> dict[str, np.ndarray]:
    """Arrays of a `TrainHistory` (step, loss, lr, seconds, bin_edges, bin_loss), or of a dict of arrays."""
    if history is None:
        return {}
    if isinstance(history, dict):
        return {str(k): np.asarray(v) for k, v in history.items()}
    out = dict(history.as_arrays())
    out["bin_edges"] = np.asarray(history.bin_edges, dtype=np.float64)
    out["bin_loss"] = np.asarray(history.bin_loss, dtype=np.float64)
    return out


def make_workspace(target, settings: dict, t: float = 0.5, model=None, history=None,
                   view: dict | None = None, images: dict | None = None) -> Workspace:
    """A Workspace from live objects: a Target, `Settings.to_dict()`, the time, a Trainer / ScoreModel / model bytes
    (a Trainer also supplies the history when none is given), a TrainHistory or dict of arrays, the view state, and
    in image mode the dataset description {'spec', 'size', 'rgb'}."""
    if history is None and model is not None and hasattr(model, "history") and hasattr(model, "optimizer"):
        history = model.history
    ws = Workspace(target_to_spec(target), dict(settings), float(t), model_bytes(model), history_arrays(history),
                   _json_normalised(dict(view or {})), images=None if images is None else dict(images))
    ws._target_cache = target
    return ws


def _json_normalised(value):
    """`value` as it will read back from JSON (tuples become lists), so a round trip compares equal."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return value  # left for the checks to report
