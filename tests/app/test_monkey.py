"""Random use of the real window (issue 15): a short fixed-seed walk of `Monkey` over a shown MainWindow must raise
nothing, warn nothing Qt flags as misuse, and round-trip every workspace it saves. Long walks: `bench monkey`."""

from __future__ import annotations

import sys

from playground.app.monkey import Monkey

from tests.app.window_helpers import make_window

WALK_ACTIONS = 250


def test_a_fixed_seed_walk_raises_nothing_and_round_trips_every_workspace(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, autosave=True)
    w.workspace.ask_save = lambda _reason: "discard"
    hook = sys.excepthook
    monkey = Monkey(w, seed=11, folder=tmp_path, settle_ms=(0, 30))
    _, save = monkey.actions["save and reopen the workspace"]
    monkey.actions["save and reopen the workspace"] = (10, save)  # a short walk checks several round trips
    report = monkey.run(WALK_ACTIONS)
    assert sys.excepthook is hook  # the walk put the hooks back
    tail = "\n".join(report.log)
    assert report.actions == WALK_ACTIONS
    assert not report.exceptions, report.exceptions[0] + "\nlast actions:\n" + tail
    assert not report.warnings, report.warnings
    assert not report.round_trip_failures, report.round_trip_failures  # saved = the window's; reopened = saved
    # the walk really used the window: most kinds of action ran, saves among them
    assert len(report.counts) >= 12 and report.counts.get("save and reopen the workspace", 0) >= 4, report.counts


def test_the_monkey_records_exceptions_and_warnings_it_provokes(qtbot, tmp_path):
    """The recorders themselves: an exception inside an action and a Qt warning both land in the report."""
    from PySide6.QtCore import qWarning

    w = make_window(qtbot, tmp_path)
    monkey = Monkey(w, seed=0, folder=tmp_path)

    def broken() -> None:
        qWarning("QObject::connect: something misused")
        raise ZeroDivisionError("provoked")

    monkey.actions = {"broken": (1, broken)}
    report = monkey.run(2)
    assert report.actions == 2 and len(report.exceptions) == 2 and "ZeroDivisionError: provoked" in report.exceptions[0]
    assert len(report.warnings) == 2 and "something misused" in report.warnings[0]
    assert not report.ok and report.slowest["broken"] >= 0.0


def test_worker_processes_memory_is_counted():
    """The walk's memory figure includes the processes the app starts (training workers), not only its own."""
    import subprocess

    from playground.app.monkey import child_processes_mb

    before, _ = child_processes_mb()
    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(50 << 20); time.sleep(30)"])
    try:
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            count, mb = child_processes_mb()
            if mb > 50:
                break
            time.sleep(0.1)
        assert count == before + 1 and mb > 50, (count, mb)
    finally:
        child.kill()
        child.wait()
    assert child_processes_mb()[0] == before
