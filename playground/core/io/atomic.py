"""Atomic file writes: write a temporary file in the target's folder, flush + fsync it, then `os.replace` it over
the target. Readers see either the whole old file or the whole new one, never a mix; a crash or an exception while
writing leaves the previous file byte-identical and removes the temporary file.

    atomic_write("samples.csv", b"x,y\\n0,1\\n")
    with atomic_open("workspace.dpw", "wb") as f:   # any exception inside the block keeps the old file
        zipfile.ZipFile(f, "w").writestr(...)

Details: the temporary file is named `.<name>.<random>.tmp` next to the target (same file system, so the rename is
atomic) and created with the usual permissions (0666 minus the umask); when the target already exists its permission
bits are kept. Writing through a symbolic link replaces the file the link points to, not the link. After the rename
the folder is fsynced (POSIX) so the new name itself survives a power cut. Qt-free; used by every writer in the
project (model files, workspaces, exports, samples).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_open", "atomic_write", "temp_path_for"]

_MODES = {"w": "w", "wt": "w", "wb": "wb"}


def _target(path) -> Path:
    p = Path(os.fspath(path))
    if p.is_symlink():
        p = Path(os.path.realpath(p))
    return p


def temp_path_for(path) -> Path:
    """A fresh temporary name in the same folder as `path` (not created)."""
    p = Path(os.fspath(path))
    return p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", *, encoding: str | None = None, newline: str | None = None,
                fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file for writing; on a clean exit of the block it replaces `path` atomically.

    mode: 'wb' (bytes) or 'w' / 'wt' (text; encoding defaults to UTF-8, `newline` as for `open`). On any exception
    (KeyboardInterrupt included) the temporary file is removed, `path` is left as it was, and the exception
    propagates. The parent folder must exist (FileNotFoundError otherwise, raised before anything is written).
    """
    if mode not in _MODES:
        raise ValueError(f"atomic_open supports modes 'wb', 'w' and 'wt', got {mode!r}")
    target = _target(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{target}: folder {folder} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"{target}: is a folder, cannot write a file there")
    binary = mode == "wb"
    if binary and (encoding is not None or newline is not None):
        raise ValueError("encoding and newline apply to text mode only")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(16):
        tmp = temp_path_for(target)
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open()
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 16 collisions of 48 random bits
        raise FileExistsError(f"{target}: could not create a temporary file next to it")
    try:
        f = os.fdopen(fd, _MODES[mode], encoding=None if binary else (encoding or "utf-8"), newline=newline)
    except BaseException:
        os.close(fd)
        _remove(tmp)
        raise
    try:
        with f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        try:
            st = target.stat()
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISREG(st.st_mode):
                with contextlib.suppress(OSError):
                    os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    if fsync:
        _fsync_folder(folder)


def atomic_write(path, data: bytes | str, *, encoding: str = "utf-8", fsync: bool = True) -> Path:
    """Write `data` (bytes, or str encoded with `encoding`) to `path` atomically; returns the path written."""
    if isinstance(data, str):
        data = data.encode(encoding)
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write needs bytes or str, got {type(data).__name__}")
    with atomic_open(path, "wb", fsync=fsync) as f:
        f.write(data)
    return _target(path)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        os.unlink(path)
