"""Text progress for headless training (the CLI): `ConsoleProgress`, a `Trainer.run` callback."""

from __future__ import annotations

import math
import time

import numpy as np

from playground.core.training.history import StepStats


class ConsoleProgress:
    """Text progress for headless training, used as `Trainer.run(callback=...)`: on a terminal one line updated in
    place with carriage returns (at most `hz` times a second), otherwise a plain line every `every` seconds.

    Shows step (of the total), a bar, loss (mean since the last update), it/s and the ETA from whichever limit,
    steps or seconds, comes first."""

    def __init__(self, total_steps: int | None = None, total_seconds: float | None = None, stream=None,
                 tty: bool | None = None, hz: float = 10.0, every: float = 5.0, width: int = 24):
        import sys

        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.total_steps = total_steps
        self.total_seconds = total_seconds
        self.interval = 1.0 / hz if self.tty else every
        self.width = width
        self._last = time.perf_counter()
        self._last_step: int | None = None
        self._losses: list[float] = []
        self._rate = 0.0
        self._line_len = 0
        self.lines = 0

    def fraction(self, stats: StepStats) -> float | None:
        parts = []
        if self.total_steps:
            parts.append(stats.step / self.total_steps)
        if self.total_seconds:
            parts.append(stats.seconds / self.total_seconds)
        return min(1.0, max(parts)) if parts else None

    def __call__(self, stats: StepStats, force: bool = False) -> None:
        if math.isfinite(stats.loss):
            self._losses.append(stats.loss)
        now = time.perf_counter()
        if self._last_step is None:
            self._last_step = stats.step - 1
        if not force and now - self._last < self.interval:
            return
        dt = now - self._last
        if dt > 0 and stats.step > self._last_step:
            inst = (stats.step - self._last_step) / dt
            self._rate = inst if self._rate == 0 else 0.5 * self._rate + 0.5 * inst
        self._last, self._last_step = now, stats.step
        self.write(self.format(stats))

    def format(self, stats: StepStats) -> str:
        loss = float(np.mean(self._losses)) if self._losses else float("nan")
        self._losses.clear()
        frac = self.fraction(stats)
        total = f"/{self.total_steps}" if self.total_steps else ""
        bar = ""
        if frac is not None:
            filled = int(round(frac * self.width))
            bar = " [" + "#" * filled + "." * (self.width - filled) + f"] {100 * frac:3.0f}%"
        etas = []
        if self.total_steps and self._rate > 0:
            etas.append(max(self.total_steps - stats.step, 0) / self._rate)
        if self.total_seconds:
            etas.append(max(self.total_seconds - stats.seconds, 0.0))
        eta = f"  ETA {_clock(min(etas))}" if etas else ""
        return f"step {stats.step}{total}{bar}  loss {loss:.4f}  {self._rate:.0f} it/s  lr {stats.lr:.2e}{eta}"

    def write(self, line: str) -> None:
        if self.tty:
            pad = max(0, self._line_len - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._line_len = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.lines += 1

    def close(self, stats: StepStats | None = None) -> None:
        """Print the final state (and end the in-place line on a terminal)."""
        if stats is not None:
            self(stats, force=True)
        if self.tty and self._line_len:
            self.stream.write("\n")
            self.stream.flush()
            self._line_len = 0


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
