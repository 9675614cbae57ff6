"""SamplingControls: the Sampling panel's run row, in a flow layout that wraps in a narrow dock.

    Resample | Stop | seed | New seed | Use exact score | Follow | Trajectories | Fit ▾

The row holds the choices; the panel connects the buttons and boxes to its runs. Fit: the views' axes to the
samples (robust 0.5 / 99.5 % quantiles), or to the samples and their trajectories (VE's prior starts far outside the
data), or back to the target's box.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QMenu, QPushButton, QSpinBox, QToolButton, QWidget

from playground.app.widgets.flow_layout import FlowLayout

FIT_MODES = {
    "samples": ("Fit to the samples", "Fit both views' axes to the samples (0.5–99.5 % quantiles) and the target."),
    "paths": ("Fit to the trajectories", "Fit the axes to the whole trajectories too: where the particles start (under "
              "VE far outside the data) and how they come in."),
    "target": ("Fit to the target", "The target's box (0.5–99.5 % quantiles): the default after a target change."),
}


class SamplingControls(QWidget):
    """Resample, Stop, the seed, New seed, the score source, Follow, Trajectories and Fit."""

    fitRequested = Signal(str)  # a key of FIT_MODES

    def __init__(self, seed: int, follow_seconds: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.resample_btn = QPushButton("Resample")
        self.resample_btn.setToolTip("Sample again from the same seed with both samplers (and the current settings).")
        self.cancel_btn = QPushButton("Stop")
        self.cancel_btn.setToolTip("Cancel the running sampling.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(seed))
        self.seed.setPrefix("seed ")
        self.seed.setToolTip("Seed of the starting noise x_T ~ N(0, σ_T² I) (shared by both sides) and of the SDE's\n"
                             "noise; the same seed reproduces the same samples.")
        self.new_seed_btn = QPushButton("New seed")
        self.new_seed_btn.setToolTip("Pick a new seed and resample.")
        self.use_exact = QCheckBox("Use exact score")
        self.use_exact.setToolTip("Sample with the target's exact score instead of the network (the closed form of a\n"
                                  "Gaussian mixture, else the ideal denoiser of its point set): compare learned\n"
                                  "against exact. Before any training the views use the exact score anyway, and say so.")
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.follow.setToolTip(f"Resample by itself: at once when the target, the SDE, a sampler or its options\n"
                               f"change, and every {follow_seconds:g} s while training (on fewer particles, so the\n"
                               "trainer keeps its speed). Off: the views clear on a change; press Resample.")
        self.show_paths = QCheckBox("Trajectories")
        self.show_paths.setChecked(True)
        self.show_paths.setToolTip("Draw the paths of the first n_trajectories particles (thin, translucent).")
        self.fit_btn = QToolButton()
        self.fit_btn.setText("Fit")
        self.fit_btn.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.fit_btn.setToolTip("Fit the axes to the samples; the arrow offers the trajectories or the target's box.")
        menu = QMenu(self.fit_btn)
        menu.setToolTipsVisible(True)
        self.fit_actions: dict[str, QAction] = {}
        for key, (text, tip) in FIT_MODES.items():
            a = menu.addAction(text)
            a.setToolTip(tip)
            a.triggered.connect(lambda _c=False, k=key: self.fitRequested.emit(k))
            self.fit_actions[key] = a
        self.fit_btn.setMenu(menu)
        self.fit_btn.clicked.connect(lambda: self.fitRequested.emit("samples"))
        row = FlowLayout(self, spacing=4)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.resample_btn, self.cancel_btn, self.seed, self.new_seed_btn, self.use_exact, self.follow,
                  self.show_paths, self.fit_btn):
            row.addWidget(w)


__all__ = ["FIT_MODES", "SamplingControls"]
