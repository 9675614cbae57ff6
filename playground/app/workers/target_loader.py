"""Target files off the UI thread: `TargetLoader` reads one (`load_target`) and reports the bytes read; `cancel()`
stops a point file at its next block (any other file's result is dropped when it arrives). Files from
BACKGROUND_BYTES on load this way (`loads_in_background`); smaller ones load at once on the UI thread."""

from __future__ import annotations

import os

from PySide6.QtCore import QThread, Signal

from playground.data.targets.target import DataError

BACKGROUND_BYTES = 4 << 20
"""Target files from this size on (about 200,000 CSV lines, half a second of reading) load in a TargetLoader."""


def loads_in_background(spec: str) -> bool:
    """True for a target file of BACKGROUND_BYTES or more (not for a preset name or a missing file)."""
    try:
        return os.stat(spec).st_size >= BACKGROUND_BYTES
    except (OSError, ValueError):
        return False


class _Cancelled(Exception):
    """Raised from the progress callback to stop the reader."""


class TargetLoader(QThread):
    """`load_target(spec, extent, max_points=...)` in a thread; emits progress(bytes_done, bytes_total), then
    loaded(Target, spec) or failed(message), never both and neither once cancelled."""

    progress = Signal(int, int)
    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, spec: str, extent: float, max_points: int):
        super().__init__()
        self.spec, self.extent, self.max_points = spec, extent, max_points
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def _progress(self, done: int, total: int) -> None:
        if self.cancelled:
            raise _Cancelled
        self.progress.emit(int(done), int(total))

    def run(self) -> None:
        from playground.data.targets.spec import load_target

        try:
            target = load_target(self.spec, self.extent, progress=self._progress, max_points=self.max_points)
        except _Cancelled:
            return
        except DataError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - a loader bug is a message, never a crash
            message = f"{type(exc).__name__}: {exc}"
        else:
            if not self.cancelled:
                self.loaded.emit(target, self.spec)
            return
        if not self.cancelled:
            self.failed.emit(message)


__all__ = ["BACKGROUND_BYTES", "TargetLoader", "loads_in_background"]
