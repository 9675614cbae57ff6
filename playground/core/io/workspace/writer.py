"""Writing a workspace: the .dpw zip archive (`workspace_bytes`, the same bytes for the same workspace) and the atomic
`save_workspace` (a crash mid-save keeps the previous file)."""

from __future__ import annotations

import datetime as _dt
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from playground.core.io.atomic import atomic_open
from playground.core.io.workspace.checks import check_workspace
from playground.core.io.workspace.format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MODEL_MEMBER,
    Workspace,
    WorkspaceError,
)
from playground.version import __version__

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same workspace gives the same bytes


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def workspace_bytes(ws: Workspace) -> bytes:
    """The .dpw archive of a workspace, in memory (what `save_workspace` writes)."""
    check_workspace("workspace", ws)
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
