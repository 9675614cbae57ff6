"""The Target panel: pick a preset, draw a density, place Gaussians or import a file; shows the current target.
Its Images tab (`ImageDatasetChooser`) loads an image dataset instead: image mode (`state.set_images`), left again
by picking any 2D target (every target command leaves image mode first).

The panel composes a header (`TargetHeader`), one page per tab (presets_page, draw_page, gaussians_page, import_page,
images_page) and a message line, and is the pages' `TargetHost`: every change of target made on a page is an
undoable `TargetCommand` on the shared QUndoStack (see command.py).

Errors (a bad file, an empty drawing) never raise out of the panel: they are shown in the panel's message line and
emitted as `errorOccurred(str)`; a non-blocking message box pops up as well unless `show_error_dialogs` is False
(it defaults to False under pytest).
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QFrame, QLabel, QMessageBox, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from playground.app.panels.target.command import ImagesCommand
from playground.app.panels.target.draw_page import DrawPage
from playground.app.panels.target.gaussians_page import GaussiansPage
from playground.app.panels.target.header import TargetHeader
from playground.app.panels.target.images_page import ImageDatasetChooser
from playground.app.panels.target.import_page import ImportPage, importable, local_files
from playground.app.panels.target.presets_page import PresetsPage
from playground.app.state import AppState
from playground.app.widgets.drawing import RasterDiff
from playground.data.targets.gmm_components import Component
from playground.data.targets.target import Target

TAB_TIPS = (
    "Pick a built-in 2D distribution",
    "Paint a density with a brush (strokes are undoable)",
    "Place Gaussians by clicking: an exact mixture with an exact score",
    "Load an image (density), a point set (CSV/NPY) or a GMM (JSON); or drop a file on the panel",
    "Train on an image dataset instead: digits, shapes, MNIST, Fashion-MNIST or a folder of images",
)


def scrolled(page: QWidget) -> QScrollArea:
    """`page` in a frameless scroll area: a short dock scrolls the page instead of squeezing its widgets on top of
    each other (the Draw canvas and the Gaussian editor need about 300-370 px of height)."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class TargetPanel(QWidget):
    """Presets | Draw | Gaussians | Import | Images, under a preview of the current target. See the module docstring."""

    errorOccurred = Signal(str)
    messageChanged = Signal(str)
    changeRequested = Signal(dict)  # settings asked for here (class switch, sample count): the main window applies

    MODES = ("Presets", "Draw", "Gaussians", "Import", "Images")

    def __init__(self, state: AppState, undo_stack: QUndoStack, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.undo_stack = undo_stack
        # modal-ish (non-blocking) message boxes in the real app; only the message line and the signal under test
        self.show_error_dialogs = not ("PYTEST_CURRENT_TEST" in os.environ or "pytest" in sys.modules)
        self._box: QMessageBox | None = None
        self._last_message = ""
        # a change of target or dataset: take the trained run out, change, put the other run in (the main window's
        # TrainingControl.swap_run; alone, the panel just changes)
        self.swap_run = lambda _stored, change: change()
        self.setAcceptDrops(True)

        self.header = TargetHeader()
        self.presets_page = PresetsPage(self)
        self.draw_page = DrawPage(self)
        self.gaussians_page = GaussiansPage(self)
        self.import_page = ImportPage(self, self.draw_page, self.gaussians_page.editor)
        self.images_page = ImageDatasetChooser(state)
        self.images_page.loaded.connect(self._dataset_loaded)
        self.images_page.failed.connect(lambda text: self.report_error(f"Could not load the image dataset: {text}"))
        self.images_page.classesRequested.connect(lambda on: self.request_settings({"image_classes": on}))
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setStyleSheet("QTabBar::tab { padding: 4px 7px; }")  # five titles in a laptop's left column
        self.tabs.addTab(self.presets_page, "Presets")
        for page, mode in ((self.draw_page, "Draw"), (self.gaussians_page, "Gaussians"), (self.import_page, "Import"),
                           (self.images_page, "Images")):
            self.tabs.addTab(scrolled(page), mode)
        for i, tip in enumerate(TAB_TIPS):
            self.tabs.setTabToolTip(i, tip)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setToolTip("The last problem or hint from this panel")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.message)

        state.targetChanged.connect(self._on_target_changed)
        state.settingsChanged.connect(self._on_settings_changed)
        state.imagesChanged.connect(self._on_images_changed)
        self._on_target_changed()

    # ---- what the main window and the tests call ---------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self.tabs.setCurrentIndex(self.MODES.index(mode))

    def mode(self) -> str:
        return self.MODES[self.tabs.currentIndex()]

    def choose_preset(self, name: str, noise: float | None = None) -> bool:
        """Make preset `name` the target (undoable); see `PresetsPage.choose_preset`."""
        return self.presets_page.choose_preset(name, noise)

    def import_file(self, path: str | os.PathLike) -> bool:
        """Load a target from a file and make it the target (undoable); see `ImportPage.import_file`."""
        return self.import_page.import_file(path)

    def load_images(self, spec: str, size: int | None = None, rgb: bool = False) -> bool:
        """Load an image dataset in the background and train on it once loaded (see `_dataset_loaded`); False when
        a load is already running."""
        return self.images_page.load_spec(spec, size, rgb)

    def shutdown(self) -> None:
        """Stop waiting for a dataset load and cancel a target file's load (safe to call twice)."""
        self.images_page.shutdown()
        self.import_page.shutdown()

    # ---- TargetHost: what the commands and the pages act on -----------------------------------------------------
    def apply_target(self, target: Target) -> None:
        self._clear_message()
        if self.state.image_mode:
            self.state.set_images(None)  # a 2D target again: leave image mode
        self.state.set_target(target)

    def apply_canvas_diff(self, diff: RasterDiff, forward: bool) -> None:
        self.draw_page.apply_diff(diff, forward)

    def request_settings(self, changes: dict) -> None:
        self.changeRequested.emit(changes)

    def show_components(self, components: list[Component]) -> None:
        self.gaussians_page.editor.set_components(components)

    def show_message(self, text: str, error: bool = False) -> None:
        self._last_message = text
        self.message.setText(text)
        self.message.setStyleSheet("color: #d04040;" if error else "color: palette(text);")
        self.message.setVisible(bool(text))
        self.messageChanged.emit(text)

    def report_error(self, text: str) -> None:
        self.show_message(text, error=True)
        self.errorOccurred.emit(text)
        if self.show_error_dialogs:
            box = QMessageBox(QMessageBox.Icon.Warning, "Target", text, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # non-blocking
            self._box = box

    def _clear_message(self) -> None:
        if self._last_message:
            self.show_message("")

    @property
    def message_text(self) -> str:
        return self._last_message

    # ---- dropping a file anywhere on the panel imports it ------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:
        if importable(local_files(ev.mimeData())):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev) -> None:
        self.dragEnterEvent(ev)

    def dropEvent(self, ev) -> None:
        files = local_files(ev.mimeData())
        if not files:
            ev.ignore()
            return
        ev.acceptProposedAction()
        good = importable(files)
        self.import_file(good[0] if good else files[0])

    # ---- following the state -----------------------------------------------------------------------------------
    def _dataset_loaded(self, dataset, spec: str, notes: list) -> None:
        """A dataset arrived from the loader: image mode on it, one undoable step (a model trained before is kept
        in the command)."""
        self._clear_message()
        st = self.state
        before = (st.images, st.image_spec) if st.images is not None else None
        self.undo_stack.push(ImagesCommand(self, f"Load images {dataset.name or spec}", before, (dataset, spec)))
        if notes:
            self.show_message(" ".join(notes))

    def _on_images_changed(self) -> None:
        images = self.state.images
        if images is None:
            self._on_target_changed()
            return
        self.header.show_images(images, self.state.image_spec)
        self.set_mode("Images")
        self.presets_page.sync()

    def _on_target_changed(self) -> None:
        if self.state.image_mode:
            return  # the header shows the image dataset; the 2D target comes back when image mode ends
        self.header.show_target(self.state.target, self.state.target_samples)
        self.presets_page.sync()

    def _on_settings_changed(self, names: set) -> None:
        if "target_samples" in names:
            self.presets_page.sync_sample_count()


__all__ = ["TargetPanel", "scrolled"]
