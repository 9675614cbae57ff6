"""The worker threads of a side-by-side comparison (the Sampling panel's SDE | ODE): one `JobThread` per side, all
started for one comparison (a generation: its jobs carry `generation`), so frames and outcomes of older runs are
dropped; cancelled threads stay referenced until they have finished.

The threads have NO Qt parent (a QThread deleted with its panel while running aborts the process): `started` holds
every one not known to have finished, and when the owner is destroyed without `release()` they are cancelled and
kept alive by threads.keep_until_finished (waited for at exit). The slot gets the list, not the owner.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal

from playground.app.workers.job_thread import JobThread, start_job_thread
from playground.app.workers.threads import cancel_threads


class SideThreads(QObject):
    """`current[key]`: the side's thread of this generation (None once it reported or was cancelled)."""

    frameArrived = Signal(str, object)  # (side key, live frame) of the current generation
    sideDone = Signal(str, object)  # (side key, outcome) of the current generation, unless cancelled

    def __init__(self, keys: Iterable[str], owner: QObject):
        super().__init__(owner)
        self.generation = 0
        self.current: dict[str, JobThread | None] = dict.fromkeys(keys)
        self.started: list[JobThread] = []
        self._cancelled: list[JobThread] = []  # cancelled while running: referenced until they finish
        owner.destroyed.connect(lambda *_a, threads=self.started: cancel_threads(threads))

    def running(self) -> bool:
        return any(th is not None and th.isRunning() for th in self.current.values())

    def next_generation(self) -> int:
        """A new comparison: what the running threads still send is dropped from now on."""
        self.generation += 1
        return self.generation

    def start(self, key: str, thread: JobThread) -> None:
        """Start side `key`'s thread (its job of the current generation)."""
        self.current[key] = start_job_thread(thread, self._on_frame, self._on_done, self.started)

    def cancel(self, wait: bool = False, timeout_ms: int = 1000) -> list[str]:
        """Cancel every side's thread; with wait, block until they stopped (at most timeout_ms in all). Returns the
        keys of the sides whose thread was still running."""
        was_running = [key for key in list(self.current) if self.cancel_side(key)]
        if wait:
            deadline = time.perf_counter() + timeout_ms / 1000
            for th in self._cancelled:
                th.wait(max(1, int((deadline - time.perf_counter()) * 1000)))
        self._cancelled = [th for th in self._cancelled if th.isRunning()]
        return was_running

    def cancel_side(self, key: str) -> bool:
        """Cancel side `key`'s thread (the other sides keep running); True when it was still running."""
        th, self.current[key] = self.current[key], None
        if th is None:
            return False
        th.cancel()
        if th.isRunning():
            self._cancelled.append(th)
            return True
        return False

    def release(self) -> None:
        """After a (waited) cancel, on shutdown: every thread still finishing is kept alive on its own until it has."""
        cancel_threads(self.started)
        self._cancelled = []

    def _key_of(self, th) -> str | None:
        for key, cur in self.current.items():
            if cur is th and th is not None and th.job.generation == self.generation:
                return key
        return None

    def _on_frame(self, frame) -> None:
        key = self._key_of(self.sender())
        if key is not None:
            self.frameArrived.emit(key, frame)

    def _on_done(self, out) -> None:
        key = self._key_of(self.sender())
        self._cancelled = [th for th in self._cancelled if th.isRunning()]
        if key is None or out.cancelled:
            return
        self.current[key] = None
        self.sideDone.emit(key, out)


__all__ = ["SideThreads"]
