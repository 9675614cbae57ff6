"""The stochasticity dial lam of the reverse-process family dx = [f - (1 + lam^2)/2 g^2 s] dt + lam g dw_bar (Song et
al. 2021, App. D.1): lam = 0 the PF-ODE, 1 the reverse SDE, above 1 more stochastic; every lam has the same marginals.

    λ  0 ──────●──────── 3  [1.00]

A labelled slider (superqt) with throttled signals, so a drag costs a few sampling runs, not one per pixel:
`previewed(lam)` while the handle is dragged, at most every PREVIEW_MS; `committed(lam)` once it is released, or
COMMIT_MS after the last keyboard / wheel / typed change. `show_value` sets the value without emitting anything.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget
from superqt import QLabeledDoubleSlider

LAM_MAX = 3.0
LAM_STEP = 0.05
PREVIEW_MS = 300  # at most ~3 runs a second while dragging
COMMIT_MS = 400  # a burst of key presses or wheel steps is one change
TIP = ("Stochasticity λ of the left view's Euler–Maruyama sampler: dx = [f − (1 + λ²)/2 g² s] dt + λ g dw̄\n"
       "(Song et al. 2021, App. D.1). λ = 0 is the probability-flow ODE (smooth paths), λ = 1 the reverse SDE, λ > 1\n"
       "more noise; every λ has the same marginals p_t, so the end distribution stays while the paths change.\n"
       "Moving it re-runs the left view from the same x_T and the same Brownian increments (the seed); the right\n"
       "view keeps its run.")


class StochasticitySlider(QWidget):
    """λ in [0, LAM_MAX] in steps of LAM_STEP; see the module docstring for the signals."""

    previewed = Signal(float)
    committed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel("stochasticity λ")
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0.0, LAM_MAX)
        self.slider.setSingleStep(LAM_STEP)
        self.slider.setPageStep(0.25)
        self.slider.setDecimals(2)
        self.slider.setValue(1.0)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.slider, 1)
        self._preview = QTimer(self, singleShot=True, interval=PREVIEW_MS)
        self._preview.timeout.connect(lambda: self.previewed.emit(self.value()))
        self._commit = QTimer(self, singleShot=True, interval=COMMIT_MS)
        self._commit.timeout.connect(lambda: self.committed.emit(self.value()))
        self._quiet = False
        self.slider.valueChanged.connect(self._on_value)
        self.slider.sliderReleased.connect(self._on_release)
        self.set_available(True)

    def value(self) -> float:
        """The value on the LAM_STEP grid (the slider's float arithmetic leaves ~1e-16 residues)."""
        return round(round(float(self.slider.value()) / LAM_STEP) * LAM_STEP, 10)

    def show_value(self, lam: float) -> None:
        """Show `lam` without emitting (a value applied elsewhere: undo, a workspace, the sampler's options)."""
        self._quiet = True
        try:
            self.slider.setValue(float(lam))
        finally:
            self._quiet = False

    def set_available(self, available: bool, why: str = "") -> None:
        """Enable the dial, or disable it with `why` (the left sampler has no λ) as its tooltip."""
        self.setEnabled(available)
        self.setToolTip(TIP if available else f"{why}\n\n{TIP}")
        if not available:
            self._preview.stop()
            self._commit.stop()

    def _on_value(self, _v: float) -> None:
        if self._quiet:
            return
        if self.slider.isSliderDown():
            if not self._preview.isActive():
                self._preview.start()  # the first preview PREVIEW_MS after the drag starts, then every PREVIEW_MS
        else:
            self._commit.start()

    def _on_release(self) -> None:
        self._preview.stop()
        self._commit.stop()
        self.committed.emit(self.value())


__all__ = ["LAM_MAX", "LAM_STEP", "StochasticitySlider"]
