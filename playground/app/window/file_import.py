"""Files brought into the window: File > Import target (an image as a density, points, a GMM), and drag and drop
(a workspace opens, asking to save unsaved changes first; a model file opens; a target file imports)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

IMPORT_FILTER = ("Targets (*.png *.jpg *.jpeg *.csv *.npy *.json);;Images (*.png *.jpg *.jpeg);;"
                 "Points (*.csv *.npy);;Gaussian mixtures (*.json);;All files (*)")


def dropped_file(event) -> str | None:
    """The first local file of a drag-and-drop event, or None."""
    md = event.mimeData()
    if not md.hasUrls():
        return None
    for url in md.urls():
        if url.isLocalFile():
            return url.toLocalFile()
    return None


class FileImport:
    """Target import and file drops for one window (its target panel, settings store, workspace and model files)."""

    def __init__(self, window):
        self.window = window

    def import_target_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import target", self.window._last_dir(), IMPORT_FILTER)
        if path:
            self.import_target(path)

    def import_target(self, path: str) -> bool:
        """Load a target file through the target panel (which keeps the current target and says why on a bad
        file)."""
        self.window.store.setValue("files/last_dir", str(Path(path).parent))
        return bool(self.window.panels["target"].import_file(path))

    def accept_drag(self, event) -> None:
        """Accept a drag that carries a target, model or workspace file."""
        from playground.core.io.workspace import SUFFIX
        from playground.data.targets.spec import FILE_SUFFIXES

        path = dropped_file(event)
        if path and Path(path).suffix.lower() in FILE_SUFFIXES + (".safetensors", SUFFIX):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event) -> None:
        """Open or import the dropped file."""
        path = dropped_file(event)
        if not path:
            return
        event.acceptProposedAction()
        from playground.core.io.workspace import looks_like_workspace

        w = self.window
        if looks_like_workspace(path):
            if w.confirm_discard("open"):
                w.open_workspace(path)
        elif path.lower().endswith(".safetensors"):
            w.open_model(path)
        else:
            self.import_target(path)
