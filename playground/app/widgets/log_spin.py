"""LogSpin: a spin box for quantities spanning decades (learning rate, tolerances, step sizes): the arrows and the
wheel multiply or divide by a factor, and the value shows in short scientific form (6e-03 reads as 0.006)."""

from __future__ import annotations

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QWidget


class LogSpin(QDoubleSpinBox):
    """Steps multiply by `factor` (1.5: about three steps a factor of 3) instead of adding; any number may be typed
    (checked against the range when it is entered)."""

    def __init__(self, factor: float = 1.5, parent: QWidget | None = None):
        super().__init__(parent)
        self.factor = float(factor)
        self.setDecimals(12)  # the value is kept to 12 places; the text shows 4 significant digits

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        v = self.value() * (self.factor**steps)
        self.setValue(min(max(v, self.minimum()), self.maximum()))

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:.4g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # Qt override
        t = text.strip()
        try:
            v = float(t)
        except ValueError:
            ok = t == "" or all(c in "0123456789.eE+-" for c in t)
            return QValidator.State.Intermediate if ok else QValidator.State.Invalid, text, pos
        inside = self.minimum() <= v <= self.maximum()
        return QValidator.State.Acceptable if inside else QValidator.State.Intermediate, text, pos


__all__ = ["LogSpin"]
