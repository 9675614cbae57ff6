"""File > Export: everything a user makes, in files other programs read. Every write is atomic.

    samples        generated (reverse SDE / PF-ODE, from the Sampling panel), forward particles at t, target samples
                   -> CSV or NPY (`playground.core.io.sample_files.save_samples`)
    trajectories   the stored paths of the Sampling panel (K frames x M particles x 2, t = T first) -> NPY
    pictures       any panel or the whole window -> PNG (QWidget.grab) or SVG (QSvgGenerator)
    animations     forward diffusion (t sweep 0 -> T), score field (t sweep 0 -> T), sampling (the stored frames,
                   t = T -> 0) -> GIF via imageio (MP4 when imageio-ffmpeg is installed; otherwise the option is
                   disabled and its tooltip says why), with fps, duration and size
    model          ONNX or a torch.export program (.pt2), checked against the PyTorch model (max abs difference)

Animations render on the UI thread a couple of frames per event-loop turn (the window stays responsive; the panel's
scene is rendered at the chosen size, the app's time and the panel's view are restored afterwards) and are then
encoded in a worker thread; the progress bar follows and Cancel stops either phase. Model exports run in a worker
thread on a copy of the model. `export(key, path, ...)` is the scriptable entry (tests call it); `busy`,
`last_ok` / `last_message` and the `done(ok, message)` signal report the outcome.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRectF, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.core.io.atomic import atomic_write, temp_path_for
from playground.core.io.sample_files import save_samples, save_trajectory

SUFFIXES = {"csv": ".csv", "npy": ".npy", "png": ".png", "svg": ".svg", "gif": ".gif", "mp4": ".mp4",
            "onnx": ".onnx", "torch-export": ".pt2"}
FORMAT_LABELS = {"csv": "CSV (.csv)", "npy": "NumPy (.npy)", "png": "PNG image (.png)", "svg": "SVG vector (.svg)",
                 "gif": "GIF animation (.gif)", "mp4": "MP4 video (.mp4)", "onnx": "ONNX (.onnx)",
                 "torch-export": "torch.export program (.pt2)"}
MAX_FRAMES = 600
FRAMES_PER_TICK = 2  # frames rendered per event-loop turn


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    formats: tuple[str, ...]
    tip: str
    filename: str


PANEL_TITLES = {"target": "Target", "forward": "Forward diffusion", "score": "Score field",
                "sampling": "Sampling (SDE | ODE)", "training": "Training", "settings": "Settings"}

ITEMS: tuple[Item, ...] = (
    Item("samples_sde", "Samples — reverse SDE", ("csv", "npy"),
         "The samples of the last run of the Sampling panel's reverse SDE (data space, N x 2).", "samples_sde"),
    Item("samples_ode", "Samples — probability-flow ODE", ("csv", "npy"),
         "The samples of the last run of the Sampling panel's PF-ODE (data space, N x 2).", "samples_ode"),
    Item("forward", "Samples — forward particles at t", ("csv", "npy"),
         "The Forward diffusion panel's particles x_t at the current time t.", "forward"),
    Item("target", "Samples — target", ("csv", "npy"), "The target samples the app trains on.", "target"),
    Item("traj_sde", "Trajectories — reverse SDE", ("npy",),
         "The stored paths of the SDE run: (K frames, M particles, 2), t = T first.", "trajectories_sde"),
    Item("traj_ode", "Trajectories — probability-flow ODE", ("npy",),
         "The stored paths of the ODE run: (K frames, M particles, 2), t = T first.", "trajectories_ode"),
    *(Item(f"panel:{k}", f"Picture — {title} panel", ("png", "svg"), f"The {title} panel as it is on screen.",
           f"{k}_panel") for k, title in PANEL_TITLES.items()),
    Item("panel:window", "Picture — the whole window", ("png", "svg"), "The whole window as it is on screen.",
         "window"),
    Item("anim_forward", "Animation — forward diffusion (t from 0 to T)", ("gif", "mp4"),
         "The Forward diffusion panel as t sweeps from 0 (data) to T (noise).", "forward"),
    Item("anim_score", "Animation — score field (t from 0 to T)", ("gif", "mp4"),
         "The Score field panel as t sweeps from 0 to T.", "score_field"),
    Item("anim_sampling", "Animation — sampling (stored frames, T to 0)", ("gif", "mp4"),
         "The Sampling panel's stored frames replayed from t = T (noise) to t = 0 (samples), SDE | ODE.",
         "sampling"),
    Item("model", "Model — for use elsewhere", ("onnx", "torch-export"),
         "The trained network as ONNX or a torch.export program: inputs x (N, 2) and t (N,), outputs the score "
         "and the denoiser in data space; checked against PyTorch.", "model"),
)
ITEM_BY_KEY = {it.key: it for it in ITEMS}


def has_video_writer() -> bool:
    """True when imageio can write MP4 (imageio-ffmpeg installed)."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


# ---- pictures ------------------------------------------------------------------------------------------------------
def image_bytes(image: QImage, fmt: str = "PNG") -> bytes:
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, fmt):
        raise OSError(f"could not encode the image as {fmt}")
    return bytes(buf.data())


def svg_bytes(widget: QWidget, title: str = "") -> bytes:
    """The widget painted into an SVG document (vector where Qt paints vectors: plot curves, text, axes)."""
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    size = widget.size()
    gen.setSize(size)
    gen.setViewBox(QRectF(0, 0, size.width(), size.height()))
    gen.setTitle(title or "Diffusion Playground")
    gen.setDescription("Exported from Diffusion Playground")
    p = QPainter()
    if not p.begin(gen):
        raise OSError("could not start the SVG painter")
    try:
        widget.render(p, QPoint())
    finally:
        p.end()
    buf.close()
    return bytes(data)


def save_widget_picture(widget: QWidget, path, title: str = "") -> Path:
    """A widget as PNG or SVG (by suffix), written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = image_bytes(widget.grab().toImage(), "PNG")
    elif suffix == ".svg":
        data = svg_bytes(widget, title)
    else:
        raise ValueError(f"{path.name}: pictures are saved as .png or .svg")
    atomic_write(path, data)
    return path


def qimage_to_rgb(img: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage."""
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    a = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    return a[:, : w * 3].reshape(h, w, 3).copy()


def render_views(views, size: tuple[int, int]) -> QImage:
    """pyqtgraph views (GraphicsView / PlotWidget) side by side, their scenes rendered at `size` (w, h) in all."""
    w, h = int(size[0]), int(size[1])
    img = QImage(w, h, QImage.Format.Format_RGB32)
    bg = views[0].backgroundBrush().color() if views else QColor("white")
    img.fill(bg)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    try:
        cell = w / max(1, len(views))
        for i, v in enumerate(views):
            scene = v.scene()
            src = QRectF(v.sceneRect() if hasattr(v, "sceneRect") else scene.sceneRect())
            if src.width() <= 0 or src.height() <= 0:
                continue
            k = min(cell / src.width(), h / src.height())  # fit, centred in the cell (letterboxed)
            tw, th = src.width() * k, src.height() * k
            target = QRectF(i * cell + (cell - tw) / 2, (h - th) / 2, tw, th)
            scene.render(p, target, src, Qt.AspectRatioMode.IgnoreAspectRatio)
    finally:
        p.end()
    return img


# ---- animation frames ----------------------------------------------------------------------------------------------
class _FrameSource:
    """Renders frame i of an animation (UI thread) and restores the app afterwards."""

    def __init__(self, window, kind: str, n: int, size: tuple[int, int]):
        self.window = window
        self.state = window.state
        self.kind = kind
        self.n = n
        self.size = size
        self.t0 = float(self.state.t)
        if kind == "anim_sampling":
            self.panel = window.panels["sampling"]
            self.views = [s.plot for s in self.panel.sides.values() if s.outcome is not None and s.outcome.frames]
            self.slider0 = self.panel.slider.value()
        else:
            self.panel = window.panels["forward" if kind == "anim_forward" else "score"]
            self.views = [self.panel.plot]

    def render(self, i: int) -> np.ndarray:
        f = i / max(1, self.n - 1)
        if self.kind == "anim_sampling":
            from playground.app.panels.sampling_panel import SLIDER_MAX

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


class _EncodeThread(QThread):
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


class _ModelThread(QThread):
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


# ---- the dialog ----------------------------------------------------------------------------------------------------
class ExportDialog(QDialog):
    """File > Export (module docstring)."""

    done = Signal(bool, str)

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent if parent is not None else window)
        self.window = window
        self.state = window.state
        self.setWindowTitle("Export")
        self.setMinimumWidth(520)
        self.busy = False
        self.last_ok: bool | None = None
        self.last_message = ""
        self.last_report = None
        self._job: dict | None = None
        self._threads: list[QThread] = []

        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.what = QComboBox()
        self.what.setToolTip("What to export.")
        for it in ITEMS:
            self.what.addItem(it.label, it.key)
            self.what.setItemData(self.what.count() - 1, it.tip, Qt.ItemDataRole.ToolTipRole)
        self.what.currentIndexChanged.connect(self._on_what)
        form.addRow("Export", self.what)
        self.format = QComboBox()
        self.format.setToolTip("The file format.")
        self.format.currentIndexChanged.connect(self._on_format)
        form.addRow("Format", self.format)
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setToolTip("The file to write (written atomically: an existing file is replaced only when "
                                  "the export succeeds).")
        self.browse_btn = QPushButton("Browse…")
        self.browse_btn.setToolTip("Choose the file.")
        self.browse_btn.clicked.connect(self.browse)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_btn)
        form.addRow("File", row)
        lay.addLayout(form)

        self.anim_box = QGroupBox("Animation")
        af = QFormLayout(self.anim_box)
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(15)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Frames per second.")
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.2, 60.0)
        self.duration.setValue(3.0)
        self.duration.setSingleStep(0.5)
        self.duration.setSuffix(" s")
        self.duration.setToolTip(f"Length of the animation (fps x duration frames, at most {MAX_FRAMES}).")
        size_row = QHBoxLayout()
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for sp, v, name in ((self.width_spin, 480, "Width"), (self.height_spin, 480, "Height")):
            sp.setRange(32, 3840)
            sp.setValue(v)
            sp.setSuffix(" px")
            sp.setToolTip(f"{name} of the animation in pixels.")
            size_row.addWidget(sp)
        self.frames_label = QLabel()
        self.frames_label.setToolTip("Frames that will be rendered.")
        size_row.addWidget(self.frames_label)
        af.addRow("Speed", self.fps)
        af.addRow("Duration", self.duration)
        af.addRow("Size", size_row)
        for sp in (self.fps, self.duration):
            sp.valueChanged.connect(self._update_frames_label)
        lay.addWidget(self.anim_box)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setToolTip("Progress of the running export.")
        lay.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setToolTip("What the export did, or why it cannot run.")
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.export_btn = QPushButton("Export")
        self.export_btn.setDefault(True)
        self.export_btn.setToolTip("Write the file.")
        self.export_btn.clicked.connect(self.export_current)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the running animation export (nothing is written).")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.close_btn = QPushButton("Close")
        self.close_btn.setToolTip("Close this dialog.")
        self.close_btn.clicked.connect(self.close)
        for b in (self.export_btn, self.cancel_btn, self.close_btn):
            buttons.addWidget(b)
        lay.addLayout(buttons)

        self._tick = QTimer(self)
        self._tick.setInterval(0)
        self._tick.timeout.connect(self._render_some)
        self._poll = QTimer(self)
        self._poll.setInterval(50)
        self._poll.timeout.connect(self._poll_encode)
        self._on_what()

    # ---- choices -------------------------------------------------------------------------------------------------
    @property
    def item(self) -> Item:
        return ITEM_BY_KEY[self.what.currentData()]

    def select(self, key: str, fmt: str | None = None) -> None:
        i = self.what.findData(key)
        if i < 0:
            raise KeyError(key)
        self.what.setCurrentIndex(i)
        if fmt is not None:
            j = self.format.findData(fmt)
            if j < 0:
                raise KeyError(fmt)
            self.format.setCurrentIndex(j)

    def refresh(self, last_dock: str | None = None) -> None:
        """Called when the dialog opens: suggests a picture of the panel used last the first time."""
        if last_dock and not self.path_edit.text():
            self.select(f"panel:{last_dock}" if f"panel:{last_dock}" in ITEM_BY_KEY else "samples_sde")
        self._update_availability()

    def _on_what(self, *_args) -> None:
        it = self.item
        self.format.blockSignals(True)
        self.format.clear()
        video = has_video_writer()
        for f in it.formats:
            self.format.addItem(FORMAT_LABELS[f], f)
            if f == "mp4" and not video:
                idx = self.format.count() - 1
                model_item = self.format.model().item(idx)
                model_item.setEnabled(False)
                self.format.setItemData(idx, "MP4 needs a video writer: pip install imageio-ffmpeg",
                                        Qt.ItemDataRole.ToolTipRole)
        self.format.blockSignals(False)
        self.anim_box.setVisible(it.key.startswith("anim_"))
        self.anim_box.setEnabled(it.key.startswith("anim_"))
        self._on_format()
        self._update_frames_label()
        self._update_availability()

    def _on_format(self, *_args) -> None:
        fmt = self.format.currentData()
        if fmt is None:
            return
        folder = Path(self.path_edit.text()).parent if self.path_edit.text() else Path(self.window._last_dir())
        self.path_edit.setText(str(folder / f"{self.item.filename}{SUFFIXES[fmt]}"))

    def _update_frames_label(self, *_args) -> None:
        self.frames_label.setText(f"{self.frame_count(self.fps.value(), self.duration.value())} frames")

    @staticmethod
    def frame_count(fps: float, duration: float) -> int:
        return int(min(MAX_FRAMES, max(2, round(fps * duration))))

    def availability(self, key: str) -> str:
        """'' when `key` can be exported now, else why not."""
        w, st = self.window, self.state
        sp = w.panels.get("sampling")
        if key in ("samples_sde", "samples_ode", "traj_sde", "traj_ode"):
            side = sp.sides["sde" if key.endswith("sde") else "ode"]
            if side.outcome is None or side.outcome.x is None:
                return "Run the Sampling panel first (Resample), and wait until it has finished."
            if key.startswith("traj") and (side.outcome.paths is None or len(side.outcome.paths) < 2):
                return "The last sampling run kept no trajectories (Settings: trajectories > 0)."
        elif key == "anim_sampling":
            if not any(s.outcome is not None and s.outcome.frames for s in sp.sides.values()):
                return "Run the Sampling panel first (Resample): the animation replays its stored frames."
            if sp.running:
                return "Wait until the Sampling panel has finished."
        elif key == "model":
            if st.model is None:
                return "Train a model first (Train > Play) or open one."
        elif key == "forward":
            if len(st.target_samples) == 0:
                return "The target is empty."
        return ""

    def _update_availability(self) -> None:
        why = "" if self.busy else self.availability(self.item.key)
        self.export_btn.setEnabled(not self.busy and not why)
        if not self.busy:
            self.status.setText(why or self.item.tip)

    def browse(self) -> None:
        fmt = self.format.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(),
                                              f"{FORMAT_LABELS[fmt]} (*{SUFFIXES[fmt]})")
        if path:
            if not path.lower().endswith(SUFFIXES[fmt]):
                path += SUFFIXES[fmt]
            self.path_edit.setText(path)

    # ---- exporting -----------------------------------------------------------------------------------------------
    def export_current(self) -> bool:
        return self.export(self.item.key, self.path_edit.text(), self.format.currentData(),
                           fps=self.fps.value(), duration=self.duration.value(),
                           size=(self.width_spin.value(), self.height_spin.value()))

    def export(self, key: str, path, fmt: str | None = None, *, fps: float = 15, duration: float = 3.0,
               size: tuple[int, int] = (480, 480)) -> bool:
        """Export `key` (an ITEMS key) to `path`. Samples, trajectories and pictures are written at once; an
        animation or a model export starts and finishes later (`busy`, the `done` signal). Returns False (and says
        why in `last_message`) when it cannot run."""
        if self.busy:
            return self._fail("Another export is running.")
        it = ITEM_BY_KEY.get(key)
        if it is None:
            return self._fail(f"unknown export {key!r}")
        path = Path(str(path)).expanduser() if str(path) else None
        if path is None:
            return self._fail("Choose a file to write.")
        if fmt is None:
            fmt = next((f for f in it.formats if SUFFIXES[f] == path.suffix.lower()), it.formats[0])
        if fmt not in it.formats:
            return self._fail(f"{it.label} can be exported as {', '.join(it.formats)}, not {fmt}")
        if path.suffix.lower() != SUFFIXES[fmt]:
            path = path.with_name(path.name + SUFFIXES[fmt])
        why = self.availability(key)
        if why:
            return self._fail(why)
        try:
            if key.startswith("anim_"):
                return self._start_animation(key, path, fmt, float(fps), float(duration), size)
            if key == "model":
                return self._start_model(path, fmt)
            if key.startswith("panel:"):
                name = key.split(":", 1)[1]
                widget = self.window if name == "window" else self.window.docks[name].widget()
                save_widget_picture(widget, path, it.label)
                return self._succeed(f"Wrote {path.name} ({path.stat().st_size:,} bytes).", path)
            x = self.data_for(key)
            if key.startswith("traj"):
                save_trajectory(path, x)
                return self._succeed(f"Wrote {path.name}: {x.shape[0]} frames x {x.shape[1]} particles.", path)
            save_samples(path, x)
            return self._succeed(f"Wrote {len(x):,} samples to {path.name}.", path)
        except Exception as exc:  # noqa: BLE001 - every failure is a message
            return self._fail(f"{path.name}: {' '.join(str(exc).split()) or type(exc).__name__}")

    def data_for(self, key: str) -> np.ndarray:
        """The array a samples / trajectories export writes."""
        st = self.state
        sp = self.window.panels["sampling"]
        if key in ("samples_sde", "samples_ode"):
            return np.asarray(sp.sides[key[-3:]].outcome.x, np.float32)
        if key in ("traj_sde", "traj_ode"):
            return np.asarray(sp.sides[key[-3:]].outcome.paths, np.float32)
        if key == "forward":
            return np.asarray(self.window.panels["forward"].compute_particles(float(st.t)), np.float32)
        if key == "target":
            return np.asarray(st.target_samples, np.float32)
        raise KeyError(key)

    def _succeed(self, message: str, path: Path | None = None) -> bool:
        self.last_ok, self.last_message = True, message
        self.status.setText(message)
        self.progress.setValue(100)
        if path is not None:
            self.window.store.setValue("files/last_dir", str(path.parent))
        self.window.statusBar().showMessage(message, 6000)
        self.done.emit(True, message)
        return True

    def _fail(self, message: str) -> bool:
        self.last_ok, self.last_message = False, message
        self.status.setText(message)
        self.done.emit(False, message)
        return False

    def _set_busy(self, busy: bool, cancellable: bool = False) -> None:
        self.busy = busy
        self.cancel_btn.setEnabled(busy and cancellable)
        for wdg in (self.what, self.format, self.path_edit, self.browse_btn, self.anim_box):
            wdg.setEnabled(not busy)
        if not busy:
            self.anim_box.setEnabled(self.item.key.startswith("anim_"))
        self._update_availability()

    # animations
    def _start_animation(self, key: str, path: Path, fmt: str, fps: float, duration: float, size) -> bool:
        if fmt == "mp4" and not has_video_writer():
            return self._fail("MP4 needs a video writer: pip install imageio-ffmpeg (or export a GIF).")
        w, h = max(16, int(size[0])), max(16, int(size[1]))
        if fmt == "mp4":
            w, h = w + (w % 2), h + (h % 2)  # yuv420p wants even sizes
        n = self.frame_count(fps, duration)
        tb = getattr(self.window, "time_bar", None)
        if tb is not None:
            tb.set_playing(False)  # the animation drives the panel's time; the time bar must not move it too
        src = _FrameSource(self.window, key, n, (w, h))
        self._job = {"kind": key, "path": path, "fmt": fmt, "fps": fps, "n": n, "frames": [], "source": src,
                     "encoder": None, "cancelled": False}
        self.progress.setRange(0, 2 * n)
        self.progress.setValue(0)
        self.status.setText(f"Rendering {n} frames at {w} x {h}…")
        self._set_busy(True, cancellable=True)
        self._tick.start()
        return True

    def _render_some(self) -> None:
        job = self._job
        if job is None or job["cancelled"]:
            self._tick.stop()
            return
        frames, src = job["frames"], job["source"]
        try:
            for _ in range(FRAMES_PER_TICK):
                if len(frames) >= job["n"]:
                    break
                frames.append(src.render(len(frames)))
        except Exception as exc:  # noqa: BLE001
            self._tick.stop()
            src.restore()
            self._finish_job(False, f"Rendering failed: {type(exc).__name__}: {exc}")
            return
        self.progress.setValue(len(frames))
        if len(frames) < job["n"]:
            return
        self._tick.stop()
        src.restore()
        self.status.setText(f"Encoding {len(frames)} frames as {job['fmt'].upper()}…")
        th = _EncodeThread(frames, job["path"], job["fps"], job["fmt"])
        th.result.connect(self._on_encoded)
        job["encoder"] = th
        self._threads.append(th)
        th.start()
        self._poll.start()

    def _poll_encode(self) -> None:
        job = self._job
        if job is None or job["encoder"] is None:
            self._poll.stop()
            return
        n = job["n"]
        done = job["encoder"].encoded
        self.progress.setValue(n + (done if done else n // 2))

    def _on_encoded(self, ok: bool, message: str) -> None:
        job = self._job
        self._poll.stop()
        if job is None:
            return
        th = job["encoder"]
        if th is not None:
            th.wait(2000)
        if job["cancelled"]:
            self._finish_job(False, "Cancelled: nothing was written.")
        elif ok:
            path = job["path"]
            self._finish_job(True, f"Wrote {path.name}: {job['n']} frames at {job['fps']:g} fps "
                                   f"({path.stat().st_size:,} bytes).", path)
        else:
            self._finish_job(False, f"Encoding failed: {message}")

    def _finish_job(self, ok: bool, message: str, path: Path | None = None) -> None:
        self._job = None
        self._threads = [t for t in self._threads if t.isRunning()]
        self._set_busy(False)
        self.progress.setRange(0, 100)
        self.progress.setValue(100 if ok else 0)
        if ok:
            self._succeed(message, path)
        else:
            self._fail(message)

    def cancel(self) -> None:
        """Stop the running animation export; nothing is written."""
        job = self._job
        if job is None or not job["kind"].startswith("anim_"):
            return
        job["cancelled"] = True
        if job["encoder"] is not None:
            job["encoder"].cancelled.set()  # _on_encoded finishes
            self.status.setText("Cancelling…")
            return
        self._tick.stop()
        job["source"].restore()
        self._finish_job(False, "Cancelled: nothing was written.")

    # model
    def _start_model(self, path: Path, fmt: str) -> bool:
        model = copy.deepcopy(self.state.model)  # the worker owns its copy; the app's snapshot stays free
        th = _ModelThread(model, path, fmt)
        th.result.connect(self._on_model_done)
        self._job = {"kind": "model", "path": path, "fmt": fmt, "thread": th}
        self._threads.append(th)
        self.progress.setRange(0, 0)  # busy indicator: the exporter reports no progress
        self.status.setText(f"Exporting the model as {FORMAT_LABELS[fmt]} and checking it against PyTorch…")
        self._set_busy(True, cancellable=False)
        th.start()
        return True

    def _on_model_done(self, result) -> None:
        job = self._job
        if job is None:
            return
        job["thread"].wait(2000)
        if isinstance(result, BaseException):
            self.last_report = None
            self._finish_job(False, f"Model export failed: {' '.join(str(result).split()) or type(result).__name__}")
            return
        self.last_report = result
        diff = result.max_abs_diff
        check = (f"max abs difference vs PyTorch {diff:.3g} ({result.checked_with})" if diff is not None
                 else "not checked (no runtime installed)")
        self._finish_job(True, f"Wrote {result.path.name} in {result.seconds:.1f} s; {check}.", result.path)

    # ---- closing -------------------------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Cancel a running export and wait for worker threads (window closing)."""
        self.cancel()
        for th in self._threads:
            if isinstance(th, _EncodeThread):
                th.cancelled.set()
        for th in self._threads:
            th.wait(timeout_ms)
        if any(th.isRunning() for th in self._threads):
            from playground.app.workers.training_worker import keep_until_finished

            for th in self._threads:
                if th.isRunning():
                    th.setParent(None)
                    keep_until_finished(th)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(560, 360)
