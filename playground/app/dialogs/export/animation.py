"""Animations of a panel -> GIF (or MP4 with imageio-ffmpeg): forward diffusion and the score field as t sweeps
0 -> T, sampling as its stored frames replay t = T -> 0.

Frames render on the UI thread, FRAMES_PER_TICK per event-loop turn (the window stays responsive; the panel's scene
is rendered at the chosen size, the app's time and the panel's view are restored afterwards), then an
`AnimationEncodeThread` encodes them; progress runs 0 .. 2n (n frames rendered, then encoded) and `cancel` stops
either phase at once with nothing written (an encoder thread still inside a frame finishes on its own, its file never
written: `Cancellation`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from playground.app.dialogs.export.items import frame_count
from playground.app.dialogs.export.pictures import qimage_to_rgb, render_views
from playground.app.workers.export_worker import AnimationEncodeThread

FRAMES_PER_TICK = 2  # frames rendered per event-loop turn
ENCODE_POLL_MS = 50  # how often the progress bar follows the encoder


def animation_unavailable(window, key: str) -> str:
    """'' when the animation `key` names can be made now, else why not."""
    if key == "anim_sampling":
        sp = window.panels.get("sampling")
        if not any(s.outcome is not None and s.outcome.frames for s in sp.sides.values()):
            return "Run the Sampling panel first (Resample): the animation replays its stored frames."
        if sp.running:
            return "Wait until the Sampling panel has finished."
    return ""


def animation_views(window, key: str) -> list:
    """The plots an animation renders: the sampling views that have a run, or the forward / score plot."""
    if key == "anim_sampling":
        sides = window.panels["sampling"].sides.values()
        return [s.plot for s in sides if s.outcome is not None and s.outcome.frames] or [s.plot for s in sides]
    return [window.panels["forward" if key == "anim_forward" else "score"].plot]


class FrameSource:
    """Renders frame i of an animation (UI thread) and restores the app afterwards."""

    def __init__(self, window, kind: str, n: int, size: tuple[int, int]):
        self.window = window
        self.state = window.state
        self.kind = kind
        self.n = n
        self.size = size
        self.t0 = float(self.state.t)
        self.views = animation_views(window, kind)
        if kind == "anim_sampling":
            self.panel = window.panels["sampling"]
            self.slider0 = self.panel.slider.value()
        else:
            self.panel = window.panels["forward" if kind == "anim_forward" else "score"]

    def render(self, i: int) -> np.ndarray:
        f = i / max(1, self.n - 1)
        if self.kind == "anim_sampling":
            from playground.app.widgets.playback_bar import SLIDER_MAX

            s = self.panel.slider
            s.blockSignals(True)  # the slider is linked to the app's time: do not move every panel
            s.setValue(int(round(f * SLIDER_MAX)))
            s.blockSignals(False)
        else:
            self.state.t = float(f)  # no signal: only this panel redraws, the rest of the app keeps its t
        self.panel._redraw.flush()
        return qimage_to_rgb(render_views(self.views, self.size))

    def restore(self) -> None:
        if self.kind == "anim_sampling":
            s = self.panel.slider
            s.blockSignals(True)
            s.setValue(self.slider0)
            s.blockSignals(False)
        else:
            self.state.t = self.t0
        try:
            self.panel._redraw.flush()
        except Exception:  # noqa: BLE001 - restoring the view must not raise
            pass


class AnimationExport(QObject):
    """One animation export: render the frames (UI thread), encode them (worker thread), report `finished`."""

    progress = Signal(int)  # 0 .. 2n
    status = Signal(str)  # what it is doing
    finished = Signal(bool, str, object)  # ok, message, the file written (None when not)

    def __init__(self, window, key: str, path: Path, fmt: str, fps: float, duration: float, size, threads: list,
                 parent: QObject | None = None):
        """`size` (w, h) is raised to 16 px at least (and to even numbers for MP4); started threads join
        `threads` (the dialog's list, waited for on shutdown)."""
        super().__init__(parent)
        self.window, self.key, self.path, self.fmt, self.fps = window, key, path, fmt, fps
        w, h = max(16, int(size[0])), max(16, int(size[1]))
        if fmt == "mp4":
            w, h = w + (w % 2), h + (h % 2)  # yuv420p wants even sizes
        self.size = (w, h)
        self.n = frame_count(fps, duration)
        self.threads = threads
        self.frames: list[np.ndarray] = []
        self.source: FrameSource | None = None
        self.encoder: AnimationEncodeThread | None = None
        self.cancelled = False
        self._done = False  # `finished` was emitted
        self._tick = QTimer(self)
        self._tick.setInterval(0)
        self._tick.timeout.connect(self._render_some)
        self._poll = QTimer(self)
        self._poll.setInterval(ENCODE_POLL_MS)
        self._poll.timeout.connect(self._poll_encode)

    def start(self) -> None:
        tb = getattr(self.window, "time_bar", None)
        if tb is not None:
            tb.set_playing(False)  # the animation drives the panel's time; the time bar must not move it too
        self.source = FrameSource(self.window, self.key, self.n, self.size)
        self.status.emit(f"Rendering {self.n} frames at {self.size[0]} x {self.size[1]}…")
        self._tick.start()

    def cancel(self) -> None:
        """Stop rendering or encoding; nothing is written. Finishes at once unless the encoder is already writing
        the file (then its result follows within moments): a GIF still being encoded by Pillow (one uninterruptible
        call) finishes in its thread, and its bytes are dropped."""
        if self.cancelled or self._done:
            return
        self.cancelled = True
        if self.encoder is not None:
            if self.encoder.cancelled.cancel():
                self._poll.stop()
                self._finish(False, "Cancelled: nothing was written.")
            else:
                self.status.emit("Too late to cancel: the file is being written…")
            return
        self._tick.stop()
        self.source.restore()
        self._finish(False, "Cancelled: nothing was written.")

    def _finish(self, ok: bool, message: str, path: Path | None = None) -> None:
        if not self._done:
            self._done = True
            self.finished.emit(ok, message, path)

    def _render_some(self) -> None:
        if self.cancelled:
            self._tick.stop()
            return
        try:
            for _ in range(FRAMES_PER_TICK):
                if len(self.frames) >= self.n:
                    break
                self.frames.append(self.source.render(len(self.frames)))
        except Exception as exc:  # noqa: BLE001
            self._tick.stop()
            self.source.restore()
            self._finish(False, f"Rendering failed: {type(exc).__name__}: {exc}")
            return
        self.progress.emit(len(self.frames))
        if len(self.frames) < self.n:
            return
        self._tick.stop()
        self.source.restore()
        self.status.emit(f"Encoding {len(self.frames)} frames as {self.fmt.upper()}…")
        th = AnimationEncodeThread(self.frames, self.path, self.fps, self.fmt)
        th.result.connect(self._on_encoded)
        self.encoder = th
        self.threads.append(th)
        th.start()
        self._poll.start()

    def _poll_encode(self) -> None:
        done = self.encoder.encoded
        self.progress.emit(self.n + (done if done else self.n // 2))

    def _on_encoded(self, ok: bool, message: str) -> None:
        self._poll.stop()
        self.encoder.wait(2000)
        if ok:
            self._finish(True, f"Wrote {self.path.name}: {self.n} frames at {self.fps:g} fps "
                               f"({self.path.stat().st_size:,} bytes).", self.path)
        elif self.cancelled:
            self._finish(False, "Cancelled: nothing was written.")
        else:
            self._finish(False, f"Encoding failed: {message}")
