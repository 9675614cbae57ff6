"""FrameClock: one paced tick for every view's redraw and for the time bar, so that one frame's work runs in one
event-loop turn.

Each view used to pace its own redraws with its own timer, so the views of one frame ran at different moments, each
on its own phase against the time bar's timer. Here the time bar advances t at the start of a tick and every view
redraw that is due runs right after it in the same turn, all for that frame's t. (Qt still paints each pyqtgraph
view in a pass of its own: a scene syncs its viewport as soon as it has processed its changed items.) Ticks fall on
a fixed grid of FRAME_MS (a frame whose work takes w ms
still comes every FRAME_MS, not every FRAME_MS + w, and a tick a few ms late does not delay the ones after it; one
more than a whole interval late starts a new grid, so missed ticks never pile up) and the clock sleeps while
nothing is due.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, Qt, QTimer

FRAME_MS = 30  # one panel frame: views redraw at most every 30 ms (~33 Hz, so a late frame still keeps >= 30 fps)
SMOOTH_MS = 16  # the frame while the time bar plays with View > Smooth animation (~60 fps; bench ui measures it)


class FrameClock:
    """Runs, once per tick, the tickers (callables run at the start of every tick while registered: the time bar
    while it plays) and then the callbacks scheduled since the last tick (each at most once)."""

    TOLERANCE_MS = 3  # a tick this close to due runs now (timer jitter must not cost a whole frame)

    def __init__(self, interval_ms: int = FRAME_MS):
        self.interval = int(interval_ms)
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.clock.start()
        self.slot = -float("inf")  # ms on `clock` of the grid slot of the last tick
        self.tickers: list[Callable[[], None]] = []
        self.due: dict[int, Callable[[], None]] = {}  # by key, in the order scheduled
        self._batch: dict[int, Callable[[], None]] = {}  # the tick's callbacks not yet run (a callback may cancel one)
        self.ticks = 0

    def schedule(self, key: int, fn: Callable[[], None]) -> None:
        """Run fn in the next tick (once, however often it is scheduled before that; not again when it is still to
        run in the tick going on)."""
        if key in self._batch:
            return
        self.due.setdefault(key, fn)
        self._arm()

    def cancel(self, key: int) -> None:
        self.due.pop(key, None)
        self._batch.pop(key, None)

    def is_due(self, key: int) -> bool:
        return key in self.due or key in self._batch

    def add_ticker(self, fn: Callable[[], None]) -> None:
        if fn not in self.tickers:
            self.tickers.append(fn)
        self._arm()

    def remove_ticker(self, fn: Callable[[], None]) -> None:
        if fn in self.tickers:
            self.tickers.remove(fn)

    def _arm(self) -> None:
        if self.timer.isActive():
            return
        wait = self.slot + self.interval - self.clock.elapsed()
        self.timer.start(0 if wait <= self.TOLERANCE_MS else int(wait))

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.slot += self.interval
        if now - self.slot >= self.interval:  # a whole interval late (or the first tick after a pause): new grid
            self.slot = now
        self.ticks += 1
        for fn in list(self.tickers):
            _call(fn)
        self._batch, self.due = self.due, {}  # what these schedule runs in the next tick
        while self._batch:
            _call(self._batch.pop(next(iter(self._batch))))
        if self.tickers or self.due:
            self._arm()


def _call(fn: Callable[[], None]) -> None:
    """Run one frame callback; an exception is reported (sys.excepthook) and the frame's other callbacks still run."""
    try:
        fn()
    except Exception:
        sys.excepthook(*sys.exc_info())


_CLOCK: FrameClock | None = None


def frame_clock() -> FrameClock:
    """The GUI thread's clock (made on first use)."""
    global _CLOCK
    if _CLOCK is None:
        _CLOCK = FrameClock()
    return _CLOCK
