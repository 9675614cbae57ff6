"""Play / pause and a slider over a run's stored frames: left t = T (the prior), right t = 0 (the samples); playing
sweeps from the left (or from where the slider is) to the right in PLAY_SECONDS."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSlider, QStyle, QWidget

from playground.app.widgets.plot_items import FRAME_MS

SLIDER_MAX = 1000
PLAY_SECONDS = 4.0


class PlaybackBar(QWidget):
    """The play button and the slider; `slider.valueChanged` says the playback position moved."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.play_btn = QPushButton()
        self.play_btn.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_btn.setToolTip("Play the stored frames from t = T (noise) to t = 0 (samples).")
        self.play_btn.setCheckable(True)
        self.play_btn.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_MAX)
        self.slider.setValue(SLIDER_MAX)
        self.slider.setToolTip("Playback position: left t = T (the prior), right t = 0 (the samples).")
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.play_btn)
        lay.addWidget(self.slider, 1)

    def time(self) -> float:
        """The playback position as t / T: 1 at the left, 0 at the right."""
        return 1.0 - self.slider.value() / SLIDER_MAX

    def set_available(self, on: bool) -> None:
        """Enable the button and the slider (when there are frames to replay and nothing runs)."""
        self.play_btn.setEnabled(on)
        self.slider.setEnabled(on)

    def pause(self) -> None:
        self.play_btn.setChecked(False)

    def shutdown(self) -> None:
        self._timer.stop()

    def to_end(self) -> None:
        """Move to t = 0 without a signal (a run just finished: its samples are shown)."""
        self.slider.blockSignals(True)
        self.slider.setValue(SLIDER_MAX)
        self.slider.blockSignals(False)

    def _on_play(self, on: bool) -> None:
        self.play_btn.setIcon(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaPause if on else QStyle.StandardPixmap.SP_MediaPlay))
        if on:
            if self.slider.value() >= SLIDER_MAX:
                self.slider.setValue(0)
            self._timer.start()
        else:
            self._timer.stop()

    def _tick(self) -> None:
        step = max(1, int(SLIDER_MAX * FRAME_MS / 1000 / PLAY_SECONDS))
        v = min(SLIDER_MAX, self.slider.value() + step)
        self.slider.setValue(v)
        if v >= SLIDER_MAX:
            self.play_btn.setChecked(False)


__all__ = ["PLAY_SECONDS", "PlaybackBar", "SLIDER_MAX"]
