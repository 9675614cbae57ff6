"""Training off the UI thread AND off the UI's interpreter: the Qt-free `Trainer` steps in a worker PROCESS.

Why a process: a trainer thread in the UI process needs the GIL after every torch op, and the UI thread holds it for
most of each animation frame (pyqtgraph painting, numpy, Python glue): measured with `bench ui`, a training thread
kept only ~35 % of its headless it/s while t animated. A spawned process (multiprocessing 'spawn', one torch thread)
has its own GIL. It is started on the first Play and kept (idle) for later runs; a process that does not answer in
time (closing the window) is terminated. PLAYGROUND_TRAIN_IN_PROCESS=0 (or TrainingController(in_process=False))
trains in the reader thread instead, as before.

Protocol. The controller's `_Loop` QThread (UI process) builds the trainer on first use (so `controller.trainer` is a
real Trainer on the UI side: step / save / reset / snapshot work when paused), sends the worker process a 'run' job
with the recipe and, when the process does not already hold the same state, the trainer's full state (weights, EMA,
Adam, RNG, step, history), then relays the process's messages as Qt signals: progress (~emit_hz), EMA weights every
`snapshot_interval` s (turned into a ScoreModel here), preview samples, and at the end the final state, which is
loaded back into the UI-side trainer (so after a pause the local trainer is exactly where the process stopped).
Pause sends 'pause': the process stops after its current step (or inside a preview) and answers within milliseconds.

The rest of this docstring describes the thread (and the in-thread fallback):

`TrainingController` (UI thread) owns the trainer and the thread; only one task runs at a time. The worker thread
uses one torch thread, checks a stop flag after every optimiser step (so pausing or closing takes one step, a few
milliseconds), sends `TrainProgress` (new losses, per-time-bin losses, step, it/s) at most `emit_hz` times a second,
a model snapshot (`Trainer.snapshot()`, a copy safe to evaluate on the UI thread) every `snapshot_interval` seconds,
and a small preview sample of the current model every `preview_interval` seconds. Qt delivers those signals to the UI
thread (queued connections), where the controller calls `state.set_model`.

Image mode (`state.images` set): the trainer is a UNet on the flat images (`image_config`, like
`image_training.image_trainer`: IMAGE_TRAIN_DEFAULTS under the settings' SDE, output, objective, weighting, lr, batch,
base channels and limits; with `settings.image_classes` and a labelled set, class-conditional with label dropout),
and the preview is a small grid (`preview_plan`: 16 images, one class per tile for a conditional model).

A diverging run (NaN or exploding loss, `TrainingDiverged`) stops with a message; the state keeps the last good
model. While a run is in progress the trainer belongs to the worker thread; everything that touches it from the UI
thread (step once, save, reset) first stops the run.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal

from playground.app.state import AppState
from playground.core.training.model_file import save_model

N_BINS = 10  # loss by time bin: t in [0, 1] cut into N_BINS equal bins
IMAGE_PREVIEW_N = 16  # the training preview of an image model: a 4 x 4 grid
IMAGE_PREVIEW_STEPS = 30  # Euler-Maruyama steps of that preview (a rough look, cheap next to training)
_LINGERING: list = []  # worker threads told to stop that had not finished in time (e.g. still building a trainer)


def _wait_at_exit() -> None:
    wait_for_workers(10.0)


atexit.register(_wait_at_exit)  # a QThread destroyed while running aborts the process


def keep_until_finished(th: QThread) -> None:
    """Hold a reference to a stopping thread until it finishes (a QThread destroyed while running aborts)."""
    _LINGERING[:] = [t for t in _LINGERING if t.isRunning()]
    if th.isRunning() and th not in _LINGERING:
        _LINGERING.append(th)


def cancel_threads(threads: list) -> None:
    """Cancel worker threads (each has cancel()) and keep the running ones until they finish, then empty the list.

    Safe while the owning panel is being destroyed: the threads hold no reference to it."""
    for th in list(threads):
        try:
            th.cancel()
            if th.isRunning():
                keep_until_finished(th)
        except RuntimeError:  # its C++ object is gone: it had finished
            pass
    threads.clear()


def wait_for_workers(timeout: float = 10.0) -> bool:
    """Wait for stopped workers that were still finishing (call before the process exits)."""
    deadline = time.perf_counter() + timeout
    for th in list(_LINGERING):
        th.wait(max(0, int((deadline - time.perf_counter()) * 1000)))
        if not th.isRunning():
            _LINGERING.remove(th)
    return not _LINGERING


@dataclass
class TrainProgress:
    """What the worker reports (numpy copies: never views of trainer memory)."""

    step: int  # optimiser steps done in total
    steps: np.ndarray  # the step numbers of `losses`
    losses: np.ndarray  # new raw losses since the previous report
    bin_losses: np.ndarray | None  # (N_BINS,) running mean loss per time bin (NaN where unseen)
    its: float  # optimiser steps per second, recent
    elapsed: float  # training seconds in total (summed over runs)
    lr: float | None = None
    extra: dict = field(default_factory=dict)


def train_config(state: AppState, threads: int = 1, **overrides):
    """A TrainConfig from the app's settings (names shared with Settings), one torch thread by default."""
    from playground.core.training.trainer import TrainConfig

    s = state.settings.to_dict()
    names = {f.name for f in fields(TrainConfig)}
    kw = {k: v for k, v in s.items() if k in names}
    kw["threads"] = threads
    kw.update(overrides)
    return TrainConfig(**{k: v for k, v in kw.items() if k in names})


def image_config(state: AppState, threads: int = 1):
    """The TrainConfig of an image-mode trainer: IMAGE_TRAIN_DEFAULTS (UNet, warm-up, EMA, clipping, label dropout)
    under the settings shared with TrainConfig (SDE, output, objective, weighting, lr, batch, base_channels, steps,
    seconds, seed, device); label dropout only for a class-conditional model (`trains_classes`)."""
    from playground.core.training.image_training import image_train_config

    cfg = train_config(state, threads=threads).to_dict()
    shared = {k: cfg[k] for k in state.settings.to_dict() if k in cfg}
    config = image_train_config(**shared, threads=threads)
    if not trains_classes(state):
        config.label_dropout = 0.0
    return config


def trains_classes(state: AppState) -> bool:
    """True when image-mode training is class-conditional: the switch is on and the dataset has labels."""
    images = state.images
    return bool(state.settings.image_classes and images is not None and images.labels is not None)


def preview_plan(preview_n: int, preview_steps: int, image: bool, num_classes: int) -> tuple[int, int, np.ndarray | None]:
    """(samples, EM steps, class labels or None) of the training preview: `preview_n` points in 2D; for an image model
    IMAGE_PREVIEW_N images in IMAGE_PREVIEW_STEPS steps, labelled 0, 1, ... K-1, 0, ... when class-conditional.
    preview_n <= 0 turns previews off in both modes."""
    if preview_n <= 0 or not image:
        return max(preview_n, 0), preview_steps, None
    labels = np.arange(IMAGE_PREVIEW_N) % num_classes if num_classes else None
    return IMAGE_PREVIEW_N, IMAGE_PREVIEW_STEPS, labels


def _trainer_preview_plan(ctl: "TrainingController", trainer) -> tuple[int, int, np.ndarray | None]:
    cfg = trainer.config
    return preview_plan(ctl.preview_n, ctl.preview_steps, cfg.network == "unet", int(cfg.num_classes or 0))


class _Cancelled(Exception):
    pass


class _BinStats:
    """The trainer's running mean loss per time bin (StepStats.bin_loss), kept as the latest copy."""

    def __init__(self):
        self.latest: np.ndarray | None = None

    def update(self, stats) -> None:
        b = getattr(stats, "bin_loss", None)
        if b is not None:
            self.latest = np.array(b, dtype=np.float64, copy=True).reshape(-1)

    def means(self) -> np.ndarray | None:
        return None if self.latest is None else self.latest.copy()


# ---- trainer state transfer (both processes) ---------------------------------------------------------------------
_LIVE_CONFIG = ("steps", "seconds", "lr", "batch")  # TrainConfig fields that apply to a running trainer


def export_trainer_state(tr, history_from: int = 0) -> dict:
    """Everything a Trainer needs to continue exactly (CPU tensors and plain lists: picklable)."""
    if tr._pending:
        tr._flush_pending(tr.lr_at(tr.step_count))

    def cpu(v):
        return v.detach().to("cpu", copy=True) if torch.is_tensor(v) else v

    with torch.no_grad(), tr._lock:
        flat, ema = cpu(tr.flat), cpu(tr.ema_flat)
    h = tr.history
    good = None if tr._good is None else {k: ({n: cpu(x) for n, x in v.items()} if isinstance(v, dict) else cpu(v))
                                         for k, v in tr._good.items()}
    return {
        "flat": flat, "ema": ema,
        "opt": {k: cpu(torch.as_tensor(v)) for k, v in tr._opt_tensors().items()},
        "group": {k: v for k, v in tr.optimizer.param_groups[0].items() if k != "params"},
        "rng": tr.generator.get_state(),
        "step": int(tr.step_count), "seconds": float(tr.train_seconds), "loss_ref": tr._loss_ref,
        "history_from": int(history_from),
        "hist": (list(h.step[history_from:]), list(h.loss[history_from:]), list(h.lr[history_from:]),
                 list(h.seconds[history_from:])),
        "bin_loss": None if h.bin_loss is None else np.array(h.bin_loss, copy=True),
        "bin_sum": cpu(tr._bin_sum), "bin_cnt": cpu(tr._bin_cnt),
        "good": good,
        "config": {k: getattr(tr.config, k) for k in _LIVE_CONFIG},
    }


def import_trainer_state(tr, st: dict) -> None:
    """Load export_trainer_state's dict into a Trainer built from the same recipe (history from st's offset on)."""
    dev = tr.device

    def to(v):
        return v.to(dev).clone() if torch.is_tensor(v) else v

    with torch.no_grad(), tr._lock:
        tr.flat.copy_(st["flat"])
        tr.ema_flat.copy_(st["ema"])
    if st["opt"]:
        tr.optimizer.state[tr.flat_param] = {k: to(v) for k, v in st["opt"].items()}
    else:
        tr.optimizer.state.pop(tr.flat_param, None)
    tr.optimizer.param_groups[0].update(st["group"])
    tr.generator.set_state(st["rng"])
    tr.step_count, tr.train_seconds, tr._loss_ref = st["step"], st["seconds"], st["loss_ref"]
    h, k = tr.history, st["history_from"]
    for name, tail in zip(("step", "loss", "lr", "seconds"), st["hist"]):
        setattr(h, name, list(getattr(h, name)[:k]) + list(tail))
    if st["bin_loss"] is not None:
        h.bin_loss = np.array(st["bin_loss"], copy=True)
    tr._bin_sum.copy_(st["bin_sum"])
    tr._bin_cnt.copy_(st["bin_cnt"])
    if st["good"] is not None:
        tr._good = {k: ({n: to(x) for n, x in v.items()} if isinstance(v, dict) else to(v)) for k, v in st["good"].items()}
    tr._pending.clear()
    tr.flat_grad.zero_()
    for name, v in st["config"].items():
        setattr(tr.config, name, v)


def recipe_for(tr) -> tuple:
    """(Trainer arguments, pool) that rebuild `tr`'s structure in another process: the same config (VE: with its
    resolved sigma_max), normalisation, training pool (and class labels, when it has them)."""
    import copy

    cfg = copy.deepcopy(tr.config)
    if cfg.sde == "ve" and getattr(tr.sde, "sigma_max", None) is not None:
        cfg.sigma_max = float(tr.sde.sigma_max)
    pool = tr.pool.detach().to("cpu", torch.float32, copy=True)
    data = tr.normalization.to_data(pool).numpy()
    labels = getattr(tr, "labels", None)
    if labels is None:
        return (cfg, data, tr.normalization), pool
    names = tuple(getattr(tr, "class_names", ()) or ()) or None
    return (cfg, data, tr.normalization, labels.detach().cpu().numpy(), names), pool


# ---- the worker process ------------------------------------------------------------------------------------------
_CHILD: dict = {}  # in the worker process: {'token': ..., 'trainer': Trainer}


def _child_main(conn) -> None:
    """Entry point of the worker process: run jobs until 'quit' or the pipe closes."""
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import playground.core.training.trainer  # noqa: F401 - warm up while the UI side builds its trainer
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "quit":
            return
        if msg[0] == "run" and _child_run(conn, msg[1]) == "quit":
            return


def _child_run(conn, job: dict) -> str:  # one loop, like _Loop.run
    from playground.core.training.trainer import Trainer, TrainingDiverged

    run_id = job["run_id"]
    flags = {"stop": False, "quit": False}

    def send(*m) -> None:
        conn.send(m)

    def poll() -> None:  # commands that arrived (non-blocking)
        while conn.poll():
            m = conn.recv()
            if m[0] == "quit":
                flags["stop"] = flags["quit"] = True
            elif len(m) > 1 and m[1] != run_id:
                continue
            elif m[0] == "pause":
                flags["stop"] = True
            elif m[0] == "config":
                for k, v in m[2].items():
                    setattr(trainer.config, k, v)

    trainer = None
    try:
        if _CHILD.get("token") != job["token"] or _CHILD.get("trainer") is None:
            _CHILD.clear()
            trainer = Trainer(*job["recipe"])
            if job.get("pool") is not None:  # exactly the UI-side pool (the recipe's data are its de-normalised copy)
                trainer.pool = job["pool"].to(trainer.device, torch.float32).contiguous()
            _CHILD.update(token=job["token"], trainer=trainer)
        trainer = _CHILD["trainer"]
        if job["state"] is not None:
            import_trainer_state(trainer, job["state"])
        for k, v in job["config"].items():
            setattr(trainer.config, k, v)
    except Exception as exc:  # noqa: BLE001
        _CHILD.clear()
        send("ended", run_id, "error", f"Cannot start training: {exc}", None)
        return ""
    if job["preview_n"] > 0:
        import playground.core.sampling.samplers  # noqa: F401 - imported here, not inside the first timed preview

    class _Stop(Exception):
        pass

    def check(_info) -> None:
        poll()
        if flags["stop"]:
            raise _Stop

    hist0 = len(trainer.history.step)
    first_step = trainer.step_count
    t_start = time.perf_counter()
    last_emit = last_snap = t_start
    next_preview = t_start + job["first_preview_after"]
    cpu0 = time.thread_time()
    rate_t, rate_step, its = t_start, trainer.step_count, float(job["its"])
    new_steps: list[int] = []
    new_losses: list[float] = []
    reason, message, lr = "paused", "", None
    bins = None

    def report(now: float) -> None:
        nonlocal new_steps, new_losses, rate_t, rate_step, cpu0, its
        c = time.thread_time()
        if now - rate_t > 0.05 and trainer.step_count > rate_step:
            inst = (trainer.step_count - rate_step) / (now - rate_t)
            its = inst if its <= 0 else 0.7 * its + 0.3 * inst
            rate_t, rate_step = now, trainer.step_count
        send("progress", run_id, int(trainer.step_count), np.asarray(new_steps, np.int64),
             np.asarray(new_losses, np.float64), bins, its, float(trainer.train_seconds), lr, c - cpu0)
        cpu0 = c
        new_steps, new_losses = [], []

    max_steps, emit_every = job["max_steps"], job["emit_every"]
    try:
        while True:
            poll()
            if flags["stop"]:
                break
            cfg = trainer.config
            if cfg.steps and trainer.step_count >= cfg.steps:
                reason = "steps"
                break
            if cfg.seconds and trainer.train_seconds >= cfg.seconds:
                reason = "seconds"
                break
            if max_steps is not None and trainer.step_count - first_step >= max_steps:
                break
            stats = trainer.step()
            now = time.perf_counter()
            lr = stats.lr
            new_steps.append(int(stats.step))
            new_losses.append(float(stats.loss))
            b = getattr(stats, "bin_loss", None)
            if b is not None:
                bins = np.array(b, dtype=np.float64, copy=True).reshape(-1)
            if now - last_emit >= emit_every:
                report(now)
                last_emit = now
            if now - last_snap >= job["snapshot_interval"]:
                with torch.no_grad(), trainer._lock:
                    ema = trainer.ema_flat.detach().to("cpu", copy=True).numpy()
                send("snapshot", run_id, int(trainer.step_count), ema)
                last_snap = time.perf_counter()
            if job["preview_n"] > 0 and now >= next_preview:
                a = time.perf_counter()
                try:
                    x = trainer.snapshot().sample(job["preview_n"], sampler="em", steps=job["preview_steps"], seed=1,
                                                  callback=check, class_labels=job["preview_labels"])
                    send("preview", run_id, x)
                except _Stop:
                    pass
                b2 = time.perf_counter()
                next_preview = b2 + min(max(job["preview_interval"], 20.0 * (b2 - a)), 10.0)
    except Exception as exc:  # noqa: BLE001
        reason = "diverged" if isinstance(exc, TrainingDiverged) else "error"
        message = str(exc) or type(exc).__name__
        if reason == "error":
            message = f"{type(exc).__name__}: {message}"
        bins = None if trainer.history.bin_loss is None else np.array(trainer.history.bin_loss, np.float64)
    report(time.perf_counter())
    try:
        state = export_trainer_state(trainer, history_from=hist0)
    except Exception as exc:  # noqa: BLE001
        state, reason, message = None, "error", f"{type(exc).__name__}: {exc}"
        _CHILD.clear()
    preview = None
    if state is not None and reason in ("steps", "seconds") and job["preview_n"] > 0 and not flags["stop"]:
        try:  # a natural end: show what was learned
            preview = trainer.snapshot().sample(job["preview_n"], sampler="em", steps=job["preview_steps"], seed=1,
                                                callback=check, class_labels=job["preview_labels"])
        except Exception:  # noqa: BLE001
            preview = None
    send("ended", run_id, reason, message, state, preview)
    return "quit" if flags["quit"] else ""


class _Worker:
    """One worker process and its pipe; remembers which trainer state it holds (token, step)."""

    def __init__(self):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child_main, args=(child,), daemon=True, name="playground-trainer")
        self.proc.start()
        child.close()
        self.token = None
        self.step = -1

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.terminate()
        with contextlib.suppress(Exception):
            self.conn.close()

    def quit(self, timeout: float = 1.0) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(("quit",))
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.kill()
            self.proc.join(1.0)


_IDLE: list[_Worker] = []
_ALL: list[_Worker] = []
_POOL_LOCK = threading.Lock()


def _acquire_worker() -> _Worker:
    with _POOL_LOCK:
        while _IDLE:
            w = _IDLE.pop()
            if w.alive():
                return w
        w = _Worker()
        _ALL[:] = [x for x in _ALL if x.alive()]
        _ALL.append(w)
        return w


def _release_worker(w: _Worker) -> None:
    with _POOL_LOCK:
        if w.alive() and w not in _IDLE:
            _IDLE.append(w)


def stop_worker_processes(timeout: float = 1.0) -> None:
    """Quit every worker process (at exit)."""
    with _POOL_LOCK:
        workers = list(_ALL)
        _ALL.clear()
        _IDLE.clear()
    for w in workers:
        w.quit(timeout)


atexit.register(stop_worker_processes)


def _use_process_default() -> bool:
    return os.environ.get("PLAYGROUND_TRAIN_IN_PROCESS", "1").strip().lower() not in ("0", "false", "no", "off")


class _Loop(QThread):
    """The worker thread: steps the trainer until told to stop or a limit is hit."""

    progress = Signal(object)  # TrainProgress
    snapshot = Signal(object)  # a ScoreModel copy
    preview = Signal(object)  # float32 samples of the snapshot: (n, 2) points or (n, C, H, W) images
    ended = Signal(object, str, str)  # (thread, reason, message): 'paused' | 'steps' | 'seconds' | 'diverged' | 'error'

    def __init__(self, ctl: TrainingController, recipe: tuple):
        super().__init__()
        self.ctl = ctl
        self.recipe = recipe  # (TrainConfig, data) to build the trainer with, made on the UI thread
        self.max_steps: int | None = None  # stop ('paused') after this many steps of this run
        self.stop_event = threading.Event()
        self.config_dirty = threading.Event()  # live settings (steps, seconds, lr, batch) changed: tell the process
        self.worker: _Worker | None = None

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
                w.kill()
            self.ended.emit(self, "error", f"{type(exc).__name__}: {exc}")

    def _build_local(self):
        """The UI-side trainer (built here, never on the UI thread); None when the run ended (already reported)."""
        ctl = self.ctl
        torch.set_num_threads(ctl.threads)
        if self.recipe is not None:
            try:
                trainer = ctl.build_trainer(*self.recipe)
            except Exception as exc:  # noqa: BLE001
                self.ended.emit(self, "error", f"Cannot start training: {exc}")
                return None
            if self.stop_event.is_set():
                self.ended.emit(self, "paused", "")
                return None
            ctl.trainer = trainer
        return ctl.trainer

    def _run_process(self) -> None:  # one relay loop
        ctl = self.ctl
        try:  # first: a new process imports torch while the UI-side trainer is built here
            w = self.worker = _acquire_worker()
        except Exception:  # noqa: BLE001 - no process: train in this thread instead
            ctl.in_process = False
            self._run_thread()
            return
        trainer = self._build_local()
        if trainer is None:
            self.worker = None
            _release_worker(w)
            return
        if getattr(trainer, "_dp_token", None) is None:
            trainer._dp_token = uuid.uuid4().hex
        run_id = uuid.uuid4().hex
        synced = w.token == trainer._dp_token and w.step == trainer.step_count
        preview_n, preview_steps, preview_labels = _trainer_preview_plan(ctl, trainer)
        job = {
            "run_id": run_id, "token": trainer._dp_token,
            "recipe": None,
            "state": None if synced else export_trainer_state(trainer),
            "config": {k: getattr(trainer.config, k) for k in _LIVE_CONFIG},
            "max_steps": self.max_steps, "emit_every": 1.0 / ctl.emit_hz, "snapshot_interval": ctl.snapshot_interval,
            "preview_n": preview_n, "preview_steps": preview_steps, "preview_labels": preview_labels,
            "preview_interval": ctl.preview_interval,
            "first_preview_after": ctl.first_preview_after, "its": ctl.its,
        }
        if not synced:
            job["recipe"], job["pool"] = recipe_for(trainer)
        split = ctl.time_split
        t_start = time.perf_counter()
        reason, message, lr, clean = "error", "", None, False
        hist0 = len(trainer.history.step)
        try:
            w.conn.send(("run", job))
            paused = False
            while True:
                if self.stop_event.is_set() and not paused:
                    w.conn.send(("pause", run_id))
                    paused = True
                if self.config_dirty.is_set():
                    self.config_dirty.clear()
                    w.conn.send(("config", run_id, {k: getattr(trainer.config, k) for k in _LIVE_CONFIG}))
                if not w.conn.poll(0.02):
                    if not w.alive():
                        raise EOFError("the training process ended unexpectedly")
                    continue
                msg = w.conn.recv()
                if len(msg) < 2 or msg[1] != run_id:
                    continue
                kind = msg[0]
                if kind == "progress":
                    _, _, step, steps, losses, bins, its, elapsed, lr, cpu = msg
                    ctl.step, ctl.elapsed_before, ctl.its = int(step), float(elapsed), float(its)
                    if bins is not None:
                        ctl.bins.latest = bins
                    split["cpu"] += cpu
                    self.progress.emit(TrainProgress(step=ctl.step, steps=steps, losses=losses,
                                                     bin_losses=ctl.bins.means(), its=ctl.its, elapsed=ctl.elapsed_before,
                                                     lr=lr))
                elif kind == "snapshot":
                    with torch.no_grad(), trainer._lock:
                        trainer.ema_flat.copy_(torch.from_numpy(msg[3]))
                    self.snapshot.emit(trainer.snapshot())
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
            w.kill()
            clean = False
        split["wall"] += time.perf_counter() - t_start
        ctl.step = int(trainer.step_count)
        ctl.elapsed_before = float(trainer.train_seconds)
        if clean:
            _release_worker(w)
        else:
            w.kill()
        self.worker = None
        self.ended.emit(self, reason, message)

    def _run_thread(self) -> None:
        ctl = self.ctl
        torch.set_num_threads(ctl.threads)
        if self.recipe is not None:  # the first build takes seconds (torch warm-up): never on the UI thread
            try:
                trainer = ctl.build_trainer(*self.recipe)
            except Exception as exc:  # noqa: BLE001
                self.ended.emit(self, "error", f"Cannot start training: {exc}")
                return
            if self.stop_event.is_set():  # paused, reset or closed while building: start over next time
                self.ended.emit(self, "paused", "")
                return
            ctl.trainer = trainer
        trainer = ctl.trainer
        if ctl.preview_n > 0:
            import playground.core.sampling.samplers  # noqa: F401 - imported here, not inside the first timed preview
        emit_every = 1.0 / ctl.emit_hz
        new_steps: list[int] = []
        new_losses: list[float] = []
        t_start = time.perf_counter()
        last_emit = last_snap = t_start
        next_preview = t_start + ctl.first_preview_after
        split = ctl.time_split  # wall seconds of this worker by activity (the bench prints them)
        cpu0 = time.thread_time()
        rate_t, rate_step = t_start, ctl.step
        reason, message = "paused", ""
        lr = None
        first_step = ctl.step

        def report(now: float) -> None:
            nonlocal new_steps, new_losses, rate_t, rate_step, cpu0
            c = time.thread_time()
            split["cpu"] += c - cpu0  # this thread's CPU seconds, kept current for the bench
            cpu0 = c
            if now - rate_t > 0.05 and ctl.step > rate_step:
                inst = (ctl.step - rate_step) / (now - rate_t)
                ctl.its = inst if ctl.its <= 0 else 0.7 * ctl.its + 0.3 * inst
                rate_t, rate_step = now, ctl.step
            self.progress.emit(
                TrainProgress(
                    step=ctl.step,
                    steps=np.asarray(new_steps, dtype=np.int64),
                    losses=np.asarray(new_losses, dtype=np.float64),
                    bin_losses=ctl.bins.means(),
                    its=ctl.its,
                    elapsed=ctl.elapsed_before,
                    lr=lr,
                )
            )
            new_steps, new_losses = [], []

        try:
            while not self.stop_event.is_set():
                limit = ctl.limit_reached(ctl.elapsed_before)
                if limit:
                    reason = limit
                    break
                if self.max_steps is not None and ctl.step - first_step >= self.max_steps:
                    break
                a = time.perf_counter()
                stats = trainer.step()
                now = time.perf_counter()
                split["step"] += now - a
                ctl.step = int(stats.step)
                ctl.elapsed_before = float(stats.seconds)
                lr = stats.lr
                new_steps.append(ctl.step)
                new_losses.append(float(stats.loss))
                ctl.bins.update(stats)
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
                    x = ctl.preview_samples(trainer.snapshot(), self.stop_event.is_set)
                    if x is not None:
                        self.preview.emit(x)
                    b = time.perf_counter()
                    split["preview"] += b - a
                    # at most ~5 % of the worker's time goes to previews, however slow the machine
                    next_preview = b + min(max(ctl.preview_interval, 20.0 * (b - a)), 10.0)
        except Exception as exc:  # noqa: BLE001 - reported to the user; the UI keeps running
            from playground.core.training.trainer import TrainingDiverged

            reason = "diverged" if isinstance(exc, TrainingDiverged) else "error"
            message = str(exc) or type(exc).__name__
            if reason == "error":
                message = f"{type(exc).__name__}: {message}"
        split["wall"] += time.perf_counter() - t_start
        ctl.step = int(trainer.step_count)  # after a divergence: the restored good step
        ctl.elapsed_before = float(trainer.train_seconds)
        report(time.perf_counter())
        try:  # the final weights (after a divergence: the last good ones the trainer restored)
            final = trainer.snapshot()
            self.snapshot.emit(final)
            if reason in ("steps", "seconds") and ctl.preview_n > 0:  # a natural end: show what was learned
                x = ctl.preview_samples(final, self.stop_event.is_set)
                if x is not None:
                    self.preview.emit(x)
        except Exception:  # noqa: BLE001
            pass
        self.ended.emit(self, reason, message)


class TrainingController(QObject):
    """Play / pause / step / reset for the app; builds the Trainer from `state.settings` and `state.target_samples`
    (in image mode from `state.images`: a UNet, see the module docstring).

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
        self.in_process = _use_process_default() if in_process is None else bool(in_process)
        self.state = state
        self.threads = threads
        self.emit_hz = emit_hz
        self.snapshot_interval = snapshot_interval
        self.preview_interval = preview_interval
        self.first_preview_after = 1.0
        self.preview_n = preview_n
        self.preview_steps = 40
        self.trainer = None
        self._thread: _Loop | None = None
        self.closed = False  # after shutdown(): reports still in the event queue are dropped
        self._clear_history()

    # ---- history (UI thread) ---------------------------------------------------------------------------------
    def _clear_history(self) -> None:
        self.time_split = dict.fromkeys(("step", "report", "snapshot", "preview", "cpu", "wall"), 0.0)
        self.step = 0
        self.its = 0.0
        self.elapsed_before = 0.0
        self.bins = _BinStats()
        self.loss_steps: list[np.ndarray] = []
        self.loss_values: list[np.ndarray] = []
        self.last_loss = math.nan
        self.last_reason = ""
        self.last_message = ""

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
    def limit_reached(self, elapsed: float) -> str:
        """'steps' or 'seconds' when a stop condition of the current settings is met, else ''."""
        s = self.state.settings
        if s.steps and self.step >= s.steps:
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

    # ---- the trainer -------------------------------------------------------------------------------------------
    def recipe(self) -> tuple:
        """The arguments of `build_trainer` for a new trainer: (TrainConfig, target samples) from the settings; in
        image mode (TrainConfig, flat images, labels, class names, info) with labels and class names None for an
        unconditional model and info naming the dataset (stored in the model file: File > Open model reloads it)."""
        st = self.state
        images = st.images
        if images is None:
            return train_config(st, threads=self.threads), st.target_samples
        classes = trains_classes(st)
        info = {"data": st.image_spec, "dataset": images.info()}
        return (image_config(st, threads=self.threads), images.images, images.labels if classes else None,
                images.class_names if classes else None, info)

    def build_trainer(self, config=None, data=None, labels=None, class_names=None, info=None):
        """A Trainer from `recipe()`'s arguments (made now when none are given)."""
        from playground.core.training.trainer import Trainer

        if config is None:
            return self.build_trainer(*self.recipe())
        trainer = Trainer(config, data, labels=labels, class_names=class_names)
        trainer.info.update(info or {})
        return trainer

    def ensure_trainer(self):
        if self.trainer is None:
            self.trainer = self.build_trainer()
        return self.trainer

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

    def preview_samples(self, model, should_stop=None) -> np.ndarray | None:
        """A small sample of `model` (data space; images for an image model, see `preview_plan`) for the training
        panel; runs on the worker thread and gives up (None) as soon as should_stop() says so."""

        def check(_info) -> None:
            if should_stop is not None and should_stop():
                raise _Cancelled

        n, steps, labels = preview_plan(self.preview_n, self.preview_steps, model.image_shape is not None,
                                        model.num_classes)
        if n <= 0:
            return None
        try:
            return model.sample(n, sampler="em", steps=steps, seed=1, callback=check, class_labels=labels)
        except _Cancelled:
            return None

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
                recipe = self.recipe()
                recipe[0].validate()
            except Exception as exc:  # noqa: BLE001
                self.last_reason, self.last_message = "error", f"Cannot start training: {exc}"
                self.ended.emit("error", self.last_message)
                return False
        self.sync_limits()
        th = _Loop(self, recipe)
        th.max_steps = max_steps
        th.progress.connect(self._on_progress)
        th.snapshot.connect(self._on_snapshot)
        th.preview.connect(self._on_preview)
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

    def step_once(self) -> float | None:
        """One optimiser step (pausing a run first); returns its loss. Before the first trainer exists the step
        runs in the worker (building a trainer can take seconds) and this returns None at once."""
        if self.running:
            self.pause()
        if self._thread is not None:
            return None
        if self.trainer is None:
            self.play(max_steps=1)
            return None
        trainer = self.trainer
        torch.set_num_threads(self.threads)
        try:
            stats = trainer.step()
        except Exception as exc:  # noqa: BLE001
            from playground.core.training.trainer import TrainingDiverged

            reason = "diverged" if isinstance(exc, TrainingDiverged) else "error"
            self._on_ended(reason, str(exc) or type(exc).__name__)
            self.step = int(trainer.step_count)
            self._on_snapshot(trainer.snapshot())
            return None
        self.elapsed_before = float(stats.seconds)
        self.step = int(stats.step)
        self.bins.update(stats)
        loss = float(stats.loss)
        self._on_progress(
            TrainProgress(
                step=self.step,
                steps=np.asarray([self.step]),
                losses=np.asarray([loss]),
                bin_losses=self.bins.means(),
                its=self.its,
                elapsed=self.elapsed_before,
            )
        )
        self._on_snapshot(trainer.snapshot())
        return loss

    def reset(self) -> None:
        """Stop, forget the trainer and the history, and clear the model (state.model = None)."""
        th = self._thread
        if th is not None and not self.pause():
            self._detach(th)
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

    def _detach(self, th: _Loop) -> None:
        """Forget a stopping thread: no more signals from it; kept alive until it finishes (a trainer build
        cannot be interrupted)."""
        th.stop_event.set()
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
            self.previewReady.emit(samples)

    def _on_snapshot(self, model) -> None:
        if model is not None and not self.closed:
            self.state.set_model(model)

    def _on_thread_ended(self, th: _Loop, reason: str, message: str) -> None:
        if th is not self._thread:
            return  # a detached thread
        th.wait(1000)
        self._thread = None
        self._on_ended(reason, message)

    def _on_ended(self, reason: str, message: str) -> None:
        self.last_reason = reason
        if reason in ("steps", "seconds") and not message:
            message = self._limit_message(reason)
        self.last_message = message
        self.state.set_training(False)
        self.runningChanged.emit(False)
        self.ended.emit(reason, message)

    def _drain(self, th: _Loop) -> None:
        """Deliver the stopped thread's last queued signals now (so pause() returns with the history complete)."""
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.sendPostedEvents(self)
        if self._thread is th:  # ended was not delivered (no event loop): finish here
            self._thread = None
            self.last_reason = "paused"
            self.state.set_training(False)
            self.runningChanged.emit(False)
            self.ended.emit("paused", "")

    def _limit_message(self, reason: str) -> str:
        s = self.state.settings
        if reason == "steps":
            return f"Reached the step limit ({s.steps:,} steps). Raise 'Stop after steps' in Settings, or Reset."
        return f"Reached the time limit ({s.seconds:g} s). Raise 'Stop after seconds' in Settings, or Reset."
