"""The training run's QThread (UI process): relays a worker process's run as Qt signals, or steps the trainer itself.

`TrainingLoop` builds the trainer on first use (so `controller.trainer` is a real Trainer on the UI side: step /
save / reset / snapshot work when paused), sends the worker process (`training_process`) a 'run' job with the recipe
and, when the process does not already hold the same state, the trainer's full state (weights, EMA, Adam, RNG, step,
history), then relays the process's messages as Qt signals: progress (~emit_hz), EMA weights every
`snapshot_interval` s (turned into a ScoreModel here), preview samples, and at the end the final state, which is
loaded back into the UI-side trainer (so after a pause the local trainer is exactly where the process stopped).
Pause sends 'pause': the process stops after its current step (or inside a preview) and answers within milliseconds.

In-thread fallback (`TrainingController(in_process=False)`): the thread uses one torch thread, checks a stop flag
after every optimiser step (so pausing or closing takes one step, a few milliseconds), sends `TrainProgress` (new
losses, per-time-bin losses, step, it/s) at most `emit_hz` times a second, a model snapshot (`Trainer.snapshot()`, a
copy safe to evaluate on the UI thread) every `snapshot_interval` seconds, and a small preview sample of the current
model every `preview_interval` seconds. Qt delivers those signals to the UI thread (queued connections).

Every run ends with `ended(thread, reason, message)`, reason 'paused', 'steps', 'seconds', 'diverged' or 'error'.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from PySide6.QtCore import QThread, Signal

from playground.app.workers.trainer_state import LIVE_CONFIG, export_trainer_state, import_trainer_state, recipe_for
from playground.app.workers.training_process import WorkerProcess, acquire_worker, release_worker
from playground.app.workers.training_progress import BinStats, TrainProgress
from playground.app.workers.training_setup import build_trainer, preview_samples, trainer_preview_plan

DETACHED_PATIENCE_S = 2.0
"""A run the controller let go (reset) whose process has not stopped this long after 'pause' is killed, so quick
resets while processes start up do not pile up processes."""

if TYPE_CHECKING:
    from playground.core.training.trainer import Trainer


class LoopOwner(Protocol):
    """What a run reads from and writes into the controller that started it (`TrainingController`): its settings,
    and, under `run_lock` while not let go, the trainer, step, time, rate and bin statistics it publishes."""

    in_process: bool
    threads: int
    emit_hz: float
    snapshot_interval: float
    preview_interval: float
    first_preview_after: float
    preview_n: int
    preview_steps: int
    run_lock: threading.Lock
    trainer: Trainer | None
    step: int
    its: float
    elapsed_before: float
    bins: BinStats
    time_split: dict[str, float]

    def limit_reached(self, elapsed: float, step: int | None = None) -> str: ...


class TrainingLoop(QThread):
    """The worker thread: steps the trainer until told to stop or a limit is hit."""

    progress = Signal(object)  # TrainProgress
    snapshot = Signal(object)  # a ScoreModel copy
    preview = Signal(object)  # float32 samples of the snapshot: (n, 2) points or (n, C, H, W) images
    ended = Signal(object, str, str)  # (thread, reason, message): 'paused' | 'steps' | 'seconds' | 'diverged' | 'error'

    def __init__(self, ctl: LoopOwner, recipe: tuple):
        super().__init__()
        self.ctl = ctl
        self.recipe = recipe  # (TrainConfig, data) to build the trainer with, made on the UI thread
        self.max_steps: int | None = None  # stop ('paused') after this many steps of this run
        self.stop_event = threading.Event()
        self.config_dirty = threading.Event()  # live settings (steps, seconds, lr, batch) changed: tell the process
        self.worker: WorkerProcess | None = None
        self.detached = False  # the controller let this run go (reset / closing): its reports go nowhere
        self.answered = False  # the worker process has answered this run (it was not still starting up)
        # what this run works on, taken on the UI thread now: a run that starts late (after a reset and an opened
        # document) must never pick up the next document's trainer or counters
        self.trainer = ctl.trainer
        self.bins = ctl.bins
        self.split = ctl.time_split
        self.step, self.elapsed, self.its = ctl.step, ctl.elapsed_before, ctl.its

    def _publish(self, **values) -> bool:
        """Write this run's trainer / step / elapsed / it/s into the controller, unless the controller let the run go
        (checked under the controller's lock, which `_detach` also takes: a let-go run never writes anything)."""
        ctl = self.ctl
        with ctl.run_lock:
            if self.detached:
                return False
            for name, value in values.items():
                setattr(ctl, name, value)
        return True

    def let_go(self) -> None:
        """The controller let this run go: stop it; a worker process that has not answered yet (still importing torch
        or building the trainer, seconds on a busy machine) is ended at once rather than left to finish starting up
        while the next run starts another (quick resets piled up processes, each hundreds of MB)."""
        self.stop_event.set()
        if not self.answered:
            self.kill_worker()

    def kill_worker(self) -> None:
        """Terminate this run's worker process (closing: it did not stop in time); the thread then ends at once."""
        self.stop_event.set()
        w = self.worker
        if w is not None:
            w.kill()

    def run(self) -> None:
        try:
            if self.ctl.in_process:
                self._run_process()
            else:
                self._run_thread()
        except Exception as exc:  # noqa: BLE001 - a run must always report its end, or the UI stays 'running'
            w, self.worker = self.worker, None
            if w is not None:
                w.close()
            self.ended.emit(self, "error", f"{type(exc).__name__}: {exc}")

    def _build_local(self):
        """The UI-side trainer (built here, never on the UI thread); None when the run ended (already reported)."""
        ctl = self.ctl
        torch.set_num_threads(ctl.threads)
        if self.recipe is not None:
            try:
                trainer = build_trainer(*self.recipe)
            except Exception as exc:  # noqa: BLE001
                self.ended.emit(self, "error", f"Cannot start training: {exc}")
                return None
            if self.stop_event.is_set():
                self.ended.emit(self, "paused", "")
                return None
            self.trainer = trainer
            if not self._publish(trainer=trainer):  # let go while building: nobody else gets this trainer
                self.ended.emit(self, "paused", "")
                return None
        return self.trainer

    def _run_process(self) -> None:  # one relay loop
        ctl = self.ctl
        try:  # first: a new process imports torch while the UI-side trainer is built here
            w = self.worker = acquire_worker()
        except Exception:  # noqa: BLE001 - no process: train in this thread instead
            ctl.in_process = False
            self._run_thread()
            return
        trainer = self._build_local()
        if trainer is None or self.stop_event.is_set():  # ended (or paused, let go) before the job was sent
            self.worker = None
            release_worker(w)
            if trainer is not None:
                self.ended.emit(self, "paused", "")
            return
        try:  # a new process is still importing torch: Pause must not wait for it (nor a job sent into its pipe)
            ready = w.wait_ready(self.stop_event.is_set)
        except (EOFError, OSError):  # it died, or was killed because this run was let go / the window closed
            ready = False if self.stop_event.is_set() else None
        if not ready:  # paused (or let go) while it started: it goes back to the pool, still starting; or it died
            self.worker = None
            release_worker(w)
            self.ended.emit(self, "paused" if ready is False else "error",
                            "" if ready is False else "The training process ended while starting.")
            return
        if getattr(trainer, "_dp_token", None) is None:
            trainer._dp_token = uuid.uuid4().hex
        run_id = uuid.uuid4().hex
        synced = w.token == trainer._dp_token and w.step == trainer.step_count
        preview_n, preview_steps, preview_labels = trainer_preview_plan(trainer, ctl.preview_n, ctl.preview_steps)
        job = {
            "run_id": run_id, "token": trainer._dp_token,
            "recipe": None,
            "state": None if synced else export_trainer_state(trainer),
            "config": {k: getattr(trainer.config, k) for k in LIVE_CONFIG},
            "max_steps": self.max_steps, "emit_every": 1.0 / ctl.emit_hz, "snapshot_interval": ctl.snapshot_interval,
            "preview_n": preview_n, "preview_steps": preview_steps, "preview_labels": preview_labels,
            "preview_interval": ctl.preview_interval,
            "first_preview_after": ctl.first_preview_after, "its": self.its,
        }
        if not synced:
            job["recipe"], job["pool"] = recipe_for(trainer)
        split = self.split
        t_start = time.perf_counter()
        reason, message, lr, clean = "error", "", None, False
        hist0 = len(trainer.history.step)
        try:
            ch = w.channel
            ch.send(("run", job))
            paused = False
            paused_at = 0.0
            while True:
                if self.stop_event.is_set() and not paused:
                    ch.send(("pause", run_id))
                    paused, paused_at = True, time.perf_counter()
                if paused and self.detached and time.perf_counter() - paused_at > DETACHED_PATIENCE_S:
                    raise EOFError("let go: the process did not stop in time")  # e.g. still starting: not worth keeping
                if self.config_dirty.is_set():
                    self.config_dirty.clear()
                    ch.send(("config", run_id, {k: getattr(trainer.config, k) for k in LIVE_CONFIG}))
                if not ch.poll(0.02):
                    if not w.alive():
                        raise EOFError("the training process ended unexpectedly")
                    continue
                msg = ch.recv()
                if len(msg) < 2 or msg[1] != run_id:
                    continue
                self.answered = True
                kind = msg[0]
                if self.detached:  # only wait for the process to stop (it then goes back to the pool)
                    if kind == "ended":
                        w.token, w.step, clean = None, -1, msg[4] is not None
                        break
                    continue
                if kind == "progress":
                    _, _, step, steps, losses, bins, its, elapsed, lr, cpu = msg
                    self.step, self.elapsed, self.its = int(step), float(elapsed), float(its)
                    if bins is not None:
                        self.bins.latest = bins
                    split["cpu"] += cpu
                    self._publish(step=self.step, elapsed_before=self.elapsed, its=self.its)
                    self.progress.emit(TrainProgress(step=self.step, steps=steps, losses=losses,
                                                     bin_losses=self.bins.means(), its=self.its, elapsed=self.elapsed,
                                                     lr=lr))
                elif kind == "snapshot":
                    with torch.no_grad(), trainer._lock:
                        trainer.ema_flat.copy_(torch.from_numpy(msg[3]))
                    model = trainer.snapshot()
                    model.config["steps_done"] = int(msg[2])  # the process's step (this trainer's is the run's start)
                    self.snapshot.emit(model)
                elif kind == "preview":
                    self.preview.emit(msg[2])
                elif kind == "ended":
                    _, _, reason, message, state, preview = msg
                    if state is not None:
                        state["history_from"] = hist0  # the process's history started as a copy of ours
                        import_trainer_state(trainer, state)
                        w.token, w.step, clean = trainer._dp_token, trainer.step_count, True
                    else:
                        w.token, w.step = None, -1
                        clean = reason != "error" or w.alive()
                    with contextlib.suppress(Exception):
                        self.snapshot.emit(trainer.snapshot())
                    if preview is not None:
                        self.preview.emit(preview)
                    break
        except Exception as exc:  # noqa: BLE001 - a dead or killed process
            if self.stop_event.is_set():
                reason, message = "paused", ""
            else:
                reason, message = "error", f"The training process stopped: {exc}"
            clean = False
        split["wall"] += time.perf_counter() - t_start
        self._publish(step=int(trainer.step_count), elapsed_before=float(trainer.train_seconds))
        self.worker = None  # before it goes back to the pool: kill_worker must not reach the next run's worker
        if clean:
            release_worker(w)
        else:
            w.close()
        self.ended.emit(self, reason, message)

    def _run_thread(self) -> None:
        ctl = self.ctl
        torch.set_num_threads(ctl.threads)
        if self.recipe is not None:  # the first build takes seconds (torch warm-up): never on the UI thread
            try:
                trainer = build_trainer(*self.recipe)
            except Exception as exc:  # noqa: BLE001
                self.ended.emit(self, "error", f"Cannot start training: {exc}")
                return
            if self.stop_event.is_set() or not self._publish(trainer=trainer):  # paused, reset or closed while
                self.ended.emit(self, "paused", "")  # building: start over next time (nobody else gets this trainer)
                return
            self.trainer = trainer
        trainer = self.trainer
        if ctl.preview_n > 0:
            import playground.core.sampling.samplers  # noqa: F401 - imported here, not inside the first timed preview
        emit_every = 1.0 / ctl.emit_hz
        new_steps: list[int] = []
        new_losses: list[float] = []
        t_start = time.perf_counter()
        last_emit = last_snap = t_start
        next_preview = t_start + ctl.first_preview_after
        split = self.split  # wall seconds of this worker by activity (the bench prints them)
        cpu0 = time.thread_time()
        rate_t, rate_step = t_start, self.step
        reason, message = "paused", ""
        lr = None
        first_step = self.step

        def report(now: float) -> None:
            nonlocal new_steps, new_losses, rate_t, rate_step, cpu0
            c = time.thread_time()
            split["cpu"] += c - cpu0  # this thread's CPU seconds, kept current for the bench
            cpu0 = c
            if now - rate_t > 0.05 and self.step > rate_step:
                inst = (self.step - rate_step) / (now - rate_t)
                self.its = inst if self.its <= 0 else 0.7 * self.its + 0.3 * inst
                rate_t, rate_step = now, self.step
            self._publish(its=self.its)
            self.progress.emit(
                TrainProgress(
                    step=self.step,
                    steps=np.asarray(new_steps, dtype=np.int64),
                    losses=np.asarray(new_losses, dtype=np.float64),
                    bin_losses=self.bins.means(),
                    its=self.its,
                    elapsed=self.elapsed,
                    lr=lr,
                )
            )
            new_steps, new_losses = [], []

        try:
            while not self.stop_event.is_set():
                limit = ctl.limit_reached(self.elapsed, self.step)
                if limit:
                    reason = limit
                    break
                if self.max_steps is not None and self.step - first_step >= self.max_steps:
                    break
                a = time.perf_counter()
                stats = trainer.step()
                now = time.perf_counter()
                split["step"] += now - a
                self.step, self.elapsed = int(stats.step), float(stats.seconds)
                self._publish(step=self.step, elapsed_before=self.elapsed)
                lr = stats.lr
                new_steps.append(self.step)
                new_losses.append(float(stats.loss))
                self.bins.update(stats)
                if now - last_emit >= emit_every:
                    report(now)
                    last_emit = now
                    split["report"] += time.perf_counter() - now
                if now - last_snap >= ctl.snapshot_interval:
                    a = time.perf_counter()
                    self.snapshot.emit(trainer.snapshot())
                    last_snap = time.perf_counter()
                    split["snapshot"] += last_snap - a
                if ctl.preview_n > 0 and now >= next_preview:
                    a = time.perf_counter()
                    x = preview_samples(trainer.snapshot(), ctl.preview_n, ctl.preview_steps, self.stop_event.is_set)
                    if x is not None:
                        self.preview.emit(x)
                    b = time.perf_counter()
                    split["preview"] += b - a
                    # at most ~5 % of the worker's time goes to previews, however slow the machine
                    next_preview = b + min(max(ctl.preview_interval, 20.0 * (b - a)), 10.0)
        except Exception as exc:  # noqa: BLE001 - reported to the user; the UI keeps running
            from playground.core.training.config import TrainingDiverged

            reason = "diverged" if isinstance(exc, TrainingDiverged) else "error"
            message = str(exc) or type(exc).__name__
            if reason == "error":
                message = f"{type(exc).__name__}: {message}"
        split["wall"] += time.perf_counter() - t_start
        self.step, self.elapsed = int(trainer.step_count), float(trainer.train_seconds)  # after a divergence: the
        self._publish(step=self.step, elapsed_before=self.elapsed)  # restored good step
        report(time.perf_counter())
        try:  # the final weights (after a divergence: the last good ones the trainer restored)
            final = trainer.snapshot()
            self.snapshot.emit(final)
            if reason in ("steps", "seconds") and ctl.preview_n > 0:  # a natural end: show what was learned
                x = preview_samples(final, ctl.preview_n, ctl.preview_steps, self.stop_event.is_set)
                if x is not None:
                    self.preview.emit(x)
        except Exception:  # noqa: BLE001
            pass
        self.ended.emit(self, reason, message)
