"""Files brought into the window: File > Import target (an image as a density, points, a GMM), and drag and drop
(a workspace opens, asking to save unsaved changes first; a model file opens; a target file imports)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from playground.app.resources import examples_dir

IMPORT_DIR_KEY = "files/import_dir"
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

    def start_dir(self) -> str:
        """Where the import dialogs open: the folder imported from last, else the bundled examples (heart.png,
        smiley.png, spiral_points.csv, three_gaussians.json), else the last folder used."""
        last = self.window.store.value(IMPORT_DIR_KEY)
        if last and Path(str(last)).is_dir():
            return str(last)
        examples = examples_dir()
        return str(examples) if examples is not None else self.window._last_dir()

    def import_target_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import target", self.start_dir(), IMPORT_FILTER)
        if path:
            self.import_target(path)

    def import_target(self, path: str) -> bool:
        """Load a target file through the target panel (which keeps the current target and says why on a bad
        file)."""
        return bool(self.window.panels["target"].import_file(path))

    def remember(self, path: str) -> None:
        """A file was imported (from a dialog, a drop or the command line): its folder is where dialogs open next."""
        folder = str(Path(path).parent)
        self.window.store.setValue(IMPORT_DIR_KEY, folder)
        self.window.store.setValue("files/last_dir", folder)

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
