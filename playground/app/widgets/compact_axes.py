"""Axes of the training dock's small plots (the loss by step, the loss and the score error by t): few tick labels, so
that they keep apart in a short dock (at 1366 x 768 the plots are ~40 px tall, where pyqtgraph's automatic ticks drew
their labels on top of each other)."""

from __future__ import annotations

import math

import pyqtgraph as pg


def compact_axes(plot: pg.PlotItem) -> None:
    """A by-time plot: t in [0, 1] labelled at 0, 0.5 and 1, and a y axis labelled only at its ends (`set_y_span`)."""
    plot.getAxis("bottom").setTicks([[(v, f"{v:g}") for v in (0.0, 0.5, 1.0)], []])
    plot.getAxis("left").setWidth(34)
    set_y_span(plot, 0.0, 1.0)


def set_y_span(plot: pg.PlotItem, low: float, high: float) -> None:
    """Show y in [low, high] with tick labels at the two ends only."""
    plot.setYRange(low, high, padding=0)
    plot.getAxis("left").setTicks([[(v, f"{v:.2g}") for v in sorted({low, high})], []])


def log_ticks(low: float, high: float, most: int = 3) -> list[float]:
    """At most `most` round values within [low, high] (0 < low <= high), spread over it: the powers of ten when two or
    more lie there, else the 1-2-5 series, else the two ends (2 significant digits)."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for mantissas in ((1,), (1, 2, 5)):
        values = [m * 10.0**k for k in decades for m in mantissas if low <= m * 10.0**k <= high]
        if len(values) >= 2:
            return values[:: math.ceil(len(values) / most)]
    return sorted({float(f"{low:.2g}"), float(f"{high:.2g}")})


def set_log_y_ticks(plot: pg.PlotItem, low: float, high: float) -> None:
    """A log-y plot showing [low, high]: labels at `log_ticks` (pyqtgraph's own label every minor tick below a
    decade)."""
    plot.getAxis("left").setTicks([[(math.log10(v), f"{v:g}") for v in log_ticks(low, high)], []])


__all__ = ["compact_axes", "log_ticks", "set_log_y_ticks", "set_y_span"]
