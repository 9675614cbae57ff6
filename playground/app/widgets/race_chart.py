"""The sampler race's chart: quality (SWD ratio over the iid floor) against cost (NFE), both on log axes, one curve
per sampler with a legend (solid: stochastic samplers, dashed: deterministic ones), the floor (ratio 1: as close as
two independent target sets) drawn as a line. Clicking a point emits its `RaceEntry` (`pointClicked`) and rings it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from playground.app.samplers import SPECS, sampler_name
from playground.app.widgets.class_colors import class_color
from playground.core.evaluation.sampler_race import RACE_SAMPLERS, RaceEntry

SYMBOL_SIZE = 8
LEGEND_COLUMNS = 3


def sampler_color(key: str) -> tuple[int, int, int, int]:
    """A sampler's colour: its place among the racing samplers (stable whatever subset races; nine of ten colours)."""
    keys = list(RACE_SAMPLERS) + [k for k in SPECS if k not in RACE_SAMPLERS]
    return class_color(keys.index(key) if key in keys else len(keys))


def entries_by_sampler(entries: Sequence[RaceEntry]) -> dict[str, list[RaceEntry]]:
    """The entries of each sampler (in order of first appearance), sorted by NFE: one curve each."""
    out: dict[str, list[RaceEntry]] = {}
    for e in entries:
        out.setdefault(e.sampler, []).append(e)
    return {k: sorted(v, key=lambda e: e.nfe) for k, v in out.items()}


class RaceChart(pg.PlotWidget):
    """`show_entries(entries)` draws the race so far; `pointClicked(RaceEntry)` when the user clicks a point."""

    pointClicked = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        pi = self.getPlotItem()
        pi.setTitle("Quality vs cost")
        pi.setLabel("bottom", "NFE (score evaluations)")
        pi.setLabel("left", "SWD ratio (1 = iid floor)")
        pi.setLogMode(x=True, y=True)
        pi.showGrid(x=True, y=True, alpha=0.2)
        pi.hideButtons()
        pi.setMenuEnabled(False)
        self.setToolTip("Each point: one sampler at one step count. x: its score evaluations (NFE), y: the sliced\n"
                        "Wasserstein distance of its samples to fresh target samples over that of two independent\n"
                        "target sets (1 = the iid floor: as good as exact sampling). Click a point to load that\n"
                        "sampler and step count into the Sampling panel's left view.")
        self.legend = pi.addLegend(offset=(-8, 8), colCount=LEGEND_COLUMNS, labelTextSize="8pt")
        floor_pen = pg.mkPen((150, 150, 150), width=1.5, style=Qt.PenStyle.DashLine)
        self.floor = pg.InfiniteLine(pos=0.0, angle=0, movable=False, pen=floor_pen)  # log10(1): view in log units
        pi.addItem(self.floor)  # in the auto range: the floor always shows
        self.legend.addItem(pg.PlotDataItem(pen=floor_pen), "iid floor")
        ring = pg.mkPen((128, 128, 128), width=3)  # grey: seen on the light and the dark theme
        self.selected = pg.ScatterPlotItem(size=SYMBOL_SIZE + 8, pen=ring, brush=None)
        pi.addItem(self.selected)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.entries: tuple[RaceEntry, ...] = ()

    def show_entries(self, entries: Sequence[RaceEntry]) -> None:
        """Draw `entries`: one curve per sampler (a sampler no longer in them loses its curve)."""
        self.entries = tuple(entries)
        groups = entries_by_sampler(self.entries)
        for key in [k for k in self.curves if k not in groups]:
            self._remove(key)
        for key, group in groups.items():
            curve = self.curves.get(key) or self._add(key)
            nfe = np.array([e.nfe for e in group], float)
            ratio = np.array([_plottable(e.swd_ratio) for e in group], float)
            curve.setData(nfe, ratio, data=group)
        if not self.entries:
            self.selected.clear()
        self.getPlotItem().enableAutoRange()

    def set_rungs(self, rungs: Sequence[int]) -> None:
        """Label the NFE axis at the race's rungs (plain numbers; a run's NFE is at most its rung)."""
        self.getPlotItem().getAxis("bottom").setTicks([[(math.log10(n), str(n)) for n in sorted(rungs)]])

    def select(self, entry: RaceEntry | None) -> None:
        """Ring `entry`'s point (None: no ring)."""
        if entry is None:
            self.selected.clear()
        else:  # the scatter item is not log-aware: place it in the view's log units
            self.selected.setData([math.log10(entry.nfe)], [math.log10(_plottable(entry.swd_ratio))])

    def _add(self, key: str) -> pg.PlotDataItem:
        color = sampler_color(key)
        style = Qt.PenStyle.SolidLine if SPECS.get(key) is None or SPECS[key].stochastic else Qt.PenStyle.DashLine
        curve = pg.PlotDataItem(pen=pg.mkPen(color, width=2, style=style), symbol="o", symbolSize=SYMBOL_SIZE,
                                symbolBrush=color, symbolPen=None, name=sampler_name(key))
        curve.sigPointsClicked.connect(self._on_click)
        self.getPlotItem().addItem(curve)
        self.curves[key] = curve
        return curve

    def _remove(self, key: str) -> None:
        curve = self.curves.pop(key)
        self.getPlotItem().removeItem(curve)
        self.legend.removeItem(curve)

    def _on_click(self, _curve, points, _ev=None) -> None:
        if len(points):
            entry = points[0].data()
            self.select(entry)
            self.pointClicked.emit(entry)


def _plottable(ratio: float) -> float:
    """A ratio a log axis can show (a failed run's NaN or inf drawn at 1e6, far above every real one)."""
    return ratio if math.isfinite(ratio) and ratio > 0 else 1e6


__all__ = ["RaceChart", "entries_by_sampler", "sampler_color"]
