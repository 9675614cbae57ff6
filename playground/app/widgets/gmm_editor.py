"""The Gaussian-mode editor: place, move, widen and weight the components of an exact Gaussian mixture.

View (pyqtgraph): the mixture's density as a heatmap, each component's 1- and 2-sigma ellipses and its centre.
Mouse: click empty space to add a component, click one to select it, drag to move it, wheel over it (or over the
view, for the selected one) to change its width; Delete / Backspace removes the selected one. A small table lists
every component (x, y, sigma_x, sigma_y, weight) and is editable.

The editor never changes its components on its own: every user edit is emitted as `editRequested(before, after, text, key)`
and applied by whoever owns the undo stack (the Target panel pushes an undoable command whose redo calls
`set_components`). Without a listener (`apply_directly=True`) edits apply at once. Consecutive edits with the same
`key` (one drag, a burst of wheel ticks, one weight spin box) are meant to merge into one undo step.

The mixture itself (components -> exact GMM `Target`) is Qt-free: playground.data.targets.gmm_components.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.data.targets.gmm_components import (
    DEFAULT_SIGMA,
    EXTENT,
    MAX_SIGMA,
    MIN_SIGMA,
    Component,
    density_grid,
    normalized_weights,
)

HIT_PIXELS = 10.0


# ---- the view -------------------------------------------------------------------------------------------------
class _EditorViewBox(pg.ViewBox):
    """A fixed [-4, 4]^2 view whose mouse gestures edit components instead of panning/zooming."""

    def __init__(self, editor: "GmmEditor"):
        super().__init__(enableMenu=False, lockAspect=True)
        self._editor = editor
        self.setMouseEnabled(x=False, y=False)

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self._editor.click_at(p.x(), p.y())

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            p0 = self.mapSceneToView(ev.buttonDownScenePos())
            self._editor.drag_start(p0.x(), p0.y())
        if ev.isFinish():
            self._editor.drag_finish(p.x(), p.y())
        else:
            self._editor.drag_move(p.x(), p.y())

    def wheelEvent(self, ev, axis=None):
        p = self.mapSceneToView(ev.scenePos())
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if self._editor.wheel_at(p.x(), p.y(), delta / 120.0):
            ev.accept()
        else:
            ev.ignore()


class GmmEditor(QWidget):
    """Interactive editor for an axis-aligned 2D Gaussian mixture (see the module docstring)."""

    editRequested = Signal(list, list, str, object)  # components before and after the edit, undo text, merge key
    componentsChanged = Signal(list)  # the components now shown
    selectionChanged = Signal(int)  # -1 for none

    COLUMNS = ("x", "y", "σx", "σy", "weight")

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
        self._syncing_table = False

        self._drag_timer = QTimer(self)
        self._drag_timer.setSingleShot(True)
        self._drag_timer.setInterval(70)  # live target updates while dragging at ~14 Hz
        self._drag_timer.timeout.connect(self._flush_drag)

        # view
        self.view = _EditorViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.setToolTip(
            "Click empty space to add a Gaussian; click a centre to select it; drag to move it;\n"
            "mouse wheel over a component to widen/narrow it; Delete removes the selected one."
        )
        self.plot.setMinimumSize(220, 220)
        self.plot.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.plot.hideButtons()
        self.plot.getAxis("left").setWidth(28)  # a fixed axis width: the view must not shift under the mouse
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.view.setRange(xRange=(-self.extent, self.extent), yRange=(-self.extent, self.extent), padding=0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.image.setRect(-self.extent, -self.extent, 2 * self.extent, 2 * self.extent)
        self.view.addItem(self.image)
        e = self.extent
        self.frame = pg.PlotCurveItem([-e, e, e, -e, -e], [-e, -e, e, e, -e], pen=pg.mkPen((128, 128, 128, 140), width=1))
        self.view.addItem(self.frame)
        self.ellipses = pg.PlotCurveItem(pen=pg.mkPen((120, 200, 255, 200), width=1.2))
        self.sel_ellipse = pg.PlotCurveItem(pen=pg.mkPen((255, 235, 80), width=2.0))
        self.centers = pg.ScatterPlotItem(size=10, pen=pg.mkPen("w", width=1.5), brush=pg.mkBrush(60, 140, 255))
        for it in (self.ellipses, self.sel_ellipse, self.centers):
            self.view.addItem(it)
        self.hint = pg.TextItem("click to add a Gaussian", color=(200, 200, 200), anchor=(0.5, 0.5))
        self.hint.setPos(0, 0)
        self.view.addItem(self.hint)
        self._labels: list[pg.TextItem] = []

        # table
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setMaximumHeight(130)
        self.table.setToolTip(
            "The components: mean (x, y), standard deviations σx, σy and weight. Double-click a cell to edit it;\n"
            "weights are normalised to sum to 1 (the label shows each normalised weight)."
        )
        self.table.itemSelectionChanged.connect(self._table_selection)
        self.table.itemChanged.connect(self._table_edited)

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
        if not self._components:
            return -1
        px = self.view.viewPixelSize()
        pw = px[0] if px and px[0] > 0 else 2 * self.extent / 300
        ph = px[1] if px and px[1] > 0 else 2 * self.extent / 300
        best, best_d = -1, math.inf
        for i, c in enumerate(self._components):
            dpx = math.hypot((x - c.x) / pw, (y - c.y) / ph)
            if dpx <= HIT_PIXELS:
                d = dpx / HIT_PIXELS * 0.5  # centre hits beat ellipse hits
            else:
                d = math.hypot((x - c.x) / c.sx, (y - c.y) / c.sy)
                if d > 1.0:
                    continue
                d = 0.5 + d
            if d < best_d:
                best, best_d = i, d
        return best

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
            x, y = self._drag_pending
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
            if obj is self.plot or (obj is self.table and self.table.state() != QAbstractItemView.State.EditingState):
                self.delete_selected()
                return True
        return super().eventFilter(obj, ev)

    def _refresh(self, density: bool = True) -> None:
        comps = self._components
        if density:
            img = density_grid(comps, 96, self.extent)
            m = float(img.max(initial=0.0))
            self.image.setImage(np.sqrt(img / m) if m > 0 else img, levels=(0.0, 1.0), autoLevels=False)
            self.image.setRect(-self.extent, -self.extent, 2 * self.extent, 2 * self.extent)
        # ellipses (1 and 2 sigma) as one curve
        th = np.linspace(0, 2 * np.pi, 49)
        xs, ys, conn = [], [], []
        for c in comps:
            for k in (1.0, 2.0):
                xs.append(c.x + k * c.sx * np.cos(th))
                ys.append(c.y + k * c.sy * np.sin(th))
                cc = np.ones(len(th), dtype=bool)
                cc[-1] = False
                conn.append(cc)
        if xs:
            self.ellipses.setData(np.concatenate(xs), np.concatenate(ys), connect=np.concatenate(conn))
        else:
            self.ellipses.setData([], [])
        if 0 <= self._selected < len(comps):
            c = comps[self._selected]
            self.sel_ellipse.setData(c.x + c.sx * np.cos(th), c.y + c.sy * np.sin(th))
        else:
            self.sel_ellipse.setData([], [])
        brushes = [
            pg.mkBrush(255, 220, 60) if i == self._selected else pg.mkBrush(60, 140, 255) for i in range(len(comps))
        ]
        self.centers.setData([c.x for c in comps], [c.y for c in comps], brush=brushes)
        # weight labels
        w = normalized_weights(comps) if comps else np.zeros(0)
        while len(self._labels) < len(comps):
            t = pg.TextItem("", color=(235, 235, 235), anchor=(0, 1))
            self.view.addItem(t)
            self._labels.append(t)
        for i, t in enumerate(self._labels):
            if i < len(comps):
                t.setText(f"{i + 1}: {w[i]:.2f}")
                t.setPos(comps[i].x + 0.08, comps[i].y + 0.08)
                t.setVisible(True)
            else:
                t.setVisible(False)
        self.hint.setVisible(not comps)
        self._sync_table(w)
        self._sync_controls()

    def _sync_table(self, w: np.ndarray) -> None:
        if self.table.state() == QAbstractItemView.State.EditingState:
            return
        self._syncing_table = True
        try:
            comps = self._components
            self.table.setRowCount(len(comps))
            for i, c in enumerate(comps):
                vals = (c.x, c.y, c.sx, c.sy, c.weight)
                for j, v in enumerate(vals):
                    item = self.table.item(i, j)
                    if item is None:
                        item = QTableWidgetItem()
                        self.table.setItem(i, j, item)
                    item.setText(f"{v:.3g}")
                    if j == 4:
                        item.setToolTip(f"normalised weight {w[i]:.3f}")
            if 0 <= self._selected < len(comps):
                self.table.selectRow(self._selected)
            else:
                self.table.clearSelection()
        finally:
            self._syncing_table = False

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

    def _table_selection(self) -> None:
        if self._syncing_table:
            return
        rows = {ix.row() for ix in self.table.selectedIndexes()}
        if rows:
            self.select(min(rows))

    def _table_edited(self, item: QTableWidgetItem) -> None:
        if self._syncing_table:
            return
        i, j = item.row(), item.column()
        if not (0 <= i < len(self._components)):
            return
        try:
            v = float(item.text())
            if not math.isfinite(v):
                raise ValueError
        except ValueError:
            self._refresh(density=False)  # restore the old text
            return
        c = self._components[i]
        name = ("x", "y", "sx", "sy", "weight")[j]
        if name == "weight":
            self.set_weight(i, v, merge_key=None)
            return
        if name in ("x", "y"):
            v = float(np.clip(v, -self.extent, self.extent))
        after = self.components
        after[i] = replace(c, **{name: v}).clamped()
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

    def scene_pos(self, x: float, y: float) -> QPointF:
        """Scene position of world (x, y) (for synthesized mouse events)."""
        return self.view.mapViewToScene(QPointF(x, y))
