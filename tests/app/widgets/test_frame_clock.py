"""FrameClock: the time bar's tick and every view redraw due in a frame run in one event-loop turn; ticks fall on
a fixed grid; a failing callback does not stop the others; the clock sleeps when idle."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("pytestqt")

from playground.app.widgets.frame_clock import FRAME_MS, FrameClock, frame_clock  # noqa: E402
from playground.app.widgets.plot_items import Coalescer  # noqa: E402


def test_view_redraws_requested_in_one_frame_run_in_the_same_tick(qtbot):
    clock = frame_clock()
    ran: list[tuple[str, int]] = []
    a = Coalescer(lambda: ran.append(("a", clock.ticks)))
    b = Coalescer(lambda: ran.append(("b", clock.ticks)))
    other = Coalescer(lambda: ran.append(("other", clock.ticks)), interval_ms=FRAME_MS + 5)  # not a frame redraw
    assert a.frame is clock and other.frame is None
    a.request()
    b.request()
    a.request()  # coalesced
    assert a.active and b.active
    qtbot.waitUntil(lambda: len(ran) >= 2, timeout=2000)
    assert [k for k, _ in ran] == ["a", "b"] and ran[0][1] == ran[1][1]  # one tick, in the order requested
    assert not a.active and not b.active
    b.request()
    b.flush()  # run now, dropped from the clock
    assert not clock.is_due(id(b)) and ran[-1][0] == "b"
    other.stop()


def test_ticker_runs_before_the_redraws_it_causes_in_the_same_tick(qtbot):
    clock = FrameClock(20)
    order: list[tuple[str, int]] = []

    def tick():
        order.append(("tick", clock.ticks))
        clock.schedule(1, lambda: order.append(("redraw", clock.ticks)))  # what a new t requests

    clock.add_ticker(tick)
    qtbot.waitUntil(lambda: len(order) >= 6, timeout=3000)
    clock.remove_ticker(tick)
    pairs = list(zip(order[0::2], order[1::2]))
    assert all(t[0] == "tick" and r[0] == "redraw" and t[1] == r[1] for t, r in pairs)
    qtbot.wait(60)
    n = clock.ticks
    qtbot.wait(80)
    assert clock.ticks == n  # nothing due, no ticker: the clock sleeps


class _FakeTime:
    """Stands in for the clock's QElapsedTimer: elapsed() is whatever the test says."""

    def __init__(self):
        self.ms = 0.0

    def elapsed(self) -> float:
        return self.ms


def test_ticks_fall_on_a_fixed_grid_whatever_the_frame_costs(qtbot):
    clock = FrameClock(40)
    clock.clock = now = _FakeTime()
    clock.tickers.append(lambda: None)  # playing: the clock re-arms after every tick
    now.ms = 1000.0
    clock._tick()
    assert clock.slot == 1000.0  # the first tick starts the grid
    now.ms = 1025.0  # a 25 ms frame: the next tick is due 15 ms later, at 1040
    clock.timer.stop()
    clock._arm()
    assert clock.timer.interval() == 15
    now.ms = 1046.0  # that tick came 6 ms late
    clock._tick()
    assert clock.slot == 1040.0  # ... and keeps to the grid: the next is due at 1080, 34 ms on
    now.ms = 1050.0
    clock.timer.stop()
    clock._arm()
    assert clock.timer.interval() == 30
    now.ms = 1078.5  # within the tolerance of its slot: runs at once
    clock.timer.stop()
    clock._arm()
    assert clock.timer.interval() == 0
    clock.timer.stop()


def test_a_tick_late_by_more_than_an_interval_starts_a_new_grid(qtbot):
    clock = FrameClock(20)
    clock.clock = now = _FakeTime()
    clock._tick()
    now.ms = 130.0  # the event loop stalled for 6 intervals: no burst of catch-up ticks
    clock._tick()
    assert clock.slot == 130.0 and clock.ticks == 2
    clock.schedule(1, lambda: None)
    assert clock.timer.interval() == 20  # the next one interval after the late tick
    clock.timer.stop()


def test_a_callback_that_requests_or_flushes_a_sibling_does_not_run_it_twice(qtbot):
    clock = frame_clock()
    ran: list[str] = []
    b = Coalescer(lambda: ran.append("b"))
    c = Coalescer(lambda: ran.append("c"))
    a = Coalescer(lambda: (ran.append("a"), b.request(), c.flush()))
    for x in (a, b, c):
        x.request()
    qtbot.waitUntil(lambda: len(ran) >= 3, timeout=2000)
    qtbot.wait(3 * FRAME_MS)
    assert sorted(ran) == ["a", "b", "c"]


def test_a_failing_callback_is_reported_and_the_frame_goes_on(qtbot, monkeypatch):
    clock = FrameClock(10)
    reported, ran = [], []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: reported.append(exc[0]))

    def boom():
        raise RuntimeError("a view failed")

    clock.schedule(1, boom)
    clock.schedule(2, lambda: ran.append(2))
    qtbot.waitUntil(lambda: ran == [2], timeout=2000)
    assert reported == [RuntimeError]
