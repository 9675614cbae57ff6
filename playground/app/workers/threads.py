"""Worker threads that outlive their owner: stopped threads still running are kept referenced until they finish
(a QThread destroyed while running aborts the process), and waited for at exit."""

from __future__ import annotations

import atexit
import time

from PySide6.QtCore import QThread

_LINGERING: list = []  # worker threads told to stop that had not finished in time (e.g. still building a trainer)


def _wait_at_exit() -> None:
    wait_for_workers(10.0)


atexit.register(_wait_at_exit)  # a QThread destroyed while running aborts the process


def _running(th: QThread) -> bool:
    """th.isRunning(); False once its C++ object is gone (deleted after it finished)."""
    try:
        return th.isRunning()
    except RuntimeError:
        return False


def keep_until_finished(th: QThread) -> None:
    """Hold a reference to a stopping thread until it finishes (a QThread destroyed while running aborts)."""
    _LINGERING[:] = [t for t in _LINGERING if _running(t)]
    if _running(th) and th not in _LINGERING:
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
        if _running(th):
            th.wait(max(0, int((deadline - time.perf_counter()) * 1000)))
        if not _running(th):
            _LINGERING.remove(th)
    return not _LINGERING

