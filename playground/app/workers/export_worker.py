"""The background half of File > Export: encoding rendered animation frames, and exporting the model.

    encode_animation(frames, path, fps, fmt, cancelled)   GIF (imageio) or MP4 (imageio-ffmpeg), atomic; Qt-free
    AnimationEncodeThread                                 runs it; `encoded` counts MP4 frames written; result(ok, msg)
    ModelExportThread                                     `playground.core.io.export.export_model` on the model it is
                                                          given (a copy); result(ExportReport or the exception)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal

from playground.core.io.atomic import atomic_write, temp_path_for


def encode_animation(frames: list[np.ndarray], path: Path, fps: float, fmt: str, cancelled: threading.Event,
                     progress=None) -> bool:
    """Write frames as GIF or MP4 (atomic); False when cancelled (nothing written)."""
    import imageio.v3 as iio

    if fmt == "gif":
        if cancelled.is_set():
            return False
        data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
        if cancelled.is_set():
            return False
        atomic_write(path, data)
        return True
    if fmt == "mp4":
        import imageio.v2 as iio2

        tmp = temp_path_for(path).with_suffix(".mp4")
        ok = False
        try:
            writer = iio2.get_writer(str(tmp), format="FFMPEG", fps=fps, macro_block_size=1, quality=8)
            try:
                for i, fr in enumerate(frames):
                    if cancelled.is_set():
                        return False
                    writer.append_data(fr)
                    if progress is not None:
                        progress(i + 1)
            finally:
                writer.close()
            os.replace(tmp, path)
            ok = True
            return True
        finally:
            if not ok and tmp.exists():
                tmp.unlink()
    raise ValueError(f"unknown animation format {fmt!r}")


class AnimationEncodeThread(QThread):
    """encode_animation in a thread; `cancelled` stops it; emits result(ok, message) once."""

    result = Signal(bool, str)

    def __init__(self, frames, path: Path, fps: float, fmt: str):
        super().__init__()
        self.frames, self.path, self.fps, self.fmt = frames, path, fps, fmt
        self.cancelled = threading.Event()
        self.encoded = 0

    def run(self) -> None:
        try:
            ok = encode_animation(self.frames, self.path, self.fps, self.fmt, self.cancelled,
                                  lambda k: setattr(self, "encoded", k))
            self.result.emit(ok, "" if ok else "Cancelled.")
        except Exception as exc:  # noqa: BLE001
            self.result.emit(False, f"{type(exc).__name__}: {exc}")


class ModelExportThread(QThread):
    """export_model(model, path, fmt) in a thread with one torch thread; emits result(report or exception)."""

    result = Signal(object)  # ExportReport or an exception

    def __init__(self, model, path: Path, fmt: str):
        super().__init__()
        self.model, self.path, self.fmt = model, path, fmt

    def run(self) -> None:
        import torch

        torch.set_num_threads(1)
        try:
            from playground.core.io.export import export_model

            self.result.emit(export_model(self.model, self.path, self.fmt))
        except Exception as exc:  # noqa: BLE001 - ExportDependencyError included: a message
            self.result.emit(exc)
