"""The background half of File > Export: encoding rendered animation frames, and exporting the model.

    Cancellation                                          a cancel flag that excludes the final write (Qt-free)
    encode_animation(frames, path, fps, fmt, cancel)      GIF (imageio) or MP4 (imageio-ffmpeg), atomic; Qt-free
    AnimationEncodeThread                                 runs it; `encoded` counts MP4 frames written; result(ok, msg)
    ModelExportJob                                        a `ModelExportProcess` (the exporter in a spawned process)
                                                          polled from the event loop; result(ExportReport or message)

Cancelling never leaves a file: an encoder checks its Cancellation between frames and writes the file only through
`Cancellation.commit`, so once `cancel()` has returned True nothing is written even though the thread may still be
finishing a frame (GIF frames are encoded in one call to Pillow); a model export's process is terminated at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal

from playground.core.io.atomic import atomic_write, temp_path_for

EXPORT_POLL_MS = 100  # how often a model export's process is asked for its outcome


class Cancellation:
    """A cancel flag and the one write it guards: `cancel()` and `commit(write)` exclude each other, so after
    cancel() returned True nothing is written; False means the write had already happened."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cancelled = False
        self._committed = False

    def is_set(self) -> bool:
        return self._cancelled

    def cancel(self) -> bool:
        with self._lock:
            if self._committed:
                return False
            self._cancelled = True
            return True

    def commit(self, write: Callable[[], object]) -> bool:
        """Run `write` unless cancelled; True when it ran."""
        with self._lock:
            if self._cancelled:
                return False
            write()
            self._committed = True
            return True


def encode_animation(frames: list[np.ndarray], path: Path, fps: float, fmt: str, cancel: Cancellation,
                     progress=None) -> bool:
    """Write frames (H, W, 3 uint8) as GIF or MP4 (atomic); False when cancelled (nothing written)."""
    import imageio.v3 as iio

    if fmt == "gif":
        if cancel.is_set():
            return False
        data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
        return cancel.commit(lambda: atomic_write(path, data))
    if fmt == "mp4":
        import imageio.v2 as iio2

        tmp = temp_path_for(path).with_suffix(".mp4")
        ok = False
        try:
            writer = iio2.get_writer(str(tmp), format="FFMPEG", fps=fps, macro_block_size=1, quality=8)
            try:
                for i, fr in enumerate(frames):
                    if cancel.is_set():
                        return False
                    writer.append_data(fr)
                    if progress is not None:
                        progress(i + 1)
            finally:
                writer.close()
            ok = cancel.commit(lambda: os.replace(tmp, path))
            return ok
        finally:
            if not ok and tmp.exists():
                tmp.unlink()
    raise ValueError(f"unknown animation format {fmt!r}")


class AnimationEncodeThread(QThread):
    """encode_animation in a thread; `cancelled.cancel()` stops it; emits result(ok, message) once."""

    result = Signal(bool, str)

    def __init__(self, frames, path: Path, fps: float, fmt: str):
        super().__init__()
        self.frames, self.path, self.fps, self.fmt = frames, path, fps, fmt
        self.cancelled = Cancellation()
        self.encoded = 0

    def run(self) -> None:
        try:
            ok = encode_animation(self.frames, self.path, self.fps, self.fmt, self.cancelled,
                                  lambda k: setattr(self, "encoded", k))
            self.result.emit(ok, "" if ok else "Cancelled.")
        except Exception as exc:  # noqa: BLE001
            self.result.emit(False, f"{type(exc).__name__}: {exc}")


class ModelExportJob(QObject):
    """export_model(model, path, fmt) in a `ModelExportProcess`, polled every EXPORT_POLL_MS; emits started() when
    the process is exporting and result(ExportReport or an error message) once, unless cancelled."""

    started = Signal()
    result = Signal(object)

    def __init__(self, model, path: Path, fmt: str, parent: QObject | None = None):
        super().__init__(parent)
        self.model, self.path, self.fmt = model, path, fmt
        self.process = None
        self._timer = QTimer(self)
        self._timer.setInterval(EXPORT_POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        from playground.app.workers.model_export_process import ModelExportProcess

        self.process = ModelExportProcess(self.model, self.path, self.fmt)
        self._timer.start()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _poll(self) -> None:
        was_started = self.process.started
        outcome = self.process.poll()
        if self.process.started and not was_started:
            self.started.emit()
        if outcome is not None:
            self._timer.stop()
            self.result.emit(outcome[1])

    def cancel(self) -> None:
        """Terminate the export process (at once); nothing is written and `result` is not emitted."""
        if self._timer.isActive():
            self._timer.stop()
            self.process.cancel()
