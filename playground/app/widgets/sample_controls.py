"""SampleControls: the Sampling (images) panel's run row.

    Resample | Stop | seed | New seed | n images | show x̂₀ / x_t | Follow training

The row holds the choices; the panel connects the buttons and combos to its runs.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QSpinBox, QWidget

GRID_SIZES = (16, 36, 64)


class SampleControls(QWidget):
    """Resample, Stop, the seed, New seed, the grid size, what the grids show and Follow training."""

    def __init__(self, seed: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.resample_btn = QPushButton("Resample")
        self.resample_btn.setToolTip("Sample again with both samplers from one seeded x_T ~ N(0, σ_T² I).")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Cancel the running sampling.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setValue(int(seed))
        self.seed.setToolTip("Seed of the starting noise x_T (shared by both sides), of the SDE's noise and of the\n"
                             "random classes; the same seed gives the same images. Applies on Resample.")
        self.new_seed_btn = QPushButton("New seed")
        self.new_seed_btn.setToolTip("Pick a new seed and resample.")
        self.count = QComboBox()
        for n in GRID_SIZES:
            self.count.addItem(f"{n} images", n)
        self.count.setCurrentIndex(len(GRID_SIZES) - 1)
        self.count.setToolTip("How many images each side samples (one batch).")
        self.show_what = QComboBox()
        self.show_what.addItem("show x̂₀ (denoised)", "x0")
        self.show_what.addItem("show x_t", "x")
        self.show_what.setToolTip("What the grids show while sampling and when scrubbing: the sampler's state x_t, or\n"
                                  "the denoised estimate x̂₀ = (x + σ² s_θ) / α (Tweedie) of its latest score\n"
                                  "evaluation. The finished samples (t = 0) are the same either way.")
        self.auto = QCheckBox("Follow training")
        self.auto.setChecked(True)
        self.auto.setToolTip("Resample (same seed) when training delivers a new model snapshot (after the run in\n"
                             "progress has finished) and when the sampler settings change; off: press Resample.")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.resample_btn, self.stop_btn, self.seed, self.new_seed_btn, self.count, self.show_what,
                  self.auto):
            row.addWidget(w)
        row.addStretch(1)

    def grid_size(self) -> int:
        """How many images each side samples."""
        return int(self.count.currentData())

    def want_x0(self) -> bool:
        """The grids show the denoised estimate x̂₀ (else the sampler's state x_t)."""
        return self.show_what.currentData() == "x0"

    def sync(self, usable: bool, running: bool) -> None:
        """Resample and New seed when a model can sample; Stop while it does."""
        self.resample_btn.setEnabled(usable)
        self.new_seed_btn.setEnabled(usable)
        self.stop_btn.setEnabled(running)
