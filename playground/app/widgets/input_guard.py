"""InputGuard: an application-wide event filter for spin boxes and combo boxes.

- The mouse wheel changes a spin box or combo box only while it has the keyboard focus (click it first); over an
  unfocused one the wheel scrolls the panel around it instead (scrolling the Settings dock must never turn the
  learning rate from 0.003 into 0.17 on its way).
- A typed value a spin box refuses says why: a keystroke Qt would drop, or text that Qt would silently revert when
  Enter is pressed or the focus leaves, shows the allowed range in a tooltip at the box and in `rejected(str)` (the
  main window's status bar).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QToolTip, QWidget

ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def allowed_text(box: QAbstractSpinBox) -> str:
    """'between 1e-05 and 1' (and the special value, if the box has one)."""
    lo, hi = box.textFromValue(box.minimum()), box.textFromValue(box.maximum())
    special = box.specialValueText()
    return f"a number between {lo} and {hi}" + (f" (or '{special}')" if special else "")


def box_name(box: QWidget) -> str:
    """What the user calls the box: its accessible name, its object name or its tooltip's first words."""
    name = box.accessibleName() or box.objectName()
    if not name:
        name = (box.toolTip().split("\n")[0].split(":")[0] or "This field")[:40]
    return name


class InputGuard(QObject):
    """See the module docstring. `rejected(text)`: a typed value was refused, with the reason."""

    rejected = Signal(str)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(obj, (QAbstractSpinBox, QComboBox)):
            obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus from the wheel
        elif kind == QEvent.Type.Wheel and isinstance(obj, (QAbstractSpinBox, QComboBox)) and not obj.hasFocus():
            self._scroll_parent(obj, event)
            return True
        elif isinstance(obj, QAbstractSpinBox) and obj.isEnabled() and not obj.isReadOnly():
            if kind == QEvent.Type.KeyPress:
                self._check_key(obj, event)
            elif kind == QEvent.Type.FocusOut:
                self._check_text(obj)
        return False

    def _scroll_parent(self, box: QWidget, event) -> None:
        """Give the wheel to the nearest scroll area around the box (its scroll bar), if any."""
        w = box.parentWidget()
        while w is not None and not isinstance(w, QAbstractScrollArea):
            w = w.parentWidget()
        if w is not None:
            bar = w.verticalScrollBar() if event.angleDelta().y() else w.horizontalScrollBar()
            if bar is not None and bar.isVisible():
                QApplication.sendEvent(bar, event)

    def _check_key(self, box: QAbstractSpinBox, event) -> None:
        if event.key() in ENTER_KEYS:
            self._check_text(box)
            return
        text = event.text()
        if not text or not text.isprintable():
            return
        edit = box.lineEdit()
        current = edit.text()
        if edit.hasSelectedText():
            start = edit.selectionStart()
            new = current[:start] + text + current[start + len(edit.selectedText()):]
        else:
            pos = edit.cursorPosition()
            new = current[:pos] + text + current[pos:]
        if box.validate(new, len(new))[0] == QValidator.State.Invalid:
            self._say(box, f"{box_name(box)}: '{new.strip()}' is not accepted — type {allowed_text(box)}.")

    def _check_text(self, box: QAbstractSpinBox) -> None:
        text = box.lineEdit().text()
        if box.validate(text, len(text))[0] != QValidator.State.Acceptable:
            self._say(box, f"{box_name(box)}: '{text.strip()}' is not accepted — type {allowed_text(box)}; the "
                           f"previous value stays.")

    def _say(self, box: QWidget, message: str) -> None:
        QToolTip.showText(box.mapToGlobal(QPoint(0, box.height())), message, box)
        self.rejected.emit(message)


__all__ = ["InputGuard", "allowed_text"]
