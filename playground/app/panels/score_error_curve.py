"""The training dock's score-error plot, beside "Loss by time t": per time bin, the current model snapshot's normalised
score error E_{x ~ p_t} |s_theta(x, t) - grad log p_t(x)|^2 sigma(t)^2 against the target's exact score (near 0 at
every t for a perfect model; `playground.core.evaluation.score_error`). The DSM loss beside it cannot show this: it
is the score error plus a floor that is not zero.

Computed off the UI thread (`ScoreErrorThread`, one torch thread; the trainer has its own process) for each new model
snapshot, at most every SCORE_ERROR_MS: snapshots arriving meanwhile are coalesced into one run of the latest. Only
while the plot's widget is visible: hiding it (a closed or tabbed-away training dock) stops a run, and snapshots that
arrive while it is hidden are only remembered; showing it again computes once, for the latest snapshot (Qt's
show/hide events, no polling). A target without an exact score (a preset without a closed form, an image dataset)
says so instead.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from playground.app.sampling_plan import model_step
from playground.app.widgets.plot_items import CentredMessage, Coalescer
from playground.app.widgets.compact_axes import set_y_span
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.score_error_worker import ScoreErrorJob, ScoreErrorOutcome, ScoreErrorThread
from playground.app.workers.threads import cancel_threads

SCORE_ERROR_MS = 3000  # at most one run every 3 s while training
SCORE_ERROR_SAMPLES = 1000  # target samples per time bin
NO_EXACT = "No exact score for this target"
NO_MODEL = "Train a model to see its score error"
TITLE = "Score error by t"


class ScoreErrorCurve(QObject):
    """Draws into `plot` (a PlotItem of the training dock) shown by `widget`, computing only while `widget` is
    visible; `table` is the one shown (None when none)."""

    def __init__(self, state, plot: pg.PlotItem, bins: int, widget: QWidget, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.plot, self.bins = state, plot, bins
        plot.setTitle(TITLE)
        plot.setMouseEnabled(False, False)
        plot.setXRange(0, 1, padding=0.02)
        plot.hideButtons()
        self.bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.085, brush=pg.mkBrush(240, 130, 50, 220),
                                    pen=None)
        plot.addItem(self.bars)
        self.message = CentredMessage(plot)
        plot.getViewBox().sigResized.connect(self._place_message)
        self.table = None
        self.step: int | None = None
        self.runs = 0  # started (tests and benches count them)
        self._threads: list = []
        self._current: ScoreErrorThread | None = None
        self._generation = 0
        self._pending = False  # a snapshot newer than the table shown (or running) waits for its run
        # paces the runs (SCORE_ERROR_MS from one start to the next) and holds them while `widget` is hidden
        self._pacer = Coalescer(self._start, SCORE_ERROR_MS, parent=self, widget=widget)
        widget.installEventFilter(self)
        state.modelChanged.connect(self._on_model)
        state.targetChanged.connect(self.reset)
        state.imagesChanged.connect(self.reset)
        self.reset()

    @property
    def running(self) -> bool:
        return self._current is not None

    def reset(self) -> None:
        """A new target (or mode): drop what is shown or running, then follow the current model."""
        self._generation += 1
        self._cancel()
        self._show(None, None)
        self._on_model()

    def _exact_available(self) -> bool:
        st = self.state
        return not st.image_mode and len(st.target_samples) > 0 and st.target.has_exact_score

    def _on_model(self) -> None:
        model = self.state.model
        if not self._exact_available():
            self._pending = False
            self._show(None, None, NO_EXACT)
            return
        if model is None or not hasattr(model, "score_norm") or getattr(model, "image_shape", None) is not None:
            self._generation += 1  # a reset model: what runs belongs to the old one
            self._cancel()
            self._show(None, None, NO_MODEL)
            return
        self._pending = True
        if self._current is None:
            self._pacer.request()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Hide and not event.spontaneous():  # not a minimised window: it comes back
            self._hidden()
        elif event.type() == QEvent.Type.Show:
            self._pacer.shown()
        return False

    def _hidden(self) -> None:
        """The plot's widget was hidden: a run stops; the latest snapshot's runs when it shows again."""
        if self._current is None:
            return
        cancel_threads([self._current])
        self._current = None
        self._pending = True
        self._pacer.request()  # the widget is hidden: remembered until it shows

    def _start(self) -> None:
        model = self.state.model
        if not self._pending or self._current is not None or model is None:
            return
        self._pending = False
        job = ScoreErrorJob(model, self.state.target, n=SCORE_ERROR_SAMPLES, bins=self.bins, step=model_step(model),
                            generation=self._generation)
        self.runs += 1
        self._current = start_job_thread(ScoreErrorThread(job), lambda _f: None, self._on_done, self._threads)

    def _on_done(self, out: ScoreErrorOutcome) -> None:
        if self.sender() is not self._current:
            return  # a cancelled run
        self._current = None
        if out.generation == self._generation and not out.cancelled:
            if out.table is not None:
                self._show(out.table, out.step)
            elif out.error:
                self._show(None, None, f"Score error failed: {out.error}")
        if self._pending:
            self._on_model()

    def _cancel(self) -> None:
        self._pacer.stop()
        self._pending = False
        if self._current is not None:
            cancel_threads([self._current])
            self._current = None

    def _show(self, table, step: int | None, message: str = "") -> None:
        self.table, self.step = table, step
        if table is None:
            self.bars.setOpts(x=np.zeros(0), height=np.zeros(0))
            self.plot.setTitle(TITLE)
            set_y_span(self.plot, 0.0, 1.0)
            if message:
                self.message.show(message)
            else:
                self.message.hide()
            return
        self.message.hide()
        h = np.nan_to_num(np.asarray(table.score_error, dtype=np.float64), nan=0.0)
        self.bars.setOpts(x=table.t, height=h, width=float(np.diff(table.edges).min()) * 0.85)
        set_y_span(self.plot, 0.0, max(float(h.max()), 1e-6) * 1.08)
        self.plot.setTitle(TITLE if step is None else f"{TITLE} (step {step:,})")

    def _place_message(self, *_) -> None:
        if self.message.text:
            self.message.show(self.message.text)

    def shutdown(self) -> None:
        self._cancel()
        cancel_threads(self._threads)


__all__ = ["NO_EXACT", "NO_MODEL", "SCORE_ERROR_MS", "ScoreErrorCurve"]
