"""One side of the Sampling panel: a plot (the density image of all particles, a subset of dots, the paths of a
subset) over an info line that says how the run went (sampler, steps, NFE, time, SWD against the target, the
PF-ODE's straightness)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from playground.app.geometry import Rect
from playground.app.samplers import sampler_name
from playground.app.widgets.plot_items import CentredMessage, DensityImage, DotCloud, TrajectoryCurve, plot_widget, set_view

if TYPE_CHECKING:
    from playground.app.workers.sampling_worker import Frame, Outcome


def live_text(sampler: str, f: Frame) -> str:
    """The info line while a run is going."""
    return f"{sampler_name(sampler)}: step {f.i}/{f.steps}   t = {f.t:.3f}   NFE {f.nfe}"


def outcome_text(sampler: str, o: Outcome | None) -> str:
    """The info line of a finished (or failed) run: steps, NFE, time, the SWD ratio, the PF-ODE's straightness,
    diverged samples."""
    name = sampler_name(sampler)
    if o is None:
        return name
    if o.error and o.x is None:
        return f"{name}: failed — {o.error}"
    parts = [f"{name} ({o.sampler})", f"{o.steps} steps", f"NFE {o.nfe}", f"{o.seconds:.2f} s"]
    if np.isfinite(o.swd):
        parts.append(f"SWD {o.swd:.3f} = {o.swd_ratio:.2f}× floor")
    if np.isfinite(o.straightness):
        parts.append(f"straightness {o.straightness:.3g}")
    text = "   ".join(parts)
    if o.n_nonfinite:
        n = len(o.x)
        text += (f"\n⚠ {o.n_nonfinite:,} of {n:,} samples are NaN/inf (diverged)"
                 + ("; SWD over the finite ones" if np.isfinite(o.swd) else ""))
    if o.error:
        text += f"\n{o.error}"
    return text


class SamplingView(QWidget):
    """The plot and its info line; `shown_frame` is the frame on screen (drawn again only when it changes)."""

    def __init__(self, title: str, dots_max: int, path_alpha: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = plot_widget(title)
        pi = self.plot.getPlotItem()
        self.density = DensityImage(pi, bins=256, colormap="magma")
        self.paths = TrajectoryCurve(pi, color=(110, 190, 255, path_alpha))
        self.dots = DotCloud(pi, color=(255, 255, 255, 200), width=2.0, max_points=dots_max)
        self.message = CentredMessage(pi)
        self.info = QLabel("—")
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.info.setToolTip("NFE: score evaluations; time: wall-clock of the run; SWD: sliced Wasserstein distance "
                             "to fresh target samples,\nand its ratio to the floor of two independent target sets "
                             "(1 = indistinguishable from the target).\nStraightness (PF-ODE side; Liu et al. "
                             "2023): mean squared deviation of the first 1,000 paths' velocity from their chord,\n"
                             "in data units² (0 = straight lines run at constant speed: one Euler step integrates "
                             "them exactly).")
        self.shown_frame: Frame | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.info)

    def set_title(self, text: str) -> None:
        self.plot.getPlotItem().setTitle(text)

    def set_rect(self, rect: Rect) -> None:
        set_view(self.plot, rect)

    def clear(self, message: str) -> None:
        """No particles; `message` in the middle."""
        self.density.clear()
        self.dots.clear()
        self.paths.clear()
        self.message.show(message)

    def draw(self, frame: Frame, paths: np.ndarray | None, rect: Rect, show_paths: bool) -> None:
        """Show `frame` (its density image over `rect` and its dots) and the paths up to it."""
        self.message.hide()
        if self.shown_frame is not frame:
            self.density.set_rect(rect)
            self.density.set_u8(frame.image)
            self.dots.set_dot_size((rect[1] - rect[0]) / 700)
            self.dots.set_points(frame.dots)
            self.shown_frame = frame
        self.paths.set_visible(show_paths)
        if show_paths:
            self.paths.set_paths(paths if paths is not None and len(paths) > 1 else None)


__all__ = ["SamplingView", "live_text", "outcome_text"]
