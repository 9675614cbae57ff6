"""Validation shared by the workspace writer and reader: numeric arrays only, JSON-able view state, typed settings,
t in [0, 1], a well-formed image-dataset description. Every problem is a `WorkspaceError` naming the file."""

from __future__ import annotations

import math
import re

import numpy as np

from playground.core.io.workspace.format import Workspace, WorkspaceError
from playground.core.io.workspace.targets import TARGET_KINDS, TargetSpec

MAX_ARRAY_NDIM = 4
ARRAY_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def is_number(v) -> bool:
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
    if is_number(value):
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


def check_settings(where: str, settings, defaults: dict | None) -> dict:
    if not isinstance(settings, dict):
        raise WorkspaceError(f"{where}: 'settings' must be an object, got {type(settings).__name__}")
    for k, v in settings.items():
        if not isinstance(k, str) or not (v is None or isinstance(v, (bool, str)) or is_number(v)):
            raise WorkspaceError(f"{where}: setting {k!r} = {v!r} is not a number, string, boolean or null")
        if isinstance(v, float) and not math.isfinite(v):
            raise WorkspaceError(f"{where}: setting {k!r} is {v}")
        if defaults is None or k not in defaults:
            continue
        d = defaults[k]
        ok = (
            (isinstance(d, bool) and isinstance(v, bool))
            or (isinstance(d, int) and not isinstance(d, bool) and isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(d, float) and is_number(v))
            or (isinstance(d, str) and isinstance(v, str))
            or (d is None and not isinstance(v, bool))
        )
        if not ok:
            raise WorkspaceError(f"{where}: setting {k!r} is {v!r}; expected a {type(d).__name__} like {d!r}")
    return dict(settings)


def check_workspace(where: str, ws: Workspace, settings_defaults: dict | None = None) -> None:
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
        if not isinstance(k, str) or not ARRAY_NAME.match(k):
            raise WorkspaceError(f"{where}: bad target array name {k!r}")
        _check_array(where, k, a)
    check_settings(where, ws.settings, settings_defaults)
    if not is_number(ws.t) or not (0.0 <= float(ws.t) <= 1.0):
        raise WorkspaceError(f"{where}: t must be a number in [0, 1], got {ws.t!r}")
    if ws.model is not None and not isinstance(ws.model, (bytes, bytearray)):
        raise WorkspaceError(f"{where}: model must be bytes (a model file) or None")
    if not isinstance(ws.history, dict):
        raise WorkspaceError(f"{where}: history must be a dict of arrays")
    for k, a in ws.history.items():
        if not isinstance(k, str) or not ARRAY_NAME.match(k):
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
