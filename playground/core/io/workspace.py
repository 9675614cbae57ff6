"""Workspaces: one file (.dpw) holding the whole state of a session, plus autosave and crash recovery. Qt-free.

A workspace file is a zip archive (never a pickle):

    workspace.json          format, format_version, library_version, saved_at, settings (Settings.to_dict()),
                            t (the time slider), view (free-form JSON of the GUI's view state),
                            images (image mode: {spec, size, rgb} of the image dataset, reloaded with
                            `load_image_dataset(spec, size, rgb)`; absent in 2D mode),
                            target {kind, name, params, arrays: {name: member}}, history {name: member},
                            model (member name or null)
    target/<name>.npy       the target's arrays (raster, GMM parameters, points), written with allow_pickle=False
    history/<name>.npy      the training history (step, loss, lr, seconds, bin_edges, bin_loss)
    model.safetensors       the model file (`playground.core.training.model_file`): EMA + raw weights, and the optimizer and
                            trainer state when a Trainer saved it, so training resumes where it stopped

Targets are stored as a description (`TargetSpec`), rebuilt with the data package, so reopening gives the same
target samples for the same seed. Kinds:

    preset          params {preset, noise}                      -> make_preset(preset, noise)
    raster          arrays {raster (H, W)}, params {extent}     -> raster_target(raster, extent, name)
                                                                   (the drawing canvas, imported images)
    gmm             arrays {weights, means, covariances}        -> gmm_target(name, GaussianMixture(...))  (GMM files)
    gmm_components  params {components: [{x, y, sx, sy, weight}]}  the Gaussian editor's mixture (its own sampler)
    points          arrays {points (N, 2)}                      -> the empirical distribution of the points

API: `Workspace`, `save_workspace(path, ws)` (atomic: a crash mid-save keeps the previous file),
`load_workspace(path) -> Workspace` (every problem raises `WorkspaceError`, a ValueError naming the file),
`target_to_spec` / `target_from_spec`, `make_workspace(...)` from live objects, and `AutosaveSession` /
`find_recoverable_autosaves(folder)` for background autosave and recovery after a crash (module end).

Loading is bounded: at most MAX_MEMBERS members, MAX_JSON_BYTES of JSON and `max_bytes` (default MAX_TOTAL_BYTES)
uncompressed bytes in all, checked against the declared sizes before anything is decompressed and enforced while
reading (a zip bomb or a lying header is refused, not unpacked). Arrays are parsed from their .npy header without
pickle (object, string and structured dtypes are refused).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import math
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.core.io.atomic import atomic_open
from playground.version import __version__

FORMAT = "diffusion-playground-workspace"
FORMAT_VERSION = 1
SUFFIX = ".dpw"
MANIFEST = "workspace.json"
MODEL_MEMBER = "model.safetensors"
MAX_TOTAL_BYTES = 1 << 30
"""Uncompressed bytes read from one workspace (all members together): 1 GiB."""
MAX_JSON_BYTES = 16 << 20
MAX_MEMBERS = 1000
MAX_ARRAY_NDIM = 4
TARGET_KINDS = ("preset", "raster", "gmm", "gmm_components", "points")
TARGET_ARRAYS: dict[str, tuple[str, ...]] = {
    "preset": (),
    "raster": ("raster",),
    "gmm": ("weights", "means", "covariances"),
    "gmm_components": (),
    "points": ("points",),
}
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same workspace gives the same bytes


class WorkspaceError(ValueError):
    """A workspace file cannot be read (or a workspace cannot be written); the message names the file."""


# ---- target descriptions -----------------------------------------------------------------------------------------
@dataclass(eq=False)
class TargetSpec:
    """A JSON-able description of a target plus its arrays; `target_from_spec` rebuilds the Target."""

    kind: str
    name: str
    params: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __eq__(self, other) -> bool:
        if not isinstance(other, TargetSpec):
            return NotImplemented
        return (
            self.kind == other.kind
            and self.name == other.name
            and self.params == other.params
            and _arrays_equal(self.arrays, other.arrays)
        )

    __hash__ = None  # type: ignore[assignment]


def _arrays_equal(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def _info_params(p: dict) -> dict:
    """The informative, JSON-able params every kind keeps (where the target came from)."""
    out = {}
    if isinstance(p.get("path"), str):
        out["path"] = p["path"]
    return out


def target_to_spec(target) -> TargetSpec:
    """Describe a Target (from the data package or the app) so that `target_from_spec` rebuilds it.

    Raises ValueError for a target that was not made by a known constructor (a custom sampler function)."""
    from playground.data.targets.presets import PRESETS

    p = dict(target.params or {})
    name = str(target.name)
    if p.get("kind") == "gmm" and isinstance(p.get("components"), list):
        comps = [_component_dict(c) for c in p["components"]]
        return TargetSpec("gmm_components", name, {"components": comps})
    if name in PRESETS and p.get("name") == name and "path" not in p and "raster" not in p and target.points is None:
        noise = p.get("noise")
        return TargetSpec("preset", name, {"preset": name, "noise": None if noise is None else float(noise)})
    if "raster" in p:
        raster = np.array(p["raster"], dtype=np.float64)
        params = {"extent": float(p.get("extent", 4.0)), **_info_params(p)}
        return TargetSpec("raster", name, params, {"raster": raster})
    if target.points is not None:
        pts = np.array(target.points, dtype=np.float64)
        return TargetSpec("points", name, _info_params(p), {"points": pts})
    if target.gmm is not None:
        g = target.gmm
        arrays = {
            "weights": g.weights.detach().cpu().numpy().astype(np.float64),
            "means": g.means.detach().cpu().numpy().astype(np.float64),
            "covariances": g.covariances.detach().cpu().numpy().astype(np.float64),
        }
        return TargetSpec("gmm", name, _info_params(p), arrays)
    raise ValueError(
        f"target {name!r} cannot be saved in a workspace: it is not a preset, raster, Gaussian mixture or point set"
    )


def _component_dict(c) -> dict:
    d = c if isinstance(c, dict) else dict(getattr(c, "__dict__", {}))
    try:
        return {k: float(d[k]) for k in ("x", "y", "sx", "sy", "weight")}
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"a Gaussian component needs numbers x, y, sx, sy, weight; got {d!r}") from e


def target_from_spec(spec: TargetSpec):
    """Rebuild the Target a `TargetSpec` describes. Raises DataError / ValueError on a bad description."""
    from playground.data.targets.target import DataError

    kind, name, p, arrays = spec.kind, spec.name, spec.params, spec.arrays
    if kind not in TARGET_KINDS:
        raise DataError(f"unknown target kind {kind!r}; known: {', '.join(TARGET_KINDS)}")
    missing = [a for a in TARGET_ARRAYS[kind] if a not in arrays]
    if missing:
        raise DataError(f"a {kind} target needs the array(s) {', '.join(missing)}")
    if kind == "preset":
        from playground.data.targets.presets import make_preset

        noise = p.get("noise")
        if noise is not None and (isinstance(noise, bool) or not isinstance(noise, (int, float))):
            raise DataError(f"preset noise must be a number or null, got {noise!r}")
        preset = p.get("preset", name)
        if not isinstance(preset, str):
            raise DataError(f"preset name must be a string, got {preset!r}")
        return make_preset(preset, None if noise is None else float(noise))
    if kind == "raster":
        from playground.data.targets.raster import raster_target

        extent = p.get("extent", 4.0)
        if isinstance(extent, bool) or not isinstance(extent, (int, float)):
            raise DataError(f"raster extent must be a number, got {extent!r}")
        stored = np.asarray(arrays["raster"], dtype=np.float64)
        target = raster_target(stored, float(extent), name=name)
        # raster_target renormalises (divide by the peak, then by the sum), which may move the stored probabilities
        # by an ulp; keep the stored array in params so that saving again writes exactly what was read (no drift).
        target.params["raster"] = stored
        target.params.update(_info_params(p))
        return target
    if kind == "points":
        from playground.data.targets.points import points_target

        return points_target(np.asarray(arrays["points"], dtype=np.float64), name, _info_params(p))
    if kind == "gmm":
        from playground.data.targets.gaussian_mixture import GaussianMixture
        from playground.data.targets.gmm_file import gmm_target

        w, mu, cov = (np.asarray(arrays[k], dtype=np.float64) for k in ("weights", "means", "covariances"))
        if mu.ndim != 2 or mu.shape[1] != 2 or cov.shape != (len(mu), 2, 2) or w.shape != (len(mu),):
            raise DataError(f"GMM arrays have shapes {w.shape}, {mu.shape}, {cov.shape}; need (K,), (K, 2), (K, 2, 2)")
        try:
            gmm = GaussianMixture(w, mu, cov)
        except ValueError as e:
            raise DataError(str(e)) from e
        return gmm_target(name, gmm, {"name": name, **_info_params(p)})
    comps = p.get("components")
    if not isinstance(comps, list) or not comps:
        raise DataError("a gmm_components target needs a non-empty 'components' list")
    from playground.data.targets.gmm_components import Component, components_target

    return components_target([Component(**_component_dict(c)) for c in comps], name)


# ---- the workspace -----------------------------------------------------------------------------------------------
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
            and self.model == other.model
            and _arrays_equal(self.history, other.history)
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
        from playground.data.images.datasets import load_image_dataset

        return load_image_dataset(self.images["spec"], self.images.get("size"), bool(self.images.get("rgb", False)))

    def load_model(self, device: str = "cpu", weights: str = "ema"):
        """The ScoreModel in the workspace (eval mode), or None. Raises ModelFileError if the bytes are unusable."""
        if self.model is None:
            return None
        from playground.core.training.model_file import load_model

        with _model_file(self.model) as path:
            return load_model(path, device=device, weights=weights)

    def resume_trainer(self, data, **overrides):
        """A Trainer continuing the saved run (needs a model saved by a Trainer); data: the training samples (and
        labels=... for a class-conditional image model)."""
        if self.model is None:
            raise ValueError("the workspace holds no model to resume")
        from playground.core.training.trainer import Trainer

        with _model_file(self.model) as path:
            return Trainer.resume(path, data, **overrides)

    def train_history(self):
        """The history as a `TrainHistory` (empty lists when the workspace holds none)."""
        from playground.core.training.trainer import TrainHistory

        h = self.history
        kw = {k: np.asarray(h[k]).tolist() for k in ("step", "loss", "lr", "seconds") if k in h}
        hist = TrainHistory(**kw)
        if "bin_edges" in h and "bin_loss" in h:
            hist.bin_edges = np.asarray(h["bin_edges"], dtype=np.float64)
            hist.bin_loss = np.asarray(h["bin_loss"], dtype=np.float64)
        return hist


@contextlib.contextmanager
def _model_file(data: bytes):
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


# ---- validation shared by save and load --------------------------------------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_array(where: str, name: str, a) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise WorkspaceError(f"{where}: array {name!r} has dtype {a.dtype}; only numeric arrays are stored")
    if a.ndim > MAX_ARRAY_NDIM:
        raise WorkspaceError(f"{where}: array {name!r} has {a.ndim} dimensions (at most {MAX_ARRAY_NDIM})")
    return a


def _check_json_value(where: str, what: str, value, depth: int = 0) -> None:
    if depth > 32:
        raise WorkspaceError(f"{where}: {what} is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return
    if _is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise WorkspaceError(f"{where}: {what} contains {value} (NaN/infinity cannot be stored)")
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_json_value(where, what, v, depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise WorkspaceError(f"{where}: {what} has a non-string key {k!r}")
            _check_json_value(where, what, v, depth + 1)
        return
    raise WorkspaceError(f"{where}: {what} holds a {type(value).__name__}, which is not JSON data")


def _check_settings(where: str, settings, defaults: dict | None) -> dict:
    if not isinstance(settings, dict):
        raise WorkspaceError(f"{where}: 'settings' must be an object, got {type(settings).__name__}")
    for k, v in settings.items():
        if not isinstance(k, str) or not (v is None or isinstance(v, (bool, str)) or _is_number(v)):
            raise WorkspaceError(f"{where}: setting {k!r} = {v!r} is not a number, string, boolean or null")
        if isinstance(v, float) and not math.isfinite(v):
            raise WorkspaceError(f"{where}: setting {k!r} is {v}")
        if defaults is None or k not in defaults:
            continue
        d = defaults[k]
        ok = (
            (isinstance(d, bool) and isinstance(v, bool))
            or (isinstance(d, int) and not isinstance(d, bool) and isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(d, float) and _is_number(v))
            or (isinstance(d, str) and isinstance(v, str))
            or (d is None and not isinstance(v, bool))
        )
        if not ok:
            raise WorkspaceError(f"{where}: setting {k!r} is {v!r}; expected a {type(d).__name__} like {d!r}")
    return dict(settings)


def _check_workspace(where: str, ws: Workspace, settings_defaults: dict | None = None) -> None:
    spec = ws.target
    if not isinstance(spec, TargetSpec):
        raise WorkspaceError(f"{where}: target must be a TargetSpec, got {type(spec).__name__}")
    if spec.kind not in TARGET_KINDS:
        raise WorkspaceError(f"{where}: unknown target kind {spec.kind!r} (known: {', '.join(TARGET_KINDS)})")
    if not isinstance(spec.name, str) or not spec.name:
        raise WorkspaceError(f"{where}: the target needs a name")
    if not isinstance(spec.params, dict):
        raise WorkspaceError(f"{where}: target params must be an object")
    _check_json_value(where, "the target's params", spec.params)
    for k, a in spec.arrays.items():
        if not isinstance(k, str) or not _NAME.match(k):
            raise WorkspaceError(f"{where}: bad target array name {k!r}")
        _check_array(where, k, a)
    _check_settings(where, ws.settings, settings_defaults)
    if not _is_number(ws.t) or not (0.0 <= float(ws.t) <= 1.0):
        raise WorkspaceError(f"{where}: t must be a number in [0, 1], got {ws.t!r}")
    if ws.model is not None and not isinstance(ws.model, (bytes, bytearray)):
        raise WorkspaceError(f"{where}: model must be bytes (a model file) or None")
    if not isinstance(ws.history, dict):
        raise WorkspaceError(f"{where}: history must be a dict of arrays")
    for k, a in ws.history.items():
        if not isinstance(k, str) or not _NAME.match(k):
            raise WorkspaceError(f"{where}: bad history array name {k!r}")
        _check_array(where, k, a)
    if not isinstance(ws.view, dict):
        raise WorkspaceError(f"{where}: view must be an object")
    _check_json_value(where, "the view state", ws.view)
    _check_images(where, ws.images)


def _check_images(where: str, images) -> None:
    """An image-mode dataset description: None, or {'spec': non-empty str, 'size': int 4..512, 'rgb': bool}."""
    if images is None:
        return
    if not isinstance(images, dict):
        raise WorkspaceError(f"{where}: images must be an object or null")
    spec, size, rgb = images.get("spec"), images.get("size"), images.get("rgb", False)
    if not isinstance(spec, str) or not spec.strip():
        raise WorkspaceError(f"{where}: images needs a dataset spec, got {spec!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 512:
        raise WorkspaceError(f"{where}: images size must be an integer from 4 to 512, got {size!r}")
    if not isinstance(rgb, bool):
        raise WorkspaceError(f"{where}: images rgb must be true or false, got {rgb!r}")


# ---- save --------------------------------------------------------------------------------------------------------
def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def workspace_bytes(ws: Workspace) -> bytes:
    """The .dpw archive of a workspace, in memory (what `save_workspace` writes)."""
    _check_workspace("workspace", ws)
    members: list[tuple[str, bytes]] = []
    target_arrays = {}
    for k, a in ws.target.arrays.items():
        member = f"target/{k}.npy"
        target_arrays[k] = member
        members.append((member, _npy(np.asarray(a))))
    history = {}
    for k, a in ws.history.items():
        member = f"history/{k}.npy"
        history[k] = member
        members.append((member, _npy(np.asarray(a))))
    if ws.model is not None:
        members.append((MODEL_MEMBER, bytes(ws.model)))
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": ws.settings,
        "t": float(ws.t),
        "view": ws.view,
        "target": {"kind": ws.target.kind, "name": ws.target.name, "params": ws.target.params, "arrays": target_arrays},
        "history": history,
        "model": MODEL_MEMBER if ws.model is not None else None,
    }
    if ws.images is not None:
        manifest["images"] = ws.images
    try:
        text = json.dumps(manifest, indent=1, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError) as e:
        raise WorkspaceError(f"workspace: cannot be written as JSON ({e})") from None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data in [(MANIFEST, text.encode("utf-8")), *members]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def save_workspace(path, ws: Workspace) -> Path:
    """Write `ws` to `path` (.dpw by convention) atomically: a failure at any point leaves the previous file as it
    was. Raises WorkspaceError for a workspace that cannot be stored (e.g. NaN in the settings), OSError for I/O."""
    path = Path(path)
    try:
        data = workspace_bytes(ws)
    except WorkspaceError as e:
        raise WorkspaceError(f"{path}: {str(e).removeprefix('workspace: ')}") from None
    with atomic_open(path, "wb") as f:
        f.write(data)
    return path


# ---- load --------------------------------------------------------------------------------------------------------
class _Reader:
    """Bounded reads of zip members: declared sizes are checked first, actual sizes while reading."""

    def __init__(self, where: str, zf: zipfile.ZipFile, max_bytes: int):
        self.where = where
        self.zf = zf
        self.budget = max_bytes
        self.max_bytes = max_bytes
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise WorkspaceError(f"{where}: has {len(infos)} archive members (at most {MAX_MEMBERS})")
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in self.infos:
                raise WorkspaceError(f"{where}: the archive holds {info.filename!r} twice")
            self.infos[info.filename] = info
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            raise WorkspaceError(
                f"{where}: declares {declared} bytes uncompressed, more than the {max_bytes} bytes a workspace may "
                "hold (corrupt, or a zip bomb)"
            )

    def read(self, name: str, limit: int | None = None) -> bytes:
        info = self.infos.get(name)
        if info is None:
            raise WorkspaceError(f"{self.where}: the archive has no {name!r} (incomplete or not a workspace)")
        if info.flag_bits & 0x1:
            raise WorkspaceError(f"{self.where}: {name!r} is encrypted")
        cap = min(self.budget, limit if limit is not None else self.budget)
        if info.file_size > cap:
            raise WorkspaceError(f"{self.where}: {name!r} declares {info.file_size} bytes (limit {cap})")
        with self.zf.open(info) as f:
            data = f.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise WorkspaceError(f"{self.where}: {name!r} holds {len(data)} bytes, its header says {info.file_size}")
        self.budget -= len(data)
        return data

    def array(self, member: str) -> np.ndarray:
        return _parse_npy(self.where, member, self.read(member))


def _parse_npy(where: str, member: str, data: bytes) -> np.ndarray:
    """A numeric array from .npy bytes; the header is checked before any data is read; never unpickles."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as e:  # numpy's header parser raises many types on corrupt bytes
        raise WorkspaceError(f"{where}: {member!r} is not a valid .npy array ({e})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise WorkspaceError(f"{where}: {member!r} has dtype {dtype}; only numeric arrays are loaded (never pickle)")
    if len(shape) > MAX_ARRAY_NDIM or any((not isinstance(s, int)) or s < 0 for s in shape):
        raise WorkspaceError(f"{where}: {member!r} has an unusable shape {shape}")
    count = math.prod(shape)
    body = data[stream.tell():]
    if count * dtype.itemsize != len(body):
        raise WorkspaceError(
            f"{where}: {member!r} has shape {shape} ({count * dtype.itemsize} bytes of {dtype}) but holds {len(body)}"
        )
    a = np.frombuffer(body, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return np.ascontiguousarray(a.astype(dtype.newbyteorder("="), copy=True))


def _member_map(where: str, m, what: str) -> dict[str, str]:
    if m is None:
        return {}
    if not isinstance(m, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in m.items()):
        raise WorkspaceError(f"{where}: {what} must map names to archive members")
    for k in m:
        if not _NAME.match(k):
            raise WorkspaceError(f"{where}: bad array name {k!r} in {what}")
    return m


def load_workspace(path, *, max_bytes: int = MAX_TOTAL_BYTES, settings_defaults: dict | None = None,
                   check_model: bool = True) -> Workspace:
    """Read a workspace file. Every problem (missing, not a zip, missing member, bad JSON, newer format version,
    bad arrays, sizes over the limits, a target that cannot be rebuilt, a corrupt model) raises WorkspaceError with
    one message naming the file. settings_defaults: e.g. `Settings().to_dict()`, to check each stored setting has
    the type of its default. check_model: build the stored model once to make sure it loads."""
    path = Path(path)
    where = str(path)
    try:
        head = _open_head(path)
        if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
            what = "not a zip archive"
            if path.suffix.lower() == ".safetensors" or head[8:10] == b'{"':
                what = "it looks like a model file; load it as a model instead"
            raise WorkspaceError(f"{where}: not a Diffusion Playground workspace ({what})")
        with zipfile.ZipFile(path) as zf:
            reader = _Reader(where, zf, max_bytes)
            ws = _load(where, reader, settings_defaults)
    except WorkspaceError:
        raise
    except MemoryError:
        raise WorkspaceError(f"{where}: too large to load into memory") from None
    except Exception as e:  # zipfile / zlib / OSError / struct: corrupt or truncated archives
        raise WorkspaceError(
            f"{where}: not a readable workspace (corrupt or truncated archive: {type(e).__name__}: {e})"
        ) from None
    try:
        ws.build_target()
    except Exception as e:  # DataError / ValueError from the data package
        raise WorkspaceError(f"{where}: its {ws.target.kind} target cannot be rebuilt: {e}") from None
    if check_model and ws.model is not None:
        _check_model_bytes(where, ws.model)
    ws.info["path"] = where
    return ws


def _open_head(path: Path) -> bytes:
    if not path.exists():
        raise WorkspaceError(f"{path}: no such workspace file")
    if path.is_dir():
        raise WorkspaceError(f"{path}: is a folder, not a workspace file")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise WorkspaceError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not head:
        raise WorkspaceError(f"{path}: the file is empty (not a workspace)")
    return head


def _load(where: str, reader: _Reader, settings_defaults: dict | None) -> Workspace:
    raw = reader.read(MANIFEST, MAX_JSON_BYTES)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise WorkspaceError(f"{where}: {MANIFEST} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (ValueError, RecursionError) as e:
        raise WorkspaceError(f"{where}: {MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise WorkspaceError(f"{where}: not a Diffusion Playground workspace ({MANIFEST} has no format {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WorkspaceError(f"{where}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise WorkspaceError(
            f"{where}: written by a newer Diffusion Playground (workspace format {version}, library "
            f"{manifest.get('library_version', '?')}); this version reads format {FORMAT_VERSION}: please update"
        )
    tgt = manifest.get("target")
    if not isinstance(tgt, dict):
        raise WorkspaceError(f"{where}: {MANIFEST} has no 'target' object")
    kind, name, params = tgt.get("kind"), tgt.get("name"), tgt.get("params", {})
    if kind not in TARGET_KINDS:
        raise WorkspaceError(f"{where}: unknown target kind {kind!r} (known: {', '.join(TARGET_KINDS)})")
    if not isinstance(name, str) or not name:
        raise WorkspaceError(f"{where}: the target has no name")
    if not isinstance(params, dict):
        raise WorkspaceError(f"{where}: the target's params must be an object")
    arrays = {k: reader.array(m) for k, m in _member_map(where, tgt.get("arrays"), "target arrays").items()}
    history = {k: reader.array(m) for k, m in _member_map(where, manifest.get("history"), "history").items()}
    model_member = manifest.get("model")
    if model_member is not None and not isinstance(model_member, str):
        raise WorkspaceError(f"{where}: 'model' must name an archive member or be null")
    model = reader.read(model_member) if model_member else None
    t = manifest.get("t", 0.5)
    view = manifest.get("view", {})
    ws = Workspace(
        TargetSpec(kind, name, params, arrays),
        _check_settings(where, manifest.get("settings", {}), settings_defaults),
        float(t) if _is_number(t) else t,
        model,
        history,
        view,
        {k: manifest.get(k) for k in ("format_version", "library_version", "saved_at")},
        manifest.get("images"),
    )
    _check_workspace(where, ws, settings_defaults)
    return ws


def _check_model_bytes(where: str, data: bytes) -> None:
    from playground.core.training.model_file import ModelFileError, model_from_file_data, read_model_file

    with _model_file(data) as tmp:
        try:
            meta, tensors = read_model_file(tmp)
            model_from_file_data(tmp, meta, tensors)
        except ModelFileError as e:
            msg = str(e).replace(str(tmp), "").lstrip(": ")
            raise WorkspaceError(f"{where}: its model ({MODEL_MEMBER}) cannot be loaded: {msg}") from None
        except Exception as e:  # a model-file bug must not escape as another type
            raise WorkspaceError(
                f"{where}: its model ({MODEL_MEMBER}) cannot be loaded: {type(e).__name__}: {e}"
            ) from None


def looks_like_workspace(path) -> bool:
    """True for a file that is (probably) a workspace: a .dpw name or a zip holding workspace.json. Cheap; for
    routing a dropped file to 'open workspace' rather than 'import target'. Never raises."""
    p = Path(path)
    try:
        if not p.is_file():
            return False
        if p.suffix.lower() == SUFFIX:
            return True
        with open(p, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(p) as zf:
            return MANIFEST in zf.namelist()
    except Exception:
        return False


# ---- autosave and crash recovery ---------------------------------------------------------------------------------
AUTOSAVE_PREFIX = "autosave-"
_LOCK_OFFSET = 1 << 20  # Windows locks this byte (past the JSON info) so the info stays readable


def _lock_fd(fd: int) -> bool:
    """Try to take an exclusive, non-blocking lock on an open file; True on success."""
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)


def _is_held(lock_path: Path) -> bool:
    """True while a running session (this process or another) holds the lock file."""
    try:
        fd = os.open(lock_path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: leave it alone
    try:
        if _lock_fd(fd):
            _unlock_fd(fd)
            return False
        return True
    finally:
        os.close(fd)


def _read_info(lock_path: Path) -> dict:
    try:
        with open(lock_path, "rb") as f:
            data = f.read(64 << 10)
        info = json.loads(data.split(b"\0", 1)[0].decode("utf-8"))
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}


class AutosaveSession:
    """Background autosave of one running app into a cache folder, with crash detection.

        session = AutosaveSession(folder)   # folder: e.g. QStandardPaths.AppLocalDataLocation / "autosave"
        session.start()                     # at start-up (after offering recovery): takes the session lock
        session.write(ws, document=path)    # on a timer, while there are unsaved changes (atomic)
        session.close()                     # on a clean exit: removes the autosave and the lock

    Files: autosave-<id>.dpw (the workspace) and autosave-<id>.lock (JSON info: pid, started, document, saved_at;
    held with an OS file lock for the session's lifetime). The OS drops the lock when the process dies, so after a
    crash the next start finds an autosave whose lock nobody holds: `find_recoverable_autosaves`. Several app
    instances can share the folder; each has its own id.
    """

    def __init__(self, folder, session_id: str | None = None):
        self.folder = Path(folder)
        self.id = session_id or f"{os.getpid()}-{time.time_ns():x}"
        if not re.match(r"^[A-Za-z0-9_.-]{1,80}$", self.id):
            raise ValueError(f"bad autosave session id {self.id!r}")
        self.path = self.folder / f"{AUTOSAVE_PREFIX}{self.id}{SUFFIX}"
        self.lock_path = self.folder / f"{AUTOSAVE_PREFIX}{self.id}.lock"
        self._fd: int | None = None
        self._info: dict = {}

    @property
    def active(self) -> bool:
        return self._fd is not None

    def start(self) -> "AutosaveSession":
        """Create the folder and take the session lock (idempotent)."""
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        self._info = {"pid": os.getpid(), "started": time.time(), "document": None, "saved_at": None,
                      "library_version": __version__}
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        if os.name == "nt":  # pragma: no cover - cannot rename an open file on Windows: lock in place
            fd = os.open(self.lock_path, flags, 0o644)
            if not _lock_fd(fd):
                os.close(fd)
                raise OSError(f"{self.lock_path}: cannot lock the autosave session file")
            self._fd = fd
            self._write_info()
            return self
        tmp = self.folder / f".{self.lock_path.name}.{os.getpid()}.tmp"
        fd = os.open(tmp, flags, 0o644)
        try:
            if not _lock_fd(fd):
                raise OSError(f"{tmp}: cannot lock the autosave session file")
            self._fd = fd
            self._write_info()
            os.replace(tmp, self.lock_path)  # appears already locked: no other instance sees it unlocked
        except BaseException:
            self._fd = None
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return self

    def _write_info(self) -> None:
        data = json.dumps(self._info).encode("utf-8")
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, data)

    def write(self, ws: Workspace, document=None) -> Path:
        """Autosave `ws` (atomically; starts the session if needed). document: the file the user is editing (None
        for an unsaved one), recorded so that recovery can name it."""
        self.start()
        save_workspace(self.path, ws)
        self._info["document"] = None if document is None else str(document)
        self._info["saved_at"] = time.time()
        with contextlib.suppress(OSError):
            self._write_info()
        return self.path

    def discard(self) -> None:
        """Remove the autosave file but keep the session (e.g. after the user saved: nothing left to recover)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def close(self) -> None:
        """Clean exit: remove the autosave and the lock file, release the lock."""
        self.discard()
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.lock_path.unlink()
            _unlock_fd(self._fd)
            os.close(self._fd)
            self._fd = None

    def _abandon(self) -> None:
        """Release the lock and leave the files, as a crash would (for tests)."""
        if self._fd is not None:
            _unlock_fd(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "AutosaveSession":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abandon()  # an exception is a crash: keep the autosave for recovery


@dataclass
class RecoverableAutosave:
    """An autosave left by a session that did not exit cleanly."""

    path: Path
    lock_path: Path | None
    saved_at: float  # the autosave's modification time (seconds since the epoch)
    document: str | None  # the file that session was editing (None: an unsaved workspace)
    pid: int | None

    def load(self, **kwargs) -> Workspace:
        """The autosaved workspace (WorkspaceError if it is unreadable)."""
        return load_workspace(self.path, **kwargs)

    def discard(self) -> None:
        """Delete the autosave and its lock file (after recovering it, or when the user declines)."""
        if self.lock_path is not None and _is_held(self.lock_path):
            return  # a live session took it over meanwhile
        for p in (self.path, self.lock_path):
            if p is not None:
                with contextlib.suppress(FileNotFoundError, OSError):
                    p.unlink()


def autosave_path(folder, session_id: str) -> Path:
    """Where the session `session_id` autosaves in `folder`."""
    return Path(folder) / f"{AUTOSAVE_PREFIX}{session_id}{SUFFIX}"


def find_recoverable_autosaves(folder) -> list[RecoverableAutosave]:
    """Autosaves in `folder` left by sessions that crashed (their lock is free), newest first. Locks without an
    autosave (a crash before the first autosave) are removed. Running sessions (this process included) are
    skipped. A missing folder gives []."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found: list[RecoverableAutosave] = []
    seen: set[str] = set()
    for lock in sorted(folder.glob(f"{AUTOSAVE_PREFIX}*.lock")):
        sid = lock.name[len(AUTOSAVE_PREFIX):-len(".lock")]
        seen.add(sid)
        if _is_held(lock):
            continue
        dpw = autosave_path(folder, sid)
        if not dpw.is_file():
            with contextlib.suppress(OSError):
                lock.unlink()
            continue
        info = _read_info(lock)
        pid = info.get("pid") if isinstance(info.get("pid"), int) else None
        doc = info.get("document") if isinstance(info.get("document"), str) else None
        found.append(RecoverableAutosave(dpw, lock, dpw.stat().st_mtime, doc, pid))
    for dpw in folder.glob(f"{AUTOSAVE_PREFIX}*{SUFFIX}"):
        sid = dpw.name[len(AUTOSAVE_PREFIX):-len(SUFFIX)]
        if sid not in seen and dpw.is_file():  # its lock file is gone: nobody owns it
            found.append(RecoverableAutosave(dpw, None, dpw.stat().st_mtime, None, None))
    found.sort(key=lambda r: r.saved_at, reverse=True)
    return found


def find_recoverable_autosave(folder) -> RecoverableAutosave | None:
    """The newest recoverable autosave in `folder`, or None (see `find_recoverable_autosaves`)."""
    found = find_recoverable_autosaves(folder)
    return found[0] if found else None


def write_autosave(session: AutosaveSession, ws: Workspace, document=None) -> Path:
    """`session.write(ws, document)`: autosave atomically into the session's file."""
    return session.write(ws, document)
