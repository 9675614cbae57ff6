"""Race dock: the sampler race (issue 19) for the current score: every chosen sampler at a ladder of NFE budgets,
each run's samples scored by their SWD ratio to fresh target samples over the iid floor
(`core.evaluation.sampler_race`, as `python -m playground race` does), drawn as quality vs NFE, one curve per sampler.

The score is the target's exact score or the trained model's snapshot at the moment Run race is pressed (before any
training, the exact score only). The race runs in a `RaceThread` (one torch thread: the UI and training keep their
cores), cheapest rungs first across all samplers, so the chart fills in from the left while the status line says
which run is going. Run race again, Cancel, closing the dock or the window stop it. A new target stops the race and
clears the chart (its points measured another distribution); a new model or SDE leaves the points and marks them
stale, as the other views do. Clicking a point asks (`loadRequested(settings changes, exact)`) for that sampler
and step count on the Sampling panel's left view, with the same score.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from playground.app.exact_scores import ExactScores, exact_cost_points
from playground.app.samplers import SPECS, sample_steps_for, sampler_name, side_changes
from playground.app.sampling_plan import exact_particle_cap, model_step_text
from playground.app.widgets.plot_items import Coalescer
from playground.app.widgets.race_chart import RaceChart
from playground.app.widgets.race_controls import EXACT, LEARNED, RaceControls, parse_ladder
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.race_worker import RaceFrame, RaceJob, RaceOutcome, RaceThread
from playground.app.workers.threads import cancel_threads
from playground.core.evaluation.sampler_race import GOOD_RATIO, RaceEntry, sampler_options_for, smallest_good_nfe

SDE_KEYS = frozenset({"sde", "beta_min", "beta_max", "sigma_min", "sigma_max"})


class RacePanel(QWidget):
    """The chart (`chart`), the control row (`controls`) and the status line; `loadRequested(dict, bool)`: the
    settings that put a clicked point's sampler and steps on the Sampling panel's left side, and whether its score
    was the exact one (the main window applies both)."""

    loadRequested = Signal(dict, bool)

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Sampler race")
        self.chart = RaceChart()
        self.chart.pointClicked.connect(self.load_entry)
        self.controls = c = RaceControls()
        c.run_btn.clicked.connect(lambda: self.run_race())
        c.cancel_btn.clicked.connect(lambda: self.cancel())
        self.status = QLabel("Press Run race: every sampler at each NFE budget, cheapest first.")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.chart, 1)
        lay.addWidget(c)
        lay.addWidget(self.status)

        self.generation = 0
        self.frame: RaceFrame | None = None  # the latest report of the race shown
        self.outcome: RaceOutcome | None = None  # how the race shown ended (None while it runs)
        self.source = EXACT  # the score of the race shown
        self.score_label = ""
        self.stale = ""  # why the points shown no longer match the current score ('' when they do)
        self.note = ""  # what the race shown does differently from the controls (fewer samples)
        self._threads: list = []
        self._thread: RaceThread | None = None
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        self.destroyed.connect(lambda *_a, threads=self._threads: cancel_threads(threads))
        state.targetChanged.connect(self._on_target)
        state.settingsChanged.connect(self._on_settings)
        state.modelChanged.connect(self._on_model)
        state.imagesChanged.connect(lambda: self.cancel())
        self._on_model()

    # ---- running -----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """A race runs until its outcome is handled (not only until its thread stops)."""
        return self._thread is not None

    def run_race(self) -> bool:
        """Start a race (a running one stops first); False, with the reason in the status line, when it cannot."""
        st = self.state
        if st.image_mode:
            return self._refuse("The race is for 2D targets: leave image mode (pick a 2D target) first.")
        if len(st.target_samples) == 0:
            return self._refuse("The target is empty: draw or pick one to race on.")
        samplers = self.controls.chosen_samplers()
        if not samplers:
            return self._refuse("No sampler chosen: tick at least one under Samplers.")
        try:
            ladder = parse_ladder(self.controls.ladder.text())
        except ValueError as e:
            return self._refuse(str(e))
        model = self._model()
        source = self.controls.source.currentData() if model is not None else EXACT
        self.cancel()
        job = self._job(source, model, samplers, ladder)
        if job is None:
            return self._refuse("This target has no exact score to race with.")
        self.source, self.stale, self.outcome = source, "", None
        self.frame = RaceFrame(job.generation, (), None, 0)
        self.chart.show_entries(())
        self.chart.select(None)
        self.chart.set_rungs(ladder)
        self._thread = start_job_thread(RaceThread(job), self._on_frame, self._on_done, self._threads)
        self.controls.set_running(True)
        self._request()
        return True

    def _model(self):
        """The trained 2D model, or None."""
        model = self.state.model
        return model if model is not None and getattr(model, "image_shape", None) is None else None

    def _job(self, source: str, model, samplers, ladder) -> RaceJob | None:
        st = self.state
        n = int(self.controls.samples.value())
        self.note = ""
        if source == LEARNED:
            sde, norm, score = model.sde, model.normalization, model.score_fn(space="norm")
            self.score_label = f"learned score, {model_step_text(model)}"
        else:
            sde, norm = st.sde(), st.normalization
            score = ExactScores().norm_score_fn(st, sde)
            label = ExactScores.label(st)
            self.score_label = label if label.startswith("exact") else f"exact score: {label}"
            points = exact_cost_points(st)
            cap = exact_particle_cap(points)
            if cap is not None and n > cap:
                n = cap
                self.note = f" {n:,} samples per run: the exact score sums over {points:,} points for each."
        if score is None:
            return None
        self.generation += 1
        target = st.target
        return RaceJob(score, sde, norm.to_data, lambda m, seed: target.sample(m, seed), tuple(samplers), ladder, n,
                       seed=int(st.settings.seed), generation=self.generation)

    def _refuse(self, text: str) -> bool:
        self.status.setText(text)
        return False

    def cancel(self, wait: bool = False, timeout_ms: int = 1000) -> None:
        """Stop a running race (its points so far stay); with wait, block until it stopped (at most timeout_ms)."""
        th, self._thread = self._thread, None
        if th is not None:  # a run whose thread has just finished is cancelled too: its outcome is dropped
            th.cancel()
            if wait:
                th.wait(timeout_ms)
            self.outcome = RaceOutcome(self.generation, self.frame.entries if self.frame else (), cancelled=True)
            self._request()
        cancel_threads(self._threads)
        self.controls.set_running(False)

    def _on_frame(self, frame: RaceFrame) -> None:
        if frame.generation != self.generation or self.sender() is not self._thread:
            return  # a cancelled race's last reports
        self.frame = frame
        self._request()

    def _on_done(self, out: RaceOutcome) -> None:
        if out.generation != self.generation or self.sender() is not self._thread:
            return
        self._thread = None
        self.outcome = out
        self.controls.set_running(False)
        self._request()

    # ---- what changed ------------------------------------------------------------------------------------------
    def _on_target(self) -> None:
        """A new target: the points measured another distribution; a running race stops."""
        was_running = self.running
        self.cancel()
        self.generation += 1  # what the old race still sends is dropped
        self.frame = self.outcome = None
        self.stale = ""
        self.chart.show_entries(())
        self.status.setText("The target changed: the race stopped. Press Run race to race on it." if was_running
                            else "Press Run race: every sampler at each NFE budget, cheapest first.")

    def _on_settings(self, names: set) -> None:
        if names & SDE_KEYS and self.source == EXACT and self.frame is not None:
            self._mark_stale("the SDE changed")

    def _on_model(self) -> None:
        model = self._model()
        self.controls.set_model_available(model is not None)
        if model is not None and self.frame is None and not self.running:
            self.controls.show_preferred_source()
        if self.source == LEARNED and self.frame is not None:
            self._mark_stale("the model has changed since" if model is not None else "the model was reset")

    def _mark_stale(self, reason: str) -> None:
        self.stale = reason
        self._request()

    # ---- clicking a point --------------------------------------------------------------------------------------
    def load_entry(self, entry: RaceEntry) -> None:
        """Ask for `entry`'s sampler and steps (with the options it raced with) on the Sampling panel's left view."""
        options = {**SPECS[entry.sampler].defaults(), **sampler_options_for(entry.sampler, entry.steps)}
        changes = {**side_changes("sde", entry.sampler, options),
                   "sample_steps": sample_steps_for(entry.sampler, entry.steps)}
        self.loadRequested.emit(changes, self.source == EXACT)
        self.status.setText(f"Loaded {sampler_name(entry.sampler)} with {entry.steps} steps ({entry.nfe} NFE, SWD "
                            f"ratio {entry.swd_ratio:.2f}) into the Sampling panel's left view.")

    # ---- views -------------------------------------------------------------------------------------------------
    def _request(self) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._redraw.shown()

    def redraw(self) -> None:
        entries = self.frame.entries if self.frame is not None else ()
        if entries != self.chart.entries:
            self.chart.show_entries(entries)
        title = f"Quality vs cost — {self.score_label}" if self.frame is not None else "Quality vs cost"
        self.chart.setTitle(title + (f" (stale: {self.stale})" if self.stale else ""))
        if self.frame is not None:
            self.status.setText(self._status_text())

    def _status_text(self) -> str:
        f, out = self.frame, self.outcome
        done = len(f.entries)
        if out is None:
            if f.running is None:
                return "Starting the race…"
            key, steps = f.running
            return (f"Running {sampler_name(key)} with {steps} steps: run {done + 1} of {f.total} (cheapest rungs "
                    f"first). Cancel stops it; the points so far stay.{self.note}")
        if out.error:
            return f"The race failed: {out.error}"
        head = f"Cancelled after {done} runs." if out.cancelled else f"Done: {done} runs in {out.seconds:.1f} s."
        best = smallest_good_nfe(f.entries)
        reached = [f"{sampler_name(k)} {v}" for k, v in best.items() if v is not None]
        text = f"{head} Fewest NFE with SWD ratio ≤ {GOOD_RATIO:g}: " + (", ".join(reached) if reached else "none")
        missed = [sampler_name(k) for k, v in best.items() if v is None]
        if missed and reached:
            text += f"; not reached by {', '.join(missed)}"
        text += f".{self.note} Click a point to load it into the Sampling panel."
        return text + (f" Stale: {self.stale}; press Run race." if self.stale else "")

    def dock_closed(self) -> None:
        """The dock was closed: stop the race."""
        self.cancel()

    def shutdown(self) -> None:
        self._redraw.stop()
        self.cancel(wait=True)


__all__ = ["RacePanel"]
