"""Autosave and crash recovery of workspaces, Qt-free: `AutosaveSession` writes the running app's workspace into a
cache folder under an OS file lock; after a crash the next start finds the autosave whose lock nobody holds
(`find_recoverable_autosaves`) and offers it (`RecoverableAutosave`). `WorkspaceController` runs it on a timer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from playground.core.io.workspace import SUFFIX, Workspace, load_workspace, save_workspace
from playground.version import __version__

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
