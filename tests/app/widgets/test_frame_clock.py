"""FrameClock: the time bar's tick and every view redraw due in a frame run in one event-loop turn; ticks fall on
a fixed grid; a failing callback does not stop the others; the clock sleeps when idle."""

from __future__ import annotations

import sys
import time

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


def test_ticks_fall_on_a_fixed_grid_whatever_the_frame_costs(qtbot):
    clock = FrameClock(40)
    starts: list[float] = []

    def slow():
        starts.append(time.perf_counter())
        time.sleep(0.025)  # a 25 ms frame

    clock.add_ticker(slow)
    qtbot.waitUntil(lambda: len(starts) >= 8, timeout=3000)
    clock.remove_ticker(slow)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.040 - 0.012  # one tick per 40 ms slot (a late tick's successor keeps to the grid)
    mean = (starts[-1] - starts[0]) / (len(starts) - 1)
    assert 0.036 <= mean < 0.040 + 0.008  # paced start to start (end to start would be >= 65 ms)


def test_a_tick_late_by_more_than_an_interval_starts_a_new_grid(qtbot):
    clock = FrameClock(20)
    starts: list[float] = []
    clock.add_ticker(lambda: starts.append(time.perf_counter()))
    qtbot.waitUntil(lambda: len(starts) >= 2, timeout=2000)
    time.sleep(0.1)  # the event loop stalls for 5 intervals
    n = len(starts)
    qtbot.waitUntil(lambda: len(starts) >= n + 3, timeout=2000)
    clock.timer.stop()
    clock.tickers.clear()
    after = [b - a for a, b in zip(starts[n:], starts[n + 1:])]
    assert min(after) >= 0.020 - 0.008  # no burst of catch-up ticks


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
