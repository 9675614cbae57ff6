"""SamplerGrid: one side of the Sampling (images) panel, a sampler's image grid over a two-line info line.

It holds the side's run too: the sampler's key, its running worker thread, the latest live frame and the
finished outcome (`playground.app.workers.image_sampling_worker`), and draws the frame the panel wants shown: the
live one while sampling, else the stored frame nearest the time bar's t after it was moved, else the final samples;
as x_t, or as the denoised estimate x̂₀ of the latest score evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from playground.app.widgets.image_view import ImageGridView

if TYPE_CHECKING:
    from playground.app.workers.image_sampling_worker import ImageFrame, ImageSamplingOutcome, ImageSamplingThread

GridLayout = Callable[[int], tuple[int, "list[str] | None"]]  # n images -> (columns, tile captions or None)


class SamplerGrid(QWidget):
    """One sampler's grid and info line, with its running worker (thread), latest live frame and finished outcome."""

    def __init__(self, key: str, tooltip: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.key = key
        self.view = ImageGridView()
        self.view.setToolTip(tooltip)
        self.info = QLabel("")
        self.info.setMinimumHeight(2 * self.info.fontMetrics().lineSpacing() + 4)  # two lines: no layout jumps
        self.info.setToolTip("Sampler progress, NFE (score evaluations of the whole batch) and wall-clock seconds;\n"
                             "what the grid shows (x_t or the denoised estimate) and at which t.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.info)
        self.sampler = ""
        self.worker: ImageSamplingThread | None = None
        self.live: ImageFrame | None = None
        self.outcome: ImageSamplingOutcome | None = None

    def clear(self) -> None:
        """Forget the run's frames and empty the info line."""
        self.live = self.outcome = None
        self.info.setText("")

    def shown_frame(self, scrub_t: float | None) -> ImageFrame | None:
        """The frame to show: the live one while sampling, else the stored one nearest `scrub_t` (the time bar's t
        after it was moved), else the final samples (scrub_t None)."""
        if self.live is not None:
            return self.live
        if self.outcome is None or not self.outcome.frames:
            return None
        if scrub_t is None:
            return self.outcome.frames[-1]
        return self.outcome.frames[int(np.argmin(np.abs(self.outcome.frame_times - scrub_t)))]

    def draw(self, name: str, want_x0: bool, scrub_t: float | None, grid: GridLayout) -> None:
        """Show the frame (as x̂₀ when `want_x0` and the frame has one) with its info line; `name` is the sampler's
        display name, `grid` lays out n images."""
        if self.outcome is not None and self.outcome.error:
            self.view.set_message(f"Sampling failed: {self.outcome.error}")
            self.info.setText(f"{name}: failed")
            return
        f = self.shown_frame(scrub_t)
        if f is None:
            return
        if f.t == 0.0:
            pixels, what = f.x, "the samples (t = 0)"
        elif want_x0 and f.x0 is not None:
            pixels, what = f.x0, f"x̂₀ of the score at t = {f.x0_t:.3f}"
        else:
            pixels, what = f.x, f"x_t at t = {f.t:.3f}"
        columns, captions = grid(len(pixels))
        self.view.set_images(pixels.astype(np.float32) * (1 / 255), columns, captions)
        if self.live is not None:
            head = f"{name} · step {f.i}/{f.steps} · NFE {f.nfe}"
        else:
            o = self.outcome
            head = f"{name} · {o.steps} steps · NFE {o.nfe} · {o.seconds:.2f} s"
            if scrub_t is not None:
                what += f" (time bar {scrub_t:.3f})"
        self.info.setText(f"{head}\nshowing {what}")
