"""MaskCanvas: one image zoomed so each pixel is a big square, with an inpainting mask painted over it.

Left button paints "generate this" (right button, or left with the eraser on, erases), a brush of `brush_size`
pixels (`inpaint_mask.stamp`), strokes drawn along straight lines between mouse positions. The mask is a
semi-transparent colour overlay above the picture; a faint pixel grid and the brush's outline under the mouse show
where paint lands. Every change (a whole stroke, Clear, Invert, a preset) is one command of `undo_stack`
(QUndoStack), so Undo / Redo go back and forth per stroke. Mask logic lives in the Qt-free `inpaint_mask`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QUndoCommand
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from playground.app.inpaint_mask import Cell, preset_mask, resize_mask, stamp_line
from playground.app.widgets.image_view import GRID_PAD, ImageGridView
from playground.app.widgets.undo_stack import bounded_undo_stack

MASK_RGBA = (255, 40, 150, 140)  # the overlay's colour where the mask says "generate" (semi-transparent pink)
GRID_MAX = 64  # the pixel grid is drawn for images up to this many pixels a side


class _MaskEdit(QUndoCommand):
    """One undoable change of the mask: the masks before and after it."""

    def __init__(self, canvas: MaskCanvas, before: np.ndarray, after: np.ndarray, text: str):
        super().__init__(text)
        self.canvas = canvas
        self.before = before
        self.after = after

    def redo(self) -> None:
        self.canvas._show_mask(self.after.copy())

    def undo(self) -> None:
        self.canvas._show_mask(self.before.copy())


class MaskCanvas(ImageGridView):
    """A zoomed image to paint an inpainting mask on (True = generate); undoable strokes; emits maskChanged."""

    maskChanged = Signal()

    def __init__(self, parent: QWidget | None = None, title: str = ""):
        super().__init__(parent, title)
        self.undo_stack = bounded_undo_stack(self)
        self.mask: np.ndarray | None = None  # (H, W) bool, True = generate; None before the first image
        self.brush_size = 1
        self.erasing = False  # the eraser toggle: the left button erases too
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setPos(GRID_PAD, GRID_PAD)
        self.overlay.setZValue(10)
        self.plot.addItem(self.overlay)
        self.pixel_grid = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(128, 128, 128, 70, width=0))
        self.pixel_grid.setZValue(20)
        self.plot.addItem(self.pixel_grid, ignoreBounds=True)
        self.brush_outline = QGraphicsRectItem()
        pen = QPen(QColor(255, 230, 60))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        self.brush_outline.setPen(pen)
        self.brush_outline.setZValue(30)
        self.brush_outline.setVisible(False)
        self.plot.addItem(self.brush_outline, ignoreBounds=True)
        self._stroke: tuple[np.ndarray, bool, Cell] | None = None  # (mask before, value, last cell) while dragging
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._hide_layers()

    # ---- image and mask ------------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Show one (C, H, W) [0, 1] image; the mask keeps its pixels (resampled nearest-neighbour, and the undo
        history dropped, when the image size changes)."""
        image = np.asarray(image)
        self.set_images(image[None], 1)
        shape = tuple(image.shape[1:])
        if self.mask is None or self.mask.shape != shape:
            self.end_stroke()
            self.undo_stack.clear()
            self.mask = np.zeros(shape, bool) if self.mask is None else resize_mask(self.mask, shape)
            self._draw_pixel_grid(shape)
            self.maskChanged.emit()
        self.pixel_grid.setVisible(max(shape) <= GRID_MAX)
        self._draw_overlay()

    def set_message(self, text: str) -> None:
        """Hide the picture and the mask layers and show `text` (the mask itself is kept)."""
        super().set_message(text)
        if hasattr(self, "overlay"):  # ImageGridView's constructor shows an empty message before the layers exist
            self._stroke = None
            self._hide_layers()

    @property
    def has_image(self) -> bool:
        return self.picture is not None and self.mask is not None

    def set_mask(self, mask: np.ndarray, text: str) -> None:
        """Replace the mask as one undoable step named `text` (nothing happens when it is unchanged)."""
        if self.mask is None:
            return
        mask = np.asarray(mask, bool)
        if mask.shape != self.mask.shape:
            raise ValueError(f"mask of shape {mask.shape} for an image of {self.mask.shape}")
        if not np.array_equal(mask, self.mask):
            self.undo_stack.push(_MaskEdit(self, self.mask.copy(), mask.copy(), text))

    def clear_mask(self) -> None:
        """Generate nothing (undoable)."""
        if self.mask is not None:
            self.set_mask(np.zeros_like(self.mask), "Clear mask")

    def invert_mask(self) -> None:
        """Swap generated and kept pixels (undoable)."""
        if self.mask is not None:
            self.set_mask(~self.mask, "Invert mask")

    def apply_preset(self, name: str, seed: int = 0) -> None:
        """Replace the mask by a preset of `inpaint_mask.PRESETS` (undoable)."""
        if self.mask is not None:
            self.set_mask(preset_mask(name, self.mask.shape, seed), f"Mask preset: {name}")

    def _show_mask(self, mask: np.ndarray) -> None:
        self.mask = mask
        self._draw_overlay()
        self.maskChanged.emit()

    # ---- strokes -------------------------------------------------------------------------------------------------
    def begin_stroke(self, cell: Cell, value: bool) -> None:
        """Start a stroke at cell (row, column): value True paints "generate", False erases."""
        if self.mask is None:
            return
        self._stroke = (self.mask.copy(), bool(value), cell)
        self._paint(cell, cell, value)

    def continue_stroke(self, cell: Cell) -> None:
        """Extend the stroke in progress along the straight line to cell."""
        if self._stroke is None:
            return
        before, value, last = self._stroke
        if cell != last:
            self._stroke = (before, value, cell)
            self._paint(last, cell, value)

    def end_stroke(self) -> None:
        """Finish the stroke in progress: one undo step when it changed anything."""
        if self._stroke is None or self.mask is None:
            self._stroke = None
            return
        before, value, _ = self._stroke
        self._stroke = None
        if not np.array_equal(before, self.mask):
            self.undo_stack.push(_MaskEdit(self, before, self.mask.copy(), "Paint" if value else "Erase"))

    def _paint(self, start: Cell, end: Cell, value: bool) -> None:
        stamp_line(self.mask, start, end, self.brush_size, value)
        self._draw_overlay()
        self.maskChanged.emit()

    # ---- mouse ---------------------------------------------------------------------------------------------------
    def cell_at(self, pos: QPointF) -> Cell:
        """The (row, column) of the image pixel under a widget position (may lie outside the image)."""
        p = self.box.mapSceneToView(self.mapToScene(pos.toPoint()))
        return math.floor(p.y() - GRID_PAD), math.floor(p.x() - GRID_PAD)

    def mousePressEvent(self, event) -> None:  # Qt override
        button = event.button()
        if not self.has_image or button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        paint = button == Qt.MouseButton.LeftButton and not self.erasing
        self.begin_stroke(self.cell_at(event.position()), paint)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # Qt override
        if not self.has_image:
            super().mouseMoveEvent(event)
            return
        cell = self.cell_at(event.position())
        self._place_outline(cell)
        if self._stroke is not None:
            self.continue_stroke(cell)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # Qt override
        if self._stroke is None:
            super().mouseReleaseEvent(event)
            return
        self.end_stroke()
        event.accept()

    def contextMenuEvent(self, event) -> None:  # Qt override: the right button erases, no menu
        event.accept()

    def leaveEvent(self, event) -> None:  # Qt override
        self.brush_outline.setVisible(False)
        super().leaveEvent(event)

    # ---- drawing -------------------------------------------------------------------------------------------------
    def _draw_overlay(self) -> None:
        if self.mask is None or self.picture is None:
            self.overlay.setVisible(False)
            return
        rgba = np.zeros((*self.mask.shape, 4), np.uint8)
        rgba[self.mask] = MASK_RGBA
        self.overlay.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.overlay.setVisible(True)

    def _draw_pixel_grid(self, shape: tuple[int, int]) -> None:
        h, w = shape
        xs, ys = [], []
        for c in range(1, w):
            xs += [GRID_PAD + c, GRID_PAD + c]
            ys += [GRID_PAD, GRID_PAD + h]
        for r in range(1, h):
            xs += [GRID_PAD, GRID_PAD + w]
            ys += [GRID_PAD + r, GRID_PAD + r]
        self.pixel_grid.setData(np.asarray(xs, float), np.asarray(ys, float))

    def _place_outline(self, cell: Cell) -> None:
        h, w = self.mask.shape
        size = max(1, int(self.brush_size))
        r0, c0 = cell[0] - (size - 1) // 2, cell[1] - (size - 1) // 2
        inside = r0 + size > 0 and c0 + size > 0 and r0 < h and c0 < w
        self.brush_outline.setRect(GRID_PAD + c0, GRID_PAD + r0, size, size)
        self.brush_outline.setVisible(inside)

    def _hide_layers(self) -> None:
        self.overlay.setVisible(False)
        self.pixel_grid.setVisible(False)
        self.brush_outline.setVisible(False)
