"""The shared time bar: one slider for t in [0, T] that every panel follows, with play / loop / speed.

It writes only `state.set_time(t)` and listens to `state.timeChanged`, so anything else that moves t (a test, the
bench, a panel) keeps the slider in step.
"""

from __future__ import annotations

import math
import time
from functools import partial

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QToolButton,
    QWidget,
)

from playground.app.geometry import SdeCache
from playground.app.state import AppState
from playground.app.widgets.frame_clock import FRAME_MS, SMOOTH_MS, frame_clock
from playground.app.widgets.steady_label import SteadyLabel

TICKS = 1000  # slider resolution: t = tick / TICKS * T
SWEEP_SECONDS = 4.0  # a full sweep 0 -> T at speed 1x
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class TimeBar(QWidget):
    """Slider t in [0, T], a t spin box, play/pause, loop, direction and speed, and the current alpha(t), sigma(t)."""

    playingChanged = Signal(bool)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.T = 1.0
        self._last_tick = 0.0
        self._sde_cache = SdeCache()
        self._coef_text = None
        # frame-rate aware: while playing, t advances at the start of every tick of the views' frame clock, so the
        # views redraw for the new t in the same event-loop turn; each tick advances t by the real time since the
        # last one, so a late tick (busy event loop) costs smoothness, never speed, and ticks never pile up
        self.clock = frame_clock()
        self._playing = False
        self.smooth = True  # while playing, frames every SMOOTH_MS (~60 fps) instead of FRAME_MS (View menu)
        self.destroyed.connect(partial(self.clock.remove_ticker, self._advance))  # a bar deleted while playing

        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)

        self.play_button = QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip(
            "Animate t (shortcut: P). Every panel follows t: forward diffusion shows p_t, the score field shows "
            "s_\u03b8(x, t), the sampling views show the particles at time t."
        )
        self.play_button.toggled.connect(self.set_playing)
        lay.addWidget(self.play_button)

        lay.addWidget(QLabel("t"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, TICKS)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(100)
        self.slider.setMinimumWidth(160)
        self.slider.setToolTip(
            "Diffusion time t \u2208 [0, T], T = 1. t = 0 is the data, t = T the prior (noise). "
            "x_t = \u03b1(t) x\u2080 + \u03c3(t) \u03b5."
        )
        self.slider.valueChanged.connect(self._on_slider)
        lay.addWidget(self.slider, 1)

        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, self.T)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.01)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("The current time t (type a value; 0 = data, 1 = noise).")
        self.spin.valueChanged.connect(lambda v: self.state.set_time(v))
        lay.addWidget(self.spin)

        self.coef_label = SteadyLabel(min_width=130)  # changes at every frame: must not re-lay the window
        self.coef_label.setToolTip(
            "The marginal coefficients at t for the current SDE: x_t | x\u2080 ~ N(\u03b1(t) x\u2080, \u03c3(t)\u00b2 I) "
            "in normalised coordinates."
        )
        lay.addWidget(self.coef_label)

        self.direction = QComboBox()
        self.direction.addItem("0 \u2192 T (noising)", 1)
        self.direction.addItem("T \u2192 0 (sampling)", -1)
        self.direction.setToolTip(
            "Direction of the animation: 0 \u2192 T follows the forward SDE (data to noise), T \u2192 0 follows "
            "the reverse SDE / PF-ODE (noise to data)."
        )
        lay.addWidget(self.direction)

        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        self.loop.setToolTip("Start over at the other end when the animation reaches 0 or T; otherwise stop there.")
        lay.addWidget(self.loop)

        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}\u00d7", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip(f"Animation speed: 1\u00d7 sweeps [0, T] in {SWEEP_SECONDS:g} s.")
        lay.addWidget(self.speed)

        state.timeChanged.connect(self._sync)
        state.settingsChanged.connect(lambda _names: self._update_coefficients())
        state.targetChanged.connect(self._update_coefficients)
        self._sync(state.t)

    # ---- playing ---------------------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    def set_playing(self, on: bool) -> None:
        if on == self.playing:
            return
        if on:
            d = int(self.direction.currentData())
            # starting at the end of the sweep: jump back to its start
            if (d > 0 and self.state.t >= self.T) or (d < 0 and self.state.t <= 0.0):
                self.state.set_time(0.0 if d > 0 else self.T)
            self._last_tick = time.perf_counter()
            self.clock.add_ticker(self._advance)
        else:
            self.clock.remove_ticker(self._advance)
        self._playing = on
        self._set_frame()
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.blockSignals(False)
        icon = QStyle.StandardPixmap.SP_MediaPause if on else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.playingChanged.emit(on)

    def set_smooth(self, on: bool) -> None:
        """Animate at ~60 fps (SMOOTH_MS) or ~33 fps (FRAME_MS) while playing."""
        self.smooth = bool(on)
        self._set_frame()

    def _set_frame(self) -> None:
        self.clock.interval = SMOOTH_MS if self._playing and self.smooth else FRAME_MS

    def toggle_playing(self) -> None:
        self.set_playing(not self.playing)

    def _advance(self) -> None:
        now = time.perf_counter()
        dt = min(now - self._last_tick, 0.1)  # a stalled event loop must not make t jump
        self._last_tick = now
        d = int(self.direction.currentData())
        t = self.state.t + d * float(self.speed.currentData()) * dt * self.T / SWEEP_SECONDS
        if t > self.T or t < 0.0:
            if self.loop.isChecked():
                t = 0.0 if d > 0 else self.T
            else:
                self.state.set_time(min(max(t, 0.0), self.T))
                self.set_playing(False)
                return
        self.state.set_time(t)

    # ---- syncing ---------------------------------------------------------------------------------------------
    def _on_slider(self, tick: int) -> None:
        self.state.set_time(tick / TICKS * self.T)

    def _sync(self, t: float) -> None:
        for w, v in ((self.slider, int(round(t / self.T * TICKS))), (self.spin, t)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self._update_coefficients()

    def _update_coefficients(self) -> None:
        try:
            sde = self._sde_cache.get(self.state)  # state.sde() can cost a cdist (VE): not on every tick
            a, s = sde.marginal_coefficients(torch.tensor([max(self.state.t, 1e-5)], dtype=torch.float64))
            a, s = float(a[0]), float(s[0])
        except Exception:  # noqa: BLE001 - a read-out only; never break the bar
            text = ""
        else:
            if not (math.isfinite(a) and math.isfinite(s)):
                return
            text = f"\u03b1(t) = {a:.3f}   \u03c3(t) = {s:.3g}"
        if text != self._coef_text:
            self._coef_text = text
            self.coef_label.setText(text)
