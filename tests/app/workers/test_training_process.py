"""The training worker's pipe (`Channel`): whole frames even with two sending threads, tensors by value, and a 'quit'
that never writes into a frame another thread is still sending; and the pool of idle worker processes stays bounded."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import numpy as np
import pytest
import torch

from playground.app.workers.training_process import Channel, WorkerProcess


def test_two_threads_sending_at_once_never_interleave_their_frames():
    """Regression: a large message goes out as two writes (length, payload); a second sender used to slip its frame
    between them and the reader unpickled the length bytes (`UnpicklingError: invalid load key, '\\x00'`)."""
    a, b = mp.Pipe()
    sender, reader = Channel(a), Channel(b)
    big = np.arange(60_000, dtype=np.float64)  # 480 kB: more than the socket buffer, so its writes block mid-frame
    n = 40
    got: list = []

    def read() -> None:
        for _ in range(2 * n):
            got.append(reader.recv())

    def send(kind: str) -> None:
        for i in range(n):
            sender.send(("big", i, big) if kind == "big" else ("small", i))

    threads = [threading.Thread(target=read), threading.Thread(target=send, args=("big",)),
               threading.Thread(target=send, args=("small",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 2 * n
    bigs = [m for m in got if m[0] == "big"]
    assert [m[1] for m in bigs] == list(range(n)) and all(np.array_equal(m[2], big) for m in bigs)
    assert [m[1] for m in got if m[0] == "small"] == list(range(n))


def test_tensors_cross_by_value_without_the_shared_memory_fd_server():
    from multiprocessing import resource_sharer

    a, b = mp.Pipe()
    before = dict(resource_sharer._resource_sharer._cache)
    flat = torch.randn(1000)
    Channel(a).send(("state", {"flat": flat, "rng": torch.Generator().get_state()}))
    msg = Channel(b).recv()
    assert torch.equal(msg[1]["flat"], flat) and not msg[1]["flat"].is_shared()
    assert dict(resource_sharer._resource_sharer._cache) == before  # nothing handed to the fd server


def test_quit_kills_instead_of_writing_while_another_thread_is_sending():
    w = WorkerProcess()
    try:
        with w.channel._send_lock:  # a relay thread in the middle of a frame
            t0 = time.perf_counter()
            w.quit(timeout=1.0)
            assert time.perf_counter() - t0 < 5.0
        w.proc.join(5.0)
        assert not w.proc.is_alive() and not w.alive()
    finally:
        w.close()


class FakeWorker:
    """A worker process as the pool sees it (alive, quit, close), without starting one."""

    def __init__(self):
        self.ended = None

    def alive(self) -> bool:
        return self.ended is None

    def quit(self, timeout: float = 1.0) -> None:
        self.ended = "quit"

    def close(self) -> None:
        self.ended = self.ended or "killed"


def test_the_idle_pool_keeps_one_process_and_spare_ones_quit(monkeypatch):
    """Overlapping runs (a let-go run winding down while the next starts) each hold a process; when they end, one
    stays idle for the next run and the others quit, so quick resets do not pile up torch processes (issue 15)."""
    from playground.app.workers import training_process as tp

    monkeypatch.setattr(tp, "_IDLE", [])
    monkeypatch.setattr(tp, "_ALL", [])
    workers = [FakeWorker() for _ in range(3)]
    tp._ALL.extend(workers)
    for w in workers:
        tp.release_worker(w)
    assert tp.MAX_IDLE_WORKERS == 1 and tp._IDLE == workers[:1] and tp._ALL == workers[:1]
    assert [w.ended for w in workers] == [None, "quit", "quit"]
    tp.release_worker(workers[0])  # released twice: still the one idle process
    assert tp._IDLE == workers[:1] and workers[0].ended is None
    assert tp.acquire_worker() is workers[0] and tp._IDLE == []


class StartingProcess:
    """A worker process still importing torch (10-20 s on a busy 2-core machine): it never reads its pipe and has not
    said ('ready',) yet."""

    wait_ready = WorkerProcess.wait_ready

    def __init__(self):
        a, self.far_end = mp.Pipe()
        self.channel = Channel(a)
        self.token, self.step, self.ready, self.killed = None, -1, False, False

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True

    close = kill


def test_pause_stops_a_run_whose_process_is_still_starting(qtbot, monkeypatch):
    """Issue 15: the monkey walk's 'training did not stop within 15 s of Pause': the relay sent its job into the pipe
    of a process still importing torch and waited for its answer. Now a run waits for the process's ('ready',) while
    watching Pause, and a paused run hands the starting process back to the pool (not killed: it is reused)."""
    pytest.importorskip("pytestqt")
    from playground.app.state import AppState, Settings
    from playground.app.workers import training_loop
    from playground.app.workers.training_controller import TrainingController
    from playground.data.targets.presets import make_preset
    from tests.app.window_helpers import SMALL

    starting, released = StartingProcess(), []
    monkeypatch.setattr(training_loop, "acquire_worker", lambda: starting)
    monkeypatch.setattr(training_loop, "release_worker", released.append)
    c = TrainingController(AppState(make_preset("moons"), Settings(**SMALL)), in_process=True, preview_n=0)
    assert c.play()
    qtbot.waitUntil(lambda: c.trainer is not None, timeout=30_000)  # the UI-side trainer is built, the job not sent
    assert c.pause(timeout=5.0) and not c.running
    assert released == [starting] and not starting.killed
    assert not starting.far_end.poll()  # nothing was sent into the starting process's pipe
    assert c.trainer.step_count == 0


def test_a_process_killed_while_its_run_stops_ends_the_run_as_paused(qtbot, monkeypatch):
    """A run let go (or the window closing) kills a process still starting; when that lands between wait_ready's
    checks, the run ends as paused, not with 'The training process ended while starting.'"""
    pytest.importorskip("pytestqt")
    from playground.app.state import AppState, Settings
    from playground.app.workers import training_loop
    from playground.app.workers.training_controller import TrainingController
    from playground.data.targets.presets import make_preset
    from tests.app.window_helpers import SMALL

    c = TrainingController(AppState(make_preset("moons"), Settings(**SMALL)), in_process=True, preview_n=0)

    class KilledAsItStops(StartingProcess):
        def alive(self) -> bool:  # the stop and the kill arrive while it polls
            c._thread.stop_event.set()
            return False

    monkeypatch.setattr(training_loop, "acquire_worker", KilledAsItStops)
    monkeypatch.setattr(training_loop, "release_worker", lambda _w: None)
    assert c.play()
    qtbot.waitUntil(lambda: not c.running, timeout=30_000)
    assert c.last_reason == "paused" and c.last_message == ""
