"""The Export dialog's Animation box: frames per second, duration and size (the height follows the panels' shape
unless 'keep the panels' shape' is off), and the frames they make."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QWidget

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
        for sp, v, name in ((self.width_spin, 640, "Width"), (self.height_spin, 480, "Height")):
            sp.setRange(32, 3840)
            sp.setValue(v)
            sp.setSuffix(" px")
            sp.setToolTip(f"{name} of the animation in pixels (the panels are drawn at this size: text keeps its "
                          "size).")
            size_row.addWidget(sp)
        self.keep_aspect = QCheckBox("keep the panels' shape")
        self.keep_aspect.setChecked(True)
        self.keep_aspect.setToolTip("The height follows the width so the animation has the shape the panels have on "
                                    "screen (two sampling views side by side: a wide picture).")
        self.keep_aspect.toggled.connect(self._follow_aspect)
        self.width_spin.valueChanged.connect(self._follow_aspect)
        self.aspect = 1.0
        self.frames_label = QLabel()
        self.frames_label.setToolTip("Frames that will be rendered.")
        size_row.addWidget(self.frames_label)
        af.addRow("Speed", self.fps)
        af.addRow("Duration", self.duration)
        af.addRow("Size", size_row)
        af.addRow("", self.keep_aspect)
        for sp in (self.fps, self.duration):
            sp.valueChanged.connect(self.update_frames_label)
        self.update_frames_label()

    def set_aspect(self, aspect: float) -> None:
        """The panels' width / height (the export dialog sets it for the chosen animation)."""
        self.aspect = max(0.05, float(aspect))
        self._follow_aspect()

    def _follow_aspect(self, *_args) -> None:
        keep = self.keep_aspect.isChecked()
        self.height_spin.setEnabled(not keep)
        if keep:
            self.height_spin.setValue(int(round(self.width_spin.value() / self.aspect)))

    def frame_size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width_spin.value(), self.height_spin.value()

    def update_frames_label(self, *_args) -> None:
        self.frames_label.setText(f"{frame_count(self.fps.value(), self.duration.value())} frames")
