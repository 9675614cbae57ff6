"""The Target panel's Import tab: load a target from a file (`load_target`) with a file dialog or by dropping it on
the panel. An image also goes on the Draw canvas, a diagonal GMM into the Gaussian editor; all in one undoable step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QFileDialog, QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from playground.app.panels.target.command import TargetCommand, TargetHost
from playground.app.panels.target.previews import EXTENT
from playground.data.targets.gmm_components import components_from_gmm
from playground.data.targets.target import DataError

if TYPE_CHECKING:
    from playground.app.panels.target.draw_page import DrawPage
    from playground.app.widgets.gmm_editor import GmmEditor

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
    """An Import file… button, the drop area (what each kind of file becomes) and the last imported path."""

    def __init__(self, host: TargetHost, draw: DrawPage, gmm_editor: GmmEditor, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.draw = draw
        self.gmm_editor = gmm_editor
        self.import_button = QPushButton("Import file…")
        self.import_button.setToolTip(
            "Load a target: PNG/JPG image (brightness = density), CSV/NPY point set (N×2), or GMM JSON\n"
            '({"weights": [...], "means": [[x, y], ...], "covariances": [[[a, b], [b, c]], ...]})'
        )
        self.import_button.clicked.connect(self.import_dialog)
        drop = QLabel(
            "Drop a file anywhere on this panel\n\n"
            "PNG / JPG  →  density (brighter = denser), also opened in Draw\n"
            "CSV / NPY  →  point set (exact empirical score)\n"
            "JSON  →  Gaussian mixture (exact score), also opened in Gaussians"
        )
        drop.setAlignment(Qt.AlignmentFlag.AlignCenter)
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
        path, _ = QFileDialog.getOpenFileName(self, "Import target", "", IMPORT_FILTER)
        if path:
            self.import_file(path)

    def import_file(self, path: str | os.PathLike) -> bool:
        """Load a target from a file (or a preset name) and make it the target (undoable).

        On a bad file the message is shown (and emitted as errorOccurred), the current target is kept, and False
        is returned. An image is also put on the Draw canvas, a diagonal GMM into the Gaussian editor.
        """
        from playground.data.targets.spec import load_target

        spec = os.fspath(path)
        try:
            target = load_target(spec, EXTENT)
        except DataError as e:
            self.host.report_error(f"Could not import {Path(spec).name}: {e}")
            return False
        except Exception as e:  # a loader bug must not take the app down
            self.host.report_error(f"Could not import {Path(spec).name}: {type(e).__name__}: {e}")
            return False
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
        if diff is not None:
            self.host.show_message(
                f"Imported {Path(spec).name}; it is also on the Draw canvas to edit further.", error=False
            )
        return True


__all__ = ["IMPORT_FILTER", "IMPORT_SUFFIXES", "ImportPage", "importable", "local_files"]
