"""The status bar's training read-out: device, optimiser step, last loss, steps per second, ETA and a progress bar
to the step / time limit (Settings > Stop after)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from playground.app.widgets.steady_label import SteadyLabel

TIPS = {
    "device": "Where training runs (Settings > Device).",
    "step": "Optimiser steps done.",
    "loss": "The last training loss (see the Training panel for the curve).",
    "its": "Training speed: optimiser steps per second.",
    "eta": "Time left until the step or time limit (Settings > Stop after).",
}


def format_seconds(s: float) -> str:
    """'42 s', '3:07' or '1:02:03'."""
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)}:{int(s % 60):02d}"
    return f"{int(s // 3600)}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"


class TrainingStatus:
    """The permanent widgets of `status_bar` (`labels` by key, `progress`), refreshed from the training controller."""

    def __init__(self, status_bar: QStatusBar, controller, state):
        self.controller = controller
        self.state = state
        self.labels: dict[str, QLabel] = {}
        for key in ("device", "step", "loss", "its", "eta"):
            lab = SteadyLabel(min_width=70)  # a new text must not re-lay the window (many a second)
            lab.setToolTip(TIPS[key])
            status_bar.addPermanentWidget(lab)
            self.labels[key] = lab
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.progress.setToolTip("Progress to the step / time limit.")
        status_bar.addPermanentWidget(self.progress)

    def refresh(self, *_args) -> None:
        """Show the controller's current step, loss, speed, ETA and progress."""
        c = self.controller
        s = self.state.settings
        lab = self.labels
        dev = getattr(c.trainer, "device", None)
        lab["device"].setText(f"device: {dev if dev is not None else s.device}")
        lab["step"].setText(f"step {c.step:,} / {s.steps:,}")
        lab["loss"].setText(f"loss {c.last_loss:.4g}" if np.isfinite(c.last_loss) else "loss –")
        lab["its"].setText(f"{c.its:,.0f} it/s" if c.its > 0 else "– it/s")
        eta = c.eta_seconds()
        lab["eta"].setText(f"ETA {format_seconds(eta)}" if eta is not None and (c.running or c.step) else "ETA –")
        f = c.progress_fraction()
        self.progress.setValue(int(round(1000 * f)))
        self.progress.setFormat(f"{100 * f:.0f}%")
