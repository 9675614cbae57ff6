"""The Gaussian editor's plot: the mixture's density as a heatmap, each component's 1- and 2-sigma ellipses, its centre
and normalised weight, over a fixed [-extent, extent]^2 view whose mouse gestures go to a `GestureHandler` (the
editor) instead of panning or zooming."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from playground.app.widgets.class_colors import class_color
from playground.app.widgets.edit_view_box import EditViewBox
from playground.data.targets.gmm_components import Component, density_grid

HIT_PIXELS = 10.0


class GestureHandler(Protocol):
    """What the plot's mouse gestures call, in data coordinates."""

    def click_at(self, x: float, y: float) -> None: ...

    def drag_start(self, x: float, y: float) -> None: ...

    def drag_move(self, x: float, y: float) -> None: ...

    def drag_finish(self, x: float, y: float) -> None: ...

    def wheel_at(self, x: float, y: float, steps: float) -> bool: ...


class _EditorViewBox(EditViewBox):
    """The editor's view: click, drag and wheel go to the handler."""

    def __init__(self, handler: GestureHandler):
        super().__init__()
        self._handler = handler

    def clicked(self, x: float, y: float) -> None:
        self._handler.click_at(x, y)

    def drag_started(self, x: float, y: float) -> None:
        self._handler.drag_start(x, y)

    def dragged(self, x: float, y: float, finished: bool) -> None:
        if finished:
            self._handler.drag_finish(x, y)
        else:
            self._handler.drag_move(x, y)

    def wheelEvent(self, ev, axis=None):
        p = self.mapSceneToView(ev.scenePos())
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if self._handler.wheel_at(p.x(), p.y(), delta / 120.0):
            ev.accept()
        else:
            ev.ignore()


class GmmPlot(pg.PlotWidget):
    """Heatmap, ellipses, centres and weight labels of a list of components; `view` is its gesture view box."""

    def __init__(self, handler: GestureHandler, extent: float, parent: QWidget | None = None):
        view = _EditorViewBox(handler)
        super().__init__(parent, viewBox=view)
        self.view = view
        self.extent = float(extent)
        self.setToolTip(
            "Click empty space to add a Gaussian; click a centre to select it; drag to move it;\n"
            "mouse wheel over a component to widen/narrow it; Delete removes the selected one."
        )
        self.setMinimumSize(220, 220)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hideButtons()
        self.getAxis("left").setWidth(28)  # a fixed axis width: the view must not shift under the mouse
        self.showGrid(x=True, y=True, alpha=0.15)
        e = self.extent
        view.setRange(xRange=(-e, e), yRange=(-e, e), padding=0)
        self.density = pg.ImageItem(axisOrder="row-major")
        self.density.setColorMap(pg.colormap.get("inferno"))
        self.density.setRect(-e, -e, 2 * e, 2 * e)
        view.addItem(self.density)
        self.border = pg.PlotCurveItem([-e, e, e, -e, -e], [-e, -e, e, e, -e], pen=pg.mkPen((128, 128, 128, 140), width=1))
        view.addItem(self.border)
        self.ellipses = pg.PlotCurveItem(pen=pg.mkPen((120, 200, 255, 200), width=1.2))
        self.sel_ellipse = pg.PlotCurveItem(pen=pg.mkPen((255, 235, 80), width=2.0))
        self.centers = pg.ScatterPlotItem(size=10, pen=pg.mkPen("w", width=1.5), brush=pg.mkBrush(60, 140, 255))
        for it in (self.ellipses, self.sel_ellipse, self.centers):
            view.addItem(it)
        self.hint = pg.TextItem("click to add a Gaussian", color=(200, 200, 200), anchor=(0.5, 0.5))
        self.hint.setPos(0, 0)
        view.addItem(self.hint)
        self._labels: list[pg.TextItem] = []

    def draw(self, comps: list[Component], weights: np.ndarray, selected: int, density: bool = True) -> None:
        """Show `comps` (normalised `weights`, `selected` highlighted); density False keeps the heatmap (a drag)."""
        if density:
            img = density_grid(comps, 96, self.extent)
            m = float(img.max(initial=0.0))
            self.density.setImage(np.sqrt(img / m) if m > 0 else img, levels=(0.0, 1.0), autoLevels=False)
            self.density.setRect(-self.extent, -self.extent, 2 * self.extent, 2 * self.extent)
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
        if 0 <= selected < len(comps):
            c = comps[selected]
            self.sel_ellipse.setData(c.x + c.sx * np.cos(th), c.y + c.sy * np.sin(th))
        else:
            self.sel_ellipse.setData([], [])
        # each component in its class colour (the Classes panel's), the selected one ringed in yellow
        brushes = [pg.mkBrush(*class_color(i)) for i in range(len(comps))]
        pens = [pg.mkPen(255, 220, 60, width=3) if i == selected else pg.mkPen("w", width=1.5) for i in range(len(comps))]
        self.centers.setData([c.x for c in comps], [c.y for c in comps], brush=brushes, pen=pens)
        while len(self._labels) < len(comps):
            t = pg.TextItem("", color=(235, 235, 235), anchor=(0, 1))
            self.view.addItem(t)
            self._labels.append(t)
        for i, t in enumerate(self._labels):
            if i < len(comps):
                t.setText(f"{i + 1}: {weights[i]:.2f}")
                t.setPos(comps[i].x + 0.08, comps[i].y + 0.08)
                t.setVisible(True)
            else:
                t.setVisible(False)
        self.hint.setVisible(not comps)

    def hit_test(self, comps: list[Component], x: float, y: float) -> int:
        """The component under data (x, y): a centre within a few pixels, else the innermost 1-sigma ellipse."""
        if not comps:
            return -1
        px = self.view.viewPixelSize()
        pw = px[0] if px and px[0] > 0 else 2 * self.extent / 300
        ph = px[1] if px and px[1] > 0 else 2 * self.extent / 300
        best, best_d = -1, math.inf
        for i, c in enumerate(comps):
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


__all__ = ["GestureHandler", "GmmPlot", "HIT_PIXELS"]
