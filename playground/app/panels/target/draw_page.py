"""The Target panel's Draw tab: paint a density on a canvas with a brush or an eraser. Each stroke is one undoable
command whose target is the drawing (`raster_target`); an empty drawing keeps the current target."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.target.command import TargetCommand, TargetHost
from playground.app.panels.target.previews import EXTENT
from playground.app.widgets.drawing import DrawingModel, RasterDiff, resample
from playground.app.widgets.edit_view_box import EditViewBox
from playground.data.targets.raster import raster_target
from playground.data.targets.target import DataError, Target

CANVAS_PIXELS = 128


class StrokeSurface(Protocol):
    """What a `CanvasViewBox` paints on, in data coordinates."""

    def stroke(self, points) -> bool: ...

    def begin_stroke(self, x: float, y: float) -> None: ...

    def continue_stroke(self, x: float, y: float) -> None: ...

    def end_stroke(self) -> bool: ...

    def move_cursor(self, x: float | None, y: float | None) -> None: ...


class CanvasViewBox(EditViewBox):
    """A fixed [-4, 4]^2 view whose left-button gestures paint on `page` (anything with the DrawPage stroke methods
    and move_cursor: the Draw tab, the target canvas); hover shows the brush outline."""

    def __init__(self, page: StrokeSurface):
        super().__init__()
        self._page = page

    def clicked(self, x: float, y: float) -> None:
        self._page.stroke([(x, y)])

    def drag_started(self, x: float, y: float) -> None:
        self._page.begin_stroke(x, y)

    def dragged(self, x: float, y: float, finished: bool) -> None:
        self._page.continue_stroke(x, y)
        self._page.move_cursor(x, y)
        if finished:
            self._page.end_stroke()

    def hoverEvent(self, ev):
        if ev.isExit():
            self._page.move_cursor(None, None)
        else:
            p = self.mapSceneToView(ev.scenePos())
            self._page.move_cursor(p.x(), p.y())


class DrawPage(QWidget):
    """Brush / eraser, size and strength over the canvas; undo, redo, Use drawing and Clear below it.
    `canvasChanged` follows every change of the drawing (a stroke under way, undo, redo, a loaded raster)."""

    canvasChanged = Signal()

    def __init__(self, host: TargetHost, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.drawing = DrawingModel(CANVAS_PIXELS, EXTENT)
        self.canvas_view = CanvasViewBox(self)
        self.canvas_plot = pg.PlotWidget(viewBox=self.canvas_view)
        self.canvas_plot.setToolTip(
            "Paint with the left mouse button: each stroke adds density where you paint (brighter = denser).\n"
            "When you release the button the drawing becomes the target. Ctrl+Z undoes a stroke."
        )
        self.canvas_plot.hideButtons()
        self.canvas_plot.getAxis("left").setWidth(28)  # a fixed axis width: the view must not shift under the mouse
        self.canvas_plot.setAcceptDrops(False)
        self.canvas_plot.setMinimumSize(220, 220)
        self.canvas_view.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
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
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.brush_button)
        group.addButton(self.eraser_button)
        for key, button in (("B", self.brush_button), ("E", self.eraser_button)):
            act = QAction(self)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(button.click)
            self.addAction(act)

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
        stack = host.undo_stack
        for btn, act in ((undo_btn, stack.createUndoAction(self)), (redo_btn, stack.createRedoAction(self))):
            btn.setDefaultAction(act)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        undo_btn.setToolTip("Undo the last change (Ctrl+Z)")
        redo_btn.setToolTip("Redo (Ctrl+Shift+Z)")
        bottom.addWidget(undo_btn)
        bottom.addWidget(redo_btn)
        bottom.addStretch(1)
        bottom.addWidget(self.use_drawing_button)
        bottom.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.addLayout(tools)
        lay.addWidget(self.canvas_plot, 1)
        lay.addLayout(bottom)
        self.refresh_canvas()

    # ---- strokes (the mouse's, or scripted with data coordinates) -----------------------------------------------
    @property
    def erasing(self) -> bool:
        return self.eraser_button.isChecked()

    def begin_stroke(self, x: float, y: float) -> None:
        """Start a stroke at data (x, y) with the current tool, size and strength."""
        self.drawing.begin_stroke(
            x, y, size=self.size_spin.value(), strength=self.strength_spin.value(), erase=self.erasing
        )
        self.refresh_canvas()

    def continue_stroke(self, x: float, y: float) -> None:
        if self.drawing.in_stroke:
            self.drawing.stroke_to(x, y)
            self.refresh_canvas()

    def end_stroke(self) -> bool:
        """Finish the stroke and make it one undoable step; True when it changed the drawing."""
        if not self.drawing.in_stroke:
            return False
        erase = self.erasing
        diff = self.drawing.end_stroke()
        if diff.empty:
            return False
        self.host.undo_stack.push(
            TargetCommand(
                self.host,
                "Erase stroke" if erase else "Paint stroke",
                self.host.state.target,
                build=self.drawing_target,
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
        before = self.host.state.target
        diff = self.drawing.clear()
        self.refresh_canvas()
        if diff.empty:
            self.host.show_message("The drawing is already empty.", error=False)
            return
        self.host.undo_stack.push(
            TargetCommand(
                self.host,
                "Clear drawing",
                before,
                build=lambda: None,
                diff=diff,
                empty_message="Drawing cleared; the current target is kept until you paint.",
            )
        )

    def use_drawing(self) -> None:
        """Make the current drawing the target (undoable)."""
        target = self.drawing_target()
        if target is None:
            self.host.show_message("The drawing is empty: paint on the canvas first. The current target is kept.")
            return
        self.host.undo_stack.push(TargetCommand(self.host, "Use drawing", self.host.state.target, target_after=target))

    def drawing_target(self) -> Target | None:
        """The drawing as a raster target, or None while it is empty."""
        if self.drawing.is_empty():
            return None
        try:
            return raster_target(self.drawing.raster(), EXTENT, name="drawing")
        except DataError:
            return None

    # ---- the canvas --------------------------------------------------------------------------------------------
    def apply_diff(self, diff: RasterDiff, forward: bool) -> None:
        """Apply (forward) or revert a canvas diff: what undo and redo do."""
        self.drawing.apply_diff(diff, forward)
        self.refresh_canvas()

    def refresh_canvas(self) -> None:
        self.canvas_image.setImage(self.drawing.canvas[::-1], levels=(0.0, 1.0), autoLevels=False)
        self.canvas_image.setRect(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)
        self.canvas_hint.setVisible(self.drawing.is_empty() and not self.drawing.in_stroke)
        self.canvasChanged.emit()

    def move_cursor(self, x: float | None, y: float | None) -> None:
        """Show the brush outline at data (x, y); None hides it."""
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
        self.refresh_canvas()
        return diff


__all__ = ["CANVAS_PIXELS", "CanvasViewBox", "DrawPage", "StrokeSurface"]
