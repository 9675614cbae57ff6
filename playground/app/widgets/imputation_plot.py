"""The imputation histogram: the sampled coordinate's histogram (replacement method) with the exact conditional
density p(other | axis = c) drawn beside it, and the exact samples' histogram faintly behind, on one density axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from playground.app.widgets.plot_items import CentredMessage

REPLACEMENT_COLOR = (255, 255, 255, 230)
EXACT_SAMPLES_COLOR = (80, 255, 140, 90)
EXACT_DENSITY_COLOR = (80, 255, 140, 255)
BINS = 60


class ImputationPlot(pg.PlotWidget):
    """`show_result(values, exact_values, density)`: histograms (as densities) and the exact density curve."""

    def __init__(self, parent=None):
        super().__init__(parent)
        pi = self.getPlotItem()
        pi.setLabel("left", "density")
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.hideButtons()
        pi.setMenuEnabled(False)
        self.exact_hist = pg.PlotCurveItem(fillLevel=0, brush=pg.mkBrush(*EXACT_SAMPLES_COLOR),
                                           pen=pg.mkPen(None))
        self.replacement_hist = pg.PlotCurveItem(pen=pg.mkPen(REPLACEMENT_COLOR, width=1.5))
        self.exact_curve = pg.PlotCurveItem(pen=pg.mkPen(EXACT_DENSITY_COLOR, width=2))
        for item in (self.exact_hist, self.replacement_hist, self.exact_curve):
            pi.addItem(item)
        self.message = CentredMessage(pi)
        self.edges: np.ndarray | None = None
        self.replacement_density: np.ndarray | None = None  # the histogram shown, for tests
        self.clear_result("Pick a line to impute along")

    def clear_result(self, message: str) -> None:
        for item in (self.exact_hist, self.replacement_hist, self.exact_curve):
            item.clear()
        self.replacement_density = None
        self.message.show(message)

    def show_result(self, free_label: str, values: np.ndarray, exact_values: np.ndarray | None, log_prob) -> None:
        """values: the replacement samples' free coordinate; exact_values: exact samples (or None); log_prob: the
        exact conditional's log-density (a callable on an array) or None."""
        values = np.asarray(values, np.float64)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            self.clear_result("No finite imputed samples")
            return
        self.message.hide()
        pool = values if exact_values is None else np.concatenate([values, exact_values])
        lo, hi = np.percentile(pool, [0.2, 99.8])
        pad = 0.1 * max(hi - lo, 1e-6)
        edges = np.linspace(lo - pad, hi + pad, BINS + 1)
        self.edges = edges
        density, _ = np.histogram(values, edges, density=True)
        self.replacement_density = density
        self.replacement_hist.setData(edges, density, stepMode="center")
        if exact_values is not None:
            exact_density, _ = np.histogram(exact_values, edges, density=True)
            self.exact_hist.setData(edges, exact_density, stepMode="center")
        else:
            self.exact_hist.clear()
        if log_prob is not None:
            xs = np.linspace(edges[0], edges[-1], 400)
            self.exact_curve.setData(xs, np.exp(log_prob(xs)))
        else:
            self.exact_curve.clear()
        self.getPlotItem().setLabel("bottom", free_label)
        self.getPlotItem().enableAutoRange()


__all__ = ["ImputationPlot"]
