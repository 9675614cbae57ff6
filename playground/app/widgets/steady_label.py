"""SteadyLabel: a label for a read-out that changes many times a second (the status bar's training figures, the time
bar's coefficients) without re-laying the window each time.

A QLabel's new text calls updateGeometry(), and every layout that activates then invalidates its parent's, up to the
main window: its dock layout re-places every dock and toolbar (a QPropertyAnimation each). bench ui measured that
chain at ~3.5 ms of UI-thread CPU per animation frame with training running. Qt stops the chain at a widget whose
minimum and maximum sizes are equal, so this label holds a fixed size that only grows: to the largest size hint its
texts have had (one re-layout then), never shrinking, so the read-out also stops jittering as its digits change.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QLabel, QWidget


class SteadyLabel(QLabel):
    """A QLabel whose fixed size grows to fit its largest text so far (see the module docstring)."""

    def __init__(self, text: str = "", min_width: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self._floor = int(min_width)  # the width never goes below this
        self._width = 0
        self.setText(text)

    def setText(self, text: str) -> None:
        if text == self.text() and self._width:
            return
        super().setText(text)  # no re-layout once the size is fixed (min == max)
        self._fit()

    def _fit(self) -> None:
        """Grow the fixed size to the size hint of the text shown (a no-op, so no re-layout, when it fits)."""
        hint = self.sizeHint()  # the text with margins, indent, frame and style sheet
        width = max(self._floor, hint.width())
        if width > self._width:
            self._width = width
            self.setFixedWidth(width)
        if self.minimumHeight() != hint.height() or self.maximumHeight() != hint.height():
            self.setFixedHeight(hint.height())

    def _refit(self) -> None:
        self._width = 0
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        """A new font or style: measure again once it is applied (a style sheet sets its margins after this event)."""
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            QTimer.singleShot(0, self, self._refit)
        super().changeEvent(event)
