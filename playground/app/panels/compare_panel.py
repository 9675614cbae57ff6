"""Compare dock: two training recipes side by side on the current target (a preset, the user's drawing, Gaussians
or an imported file: whatever the Target dock holds), by default denoising score matching with the tuned EDM
settings on the current SDE (A) against flow matching on rectified flow (B; Lipman et al. 2023, Liu et al. 2023).

"Train both" trains A, then B, each from scratch for the same seconds of training on the target's samples, with the
network size, learning rate, SDE parameters, seed and device of the Settings panel (the batch is the recipes', 768),
in one background thread with one torch thread (`workers.compare_worker`; the checks are
`core.evaluation.method_comparison`'s, as in `python -m playground bench compare`). Main training is paused while
the two train (and resumes afterwards), so the two runs and the app do not fight over the cores; starting main
training meanwhile stops the comparison (one training at a time). Each column then shows its PF-ODE samples (the
Settings panel's solver and steps) and a few of their trajectories over the target's density, with the SWD ratio,
the straightness of the paths, the Euler NFE that reaches the target and NLL - H.
Cancel, closing the dock or the window stops the run.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from playground.app.geometry import Rect, sample_bounds, square_rect
from playground.app.samplers import SPECS, sampler_steps
from playground.app.widgets.compare_column import CompareColumn
from playground.app.workers.compare_worker import (
    CompareJob,
    CompareMethod,
    CompareOutcome,
    CompareThread,
    MethodProgress,
    MethodResult,
)
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.threads import cancel_threads
from playground.core.evaluation.method_comparison import FLOW_MATCHING, TUNED_DSM

SHARED_KEYS = ("hidden", "depth", "lr", "beta_min", "beta_max", "sigma_min", "sigma_max", "seed", "device")
"""Settings both methods train with (the Settings panel's); the recipe and the batch are each column's."""
DEFAULT_SECONDS = 10
N_PATHS = 24
PHASES = {"training": "training", "sampling": "sampling the PF-ODE", "straightness": "measuring straightness",
          "Euler NFE": "finding the Euler NFE", "NLL": "computing the NLL"}


def default_methods(sde: str) -> dict[str, dict]:
    """A: denoising score matching as tuned (EDM output and weighting) on `sde`; B: flow matching on rectified flow."""
    return {"A": {"objective": "dsm", "sde": sde, "output": TUNED_DSM["output"], "weighting": TUNED_DSM["weighting"]},
            "B": {k: FLOW_MATCHING[k] for k in ("objective", "sde", "output", "weighting")}}


class ComparePanel(QWidget):
    """Columns A and B (`columns`), the seconds, Train both / Cancel / Defaults; `controller`: the main training's
    TrainingController (paused while comparing), or None."""

    def __init__(self, state, controller=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.controller = controller
        self.setWindowTitle("Compare (DSM | FM)")
        self.columns = {key: CompareColumn(key) for key in ("A", "B")}
        for col in self.columns.values():
            col.edited.connect(lambda _name, c=col: self._on_recipe_edited(c))
        self.seconds = QSpinBox()
        self.seconds.setRange(1, 600)
        self.seconds.setValue(DEFAULT_SECONDS)
        self.seconds.setSuffix(" s")
        self.seconds.setToolTip("Seconds of training for EACH method (step time only; the checks come after).")
        self.train_btn = QPushButton("Train both")
        self.train_btn.setToolTip("Train A, then B, from scratch on the current target for the same seconds, then "
                                  "sample and check each\n(main training pauses meanwhile).")
        self.train_btn.clicked.connect(self.train_both)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the comparison (what has finished stays shown).")
        self.cancel_btn.clicked.connect(lambda: self.cancel())
        self.defaults_btn = QPushButton("Defaults")
        self.defaults_btn.setToolTip("A: denoising score matching with EDM's output and weighting on the current SDE;"
                                     "\nB: flow matching on rectified flow (output v, uniform t).")
        self.defaults_btn.clicked.connect(self.set_defaults)
        self.status = QLabel()
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Train each for"))
        for w in (self.seconds, self.train_btn, self.cancel_btn, self.defaults_btn):
            top.addWidget(w)
        top.addStretch(1)
        cols = QHBoxLayout()
        for col in self.columns.values():
            cols.addWidget(col, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addLayout(cols, 1)
        lay.addWidget(self.status)

        self._threads: list = []  # started compare threads (cancelled ones kept until they finish)
        self._thread: CompareThread | None = None
        self._job: CompareJob | None = None
        self._results: dict[str, MethodResult] = {}
        self._resume_training = False  # main training was paused by this comparison
        self._a_follows_sde = True  # A's SDE follows the Settings panel's until the user picks one in A
        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.destroyed.connect(lambda *_a, threads=self._threads: cancel_threads(threads))
        state.targetChanged.connect(self._on_target)
        state.settingsChanged.connect(self._on_settings)
        state.imagesChanged.connect(self._on_images)
        if controller is not None:
            controller.runningChanged.connect(self._on_main_training)
            controller.resetDone.connect(self._keep_training_paused)
        self.set_defaults()
        self._on_target()

    # ---- recipes -----------------------------------------------------------------------------------------------
    def set_defaults(self) -> None:
        """Defaults: DSM (EDM) on the current SDE against flow matching on rectified flow."""
        for key, fields in default_methods(self.state.settings.sde).items():
            self.columns[key].set_method(fields)
        self._a_follows_sde = True
        self._clear_stale(self.columns.values(), "Press Train both to compare.")

    def method_config(self, key: str) -> dict:
        """The TrainConfig fields of column `key`'s method: its recipe and the recipes' batch."""
        return {**self.columns[key].method(), "batch": TUNED_DSM["batch"]}

    def _on_recipe_edited(self, col: CompareColumn) -> None:
        if col is self.columns["A"] and col.method()["sde"] != self.state.settings.sde:
            self._a_follows_sde = False
        self._clear_stale([col], "Recipe changed: press Train both.")

    def _on_settings(self, names: set) -> None:
        if "sde" in names and self._a_follows_sde and not self.running:
            self.columns["A"].set_method({"sde": self.state.settings.sde})

    # ---- running -----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from train_both() until the run's end has been handled here (main training resumed), or a cancel."""
        return self._thread is not None

    def train_both(self) -> bool:
        """Start the comparison; False (with a message) when there is nothing to compare on."""
        st = self.state
        if st.image_mode:
            return self._refuse("The comparison trains on the 2D target: leave image mode (pick a 2D target) first.")
        if len(st.target_samples) < 2:
            return self._refuse("The target is empty: nothing to train on.")
        self.cancel()
        paused = ""
        if self.controller is not None and self.controller.running:
            if not self.controller.pause():  # one training at a time
                return self._refuse("Main training did not stop in time (it may still be setting up): press Train "
                                    "both again.")
            self._resume_training = True
            paused = " Main training is paused meanwhile and resumes afterwards."
        s = st.settings
        ode = s.ode_sampler if s.ode_sampler in SPECS and SPECS[s.ode_sampler].family == "PF-ODE" else "ode_euler"
        self._job = CompareJob(
            methods=tuple(CompareMethod(key, self.method_config(key)) for key in self.columns),
            base={k: getattr(s, k) for k in SHARED_KEYS},
            data=st.target_samples.copy(), target=st.target, seconds=float(self.seconds.value()),
            n_samples=int(s.n_particles), n_paths=N_PATHS, ode_sampler=ode,
            ode_steps=sampler_steps(ode, s.sample_steps), seed=int(s.seed),
        )
        self._results = {}
        for key, col in self.columns.items():
            col.clear("Waiting…" if key != "A" else "Training…")
            col.show_status(f"{key}: {col.describe()} — waiting")
        self._thread = start_job_thread(CompareThread(self._job), self._on_frame, self._on_done, self._threads)
        self.status.setText(f"Training each method for {self._job.seconds:g} s on {st.target.name}, one after the "
                            f"other, then checking it.{paused}")
        self._sync_buttons()
        return True

    def _refuse(self, text: str) -> bool:
        self.status.setText(text)
        return False

    def cancel(self, wait: bool = False, timeout_ms: int = 1000) -> None:
        """Stop a running comparison (what has finished stays shown); with wait, block until it stopped (at most
        timeout_ms)."""
        th, self._thread = self._thread, None
        if th is not None and th.isRunning():
            th.cancel()
            if wait:
                th.wait(timeout_ms)
            for key, col in self.columns.items():
                if key not in self._results or not self._results[key].done:
                    col.show_status(f"{key}: cancelled")
                    col.message.show("Cancelled")
            self.status.setText("Cancelled.")
            self._finished()
        cancel_threads(self._threads)  # a thread still finishing is kept alive until it has
        self._sync_buttons()

    def _on_frame(self, item) -> None:
        if self.sender() is not self._thread:
            return  # a cancelled run's last reports
        col = self.columns[item.key]
        if isinstance(item, MethodProgress):
            text = f"{item.key}: {col.describe()} — {PHASES.get(item.phase, item.phase)}"
            if item.phase == "training" and item.step:
                text += f", step {item.step:,}, {item.seconds:.1f} / {self._job.seconds:g} s, loss {item.loss:.3g}"
            col.show_status(text + "…")
            if item.phase == "training":
                col.message.show("Training…")
        elif isinstance(item, MethodResult):
            self._results[item.key] = item
            if item.done and not item.error:
                col.show_status(f"{item.key}: {col.describe()} — done")
            self._show_results()

    def _on_done(self, outcome: CompareOutcome) -> None:
        if self.sender() is not self._thread:
            return
        self._thread = None
        if outcome.error:
            self.status.setText(f"The comparison failed: {outcome.error}")
        elif not outcome.cancelled:
            failed = [k for k, r in outcome.results.items() if r.error]
            self.status.setText("Done." + (f" {', '.join(failed)} failed (see below)." if failed else
                                           " Bold: the better of the two."))
        self._finished()
        self._sync_buttons()

    def _finished(self) -> None:
        """The run is over: main training resumes if the comparison paused it."""
        if self._resume_training and self.controller is not None and not self.controller.running:
            self.controller.play()
        self._resume_training = False

    def _on_main_training(self, running: bool) -> None:
        """One training at a time: main training started during a comparison (Play) stops the comparison."""
        if running and self.running:
            self._resume_training = False
            self.cancel()
            self.status.setText("Main training started: the comparison stopped (one training at a time). Press "
                                "Train both to compare again (main training then pauses).")

    def _on_images(self) -> None:
        """Image mode: the dock hides, the comparison stops, main training starts over (not resumed from here)."""
        self._resume_training = False
        self.cancel()

    def _keep_training_paused(self) -> None:
        """Main training was reset while comparing: it does not start again on its own afterwards."""
        self._resume_training = False

    def _sync_buttons(self) -> None:
        running = self.running
        self.cancel_btn.setEnabled(running)
        self.train_btn.setEnabled(not running)
        self.defaults_btn.setEnabled(not running)
        for col in self.columns.values():
            for combo in col.combos.values():
                combo.setEnabled(not running)

    # ---- views -------------------------------------------------------------------------------------------------
    def _show_results(self) -> None:
        """Every column's latest result, the better figure of each pair in bold."""
        best = better_figures(self._results)
        for key, res in self._results.items():
            self.columns[key].show_result(res, self._job.ode_sampler, self._job.seconds, self.view_rect,
                                          best.get(key, set()))

    def _clear_stale(self, columns, message: str) -> None:
        for col in columns:
            self._results.pop(col.key, None)
            col.clear(message)
            col.show_status(f"{col.key}: {col.describe()}")

    def _on_target(self) -> None:
        """A new target: a comparison on the old one stops; both columns show the new target's density."""
        was_running = self.running
        self.cancel()
        b = sample_bounds(self.state.target_samples, margin=0.1)
        self.view_rect = square_rect(b) if b is not None else (-1.0, 1.0, -1.0, 1.0)
        for col in self.columns.values():
            col.set_target(self.state.target_samples, self.view_rect)
        self._clear_stale(self.columns.values(), "Press Train both to compare.")
        if was_running:
            self.status.setText("The target changed: the comparison stopped. Press Train both to compare on it.")

    def dock_closed(self) -> None:
        """The dock was closed: stop the comparison."""
        self.cancel()

    def shutdown(self) -> None:
        self.cancel(wait=True)


def better_figures(results: dict[str, MethodResult]) -> dict[str, set[str]]:
    """Per column key, the figures in which it beats the other column: more steps; a lower SWD ratio, straightness,
    Euler NFE (not reaching the target counts as infinite) and NLL. Nothing while a column lacks the figure."""
    best: dict[str, set[str]] = {k: set() for k in results}
    if len(results) != 2 or any(r.error for r in results.values()):
        return best
    (ka, a), (kb, b) = results.items()
    for name in ("steps", "swd", "straightness", "euler", "nll"):
        fa, fb = _figure(a, name), _figure(b, name)
        if fa is not None and fb is not None and fa != fb:
            best[ka if fa < fb else kb].add(name)
    return best


def _figure(r: MethodResult, name: str) -> float | None:
    """Figure `name` of a result as a number where lower is better, or None while it has none."""
    if name == "steps":
        value = -float(r.steps) if r.done else None
    elif name == "euler":
        value = None if not r.euler_done or r.euler_skipped else float(r.euler_nfe or math.inf)
    else:
        value = {"swd": r.swd_ratio, "straightness": r.straightness, "nll": r.nll}[name]
    return None if value is None or math.isnan(value) else value


__all__ = ["ComparePanel", "better_figures", "default_methods"]
