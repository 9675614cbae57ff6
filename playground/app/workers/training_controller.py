"""Training for the app: `TrainingController` (UI thread) owns the Trainer and the run's thread (`TrainingLoop`,
which relays a worker process or steps the trainer itself); only one run at a time. Play / pause / step once /
reset / save / adopt a loaded file, and the loss history, it/s, progress and ETA the panels and status bar show.

The loop's signals are delivered on the UI thread (queued connections), where the controller calls
`state.set_model`. A diverging run (NaN or exploding loss, `TrainingDiverged`) stops with a message; the state keeps
the last good model. While a run is in progress the trainer belongs to the worker; everything that touches it from
the UI thread (step once, save, reset) first stops the run.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Signal

from playground.app.state import AppState
from playground.app.workers.threads import keep_until_finished
from playground.app.workers.training_loop import TrainingLoop
from playground.app.workers.training_process import use_process_default
from playground.app.workers.training_progress import BinStats, TrainProgress
from playground.app.workers.training_setup import training_recipe
from playground.core.training.model_file import save_model


class TrainingController(QObject):
    """Play / pause / step / reset for the app; builds the Trainer from `state.settings` and `state.target_samples`
    (in image mode from `state.images`: a UNet, see `training_setup`).

    Signals (UI thread): progressed(TrainProgress), runningChanged(bool), ended(reason, message) when a run stops
    ('paused', 'steps', 'seconds', 'diverged', 'error'), previewReady(samples), resetDone().
    """

    progressed = Signal(object)
    runningChanged = Signal(bool)
    ended = Signal(str, str)
    previewReady = Signal(object)
    resetDone = Signal()

    def __init__(
        self,
        state: AppState,
        threads: int = 1,
        emit_hz: float = 20.0,
        snapshot_interval: float = 0.75,
        preview_interval: float = 2.0,
        preview_n: int = 800,
        parent: QObject | None = None,
        in_process: bool | None = None,
    ):
        super().__init__(parent)
        # train in a worker process (default; PLAYGROUND_TRAIN_IN_PROCESS=0: in the reader thread, GIL shared)
        self.in_process = use_process_default() if in_process is None else bool(in_process)
        self.state = state
        self.threads = threads
        self.emit_hz = emit_hz
        self.snapshot_interval = snapshot_interval
        self.preview_interval = preview_interval
        self.first_preview_after = 1.0
        self.preview_n = preview_n
        self.preview_steps = 40
        self.trainer = None
        self._thread: TrainingLoop | None = None
        self.run_lock = threading.Lock()  # a run writes its trainer / step / time only while it is not let go
        self.closed = False  # after shutdown(): reports still in the event queue are dropped
        self._clear_history()

    # ---- history (UI thread) ---------------------------------------------------------------------------------
    def _clear_history(self) -> None:
        self.time_split = dict.fromkeys(("step", "report", "snapshot", "preview", "cpu", "wall"), 0.0)
        self.step = 0
        self.its = 0.0
        self.elapsed_before = 0.0
        self.bins = BinStats()
        self.loss_steps: list[np.ndarray] = []
        self.loss_values: list[np.ndarray] = []
        self.last_loss = math.nan
        self.last_reason = ""
        self.last_message = ""
        self.last_preview = None  # the latest preview samples (a TrainingRun keeps them)

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, losses) of every step so far."""
        if not self.loss_values:
            return np.zeros(0, np.int64), np.zeros(0)
        self.loss_steps = [np.concatenate(self.loss_steps)]
        self.loss_values = [np.concatenate(self.loss_values)]
        return self.loss_steps[0], self.loss_values[0]

    @property
    def running(self) -> bool:
        """True from play() until the run's end has been handled on the UI thread (its last report delivered)."""
        return self._thread is not None

    @property
    def has_progress(self) -> bool:
        return self.step > 0

    # ---- limits ------------------------------------------------------------------------------------------------
    def limit_reached(self, elapsed: float, step: int | None = None) -> str:
        """'steps' or 'seconds' when a stop condition of the current settings is met (at `step`, default the
        controller's), else ''."""
        s = self.state.settings
        if s.steps and (self.step if step is None else step) >= s.steps:
            return "steps"
        if s.seconds and elapsed >= s.seconds:
            return "seconds"
        return ""

    def progress_fraction(self) -> float:
        s = self.state.settings
        f = self.step / s.steps if s.steps else 0.0
        if s.seconds:
            f = max(f, self.elapsed_before / s.seconds)
        return float(min(max(f, 0.0), 1.0))

    def eta_seconds(self) -> float | None:
        s = self.state.settings
        etas = []
        if s.steps and self.its > 0:
            etas.append(max(s.steps - self.step, 0) / self.its)
        if s.seconds:
            etas.append(max(s.seconds - self.elapsed_before, 0.0))
        return min(etas) if etas else None

    # ---- live settings -----------------------------------------------------------------------------------------
    def sync_limits(self) -> None:
        """The trainer's schedule horizon, lr and batch follow the settings (steps, seconds, lr, batch apply live)."""
        t = self.trainer
        if t is None:
            return
        s = self.state.settings
        t.config.steps = s.steps
        t.config.seconds = s.seconds
        t.config.lr = s.lr
        t.config.batch = s.batch
        if self._thread is not None:  # a run in the worker process: tell it
            self._thread.config_dirty.set()

    # ---- commands ----------------------------------------------------------------------------------------------
    def play(self, max_steps: int | None = None) -> bool:
        """Start (or continue) training in the worker (for `max_steps` steps, or until paused or a limit);
        False when a stop condition is already met or training cannot start."""
        if self.running:
            return True
        if self.closed:
            return False
        if self.limit_reached(self.elapsed_before):
            self.last_reason = self.limit_reached(self.elapsed_before)
            self.ended.emit(self.last_reason, self._limit_message(self.last_reason))
            return False
        recipe = None
        if self.trainer is None:
            model = self.state.model
            if model is not None and model.image_shape is not None and not self.state.image_mode:
                self.last_reason = "error"
                self.last_message = ("This image model's dataset is not loaded, so it cannot be trained further: load "
                                     "the dataset it was trained on in Target > Images (training then starts anew).")
                self.ended.emit("error", self.last_message)
                return False
            try:
                recipe = training_recipe(self.state, self.threads)
                recipe[0].validate()
            except Exception as exc:  # noqa: BLE001
                self.last_reason, self.last_message = "error", f"Cannot start training: {exc}"
                self.ended.emit("error", self.last_message)
                return False
        self.sync_limits()
        th = TrainingLoop(self, recipe)
        th.max_steps = max_steps
        # queued reports of a run that was reset meanwhile (detached) must not reach the new session
        th.progress.connect(lambda p, th=th: self._on_progress(p) if th is self._thread else None)
        th.snapshot.connect(lambda m, th=th: self._on_snapshot(m) if th is self._thread else None)
        th.preview.connect(lambda x, th=th: self._on_preview(x) if th is self._thread else None)
        th.ended.connect(self._on_thread_ended)
        self._thread = th
        th.start()
        self.state.set_training(True)
        self.runningChanged.emit(True)
        return True

    def pause(self, timeout: float = 2.0) -> bool:
        """Stop the run after the current step and wait for the thread (True when it has stopped)."""
        th = self._thread
        if th is None:
            return True
        th.stop_event.set()
        ok = th.wait(int(timeout * 1000))
        if ok:
            self._drain(th)
        return ok

    def toggle(self) -> None:
        if self.running:
            self.pause()
        else:
            self.play()

    def step_once(self) -> bool:
        """One optimiser step, run by the worker like Play with a one-step limit (pausing a run first): the UI thread
        never runs a step itself (with heavy settings one step can take seconds: a monkey walk saw the window frozen
        for 55 s). False when it could not start (a run still stopping, a limit reached, settings it cannot train)."""
        if self.running:
            self.pause()
        if self._thread is not None:
            return False
        return self.play(max_steps=1)

    def reset(self) -> None:
        """Stop, forget the trainer and the history, and clear the model (state.model = None). A run is told to stop
        and let go at once (its trainer is discarded anyway): the UI never waits for a worker still starting up."""
        th = self._thread
        if th is not None:
            self._detach(th)
            self.state.set_training(False)
            self.runningChanged.emit(False)
        self._thread = None
        self.trainer = None
        self._clear_history()
        self.state.set_model(None)
        self.resetDone.emit()

    def request_stop(self) -> None:
        """Ask a run to stop after its current step, without waiting."""
        if self._thread is not None:
            self._thread.stop_event.set()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the worker within `timeout` seconds (closing the window); True when it stopped. Afterwards the
        controller changes nothing any more (late reports are dropped)."""
        self.closed = True
        th = self._thread
        if th is None:
            return True
        th.stop_event.set()
        t0 = time.perf_counter()
        ok = th.wait(int(timeout * 800))
        if not ok:  # e.g. the process is still building its trainer: end it (closing must not wait for it)
            th.kill_worker()
            ok = th.wait(max(1, int((timeout - (time.perf_counter() - t0)) * 1000)))
        self._detach(th)
        self._thread = None
        self.state.set_training(False)
        return ok

    def _detach(self, th: TrainingLoop) -> None:
        """Forget a stopping thread: no more signals from it; kept alive until it finishes (a trainer build
        cannot be interrupted)."""
        with self.run_lock:  # after this, the run writes nothing into the controller (TrainingLoop._publish)
            th.detached = True
        th.let_go()
        self._retire(th)

    @staticmethod
    def _retire(th: TrainingLoop) -> None:
        """Drop a run's signal relays: the lambdas connected in `play` hold the thread (and so its trainer) alive for
        as long as its signals are connected, so every run ever started would otherwise stay in memory."""
        for sig in (th.progress, th.snapshot, th.preview, th.ended):
            try:
                sig.disconnect()
            except (RuntimeError, TypeError):
                pass
        keep_until_finished(th)

    # ---- files -------------------------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Save the trained model (with the trainer's state when there is one, so training can resume)."""
        was_running = self.running
        if was_running:
            self.pause()
        try:
            if self.trainer is not None:
                self.trainer.save(path)
            elif self.state.model is not None:
                save_model(path, self.state.model)
            else:
                raise ValueError("there is no model to save yet: train first (Train > Play)")
        finally:
            if was_running:
                self.play()

    def adopt(self, trainer, model) -> None:
        """Continue from a loaded file: `trainer` (or None for a model without trainer state) and its model."""
        self.reset()
        self.trainer = trainer
        if trainer is not None:
            self.step = int(trainer.step_count)
            self.elapsed_before = float(trainer.train_seconds)
            h = trainer.history
            if h.loss:
                self.loss_steps = [np.asarray(h.step, dtype=np.int64)]
                self.loss_values = [np.asarray(h.loss, dtype=np.float64)]
                self.last_loss = float(h.loss[-1])
            if h.bin_loss is not None:
                self.bins.latest = np.asarray(h.bin_loss, dtype=np.float64).copy()
            self.progressed.emit(
                TrainProgress(self.step, np.zeros(0, np.int64), np.zeros(0), self.bins.means(), 0.0, self.elapsed_before)
            )
        self.state.set_model(model)

    # ---- worker signals (UI thread) ------------------------------------------------------------------------------
    def _on_progress(self, p: TrainProgress) -> None:
        if self.closed:
            return
        self.step = int(p.step)
        if p.its > 0:
            self.its = p.its
        if len(p.losses):
            self.loss_steps.append(p.steps)
            self.loss_values.append(p.losses)
            self.last_loss = float(p.losses[-1])
        self.progressed.emit(p)

    def _on_preview(self, samples) -> None:
        if not self.closed:
            self.last_preview = samples
            self.previewReady.emit(samples)

    def _on_snapshot(self, model) -> None:
        if model is not None and not self.closed:
            self.state.set_model(model)

    def _on_thread_ended(self, th: TrainingLoop, reason: str, message: str) -> None:
        if th is not self._thread:
            return  # a detached thread
        th.wait(1000)
        self._thread = None
        self._retire(th)
        self._on_ended(reason, message)

    def _on_ended(self, reason: str, message: str) -> None:
        self.last_reason = reason
        if reason in ("steps", "seconds") and not message:
            message = self._limit_message(reason)
        self.last_message = message
        self.state.set_training(False)
        self.runningChanged.emit(False)
        self.ended.emit(reason, message)

    def _drain(self, th: TrainingLoop) -> None:
        """Deliver the stopped thread's last queued signals now (so pause() returns with the history complete)."""
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.sendPostedEvents(th)  # the run's reports (queued to its relay lambdas, which th carries)
        QCoreApplication.sendPostedEvents(self)
        if self._thread is th:  # ended was not delivered (no event loop): finish here
            self._thread = None
            self._retire(th)
            self.last_reason = "paused"
            self.state.set_training(False)
            self.runningChanged.emit(False)
            self.ended.emit("paused", "")

    def _limit_message(self, reason: str) -> str:
        s = self.state.settings
        if reason == "steps":
            return f"Reached the step limit ({s.steps:,} steps). Raise 'Stop after steps' in Settings, or Reset."
