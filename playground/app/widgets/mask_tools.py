"""MaskTools: the controls that edit a `MaskCanvas`'s inpainting mask, in two rows under the canvas.

    brush size | Eraser | Clear | Invert
    Preset mask… | Undo | Redo

Clear, Invert and the presets are undoable commands of the canvas's QUndoStack; Undo / Redo follow the stack.
`undo_key(event)` tells the owning panel whether a key press is Undo or Redo (Ctrl+Z / Ctrl+Shift+Z).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from playground.app.inpaint_mask import PRESETS
from playground.app.widgets.mask_canvas import MaskCanvas

MAX_BRUSH = 16  # the brush's largest size before an image is shown (then: the image's larger side)
RANDOM_PRESET_STRIDE = 7919  # each 'random pixels' preset seeds its pattern this far from the previous one


def undo_key(event) -> str:
    """'undo' or 'redo' when a key event is the platform's Undo or Redo shortcut, else ''."""
    if event.matches(QKeySequence.StandardKey.Undo):
        return "undo"
    if event.matches(QKeySequence.StandardKey.Redo):
        return "redo"
    return ""


class MaskTools(QWidget):
    """Brush size, eraser, Clear, Invert, preset masks and Undo / Redo for one MaskCanvas."""

    def __init__(self, canvas: MaskCanvas, seed: Callable[[], int], parent: QWidget | None = None):
        """`seed()` is the seed the 'random pixels' preset draws its pattern from."""
        super().__init__(parent)
        self.canvas = canvas
        self.seed = seed
        self.brush = QSpinBox()
        self.brush.setRange(1, MAX_BRUSH)
        self.brush.setPrefix("brush ")
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush size: each mouse position paints a square of this many image pixels a side.")
        self.brush.valueChanged.connect(self._on_brush)
        self.eraser = QCheckBox("Eraser")
        self.eraser.setToolTip("The left button erases (marks pixels as kept) instead of painting; the right button\n"
                               "always erases.")
        self.eraser.toggled.connect(self._on_eraser)
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.setToolTip("Generate nothing: keep every pixel (undoable).")
        self.clear_btn.clicked.connect(canvas.clear_mask)
        self.invert_btn = QPushButton("Invert")
        self.invert_btn.setToolTip("Swap the generated and the kept pixels (undoable).")
        self.invert_btn.clicked.connect(canvas.invert_mask)
        self.preset = QComboBox()
        self.preset.addItem("Preset mask…", "")
        for key, name in PRESETS.items():
            self.preset.addItem(name, key)
        self.preset.setToolTip("Replace the mask by a preset (undoable): a half of the image, the centre square\n"
                               "(half the side), or each pixel at random with probability 1/2 (from the seed).")
        self.preset.activated.connect(self._on_preset)
        # the panel shares the top row with three other docks: a long combo text may shrink
        self.preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(8)
        self._random_presets = 0  # each 'random pixels' preset draws a new pattern
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.setToolTip("Undo the last stroke or mask change (Ctrl+Z while the panel has the focus).")
        self.undo_btn.clicked.connect(canvas.undo_stack.undo)
        canvas.undo_stack.canUndoChanged.connect(self.undo_btn.setEnabled)
        self.redo_btn = QPushButton("Redo")
        self.redo_btn.setToolTip("Redo the last undone mask change (Ctrl+Shift+Z while the panel has the focus).")
        self.redo_btn.clicked.connect(canvas.undo_stack.redo)
        canvas.undo_stack.canRedoChanged.connect(self.redo_btn.setEnabled)
        self.undo_btn.setEnabled(False)
        self.redo_btn.setEnabled(False)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        for widgets in ((self.brush, self.eraser, self.clear_btn, self.invert_btn),
                        (self.preset, self.undo_btn, self.redo_btn)):
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            rows.addLayout(row)

    def set_editable(self, on: bool) -> None:
        """Enable the editing controls (there is an image to paint on); Undo / Redo follow the undo stack."""
        for w in (self.brush, self.eraser, self.clear_btn, self.invert_btn, self.preset):
            w.setEnabled(on)

    def _on_brush(self, size: int) -> None:
        self.canvas.brush_size = int(size)

    def _on_eraser(self, on: bool) -> None:
        self.canvas.erasing = bool(on)

    def _on_preset(self, index: int) -> None:
        key = self.preset.itemData(index)
        self.preset.setCurrentIndex(0)
        if key:
            self._random_presets += key == "random"
            self.canvas.apply_preset(key, seed=self.seed() + RANDOM_PRESET_STRIDE * self._random_presets)
