"""The Export dialog's Animation box: frames per second, duration and size, and the frames they make."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from playground.app.dialogs.export.items import MAX_FRAMES, frame_count


class AnimationOptions(QGroupBox):
    """Speed (fps), duration (s) and size (px) of an animation export."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Animation", parent)
        af = QFormLayout(self)
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(15)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Frames per second.")
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.2, 60.0)
        self.duration.setValue(3.0)
        self.duration.setSingleStep(0.5)
        self.duration.setSuffix(" s")
        self.duration.setToolTip(f"Length of the animation (fps x duration frames, at most {MAX_FRAMES}).")
        size_row = QHBoxLayout()
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for sp, v, name in ((self.width_spin, 480, "Width"), (self.height_spin, 480, "Height")):
            sp.setRange(32, 3840)
            sp.setValue(v)
            sp.setSuffix(" px")
            sp.setToolTip(f"{name} of the animation in pixels.")
            size_row.addWidget(sp)
        self.frames_label = QLabel()
        self.frames_label.setToolTip("Frames that will be rendered.")
        size_row.addWidget(self.frames_label)
        af.addRow("Speed", self.fps)
        af.addRow("Duration", self.duration)
        af.addRow("Size", size_row)
        for sp in (self.fps, self.duration):
            sp.valueChanged.connect(self.update_frames_label)
        self.update_frames_label()

    def frame_size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width_spin.value(), self.height_spin.value()

    def update_frames_label(self, *_args) -> None:
        self.frames_label.setText(f"{frame_count(self.fps.value(), self.duration.value())} frames")
