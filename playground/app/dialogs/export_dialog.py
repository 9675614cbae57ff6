"""File > Export: everything a user makes, in files other programs read. Every write is atomic.

    samples        generated (reverse SDE / PF-ODE, from the Sampling panel), forward particles at t, target samples
                   -> CSV or NPY (`playground.core.io.sample_files.save_samples`)
    trajectories   the stored paths of the Sampling panel (K frames x M particles x 2, t = T first) -> NPY
    pictures       any panel or the whole window -> PNG (QWidget.grab) or SVG (QSvgGenerator)
    animations     forward diffusion (t sweep 0 -> T), score field (t sweep 0 -> T), sampling (the stored frames,
                   t = T -> 0) -> GIF via imageio (MP4 when imageio-ffmpeg is installed; otherwise the option is
                   disabled and its tooltip says why), with fps, duration and size
    model          ONNX or a torch.export program (.pt2), checked against the PyTorch model (max abs difference)

This module is the dialog shell: the choice of item, format and file, the progress bar and the status line. Each
kind of export is a module of `playground.app.dialogs.export` (samples, pictures, animation, model_export; the
table of items in `items`), the background work is in `playground.app.workers.export_worker`. Animations render on
the UI thread a couple of frames per event-loop turn and are then encoded in a worker thread; the progress bar
follows and Cancel stops either phase. Model exports run in a worker process (torch's exporters cannot be
interrupted and hold the GIL); Cancel terminates it.
`export(key, path, ...)` is the scriptable entry (tests call it); `busy`, `last_ok` / `last_message` and the
`done(ok, message)` signal report the outcome.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QThread, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from playground.app.dialogs.export.animation import AnimationExport, animation_unavailable, animation_views
from playground.app.dialogs.export.animation_options import AnimationOptions
from playground.app.dialogs.export.items import (
    FORMAT_LABELS,
    ITEM_BY_KEY,
    ITEMS,
    SUFFIXES,
    Item,
    has_video_writer,
    kind_of,
    resolve_target,
)
from playground.app.dialogs.export.model_export import ModelExport, model_unavailable
from playground.app.dialogs.export.pictures import export_picture, views_aspect
from playground.app.dialogs.export.samples import export_samples, samples_unavailable
from playground.app.workers.export_worker import AnimationEncodeThread


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
        self._job: AnimationExport | ModelExport | None = None
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

        self.anim_box = AnimationOptions()
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
        self.cancel_btn.setToolTip("Stop the running animation or model export (nothing is written).")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.close_btn = QPushButton("Close")
        self.close_btn.setToolTip("Close this dialog.")
        self.close_btn.clicked.connect(self.close)
        for b in (self.export_btn, self.cancel_btn, self.close_btn):
            buttons.addWidget(b)
        lay.addLayout(buttons)
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
        animation = kind_of(it.key) == "animation"
        self.anim_box.setVisible(animation)
        self.anim_box.setEnabled(animation)
        if animation:
            self.anim_box.set_aspect(views_aspect(animation_views(self.window, it.key)))
        self._on_format()
        self.anim_box.update_frames_label()
        self._update_availability()

    def _on_format(self, *_args) -> None:
        fmt = self.format.currentData()
        if fmt is None:
            return
        folder = Path(self.path_edit.text()).parent if self.path_edit.text() else Path(self.window._last_dir())
        self.path_edit.setText(str(folder / f"{self.item.filename}{SUFFIXES[fmt]}"))

    def availability(self, key: str) -> str:
        """'' when `key` can be exported now, else why not."""
        kind = kind_of(key)
        if kind == "animation":
            return animation_unavailable(self.window, key)
        if kind == "model":
            return model_unavailable(self.window)
        return samples_unavailable(self.window, key) if kind == "data" else ""

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
                           fps=self.anim_box.fps.value(), duration=self.anim_box.duration.value(),
                           size=self.anim_box.frame_size())

    def export(self, key: str, path, fmt: str | None = None, *, fps: float = 15, duration: float = 3.0,
               size: tuple[int, int] = (480, 480)) -> bool:
        """Export `key` (an ITEMS key) to `path`. Samples, trajectories and pictures are written at once; an
        animation or a model export starts and finishes later (`busy`, the `done` signal). Returns False (and says
        why in `last_message`) when it cannot run."""
        if self.busy:
            return self._fail("Another export is running.")
        try:
            it, path, fmt = resolve_target(key, path, fmt)
        except ValueError as exc:
            return self._fail(str(exc))
        why = self.availability(key)
        if why:
            return self._fail(why)
        try:
            kind = kind_of(key)
            if kind == "animation":
                if fmt == "mp4" and not has_video_writer():
                    return self._fail("MP4 needs a video writer: pip install imageio-ffmpeg (or export a GIF).")
                job = AnimationExport(self.window, key, path, fmt, float(fps), float(duration), size, self._threads,
                                      parent=self)
                job.progress.connect(self.progress.setValue)
                self._start(job, cancellable=True)
                self.progress.setRange(0, 2 * job.n)
                self.progress.setValue(0)
                return True
            if kind == "model":
                self._start(ModelExport(self.state.model, path, fmt, parent=self), cancellable=True)
                self.progress.setRange(0, 0)  # busy indicator: the exporter reports no progress
                return True
            if kind == "picture":
                return self._succeed(export_picture(self.window, key, path, it.label), path)
            return self._succeed(export_samples(self.window, key, path), path)
        except Exception as exc:  # noqa: BLE001 - every failure is a message
            return self._fail(f"{path.name}: {' '.join(str(exc).split()) or type(exc).__name__}")

    def _start(self, job: AnimationExport | ModelExport, cancellable: bool) -> None:
        """Start an export that finishes later; the dialog is busy until its `finished`."""
        job.status.connect(self.status.setText)
        job.finished.connect(self._on_job_finished)
        try:
            job.start()
        except Exception:
            job.deleteLater()
            raise
        self._job = job
        self._set_busy(True, cancellable=cancellable)

    def _on_job_finished(self, ok: bool, message: str, path: Path | None) -> None:
        job = self._job
        if job is None or self.sender() is not job:
            return
        if isinstance(job, ModelExport):
            self.last_report = job.report
        self._finish_job(ok, message, path)

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
            self.anim_box.setEnabled(kind_of(self.item.key) == "animation")
        self._update_availability()

    def _finish_job(self, ok: bool, message: str, path: Path | None = None) -> None:
        self._job.deleteLater()
        self._job = None
        self._threads[:] = [t for t in self._threads if t.isRunning()]
        self._set_busy(False)
        self.progress.setRange(0, 100)
        self.progress.setValue(100 if ok else 0)
        if ok:
            self._succeed(message, path)
        else:
            self._fail(message)

    def cancel(self) -> None:
        """Stop the running animation or model export at once; nothing is written."""
        if self._job is not None:
            self._job.cancel()

    # ---- closing -------------------------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Cancel a running export and wait for worker threads (window closing)."""
        self.cancel()
        for th in self._threads:
            if isinstance(th, AnimationEncodeThread):
                th.cancelled.cancel()
        for th in self._threads:
            th.wait(timeout_ms)
        if any(th.isRunning() for th in self._threads):
            from playground.app.workers.threads import keep_until_finished

            for th in self._threads:
                if th.isRunning():
                    th.setParent(None)
                    keep_until_finished(th)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(560, 360)
