"""The Gaussian-mode editor: place, move, widen and weight the components of an exact Gaussian mixture.

View (pyqtgraph): the mixture's density as a heatmap, each component's 1- and 2-sigma ellipses and its centre.
Mouse: click empty space to add a component, click one to select it, drag to move it, wheel over it (or over the
view, for the selected one) to change its width; Delete / Backspace removes the selected one. A small table lists
every component (x, y, sigma_x, sigma_y, weight) and is editable.

The editor never changes its components on its own: every user edit is emitted as `editRequested(before, after, text, key)`
and applied by whoever owns the undo stack (the Target panel pushes an undoable command whose redo calls
`set_components`). Without a listener (`apply_directly=True`) edits apply at once. Consecutive edits with the same
`key` (one drag, a burst of wheel ticks, one weight spin box) are meant to merge into one undo step.

The plot (heatmap, ellipses, gestures) is `GmmPlot`, the table `GmmTable`; this widget keeps the components, the
selection and the gestures' state, and turns gestures, table edits and the spin boxes into edits. The mixture itself
(components -> exact GMM `Target`) is Qt-free: playground.data.targets.gmm_components.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from playground.app.widgets.gmm_plot import GmmPlot
from playground.app.widgets.gmm_table import GmmTable
from playground.data.targets.gmm_components import (
    DEFAULT_SIGMA,
    EXTENT,
    MAX_SIGMA,
    MIN_SIGMA,
    Component,
    normalized_weights,
)


class GmmEditor(QWidget):
    """Interactive editor for an axis-aligned 2D Gaussian mixture (see the module docstring)."""

    editRequested = Signal(list, list, str, object)  # components before and after the edit, undo text, merge key
    componentsChanged = Signal(list)  # the components now shown
    selectionChanged = Signal(int)  # -1 for none

    def __init__(self, parent: QWidget | None = None, extent: float = EXTENT):
        super().__init__(parent)
        self.extent = float(extent)
        self.apply_directly = True  # set False by an owner that applies edits through undo commands
        self._components: list[Component] = []  # what is shown (moves live while dragging)
        self._committed: list[Component] = []  # what was last set by set_components (the undo "before")
        self._selected = -1
        self._drag_index = -1
        self._drag_offset = (0.0, 0.0)
        self._drag_serial = 0
        self._drag_pending: tuple[float, float] | None = None
        self._wheel_serial = 0
        self._wheel_last = (-1, 0.0)

        self._drag_timer = QTimer(self)
        self._drag_timer.setSingleShot(True)
        self._drag_timer.setInterval(70)  # live target updates while dragging at ~14 Hz
        self._drag_timer.timeout.connect(self._flush_drag)

        self.plot = GmmPlot(self, self.extent)
        self._views: list[GmmPlot] = []  # more plots of the same components (a large canvas), see add_view
        self._hit_plot = self.plot  # the plot whose pixels the current gesture's hit test measures
        self.table = GmmTable()
        self.table.rowSelected.connect(self.select)
        self.table.valueEdited.connect(self._table_edited)

        # selected-component controls
        self.weight_spin = QDoubleSpinBox()
        self.weight_spin.setRange(0.0, 100.0)
        self.weight_spin.setDecimals(2)
        self.weight_spin.setSingleStep(0.1)
        self.weight_spin.setKeyboardTracking(False)
        self.weight_spin.setToolTip("Weight of the selected component (relative; all weights are normalised to sum to 1)")
        self.weight_spin.valueChanged.connect(self._weight_spun)
        self.sigma_spin = QDoubleSpinBox()
        self.sigma_spin.setRange(MIN_SIGMA, MAX_SIGMA)
        self.sigma_spin.setDecimals(3)
        self.sigma_spin.setSingleStep(0.05)
        self.sigma_spin.setKeyboardTracking(False)
        self.sigma_spin.setToolTip("Width σ of the selected component (sets σx = σy; the mouse wheel scales it too)")
        self.sigma_spin.valueChanged.connect(self._sigma_spun)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the selected component (Delete key)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.clear_button = QPushButton("Remove all")
        self.clear_button.setToolTip("Remove every component (undoable)")
        self.clear_button.clicked.connect(self.remove_all)

        row = QHBoxLayout()
        row.addWidget(QLabel("weight"))
        row.addWidget(self.weight_spin)
        row.addWidget(QLabel("σ"))
        row.addWidget(self.sigma_spin)
        row.addStretch(1)
        row.addWidget(self.delete_button)
        row.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addLayout(row)
        lay.addWidget(self.table)

        self.plot.installEventFilter(self)
        self.table.installEventFilter(self)
        self._refresh()

    # ---- public API -----------------------------------------------------------------------------------------
    @property
    def components(self) -> list[Component]:
        return list(self._components)

    @property
    def selected(self) -> int:
        return self._selected

    def set_components(self, components: list[Component], selected: int | None = None) -> None:
        """Show `components` (what undo commands call); keeps the selection when it is still valid."""
        self._components = [c.clamped() for c in components]
        self._committed = list(self._components)
        if selected is not None:
            self._selected = selected
        if self._selected >= len(self._components):
            self._selected = len(self._components) - 1
        self._refresh()
        self.componentsChanged.emit(self.components)

    def select(self, index: int) -> None:
        index = index if 0 <= index < len(self._components) else -1
        if index != self._selected:
            self._selected = index
            self._refresh(density=False)
            self.selectionChanged.emit(index)

    def hit_test(self, x: float, y: float) -> int:
        """The component under world (x, y): a centre within a few pixels, else the innermost 1-sigma ellipse."""
        return self._hit_plot.hit_test(self._components, x, y)

    def add_view(self, parent: QWidget | None = None) -> GmmPlot:
        """Another plot of these components (e.g. a large canvas) whose gestures edit them as the editor's own do:
        the same edits, the same undo steps, hit tests in that plot's pixels."""
        gestures = _ViewGestures(self)
        plot = GmmPlot(gestures, self.extent, parent)
        gestures.plot = plot
        plot.installEventFilter(self)
        self._views.append(plot)
        self._refresh()
        return plot

    @contextmanager
    def hits_on(self, plot: GmmPlot):
        """Hit tests inside the block measure in `plot`'s pixels."""
        self._hit_plot = plot
        try:
            yield
        finally:
            self._hit_plot = self.plot

    # ---- gestures (also a scriptable API for tests) -------------------------------------------------------------
    def click_at(self, x: float, y: float) -> None:
        i = self.hit_test(x, y)
        if i >= 0:
            self.select(i)
        elif abs(x) <= self.extent and abs(y) <= self.extent:
            self.add_component(x, y)

    def add_component(self, x: float, y: float, sigma: float = DEFAULT_SIGMA, weight: float = 1.0) -> None:
        after = self.components + [Component(float(x), float(y), sigma, sigma, weight)]
        self._selected = len(after) - 1
        self._request(after, "Add Gaussian", None)

    def move_component(self, index: int, x: float, y: float, merge_key=None) -> None:
        after = self.components
        after[index] = replace(after[index], x=float(x), y=float(y))
        self._request(after, "Move Gaussian", merge_key)

    def resize_component(self, index: int, factor: float, merge_key=None) -> None:
        c = self._components[index]
        after = self.components
        after[index] = replace(c, sx=c.sx * factor, sy=c.sy * factor).clamped()
        self._request(after, "Resize Gaussian", merge_key)

    def set_weight(self, index: int, weight: float, merge_key=None) -> None:
        after = self.components
        after[index] = replace(after[index], weight=max(float(weight), 0.0))
        if sum(c.weight for c in after) <= 0:
            self.weight_spin.blockSignals(True)
            self.weight_spin.setValue(self._components[index].weight)
            self.weight_spin.blockSignals(False)
            return  # at least one weight must stay positive
        self._request(after, "Change Gaussian weight", merge_key if merge_key is not None else ("weight", index))

    def delete_selected(self) -> None:
        if 0 <= self._selected < len(self._components):
            after = self.components
            del after[self._selected]
            self._selected = min(self._selected, len(after) - 1)
            self._request(after, "Delete Gaussian", None)

    def remove_all(self) -> None:
        if self._components:
            self._selected = -1
            self._request([], "Remove all Gaussians", None)

    def drag_start(self, x: float, y: float) -> None:
        i = self.hit_test(x, y)
        self._drag_index = i
        if i >= 0:
            self._drag_serial += 1
            c = self._components[i]
            self._drag_offset = (c.x - x, c.y - y)
            self.select(i)

    def drag_move(self, x: float, y: float) -> None:
        if self._drag_index < 0:
            return
        nx = float(np.clip(x + self._drag_offset[0], -self.extent, self.extent))
        ny = float(np.clip(y + self._drag_offset[1], -self.extent, self.extent))
        # move the drawing at once; the (merged) edit goes out throttled
        self._components[self._drag_index] = replace(self._components[self._drag_index], x=nx, y=ny)
        self._refresh(density=False)
        self._drag_pending = (nx, ny)
        if not self._drag_timer.isActive():
            self._drag_timer.start()

    def drag_finish(self, x: float, y: float) -> None:
        if self._drag_index < 0:
            return
        self.drag_move(x, y)
        self._drag_timer.stop()
        self._flush_drag()
        self._drag_index = -1

    def wheel_at(self, x: float, y: float, steps: float) -> bool:
        i = self.hit_test(x, y)
        if i < 0:
            i = self._selected
        if i < 0 or steps == 0:
            return False
        self.select(i)
        now = time.monotonic()
        if self._wheel_last[0] != i or now - self._wheel_last[1] > 1.0:
            self._wheel_serial += 1
        self._wheel_last = (i, now)
        self.resize_component(i, 1.1 ** steps, merge_key=("resize", i, self._wheel_serial))
        return True

    # ---- internals ------------------------------------------------------------------------------------------
    def _flush_drag(self) -> None:
        if self._drag_index >= 0 and self._drag_pending is not None:
            self._drag_pending = None
            # the shown components already hold the new position; emit the edit against that list
            self._request(self.components, "Move Gaussian", ("move", self._drag_serial))

    def _request(self, after: list[Component], text: str, merge_key) -> None:
        before = list(self._committed)
        after = [c.clamped() for c in after]
        if self.apply_directly:
            self.set_components(after)
        self.editRequested.emit(before, after, text, merge_key)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.KeyPress and ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            if obj is self.plot or obj in self._views or (obj is self.table and not self.table.editing):
                self.delete_selected()
                return True
        return super().eventFilter(obj, ev)

    def _refresh(self, density: bool = True) -> None:
        comps = self._components
        w = normalized_weights(comps) if comps else np.zeros(0)
        for plot in (self.plot, *self._views):
            plot.draw(comps, w, self._selected, density)
        self.table.show_components(comps, w, self._selected)
        self._sync_controls()

    def _sync_controls(self) -> None:
        has = 0 <= self._selected < len(self._components)
        for wdg in (self.weight_spin, self.sigma_spin, self.delete_button):
            wdg.setEnabled(has)
        self.clear_button.setEnabled(bool(self._components))
        if has:
            c = self._components[self._selected]
            for spin, v in ((self.weight_spin, c.weight), (self.sigma_spin, math.sqrt(c.sx * c.sy))):
                spin.blockSignals(True)
                spin.setValue(v)
                spin.blockSignals(False)

    def _table_edited(self, i: int, name: str, v: float) -> None:
        if name == "weight":
            self.set_weight(i, v, merge_key=None)
            return
        if name in ("x", "y"):
            v = float(np.clip(v, -self.extent, self.extent))
        after = self.components
        after[i] = replace(self._components[i], **{name: v}).clamped()
        self._request(after, "Edit Gaussian", None)

    def _weight_spun(self, v: float) -> None:
        if 0 <= self._selected < len(self._components):
            self.set_weight(self._selected, v)

    def _sigma_spun(self, v: float) -> None:
        i = self._selected
        if 0 <= i < len(self._components):
            c = self._components[i]
            after = self.components
            after[i] = replace(c, sx=v, sy=v).clamped()
            self._request(after, "Resize Gaussian", ("sigma", i))


class _ViewGestures:
    """The gestures of an added view (`GmmEditor.add_view`): the editor's, hit-tested in that view's pixels."""

    def __init__(self, editor: GmmEditor):
        self.editor = editor
        self.plot: GmmPlot | None = None

    def click_at(self, x: float, y: float) -> None:
        with self.editor.hits_on(self.plot):
            self.editor.click_at(x, y)

    def drag_start(self, x: float, y: float) -> None:
        with self.editor.hits_on(self.plot):
            self.editor.drag_start(x, y)

    def drag_move(self, x: float, y: float) -> None:
        self.editor.drag_move(x, y)

    def drag_finish(self, x: float, y: float) -> None:
        self.editor.drag_finish(x, y)

    def wheel_at(self, x: float, y: float, steps: float) -> bool:
        with self.editor.hits_on(self.plot):
            return self.editor.wheel_at(x, y, steps)
