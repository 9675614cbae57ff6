"""The Target panel's Import tab: load a target from a file (`load_target`) with a file dialog or by dropping it on
the panel. An image also goes on the Draw canvas, a diagonal GMM into the Gaussian editor; all in one undoable step.
A large file (workers.target_loader.BACKGROUND_BYTES) loads in a `TargetLoader` thread behind a window-modal progress
dialog with a Cancel button; a point file beyond APP_MAX_POINTS keeps a random subset, and the message line says so."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QLabel,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.target.command import TargetCommand, TargetHost
from playground.app.panels.target.previews import EXTENT
from playground.app.resources import examples_dir
from playground.app.workers.target_loader import TargetLoader, loads_in_background
from playground.app.workers.threads import keep_until_finished
from playground.data.targets.gmm_components import components_from_gmm
from playground.data.targets.points import size_text, subset_note
from playground.data.targets.target import DataError

if TYPE_CHECKING:
    from playground.app.panels.target.draw_page import DrawPage
    from playground.app.widgets.gmm_editor import GmmEditor

APP_MAX_POINTS = 10_000
"""Points the app keeps from a point file (a uniform random subset beyond): the Forward and Score panels evaluate the
exact empirical score on the UI thread with a budget of about 2e7 grid cells x points (POINTS_BUDGET), i.e. ~10^4
points at their coarsest grids; 10,000 points resolve a 2D density well below a pixel of those views."""
IMPORT_SUFFIXES = (".png", ".jpg", ".jpeg", ".csv", ".npy", ".json")
IMPORT_FILTER = "Targets (*.png *.jpg *.jpeg *.csv *.npy *.json);;Images (*.png *.jpg *.jpeg);;Points (*.csv *.npy);;GMM (*.json)"


def local_files(mime: QMimeData) -> list[str]:
    """The local files a drag carries."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


def importable(files: list[str]) -> list[str]:
    """The files with a suffix the importer reads."""
    return [f for f in files if Path(f).suffix.lower() in IMPORT_SUFFIXES]


class ImportPage(QWidget):
    """An Import file… button, the drop area (what each kind of file becomes) and the last imported path.
    `start_dir()`: where the file dialog opens (the bundled examples unless the main window knows better);
    `imported(path)`: a file became the target."""

    imported = Signal(str)

    def __init__(self, host: TargetHost, draw: DrawPage, gmm_editor: GmmEditor, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.start_dir: Callable[[], str] = lambda: str(examples_dir() or "")
        self.draw = draw
        self.gmm_editor = gmm_editor
        self.loader: TargetLoader | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.import_button = QPushButton("Import file…")
        self.import_button.setToolTip(
            "Load a target: PNG/JPG image (brightness = density), CSV/NPY point set (N×2), or GMM JSON\n"
            '({"weights": [...], "means": [[x, y], ...], "covariances": [[[a, b], [b, c]], ...]})'
        )
        self.import_button.clicked.connect(self.import_dialog)
        drop = QLabel(
            "Drop a file anywhere on this panel\n\n"
            "PNG / JPG  →  density (brighter = denser), also opened in Draw\n"
            "CSV / NPY  →  point set (exact score: its ideal denoiser)\n"
            "JSON  →  Gaussian mixture (exact score: closed form), also opened in Gaussians"
        )
        drop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        drop.setWordWrap(True)
        drop.setFrameShape(QFrame.Shape.StyledPanel)
        drop.setStyleSheet("QLabel { border: 2px dashed palette(mid); border-radius: 8px; padding: 12px; }")
        drop.setToolTip("Drag a .png, .jpg, .csv, .npy or .json file here")
        drop.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.import_path_label = QLabel("")
        self.import_path_label.setWordWrap(True)
        self.import_path_label.setToolTip("The last imported file")
        lay = QVBoxLayout(self)
        lay.addWidget(self.import_button)
        lay.addWidget(drop, 1)
        lay.addWidget(self.import_path_label)

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import target", self.start_dir(), IMPORT_FILTER)
        if path:
            self.import_file(path)

    def import_file(self, path: str | os.PathLike) -> bool:
        """Load a target from a file (or a preset name) and make it the target (undoable).

        On a bad file the message is shown (and emitted as errorOccurred), the current target is kept, and False
        is returned. An image is also put on the Draw canvas, a diagonal GMM into the Gaussian editor. A file of
        BACKGROUND_BYTES or more loads in a `TargetLoader` with a progress dialog and a Cancel button (True: the load
        started; the target changes, or the message says why not, when it ends); a load still running is cancelled.
        """
        spec = os.fspath(path)
        self.cancel_import()
        if loads_in_background(spec):
            self._start_loader(spec)
            return True
        from playground.data.targets.spec import load_target

        try:
            target = load_target(spec, EXTENT, max_points=APP_MAX_POINTS)
        except Exception as e:  # a loader bug must not take the app down either
            self._report_failure(spec, e if isinstance(e, DataError) else f"{type(e).__name__}: {e}")
            return False
        self._adopt(target, spec)
        return True

    def _report_failure(self, spec: str, why) -> None:
        self.host.report_error(f"Could not import {Path(spec).name}: {why}")

    def _adopt(self, target, spec: str) -> None:
        """Make a loaded target the target, in one undoable step with the Draw canvas and the Gaussian editor."""
        diff = None
        gmm_before = gmm_after = None
        if "raster" in (target.params or {}):
            diff = self.draw.load_raster_into_canvas(target)
        if target.gmm is not None:
            comps = components_from_gmm(target.gmm)
            if comps is not None:
                gmm_before, gmm_after = self.gmm_editor.components, comps
        self.host.undo_stack.push(
            TargetCommand(
                self.host,
                f"Import {Path(spec).name}",
                self.host.state.target,
                target_after=target,
                diff=diff,
                gmm_before=gmm_before,
                gmm_after=gmm_after,
            )
        )
        self.import_path_label.setText(f"Imported: {spec}")
        self.imported.emit(spec)
        if note := subset_note(target):
            self.host.show_message(f"Imported {Path(spec).name}: {note}", error=False)
        elif diff is not None:
            self.host.show_message(
                f"Imported {Path(spec).name}; it is also on the Draw canvas to edit further.", error=False
            )

    # ---- large files: in a TargetLoader, with a progress dialog ---------------------------------------------------
    @property
    def loading(self) -> bool:
        """True while a large file loads in the background."""
        return self.loader is not None

    def _start_loader(self, spec: str) -> None:
        name = Path(spec).name
        th = TargetLoader(spec, EXTENT, APP_MAX_POINTS)
        dialog = QProgressDialog(f"Reading {name} ({size_text(os.stat(spec).st_size)})…", "Cancel", 0, 0, self)
        dialog.setWindowTitle("Import target")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel_import)
        th.progress.connect(self._on_progress)
        th.loaded.connect(self._on_loaded)
        th.failed.connect(self._on_failed)
        th.finished.connect(lambda t=th: self._on_finished(t))
        self.loader, self.progress_dialog = th, dialog
        th.start()
        dialog.show()

    def _current(self) -> bool:
        """True when the signal being handled comes from the running loader (not a cancelled one's queued signal)."""
        return self.loader is not None and self.sender() is self.loader

    def _on_progress(self, done: int, total: int) -> None:
        if self._current() and self.progress_dialog is not None and total > 0:
            self.progress_dialog.setMaximum(1000)
            self.progress_dialog.setValue(min(999, int(1000 * done / total)))

    def _on_loaded(self, target, spec: str) -> None:
        if self._current():
            self._close_dialog()
            self._adopt(target, spec)

    def _on_failed(self, why: str) -> None:
        if self._current():
            self._close_dialog()
            self._report_failure(self.loader.spec, why)

    def cancel_import(self) -> None:
        """Stop a background load: the current target stays (the reader stops at its next block)."""
        th = self.loader
        if th is None:
            return
        self._drop_loader()
        self.host.show_message(f"Import of {Path(th.spec).name} cancelled; the target is unchanged.", error=False)

    def _drop_loader(self) -> None:
        th, self.loader = self.loader, None
        self._close_dialog()
        if th is None:
            return
        th.cancel()
        for sig in (th.progress, th.loaded, th.failed):
            try:
                sig.disconnect()
            except (RuntimeError, TypeError):
                pass
        keep_until_finished(th)  # it stops at its next block; a QThread destroyed while running aborts

    def _on_finished(self, th: TargetLoader) -> None:
        if th is self.loader:
            self.loader = None
            self._close_dialog()
        th.deleteLater()

    def _close_dialog(self) -> None:
        dialog, self.progress_dialog = self.progress_dialog, None
        if dialog is not None:
            dialog.canceled.disconnect()
            dialog.reset()
            dialog.deleteLater()

    def shutdown(self) -> None:
        """Cancel a background load (the window closes)."""
        self._drop_loader()


__all__ = ["IMPORT_FILTER", "IMPORT_SUFFIXES", "ImportPage", "importable", "local_files"]
