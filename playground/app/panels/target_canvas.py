"""The target canvas: a large view of the 2D target to edit it in place, the size of the forward view (its dock is
tabbed with the score field's, beside the forward view), instead of only in the Target dock's small canvas.

Brush and Eraser paint on the Target dock's drawing, Gaussians places, selects, drags and resizes the components of
its Gaussian editor: the canvas hands every gesture to that page (`DrawPage` stroke methods, `GmmEditor.add_view`),
so an edit here is the same undoable `TargetCommand` on the same QUndoStack as one in the dock, and both views show
it. The current target's samples can be shown faintly underneath, to trace over a preset or an imported set.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.target.draw_page import CanvasViewBox
from playground.app.panels.target.panel import TargetPanel
from playground.app.panels.target.previews import EXTENT
from playground.app.widgets.plot_items import DotCloud

TOOLS = ("brush", "eraser", "gaussians")
TOOL_HINTS = {
    "brush": "drag to paint density · release: the drawing becomes the target · Ctrl+Z undoes a stroke",
    "eraser": "drag to erase density · release: the drawing becomes the target · Ctrl+Z undoes a stroke",
    "gaussians": "click: add a Gaussian · drag: move it · wheel: width · Del: remove · Ctrl+Z undoes",
}
SAMPLE_DOTS = 5000


class TargetCanvasPanel(QWidget):
    """Tools (Brush, Eraser, Gaussians), brush size and strength, undo and redo over one large editing view."""

    def __init__(self, target: TargetPanel, parent: QWidget | None = None):
        super().__init__(parent)
        self.target = target
        self.state = target.state
        self.draw_page = target.draw_page
        self.editor = target.gaussians_page.editor
        self.setWindowTitle("Target canvas")

        # tools
        self.buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        tips = {"brush": "Paint density on the drawing (B in the Draw tab)",
                "eraser": "Erase density from the drawing (E in the Draw tab)",
                "gaussians": "Place, move and resize the Gaussians of an exact mixture"}
        for tool in TOOLS:
            b = QToolButton()
            b.setText(tool.capitalize())
            b.setCheckable(True)
            b.setToolTip(tips[tool])
            b.clicked.connect(lambda _on, tool=tool: self.set_tool(tool))
            group.addButton(b)
            self.buttons[tool] = b
        self.size_spin = self._mirror(self.draw_page.size_spin)
        self.strength_spin = self._mirror(self.draw_page.strength_spin)
        undo_btn, redo_btn = QToolButton(), QToolButton()
        stack = target.undo_stack
        for btn, act in ((undo_btn, stack.createUndoAction(self)), (redo_btn, stack.createRedoAction(self))):
            btn.setDefaultAction(act)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        undo_btn.setToolTip("Undo the last change of the target (Ctrl+Z)")
        redo_btn.setToolTip("Redo (Ctrl+Shift+Z)")
        self.show_samples = QCheckBox("Samples")
        self.show_samples.setChecked(True)
        self.show_samples.setToolTip(f"Show (up to {SAMPLE_DOTS:,}) samples of the current target faintly under the "
                                     "canvas, to trace over a preset or an imported set.")
        self.show_samples.toggled.connect(self._draw_samples)

        # the two editing views: the drawing, and a view of the Gaussian editor
        self.draw_view = CanvasViewBox(self)
        self.draw_plot = pg.PlotWidget(viewBox=self.draw_view)
        self.draw_plot.hideButtons()
        self.draw_plot.getAxis("left").setWidth(36)  # fixed: the view must not shift under the mouse
        self.draw_plot.setAcceptDrops(False)
        self.draw_view.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
        self.draw_plot.setToolTip(TOOL_HINTS["brush"])
        self.drawing_image = pg.ImageItem(axisOrder="row-major")
        self.drawing_image.setColorMap(pg.colormap.get("inferno"))
        self.drawing_image.setZValue(-1)
        self.draw_view.addItem(self.drawing_image)
        self.brush_outline = pg.PlotCurveItem(pen=pg.mkPen((120, 220, 255, 220), width=1.5))
        self.brush_outline.setZValue(5)
        self.draw_view.addItem(self.brush_outline)
        self.gmm_plot = self.editor.add_view()
        self.gmm_plot.getAxis("left").setWidth(36)
        self.gmm_plot.density.setZValue(-1)
        self.samples = {"draw": self._sample_layer(self.draw_view), "gaussians": self._sample_layer(self.gmm_plot.view)}
        self.views = QStackedWidget()
        self.views.addWidget(self.draw_plot)
        self.views.addWidget(self.gmm_plot)
        for w in (self.draw_plot, self.gmm_plot, self.views):
            w.setMinimumSize(120, 100)  # the dock may shrink like the forward view it is tabbed with

        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setToolTip("The Target panel's last hint or problem")
        tools = QHBoxLayout()
        for tool in TOOLS:
            tools.addWidget(self.buttons[tool])
        tools.addStretch(1)
        tools.addWidget(undo_btn)
        tools.addWidget(redo_btn)
        brush = QHBoxLayout()
        brush.addWidget(QLabel("size"))
        brush.addWidget(self.size_spin)
        brush.addWidget(QLabel("strength"))
        brush.addWidget(self.strength_spin)
        brush.addStretch(1)
        brush.addWidget(self.show_samples)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(tools)
        lay.addLayout(brush)
        lay.addWidget(self.views, 1)
        lay.addWidget(self.hint)
        lay.addWidget(self.message)

        self.draw_page.canvasChanged.connect(self.refresh_drawing)
        self.draw_page.brush_button.toggled.connect(lambda _on: self._follow_dock())
        target.tabs.currentChanged.connect(lambda _i: self._follow_dock())
        target.messageChanged.connect(self.message.setText)
        self.state.targetChanged.connect(self._draw_samples)
        self._tool = ""
        self.set_tool("gaussians" if target.mode() == "Gaussians" else "brush", sync_dock=False)
        self.refresh_drawing()
        self._draw_samples()

    # ---- tools ------------------------------------------------------------------------------------------------
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str, sync_dock: bool = True) -> None:
        """Brush, eraser or gaussians; sync_dock: the Target dock shows the same page (Draw or Gaussians) and tool."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; one of {', '.join(TOOLS)}")
        self._tool = tool
        self.buttons[tool].setChecked(True)
        drawing = tool != "gaussians"
        self.views.setCurrentWidget(self.draw_plot if drawing else self.gmm_plot)
        for spin in (self.size_spin, self.strength_spin):
            spin.setEnabled(drawing)
        self.hint.setText(TOOL_HINTS[tool])
        self.draw_plot.setToolTip(TOOL_HINTS[tool])
        if drawing:
            (self.draw_page.eraser_button if tool == "eraser" else self.draw_page.brush_button).setChecked(True)
        if sync_dock:
            self.target.set_mode("Draw" if drawing else "Gaussians")

    def _follow_dock(self) -> None:
        """The Target dock changed page or tool: follow it (its Presets, Import and Images pages change nothing)."""
        mode = self.target.mode()
        if mode == "Gaussians":
            tool = "gaussians"
        elif mode == "Draw" or self._tool != "gaussians":
            tool = "eraser" if self.draw_page.erasing else "brush"
        else:
            return
        if tool != self._tool:
            self.set_tool(tool, sync_dock=False)

    def _mirror(self, spin: QDoubleSpinBox) -> QDoubleSpinBox:
        """A spin box that shows and sets the same value as `spin` (the Draw tab's brush size or strength)."""
        m = QDoubleSpinBox()
        m.setRange(spin.minimum(), spin.maximum())
        m.setSingleStep(spin.singleStep())
        m.setDecimals(spin.decimals())
        m.setValue(spin.value())
        m.setToolTip(spin.toolTip())
        m.valueChanged.connect(spin.setValue)
        spin.valueChanged.connect(m.setValue)
        return m

    # ---- StrokeSurface: the draw view's gestures, painted through the Draw tab ---------------------------------
    def stroke(self, points) -> bool:
        """A whole stroke through data points with the current tool (what a click or a drag does)."""
        return self.draw_page.stroke(points, erase=self._tool == "eraser")

    def begin_stroke(self, x: float, y: float) -> None:
        self.draw_page.begin_stroke(x, y)

    def continue_stroke(self, x: float, y: float) -> None:
        self.draw_page.continue_stroke(x, y)

    def end_stroke(self) -> bool:
        return self.draw_page.end_stroke()

    def move_cursor(self, x: float | None, y: float | None) -> None:
        """The brush outline at data (x, y); None hides it."""
        if x is None:
            self.brush_outline.setData([], [])
            return
        r = self.size_spin.value()
        th = np.linspace(0, 2 * np.pi, 61)
        self.brush_outline.setData(x + r * np.cos(th), y + r * np.sin(th))

    # ---- drawing ----------------------------------------------------------------------------------------------
    def refresh_drawing(self) -> None:
        """Show the Draw tab's raster (row 0 is its top)."""
        canvas = self.draw_page.drawing.canvas
        self.drawing_image.setImage(canvas[::-1], levels=(0.0, 1.0), autoLevels=False)
        self.drawing_image.setRect(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)

    def _sample_layer(self, view: pg.ViewBox) -> DotCloud:
        dots = DotCloud(view, color=(255, 255, 255, 90), width=2.0, max_points=SAMPLE_DOTS, z=-0.5)
        return dots

    def _draw_samples(self, *_) -> None:
        on = self.show_samples.isChecked() and not self.state.image_mode
        for dots in self.samples.values():
            dots.set_visible(on)
            if on:
                dots.set_points(np.asarray(self.state.target_samples, np.float64).reshape(-1, 2))


__all__ = ["TOOLS", "TargetCanvasPanel"]
