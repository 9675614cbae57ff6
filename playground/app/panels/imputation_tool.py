"""The imputation tool of the Classes panel: fix x1 = c (a vertical line) or x2 = c (horizontal) on a 2D plot and
sample the other coordinate by the replacement method (Song et al. 2021, App. I.2), beside the exact conditional of
a Gaussian mixture (a 1D mixture) with the 1D Wasserstein distance W1 of each against it.

With the tool on, a click on the plot (or a drag of the yellow line) imputes along the line there; the imputed
samples are drawn on the line and their histogram beside the exact conditional density (`ImputationPlot`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSpinBox

from playground.app.widgets.imputation_plot import ImputationPlot
from playground.app.widgets.plot_items import DotCloud
from playground.app.workers.conditional_worker import ImputationThread, ImputeJob, ImputeOutcome
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.threads import cancel_threads

IMPUTE_N = 2000  # imputed samples (at most the settings' particle count)
LINE_COLOR = (255, 220, 60)


class ImputationTool(QObject):
    """The line on `plot`, the controls (`controls`: a row to lay out), the histogram and the result line (`info`).

    use_learned() says whether to impute with the learned score (else the target's exact one); view_rect() is the
    plot's data rectangle. `outcome`: the last finished imputation."""

    def __init__(self, state, plot: pg.PlotWidget, use_learned: Callable[[], bool], view_rect: Callable, parent):
        super().__init__(parent)
        self.state = state
        self.plot = plot
        self.use_learned = use_learned
        self.view_rect = view_rect
        pi = plot.getPlotItem()
        self.imputed = DotCloud(pi, color=(255, 255, 255, 220), width=3.0, z=8)
        self.line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(LINE_COLOR, width=2))
        self.line.setZValue(9)
        self.line.setVisible(False)
        self.line.sigPositionChangeFinished.connect(self._line_moved)
        pi.addItem(self.line)
        plot.scene().sigMouseClicked.connect(self._clicked)
        self.histogram = ImputationPlot()
        self.tool = QCheckBox("Impute on click")
        self.tool.setToolTip("Click the plot (or drag the yellow line) to fix one coordinate and sample the other by\n"
                             "the replacement method (Song et al. 2021, App. I.2); the histogram beside compares it\n"
                             "with the exact conditional of a Gaussian mixture.")
        self.axis = QComboBox()
        self.axis.addItem("x₁ = c (vertical line)", "x1")
        self.axis.addItem("x₂ = c (horizontal line)", "x2")
        self.value = QDoubleSpinBox()
        self.value.setRange(-1e4, 1e4)
        self.value.setDecimals(3)
        self.value.setSingleStep(0.1)
        self.value.setPrefix("c = ")
        self.correctors = QSpinBox()
        self.correctors.setRange(0, 5)
        self.correctors.setSuffix(" corrector")
        self.correctors.setToolTip("Langevin corrector steps after each replacement step (0: the predictor alone).")
        self.button = QPushButton("Impute")
        self.button.setToolTip("Impute along the line x_axis = c now.")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.controls = QHBoxLayout()
        for w in (self.tool, self.axis, self.value, self.correctors, self.button):
            self.controls.addWidget(w)
        self.controls.addStretch(1)
        self.outcome: ImputeOutcome | None = None
        self.generation = 0
        self._what = ""
        self._threads: list = []
        self._current: ImputationThread | None = None
        self.tool.toggled.connect(self._on_tool)
        self.axis.currentIndexChanged.connect(self._on_axis)
        self.value.valueChanged.connect(lambda v: self.line.setValue(v))
        self.button.clicked.connect(self.impute)

    # ---- the line ----------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new target: no result, the line in the middle of the view."""
        self.cancel()
        self.outcome = None
        self.imputed.clear()
        self.histogram.clear_result("Pick a line to impute along")
        self.info.setText("")
        self._centre()

    def set_enabled(self, on: bool) -> None:
        for w in (self.tool, self.axis, self.value, self.correctors, self.button):
            w.setEnabled(on)

    def _centre(self) -> None:
        r = self.view_rect()
        self.value.setValue(round(float(np.mean(r[:2] if self.axis.currentData() == "x1" else r[2:])), 3))

    def _on_tool(self, on: bool) -> None:
        self.line.setVisible(on)
        self.line.setValue(self.value.value())

    def _on_axis(self, *_) -> None:
        self.line.setAngle(90 if self.axis.currentData() == "x1" else 0)
        self._centre()

    def _clicked(self, ev) -> None:
        if not self.tool.isChecked() or ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        self.impute_at(p.x(), p.y())

    def _line_moved(self, *_) -> None:
        self.value.setValue(float(self.line.value()))
        self.impute()

    # ---- running -----------------------------------------------------------------------------------------------
    def impute_at(self, x: float, y: float) -> bool:
        """Impute along the line of the chosen axis through (x, y) (a click of the tool)."""
        self.value.setValue(x if self.axis.currentData() == "x1" else y)
        return self.impute()

    def score(self):
        """(normalised unconditional score_fn, sde, normalisation, description): learned or exact."""
        st = self.state
        gmm = None if st.image_mode else st.target.gmm
        if self.use_learned() or gmm is None:
            model = st.model
            if model is None or getattr(model, "image_shape", None) is not None:
                raise ValueError("imputation with the learned score needs a trained 2D model")
            return model.score_fn("norm"), model.sde, model.normalization, "learned score"
        sde, norm = st.sde(), st.normalization
        return norm.gmm_to_norm(gmm).score_fn(sde), sde, norm, "exact score"

    def impute(self) -> bool:
        """Sample the free coordinate given the chosen one equals the value; False (with a message) if it cannot."""
        self.cancel()
        axis, value = self.axis.currentData(), float(self.value.value())
        self.line.setVisible(True)
        self.line.setValue(value)
        try:
            fn, sde, norm, what = self.score()
        except ValueError as e:
            self.info.setText(str(e))
            return False
        st = self.state
        self.generation += 1
        job = ImputeJob(fn, sde, norm, axis, value, min(IMPUTE_N, max(2, int(st.settings.n_particles))),
                        int(st.settings.sample_steps), int(self.correctors.value()), int(st.settings.seed),
                        None if st.image_mode else st.target.gmm, self.generation)
        self._what = f"{what}, {job.steps} steps, {job.corrector_steps} corrector"
        self.info.setText(f"Imputing {axis} = {value:g} with the {what}…")
        self._current = start_job_thread(ImputationThread(job), lambda _f: None, self._on_done, self._threads)
        return True

    def _on_done(self, out: ImputeOutcome) -> None:
        if out.generation != self.generation:
            return
        self._current = None
        if out.cancelled:
            return
        self.outcome = out
        if out.error:
            self.info.setText(f"Imputation failed: {out.error}")
            return
        free = ("x₁", "x₂")[out.free]
        self.imputed.set_points(out.replacement)
        c = out.conditional
        exact_values = out.exact[:, out.free] if out.exact is not None else None
        v = out.replacement[:, out.free]
        self.histogram.show_result(f"{free} given {out.axis} = {out.value:g}", v, exact_values,
                                   c.log_prob if c is not None else None)
        v = v[np.isfinite(v)]
        text = f"{out.axis} = {out.value:g}: replacement ({self._what}): mean {v.mean():.3f}, var {v.var():.3f}"
        if c is not None:
            text += (f", W1 {out.w1:.3f} to the exact conditional (white).   Exact p({free} | {out.axis}): mean "
                     f"{c.mean:.3f}, var {c.variance:.3f}; {len(out.exact):,} exact samples: W1 {out.w1_exact:.3f}, "
                     "the floor (green)")
        else:
            text += "   (the exact conditional is known for Gaussian mixtures only)"
        self.info.setText(text)

    @property
    def running(self) -> bool:
        """True from the start until the outcome is handled here (not only while the thread runs)."""
        return self._current is not None

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
        self._current = None

    def shutdown(self) -> None:
        self.cancel()
        cancel_threads(self._threads)


__all__ = ["ImputationTool"]
