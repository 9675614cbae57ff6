"""The Target panel: pick a preset, draw a density, place Gaussians or import a file; shows the current target.
Its Images tab (`ImageDatasetChooser`) loads an image dataset instead: image mode (`state.set_images`), left again
by picking any 2D target (every target command leaves image mode first).

Every change of target made here is an undoable command on the shared QUndoStack: a brush stroke, clear, each
Gaussian edit (consecutive drag moves / wheel ticks / weight spins merge into one step), choosing a preset or its
noise, and an import. A command keeps the target before and after (plus the canvas diff or the Gaussian components),
so undo puts back exactly what was there — also when the previous target came from another mode.

Errors (a bad file, an empty drawing) never raise out of the panel: they are shown in the panel's message line and
emitted as `errorOccurred(str)`; a non-blocking message box pops up as well unless `show_error_dialogs` is False
(it defaults to False under pytest).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QKeySequence, QPixmap, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.app.state import AppState
from playground.app.widgets.drawing import DrawingModel, RasterDiff, resample
from playground.app.widgets.gmm_editor import GmmEditor
from playground.app.panels.image_dataset_chooser import ImageDatasetChooser, describe_images, grid_image
from playground.data.targets.gmm_components import Component, components_from_gmm, components_target
from playground.data.targets.presets import DEFAULT_NOISE, PRESETS, make_preset
from playground.data.targets.raster import raster_target
from playground.data.targets.target import DataError, Target

EXTENT = 4.0
CANVAS_PIXELS = 128
IMPORT_SUFFIXES = (".png", ".jpg", ".jpeg", ".csv", ".npy", ".json")
IMPORT_FILTER = "Targets (*.png *.jpg *.jpeg *.csv *.npy *.json);;Images (*.png *.jpg *.jpeg);;Points (*.csv *.npy);;GMM (*.json)"

PRESET_INFO = {
    "swissroll": "Swiss roll: a 2D spiral band (FFJORD)",
    "circles": "Two concentric circles (radii 3 and 1.5)",
    "rings": "Four concentric rings",
    "moons": "Two interleaving half-moons",
    "8gaussians": "8 Gaussians on a circle: an exact GMM (exact score everywhere)",
    "pinwheel": "Pinwheel: 5 curved arms",
    "2spirals": "Two interleaved spirals",
    "checkerboard": "Uniform on the black squares of a checkerboard (exact density)",
    "line": "The line y = x: a degenerate 1D manifold",
    "cos": "The curve y = 2.5 sin x: a degenerate 1D manifold",
    "25gaussians": "A 5x5 grid of Gaussians: an exact GMM",
}

_THUMBS: dict[str, QImage] = {}  # preset name -> thumbnail (default noise); process-wide cache
_LUT: np.ndarray | None = None


# ---- images ---------------------------------------------------------------------------------------------------
def _lut() -> np.ndarray:
    global _LUT
    if _LUT is None:
        _LUT = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
    return _LUT


def density_image(values: np.ndarray) -> QImage:
    """A (H, W) array in [0, 1], row 0 at the top, as an RGB QImage through the inferno colour map."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    rgb = np.ascontiguousarray(_lut()[(v * 255).astype(np.uint8)])
    h, w = v.shape
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()  # own the pixels


def histogram_image(points: np.ndarray, bins: int = 64, extent: float | None = None) -> QImage:
    """A square 2D histogram of (N, 2) points (sqrt-scaled), +y up, over [-extent, extent]^2 (default: fit >= 4)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if extent is None:
        extent = EXTENT
        if len(pts):
            extent = max(EXTENT, 1.05 * float(np.percentile(np.abs(pts), 99.5)))
    h, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=bins, range=[[-extent, extent], [-extent, extent]])
    h = h[::-1]  # row 0 = top (+y)
    m = h.max(initial=0.0)
    return density_image(np.sqrt(h / m) if m > 0 else h)


def preset_thumbnail(name: str, size: int = 56) -> QImage:
    """A cached thumbnail of a preset at its default noise."""
    if name not in _THUMBS:
        pts = make_preset(name).sample(6000, 0)
        _THUMBS[name] = histogram_image(pts, bins=size, extent=EXTENT)
    return _THUMBS[name]


def describe_target(target: Target, n_samples: int | None = None) -> str:
    """Rich text: the target's name and what exact knowledge it carries."""
    name = target.name
    p = target.params or {}
    head = f"<b>{_html(name)}</b>"
    if p.get("noise") is not None and name in PRESETS:
        head += f" &middot; noise {p['noise']:g}"
    parts = []
    if target.gmm is not None:
        k = target.gmm.n_components
        parts.append(f"exact GMM score ({k} component{'s' if k != 1 else ''})")
    if target.points is not None:
        parts.append(f"point set ({len(target.points)} points): exact empirical score")
    if target.log_density is not None:
        if "raster" in p:
            r = p["raster"]
            parts.append(f"exact density (raster {r.shape[1]}×{r.shape[0]})")
        else:
            parts.append("exact density")
    if target.entropy is not None:
        parts.append(f"entropy {target.entropy:.3f} nats")
    if not parts:
        parts.append("samples only (no closed-form score or density)")
    tail = f"<br><span style='color:gray'>{n_samples} samples</span>" if n_samples else ""
    return head + "<br>" + " &middot; ".join(parts) + tail


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- undo command ---------------------------------------------------------------------------------------------
class TargetCommand(QUndoCommand):
    """One undoable target edit: target before/after, plus the canvas diff and/or the Gaussian components.

    `build` (called at most once, on the first redo) makes the target after the edit from the panel's models; it
    returns None when there is nothing to make a target from (an empty canvas or no components): the current target
    is then kept and the panel says why.
    """

    MERGE_ID = 0x7A46  # consecutive commands with the same (non-None) merge key merge

    def __init__(
        self,
        panel: "TargetPanel",
        text: str,
        target_before: Target,
        *,
        target_after: Target | None = None,
        build=None,
        diff: RasterDiff | None = None,
        gmm_before: list[Component] | None = None,
        gmm_after: list[Component] | None = None,
        merge_key=None,
        empty_message: str = "",
    ):
        super().__init__(text)
        self.panel = panel
        self.target_before = target_before
        self.target_after = target_after
        self.build = build
        self.diff = diff
        self.gmm_before = gmm_before
        self.gmm_after = gmm_after
        self.merge_key = merge_key
        self.empty_message = empty_message

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TargetCommand) or other.merge_key is None or other.merge_key != self.merge_key:
            return False
        if self.diff is not None or other.diff is not None:
            return False
        self.gmm_after = other.gmm_after
        self.target_after = other.target_after
        self.build = other.build
        return True

    def redo(self) -> None:
        p = self.panel
        if self.diff is not None:
            p.drawing.apply_diff(self.diff, True)
            p._refresh_canvas()
        if self.gmm_after is not None:
            p.gmm_editor.set_components(self.gmm_after)
        if self.target_after is None and self.build is not None:
            self.target_after = self.build()
            self.build = None
        if self.target_after is None:
            p._show_message(self.empty_message, error=False)
            return
        p._apply_target(self.target_after)

    def undo(self) -> None:
        p = self.panel
        if self.diff is not None:
            p.drawing.apply_diff(self.diff, False)
            p._refresh_canvas()
        if self.gmm_before is not None:
            p.gmm_editor.set_components(self.gmm_before)
        p._apply_target(self.target_before)


# ---- the drawing canvas ---------------------------------------------------------------------------------------
class _CanvasViewBox(pg.ViewBox):
    """A fixed [-4, 4]^2 view whose left-button gestures paint; hover shows the brush outline."""

    def __init__(self, panel: "TargetPanel"):
        super().__init__(enableMenu=False, lockAspect=True)
        self._panel = panel
        self.setMouseEnabled(x=False, y=False)

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self._panel.stroke([(p.x(), p.y())])

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            p0 = self.mapSceneToView(ev.buttonDownScenePos())
            self._panel.begin_stroke(p0.x(), p0.y())
        self._panel.continue_stroke(p.x(), p.y())
        self._panel._move_cursor(p.x(), p.y())
        if ev.isFinish():
            self._panel.end_stroke()

    def hoverEvent(self, ev):
        if ev.isExit():
            self._panel._move_cursor(None, None)
        else:
            p = self.mapSceneToView(ev.scenePos())
            self._panel._move_cursor(p.x(), p.y())


def _plot(viewbox: pg.ViewBox, tooltip: str) -> pg.PlotWidget:
    w = pg.PlotWidget(viewBox=viewbox)
    w.setToolTip(tooltip)
    w.hideButtons()
    w.getAxis("left").setWidth(28)  # a fixed axis width: the view must not shift under the mouse
    w.setAcceptDrops(False)
    w.setMinimumSize(220, 220)
    viewbox.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
    return w


# ---- the panel ------------------------------------------------------------------------------------------------
def scrolled(page: QWidget) -> QScrollArea:
    """`page` in a frameless scroll area: a short dock scrolls the page instead of squeezing its widgets on top of
    each other (the Draw canvas and the Gaussian editor need about 300-370 px of height)."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class TargetPanel(QWidget):
    """Presets | Draw | Gaussians | Import, over a preview of the current target. See the module docstring."""

    errorOccurred = Signal(str)
    messageChanged = Signal(str)
    changeRequested = Signal(dict)  # settings asked for here (the class-conditional switch): the main window applies

    MODES = ("Presets", "Draw", "Gaussians", "Import", "Images")

    def __init__(self, state: AppState, undo_stack: QUndoStack, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.undo_stack = undo_stack
        # modal-ish (non-blocking) message boxes in the real app; only the message line and the signal under test
        self.show_error_dialogs = not ("PYTEST_CURRENT_TEST" in os.environ or "pytest" in sys.modules)
        self._box: QMessageBox | None = None
        self.drawing = DrawingModel(CANVAS_PIXELS, EXTENT)
        self._preset_noise: dict[str, float] = dict(DEFAULT_NOISE)
        self._syncing = False
        self._noise_serial = 0
        self._last_message = ""
        # asked before a loaded dataset replaces a trained model: (dataset name) -> go ahead? (the main window's dialog)
        self.confirm_dataset = lambda _name: True
        self.setAcceptDrops(True)

        # header: preview + description
        self.preview = QLabel()
        self.preview.setFixedSize(112, 112)
        self.preview.setScaledContents(True)
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview.setToolTip("The current target: a 2D histogram of the samples the model trains on")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.info.setToolTip(
            "The current target's name and what is known exactly about it: an exact GMM score (available\n"
            "everywhere: exact samples, exact score at every t), an exact density, or a finite point set\n"
            "(exact empirical score = the ideal denoiser)."
        )
        self.info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        head = QHBoxLayout()
        head.addWidget(self.preview)
        head.addWidget(self.info, 1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_presets(), "Presets")
        self.tabs.addTab(scrolled(self._build_draw()), "Draw")
        self.tabs.addTab(scrolled(self._build_gaussians()), "Gaussians")
        self.tabs.addTab(scrolled(self._build_import()), "Import")
        self.images_page = ImageDatasetChooser(state)
        self.images_page.loaded.connect(self._dataset_loaded)
        self.images_page.failed.connect(lambda text: self._error(f"Could not load the image dataset: {text}"))
        self.images_page.classesRequested.connect(lambda on: self.changeRequested.emit({"image_classes": on}))
        self.tabs.addTab(scrolled(self.images_page), "Images")
        for i, tip in enumerate(
            (
                "Pick a built-in 2D distribution",
                "Paint a density with a brush (strokes are undoable)",
                "Place Gaussians by clicking: an exact mixture with an exact score",
                "Load an image (density), a point set (CSV/NPY) or a GMM (JSON); or drop a file on the panel",
                "Train on an image dataset instead: digits, shapes, MNIST, Fashion-MNIST or a folder of images",
            )
        ):
            self.tabs.setTabToolTip(i, tip)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setToolTip("The last problem or hint from this panel")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.message)

        state.targetChanged.connect(self._on_target_changed)
        state.settingsChanged.connect(self._on_settings_changed)
        state.imagesChanged.connect(self._on_images_changed)
        self._on_target_changed()

        self._thumb_queue = list(PRESETS)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._next_thumbnail)
        QTimer.singleShot(0, self._thumb_timer.start)  # after the window is up: startup stays fast

    # ================================================================================================ presets
    def _build_presets(self) -> QWidget:
        page = QWidget()
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(56, 56))
        self.gallery.setGridSize(QSize(94, 84))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setWrapping(True)
        self.gallery.setUniformItemSizes(True)
        self.gallery.setDragEnabled(False)
        self.gallery.setAcceptDrops(False)
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.gallery.setToolTip("Built-in targets: click one to train on it")
        blank = QPixmap(56, 56)
        blank.fill(QColor(30, 30, 36))
        for name in PRESETS:
            item = QListWidgetItem(QIcon(blank), name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(PRESET_INFO.get(name, name))
            self.gallery.addItem(item)
        self.gallery.itemClicked.connect(lambda it: self.choose_preset(it.data(Qt.ItemDataRole.UserRole)))
        self.gallery.itemActivated.connect(lambda it: self.choose_preset(it.data(Qt.ItemDataRole.UserRole)))
        self.gallery.currentItemChanged.connect(self._gallery_current_changed)

        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setRange(0.0, 5.0)
        self.noise_spin.setDecimals(3)
        self.noise_spin.setSingleStep(0.01)
        self.noise_spin.setKeyboardTracking(False)
        self.noise_spin.setToolTip(
            "The preset's noise parameter in FFJORD's units (e.g. the sd added to moons, the sd of each of\n"
            "the 8 Gaussians). Presets without one (checkerboard, line, cos) disable this."
        )
        self.noise_spin.valueChanged.connect(self._noise_changed)
        self.noise_reset = QToolButton()
        self.noise_reset.setText("default")
        self.noise_reset.setToolTip("Reset the noise to the preset's default")
        self.noise_reset.clicked.connect(self._noise_default)

        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(500, 1_000_000)
        self.samples_spin.setSingleStep(1000)
        self.samples_spin.setKeyboardTracking(False)
        self.samples_spin.setGroupSeparatorShown(True)
        self.samples_spin.setValue(self.state.settings.target_samples)
        self.samples_spin.setToolTip(
            "How many samples are drawn from the target (the training set and the reference for metrics);\n"
            "changing it re-draws the target's samples"
        )
        self.samples_spin.valueChanged.connect(self.set_sample_count)

        form = QFormLayout()
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.noise_spin, 1)
        noise_row.addWidget(self.noise_reset)
        form.addRow("noise", noise_row)
        form.addRow("samples", self.samples_spin)
        lay = QVBoxLayout(page)
        lay.addWidget(self.gallery, 1)
        lay.addLayout(form)
        return page

    def _next_thumbnail(self) -> None:
        if not self._thumb_queue:
            self._thumb_timer.stop()
            return
        name = self._thumb_queue.pop(0)
        try:
            img = preset_thumbnail(name)
        except Exception:  # a thumbnail must never break the panel
            return
        for i in range(self.gallery.count()):
            it = self.gallery.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == name:
                it.setIcon(QIcon(QPixmap.fromImage(img)))

    def ensure_thumbnails(self) -> None:
        """Make every gallery thumbnail now (normally they are made lazily after start-up)."""
        while self._thumb_queue:
            self._next_thumbnail()
        self._thumb_timer.stop()

    def _gallery_current_changed(self, cur, _prev) -> None:
        if cur is not None and not self._syncing:
            self.choose_preset(cur.data(Qt.ItemDataRole.UserRole))

    def choose_preset(self, name: str, noise: float | None = None) -> bool:
        """Make preset `name` the target (undoable). noise None: the last noise used for it (or its default)."""
        if name not in PRESETS:
            self._error(f"Unknown preset {name!r}")
            return False
        if noise is None:
            noise = self._preset_noise.get(name)
        cur = self.state.target
        same = cur.name == name and cur.params.get("noise") == noise and cur.params.get("name") == name
        if same and not self.state.image_mode:
            return True  # already the target
        try:
            target = make_preset(name, noise)
        except DataError as e:
            self._error(str(e))
            return False
        self.undo_stack.push(TargetCommand(self, f"Preset {name}", cur, target_after=target))
        return True

    def _noise_changed(self, value: float) -> None:
        if self._syncing:
            return
        name = self._current_preset()
        if name is None:
            item = self.gallery.currentItem()
            name = item.data(Qt.ItemDataRole.UserRole) if item else None
        if name is None or name not in DEFAULT_NOISE:
            return
        try:
            target = make_preset(name, float(value))
        except DataError as e:
            self._error(str(e))
            return
        self._preset_noise[name] = float(value)
        cur = self.state.target
        key = ("noise", name) if self._current_preset() == name else None
        self.undo_stack.push(
            TargetCommand(self, f"Preset {name} noise {value:g}", cur, target_after=target, merge_key=key)
        )

    def _noise_default(self) -> None:
        name = self._current_preset()
        if name in DEFAULT_NOISE:
            self.noise_spin.setValue(DEFAULT_NOISE[name])

    def _current_preset(self) -> str | None:
        t = self.state.target
        p = t.params or {}
        if t.name in PRESETS and p.get("name") == t.name and "noise" in p:
            return t.name
        return None

    def set_sample_count(self, n: int) -> None:
        """Settings' target_samples = n, then re-draw the current target's samples."""
        if self._syncing or n == self.state.settings.target_samples:
            return
        self.state.update_settings(target_samples=int(n))
        self.state.set_target(self.state.target)

    # ================================================================================================ draw
    def _build_draw(self) -> QWidget:
        page = QWidget()
        self.canvas_view = _CanvasViewBox(self)
        self.canvas_plot = _plot(
            self.canvas_view,
            "Paint with the left mouse button: each stroke adds density where you paint (brighter = denser).\n"
            "When you release the button the drawing becomes the target. Ctrl+Z undoes a stroke.",
        )
        self.canvas_image = pg.ImageItem(axisOrder="row-major")
        self.canvas_image.setColorMap(pg.colormap.get("inferno"))
        self.canvas_view.addItem(self.canvas_image)
        self.brush_outline = pg.PlotCurveItem(pen=pg.mkPen((120, 220, 255, 200), width=1))
        self.canvas_view.addItem(self.brush_outline)
        self.canvas_hint = pg.TextItem("paint here", color=(180, 180, 180), anchor=(0.5, 0.5))
        self.canvas_view.addItem(self.canvas_hint)

        self.brush_button = QToolButton()
        self.brush_button.setText("Brush")
        self.brush_button.setCheckable(True)
        self.brush_button.setChecked(True)
        self.brush_button.setToolTip("Paint density (B)")
        self.eraser_button = QToolButton()
        self.eraser_button.setText("Eraser")
        self.eraser_button.setCheckable(True)
        self.eraser_button.setToolTip("Erase density (E)")
        group = QButtonGroup(page)
        group.setExclusive(True)
        group.addButton(self.brush_button)
        group.addButton(self.eraser_button)
        for key, button in (("B", self.brush_button), ("E", self.eraser_button)):
            act = QAction(self)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(button.click)
            page.addAction(act)

        self.size_spin = QDoubleSpinBox()
        self.size_spin.setRange(0.05, 2.0)
        self.size_spin.setSingleStep(0.05)
        self.size_spin.setDecimals(2)
        self.size_spin.setValue(0.35)
        self.size_spin.setToolTip("Brush radius in data units (the canvas spans -4 … 4)")
        self.strength_spin = QDoubleSpinBox()
        self.strength_spin.setRange(0.05, 1.0)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setDecimals(2)
        self.strength_spin.setValue(0.6)
        self.strength_spin.setToolTip(
            "How much one stroke paints (or erases): painting moves a pixel this fraction of the way to full\n"
            "density; strokes over the same place build up"
        )
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Erase the whole drawing (undoable; the current target is kept)")
        self.clear_button.clicked.connect(self.clear_drawing)
        self.use_drawing_button = QPushButton("Use drawing")
        self.use_drawing_button.setToolTip("Make the drawing the target again (after picking another target)")
        self.use_drawing_button.clicked.connect(self.use_drawing)

        tools = QHBoxLayout()
        tools.addWidget(self.brush_button)
        tools.addWidget(self.eraser_button)
        tools.addWidget(QLabel("size"))
        tools.addWidget(self.size_spin)
        tools.addWidget(QLabel("strength"))
        tools.addWidget(self.strength_spin)
        tools.addStretch(1)
        bottom = QHBoxLayout()
        undo_btn, redo_btn = QToolButton(), QToolButton()
        for btn, act in ((undo_btn, self.undo_stack.createUndoAction(self)), (redo_btn, self.undo_stack.createRedoAction(self))):
            btn.setDefaultAction(act)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        undo_btn.setToolTip("Undo the last change (Ctrl+Z)")
        redo_btn.setToolTip("Redo (Ctrl+Shift+Z)")
        self._undo_buttons = (undo_btn, redo_btn)
        bottom.addWidget(undo_btn)
        bottom.addWidget(redo_btn)
        bottom.addStretch(1)
        bottom.addWidget(self.use_drawing_button)
        bottom.addWidget(self.clear_button)
        lay = QVBoxLayout(page)
        lay.addLayout(tools)
        lay.addWidget(self.canvas_plot, 1)
        lay.addLayout(bottom)
        self._refresh_canvas()
        return page

    @property
    def erasing(self) -> bool:
        return self.eraser_button.isChecked()

    def begin_stroke(self, x: float, y: float) -> None:
        """Start a stroke at data (x, y) with the current tool, size and strength."""
        self.drawing.begin_stroke(
            x, y, size=self.size_spin.value(), strength=self.strength_spin.value(), erase=self.erasing
        )
        self._refresh_canvas()

    def continue_stroke(self, x: float, y: float) -> None:
        if self.drawing.in_stroke:
            self.drawing.stroke_to(x, y)
            self._refresh_canvas()

    def end_stroke(self) -> bool:
        """Finish the stroke and make it one undoable step; True when it changed the drawing."""
        if not self.drawing.in_stroke:
            return False
        erase = self.erasing
        diff = self.drawing.end_stroke()
        if diff.empty:
            return False
        self.undo_stack.push(
            TargetCommand(
                self,
                "Erase stroke" if erase else "Paint stroke",
                self.state.target,
                build=self._drawing_target,
                diff=diff,
                empty_message="The drawing is empty now: paint something to make a target. The current target is kept.",
            )
        )
        return True

    def stroke(self, points, erase: bool | None = None) -> bool:
        """A whole stroke through data points [(x, y), ...] (what a mouse drag does). True if it changed anything."""
        pts = list(points)
        if not pts:
            return False
        if erase is not None:
            (self.eraser_button if erase else self.brush_button).setChecked(True)
        self.begin_stroke(*pts[0])
        for x, y in pts[1:]:
            self.continue_stroke(x, y)
        return self.end_stroke()

    def clear_drawing(self) -> None:
        """Erase the canvas (undoable); the current target is kept."""
        before = self.state.target
        diff = self.drawing.clear()
        self._refresh_canvas()
        if diff.empty:
            self._show_message("The drawing is already empty.", error=False)
            return
        self.undo_stack.push(
            TargetCommand(
                self,
                "Clear drawing",
                before,
                build=lambda: None,
                diff=diff,
                empty_message="Drawing cleared; the current target is kept until you paint.",
            )
        )

    def use_drawing(self) -> None:
        """Make the current drawing the target (undoable)."""
        target = self._drawing_target()
        if target is None:
            self._show_message("The drawing is empty: paint on the canvas first. The current target is kept.")
            return
        self.undo_stack.push(TargetCommand(self, "Use drawing", self.state.target, target_after=target))

    def _drawing_target(self) -> Target | None:
        if self.drawing.is_empty():
            return None
        try:
            return raster_target(self.drawing.raster(), EXTENT, name="drawing")
        except DataError:
            return None

    def _refresh_canvas(self) -> None:
        if not hasattr(self, "canvas_image"):
            return
        self.canvas_image.setImage(self.drawing.canvas[::-1], levels=(0.0, 1.0), autoLevels=False)
        self.canvas_image.setRect(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)
        self.canvas_hint.setVisible(self.drawing.is_empty() and not self.drawing.in_stroke)

    def _move_cursor(self, x: float | None, y: float | None) -> None:
        if x is None:
            self.brush_outline.setData([], [])
            return
        r = self.size_spin.value()
        th = np.linspace(0, 2 * np.pi, 41)
        self.brush_outline.setData(x + r * np.cos(th), y + r * np.sin(th))

    def load_raster_into_canvas(self, target: Target) -> RasterDiff | None:
        """Put a raster target's image on the canvas (resampled to the canvas grid); returns the diff or None."""
        p = target.params or {}
        if "raster" not in p or "rect" not in p:
            return None
        raster = np.asarray(p["raster"], dtype=np.float64)
        xmin, xmax, ymin, ymax = (float(v) for v in p["rect"])
        # the source at the canvas' pixel size, then looked up at the canvas pixel centres (outside: 0)
        px = self.drawing.pixel_size
        small = resample(raster, (max(1, round((ymax - ymin) / px)), max(1, round((xmax - xmin) / px))))
        X, Y = self.drawing.pixel_centers()
        col = np.floor((X - xmin) / (xmax - xmin) * small.shape[1]).astype(int)
        row = np.floor((ymax - Y) / (ymax - ymin) * small.shape[0]).astype(int)
        inside = (col >= 0) & (col < small.shape[1]) & (row >= 0) & (row < small.shape[0])
        img = np.zeros(X.shape)
        img[inside] = small[row[inside], col[inside]]
        if img.max(initial=0.0) <= 0:
            return None
        diff = self.drawing.set_raster(img)
        self._refresh_canvas()
        return diff

    # ================================================================================================ gaussians
    def _build_gaussians(self) -> QWidget:
        page = QWidget()
        self.gmm_editor = GmmEditor(page, EXTENT)
        self.gmm_editor.apply_directly = False
        self.gmm_editor.plot.setAcceptDrops(False)
        self.gmm_editor.editRequested.connect(self._gmm_edit)
        self.use_gmm_button = QPushButton("Use mixture")
        self.use_gmm_button.setToolTip("Make these Gaussians the target again (after picking another target)")
        self.use_gmm_button.clicked.connect(self.use_mixture)
        row = QHBoxLayout()
        hint = QLabel("click: add · drag: move · wheel: width · Del: remove")
        hint.setToolTip(self.gmm_editor.plot.toolTip())
        row.addWidget(hint, 1)
        row.addWidget(self.use_gmm_button)
        lay = QVBoxLayout(page)
        lay.addWidget(self.gmm_editor, 1)
        lay.addLayout(row)
        return page

    def _gmm_edit(self, before: list, after: list, text: str, merge_key) -> None:
        comps = list(after)
        self.undo_stack.push(
            TargetCommand(
                self,
                text,
                self.state.target,
                build=(lambda: components_target(comps)) if comps else (lambda: None),
                gmm_before=list(before),
                gmm_after=comps,
                merge_key=merge_key,
                empty_message="No Gaussians left: click in the view to add one. The current target is kept.",
            )
        )

    def use_mixture(self) -> None:
        comps = self.gmm_editor.components
        if not comps:
            self._show_message("No Gaussians yet: click in the view to add one.")
            return
        self.undo_stack.push(TargetCommand(self, "Use mixture", self.state.target, target_after=components_target(comps)))

    # ================================================================================================ import
    def _build_import(self) -> QWidget:
        page = QWidget()
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
        lay = QVBoxLayout(page)
        lay.addWidget(self.import_button)
        lay.addWidget(drop, 1)
        lay.addWidget(self.import_path_label)
        return page

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
            self._error(f"Could not import {Path(spec).name}: {e}")
            return False
        except Exception as e:  # a loader bug must not take the app down
            self._error(f"Could not import {Path(spec).name}: {type(e).__name__}: {e}")
            return False
        diff = None
        gmm_before = gmm_after = None
        if "raster" in (target.params or {}):
            diff = self.load_raster_into_canvas(target)
        if target.gmm is not None:
            comps = components_from_gmm(target.gmm)
            if comps is not None:
                gmm_before, gmm_after = self.gmm_editor.components, comps
        self.undo_stack.push(
            TargetCommand(
                self,
                f"Import {Path(spec).name}",
                self.state.target,
                target_after=target,
                diff=diff,
                gmm_before=gmm_before,
                gmm_after=gmm_after,
            )
        )
        self.import_path_label.setText(f"Imported: {spec}")
        if diff is not None:
            self._show_message(f"Imported {Path(spec).name}; it is also on the Draw canvas to edit further.", error=False)
        return True

    @staticmethod
    def _local_files(mime) -> list[str]:
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, ev) -> None:
        files = self._local_files(ev.mimeData())
        if any(Path(f).suffix.lower() in IMPORT_SUFFIXES for f in files):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev) -> None:
        self.dragEnterEvent(ev)

    def dropEvent(self, ev) -> None:
        files = self._local_files(ev.mimeData())
        if not files:
            ev.ignore()
            return
        ev.acceptProposedAction()
        good = [f for f in files if Path(f).suffix.lower() in IMPORT_SUFFIXES]
        self.import_file(good[0] if good else files[0])

    # ================================================================================================ shared
    def set_mode(self, mode: str) -> None:
        self.tabs.setCurrentIndex(self.MODES.index(mode))

    def mode(self) -> str:
        return self.MODES[self.tabs.currentIndex()]

    def _apply_target(self, target: Target) -> None:
        self._clear_message()
        if self.state.image_mode:
            self.state.set_images(None)  # a 2D target again: leave image mode
        self.state.set_target(target)

    # ================================================================================================ images
    def load_images(self, spec: str, size: int | None = None, rgb: bool = False) -> bool:
        """Load an image dataset in the background and train on it once loaded (see `_dataset_loaded`); False when
        a load is already running."""
        return self.images_page.load_spec(spec, size, rgb)

    def _dataset_loaded(self, dataset, spec: str, notes: list) -> None:
        """A dataset arrived from the loader: after the confirmation (a trained model is discarded), image mode."""
        if not self.confirm_dataset(dataset.name or spec):
            self._show_message("Kept the current model; the dataset was not loaded.")
            return
        self._clear_message()
        self.state.set_images(dataset, spec)
        if notes:
            self._show_message(" ".join(notes))

    def _on_images_changed(self) -> None:
        images = self.state.images
        if images is None:
            self._on_target_changed()
            return
        self.info.setText(describe_images(images, self.state.image_spec))
        self.preview.setPixmap(QPixmap.fromImage(grid_image(images.images)))
        self.preview.setToolTip("The image dataset: its first 16 images")
        self.set_mode("Images")
        self._sync_presets()

    def shutdown(self) -> None:
        """Stop waiting for a dataset load (safe to call twice)."""
        self.images_page.shutdown()

    def _on_target_changed(self) -> None:
        if self.state.image_mode:
            return  # the header shows the image dataset; the 2D target comes back when image mode ends
        self.preview.setToolTip("The current target: a 2D histogram of the samples the model trains on")
        t = self.state.target
        self.info.setText(describe_target(t, len(self.state.target_samples)))
        self.preview.setPixmap(QPixmap.fromImage(histogram_image(self.state.target_samples, bins=96)))
        self._sync_presets()

    def _sync_presets(self) -> None:
        if not hasattr(self, "gallery"):
            return
        self._syncing = True
        try:
            name = None if self.state.image_mode else self._current_preset()
            if name is None:
                self.gallery.setCurrentRow(-1)
                self.gallery.clearSelection()
            else:
                self.gallery.setCurrentRow(PRESETS.index(name))
                noise = self.state.target.params.get("noise")
                has_noise = name in DEFAULT_NOISE
                self.noise_spin.setEnabled(has_noise)
                self.noise_reset.setEnabled(has_noise)
                if has_noise and noise is not None:
                    self.noise_spin.setValue(float(noise))
                    self._preset_noise[name] = float(noise)
        finally:
            self._syncing = False

    def _on_settings_changed(self, names: set) -> None:
        if "target_samples" in names:
            self._syncing = True
            try:
                self.samples_spin.setValue(self.state.settings.target_samples)
            finally:
                self._syncing = False

    def _show_message(self, text: str, error: bool = False) -> None:
        self._last_message = text
        self.message.setText(text)
        self.message.setStyleSheet("color: #d04040;" if error else "color: palette(text);")
        self.message.setVisible(bool(text))
        self.messageChanged.emit(text)

    def _clear_message(self) -> None:
        if self._last_message:
            self._show_message("")

    @property
    def message_text(self) -> str:
        return self._last_message

    def _error(self, text: str) -> None:
        self._show_message(text, error=True)
        self.errorOccurred.emit(text)
        if self.show_error_dialogs:
            box = QMessageBox(QMessageBox.Icon.Warning, "Target", text, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # non-blocking
            self._box = box


__all__ = ["TargetPanel", "TargetCommand", "describe_target", "histogram_image", "preset_thumbnail"]
