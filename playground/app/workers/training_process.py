"""The training worker PROCESS: the Qt-free `Trainer` steps in a spawned process with its own GIL, and the pool of
such processes.

Why a process: a trainer thread in the UI process needs the GIL after every torch op, and the UI thread holds it for
most of each animation frame (pyqtgraph painting, numpy, Python glue): measured with `bench ui`, a training thread
kept only ~35 % of its headless it/s while t animated. A spawned process (multiprocessing 'spawn', one torch thread)
has its own GIL. It is started on the first Play and kept (idle) for later runs; a process that does not answer in
time (closing the window) is terminated. PLAYGROUND_TRAIN_IN_PROCESS=0 (or TrainingController(in_process=False))
trains in the reader thread instead (`use_process_default`).

Protocol. The UI side (`training_loop.TrainingLoop`) sends a 'run' job with the recipe and, when the process does not
already hold the same state, the trainer's full state (`trainer_state`); the process answers with ('progress', ...)
about `emit_every` seconds, ('snapshot', ...) EMA weights every `snapshot_interval` s, ('preview', ...) samples, and
finally ('ended', run_id, reason, message, state, preview). 'pause' stops the run after its current step (or inside
a preview) within milliseconds; 'config' changes the live settings (steps, seconds, lr, batch); 'quit' ends the
process. `_child_main` is the spawn target, imported in the child by this module's path (keep it Qt-free and light).

The wire (`Channel`): each message is pickled whole with the standard pickler (tensors by value) and written as one
length-prefixed frame under a lock. Not `Connection.send`: that pickles tensors with torch's multiprocessing
reductions (shared-memory files handed over by a background fd server, which leak when the receiver dies first), and
a frame over 16 KB is written as two writes (length, then payload), so a second writer (the exit handler's 'quit'
while a run's job was being sent) landed between them and the child read the other message's length as its pickle:
`UnpicklingError: invalid load key, '\x00'`. A killed worker's pipe is closed only by the thread that uses it, so its
descriptor is never closed under a running read or write (and reused by the next worker's pipe meanwhile).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from playground.app.workers.trainer_state import export_trainer_state, import_trainer_state

_CHILD: dict = {}  # in the worker process: {'token': ..., 'trainer': Trainer}


class Channel:
    """One end of the worker's pipe: whole messages as single frames (standard pickle), sends serialised by a lock so
    two threads never interleave their bytes."""

    def __init__(self, conn):
        self.conn = conn
        self._send_lock = threading.Lock()

    def send(self, msg, timeout: float | None = None) -> bool:
        """Send one message (blocks while the pipe is full); with `timeout`, give up (False) when another thread is
        still sending after that many seconds."""
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._send_lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            self.conn.send_bytes(data)
        finally:
            self._send_lock.release()
        return True

    def recv(self):
        return pickle.loads(self.conn.recv_bytes())

    def poll(self, timeout: float = 0.0) -> bool:
        return self.conn.poll(timeout)

    def close(self) -> None:
        self.conn.close()


def _child_main(conn) -> None:
    """Entry point of the worker process: run jobs until 'quit' or the pipe closes."""
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import playground.core.training.trainer  # noqa: F401 - warm up while the UI side builds its trainer
    conn = Channel(conn)
    conn.send(("ready",))  # the relay sends a job only now: a send to a process still importing could block it
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "quit":
            return
        if msg[0] == "run" and _child_run(conn, msg[1]) == "quit":
            return


def _child_run(conn, job: dict) -> str:  # one loop, like TrainingLoop._run_thread
    from playground.core.training.config import TrainingDiverged
    from playground.core.training.trainer import Trainer

    run_id = job["run_id"]
    flags = {"stop": False, "quit": False}

    def send(*m) -> None:
        conn.send(m)  # a tuple, like every message

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


class WorkerProcess:
    """One worker process and its pipe (`channel`); remembers which trainer state it holds (token, step). Used by one
    relay thread at a time; `kill` may come from another thread (closing the window): it only terminates the process,
    the relay thread then reads the end of the pipe and closes it (`close`)."""

    def __init__(self):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        conn, child = ctx.Pipe()
        self.channel = Channel(conn)
        self.proc = ctx.Process(target=_child_main, args=(child,), daemon=True, name="playground-trainer")
        self.proc.start()
        child.close()
        self.token = None
        self.step = -1
        self.killed = False
        self.ready = False  # its ('ready',) was read: it is in its job loop and reads what is sent at once

    def wait_ready(self, stop: Callable[[], bool]) -> bool:
        """Read the process's ('ready',) (it imports torch first: seconds, 10-20 s on a busy 2-core machine); False
        when `stop()` turned true first (a Pause: the process then goes back to the pool, still starting)."""
        while not self.ready:
            if stop():
                return False
            if self.channel.poll(0.02):
                self.ready = self.channel.recv()[0] == "ready"
            elif not self.alive():
                raise EOFError("the training process ended while starting")
        return True

    def alive(self) -> bool:
        return not self.killed and self.proc.is_alive()

    def kill(self) -> None:
        """Terminate the process (any thread); its pipe stays open until its user closes it."""
        self.killed = True
        with contextlib.suppress(Exception):
            self.proc.terminate()

    def close(self) -> None:
        """Kill the process and close the pipe (the thread that uses the pipe, or when nobody does)."""
        self.kill()
        with contextlib.suppress(Exception):
            self.channel.close()

    def quit(self, timeout: float = 1.0) -> None:
        """End the process: 'quit' if the pipe is free within a moment (else a run's relay is still sending: kill)."""
        sent = False
        with contextlib.suppress(Exception):
            sent = self.channel.send(("quit",), timeout=0.2)
        if sent:
            self.proc.join(timeout)
        if self.proc.is_alive():
            self.kill()
            self.proc.join(1.0)


_IDLE: list[WorkerProcess] = []
_ALL: list[WorkerProcess] = []
_POOL_LOCK = threading.Lock()


def acquire_worker() -> WorkerProcess:
    """An idle live worker process, or a new one (started now: it imports torch while the caller goes on)."""
    with _POOL_LOCK:
        while _IDLE:
            w = _IDLE.pop()
            if w.alive():
                return w
            w.close()  # died while idle (nobody else holds an idle worker)
        w = WorkerProcess()
        _ALL[:] = [x for x in _ALL if x.alive()]
        _ALL.append(w)
        return w


MAX_IDLE_WORKERS = 1
"""Idle worker processes kept for the next run. Runs overlap only while a let-go run winds down (quick resets), and
each such run's process is a whole torch process (hundreds of MB): the extra ones quit instead of piling up."""


def release_worker(w: WorkerProcess) -> None:
    """Give a worker that finished its run cleanly back to the idle pool (a killed one is closed; one beyond
    MAX_IDLE_WORKERS quits)."""
    with _POOL_LOCK:
        if w.alive() and (w in _IDLE or len(_IDLE) < MAX_IDLE_WORKERS):
            if w not in _IDLE:
                _IDLE.append(w)
            return
        spare = w.alive()
        if w in _ALL:
            _ALL.remove(w)
    if spare:
        w.quit()  # ends the process politely ('quit'), killing it only if it does not answer
    w.close()


def stop_worker_processes(timeout: float = 1.0) -> None:
    """Quit every worker process (at exit)."""
    with _POOL_LOCK:
        workers = list(_ALL)
        _ALL.clear()
        _IDLE.clear()
    for w in workers:
        w.quit(timeout)


atexit.register(stop_worker_processes)


def use_process_default() -> bool:
    """Train in a worker process unless PLAYGROUND_TRAIN_IN_PROCESS is 0 / false / no / off."""
    return os.environ.get("PLAYGROUND_TRAIN_IN_PROCESS", "1").strip().lower() not in ("0", "false", "no", "off")
