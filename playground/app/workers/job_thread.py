"""JobThread: one cancellable background job (a sampler run, an inpainting run) in a QThread, numpy frames out.

    class InpaintThread(JobThread):
        work = staticmethod(run_inpaint)          # work(job, cancel: threading.Event, emit) -> outcome

The thread runs `work` with one torch thread (a worker next to a busy UI: GIL + 2 cores), emits `frame(...)` for
each snapshot `work` passes to `emit` until it is cancelled, and always ends with `done(outcome)`: should `work`
raise, the outcome is the subclass's `failed(message)`. `work` never touches Qt; it checks `cancel` between network
evaluations, raises `Cancelled` to unwind, and turns that (or any error) into its outcome with `record_failure`.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

import torch
from PySide6.QtCore import QThread, Signal


class Cancelled(Exception):
    """Raised inside a job's sampler (or likelihood ODE) to unwind it when the run is cancelled."""


def record_failure(out, e: Exception):
    """A job's outcome after `e` stopped it: cancelled for Cancelled, else `error` set (with a trace, unless a
    ValueError: a bad setting is the user's to fix). Returns `out`; reported to the panel, never raised into Qt."""
    if isinstance(e, Cancelled):
        out.cancelled = True
    else:
        out.error = f"{type(e).__name__}: {e}"
        if not isinstance(e, ValueError):
            traceback.print_exc()
    return out


class JobThread(QThread):
    """Runs `work(self.job, cancel, emit)`; emits `frame` (live snapshots) and finally `done(outcome)`."""

    frame = Signal(object)
    done = Signal(object)
    work: Callable[[Any, threading.Event, Callable[[Any], None]], Any]

    def __init__(self, job, parent=None):
        super().__init__(parent)
        self.job = job
        self._cancel = threading.Event()
        self.outcome = None

    def cancel(self) -> None:
        self._cancel.set()

    def failed(self, message: str):
        """The outcome reported when `work` raises (subclasses build their outcome type)."""
        raise NotImplementedError

    def run(self) -> None:
        torch.set_num_threads(1)
        try:
            out = type(self).work(self.job, self._cancel, self._emit)
        except Exception as e:  # a thread must always report back
            traceback.print_exc()
            out = self.failed(f"{type(e).__name__}: {e}")
        self.outcome = out
        self.done.emit(out)

    def _emit(self, frame) -> None:
        if not self._cancel.is_set():
            self.frame.emit(frame)


def start_job_thread(th: JobThread, on_frame, on_done, threads: list) -> JobThread:
    """Connect th's signals, keep it in the panel's `threads` (finished ones dropped; see cancel_threads) and start it."""
    th.frame.connect(on_frame)
    th.done.connect(on_done)
    threads[:] = [t for t in threads if t.isRunning()]
    threads.append(th)
    th.start()
    return th
