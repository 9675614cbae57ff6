"""Reading a workspace: `load_workspace` validates everything (every problem raises one `WorkspaceError` naming the
file) and `looks_like_workspace` routes a dropped file cheaply.

Loading is bounded: at most MAX_MEMBERS members, MAX_JSON_BYTES of JSON and `max_bytes` (default MAX_TOTAL_BYTES)
uncompressed bytes in all, checked against the declared sizes before anything is decompressed and enforced while
reading (a zip bomb or a lying header is refused, not unpacked). Arrays are parsed from their .npy header without
pickle (object, string and structured dtypes are refused).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from playground.core.io.workspace.checks import ARRAY_NAME, MAX_ARRAY_NDIM, check_settings, check_workspace, is_number
from playground.core.io.workspace.format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MODEL_MEMBER,
    SUFFIX,
    Workspace,
    WorkspaceError,
    temporary_model_file,
)
from playground.core.io.workspace.targets import TARGET_KINDS, TargetSpec

MAX_TOTAL_BYTES = 1 << 30
"""Uncompressed bytes read from one workspace (all members together): 1 GiB."""
MAX_JSON_BYTES = 16 << 20
MAX_MEMBERS = 1000


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
        if not ARRAY_NAME.match(k):
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
        check_settings(where, manifest.get("settings", {}), settings_defaults),
        float(t) if is_number(t) else t,
        model,
        history,
        view,
        {k: manifest.get(k) for k in ("format_version", "library_version", "saved_at")},
        manifest.get("images"),
    )
    check_workspace(where, ws, settings_defaults)
    return ws


def _check_model_bytes(where: str, data: bytes) -> None:
    from playground.core.training.model_file import ModelFileError, model_from_file_data, read_model_file

    with temporary_model_file(data) as tmp:
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
