"""SteadyLabel: a one-line label for a read-out that changes many times a second (the status bar's training figures,
the time bar's coefficients) without re-laying the window each time.

A QLabel's new text calls updateGeometry(), and every layout that activates then invalidates its parent's, up to the
main window: its dock layout re-places every dock and toolbar (a QPropertyAnimation each). bench ui measured that
chain at ~3.5 ms of UI-thread CPU per animation frame with training running. Qt stops the chain at a widget whose
minimum and maximum sizes are equal, so this label holds a fixed size that only grows: to the widest text it has
shown (one re-layout then), never shrinking, so the read-out also stops jittering as its digits change.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QWidget


class SteadyLabel(QLabel):
    """A QLabel of one line whose fixed size grows to fit its widest text so far (see the module docstring)."""

    def __init__(self, text: str = "", min_width: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self._floor = int(min_width)  # the width never goes below this
        self._width = 0
        self.setText(text)

    def setText(self, text: str) -> None:
        if text == self.text() and self._width:
            return
        self._fit(text)
        super().setText(text)

    def _fit(self, text: str) -> None:
        """Grow the fixed size to fit `text` (a no-op, so no re-layout, when it already fits)."""
        m = self.contentsMargins()
        extra = m.left() + m.right() + 2 * self.margin()
        width = max(self._floor, self.fontMetrics().horizontalAdvance(text) + extra + 2)
        height = self.fontMetrics().height() + m.top() + m.bottom() + 2 * self.margin()
        if width > self._width:
            self._width = width
            self.setFixedWidth(width)
        if self.minimumHeight() != height or self.maximumHeight() != height:
            self.setFixedHeight(height)

    def changeEvent(self, event: QEvent) -> None:
        """A new font or style: measure again from the current text."""
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._width = 0
            self._fit(self.text())
        super().changeEvent(event)
