"""A form of named controls, one per field of a settings dataclass, grouped in boxes: each control has its label and
a tooltip (on the label too); `value(name)` reads a control in the field's type, `set_value(name, v)` shows a value
without a signal, and a change by the user emits `edited(name)`.

Controls: a combo box of choices (its item data is the value), a spin box (double or int; a 'special' text at its
minimum means None), a check box, and an editable combo box of counts (pick one or type a number)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QVBoxLayout, QWidget


class SettingsForm(QWidget):
    """The controls (`controls`, `labels` by setting name) and how to build, read and show them."""

    edited = Signal(str)  # the setting whose control the user changed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.controls: dict[str, QWidget] = {}
        self.labels: dict[str, str] = {}  # setting name -> the label the user sees
        self._forms: dict[str, QFormLayout] = {}  # setting name -> the form holding its row
        self._count_max: dict[str, int] = {}  # count combo boxes -> the largest number that may be typed

    # ---- building blocks ---------------------------------------------------------------------------------------
    def _group(self, title: str, lay: QVBoxLayout) -> tuple[QGroupBox, QFormLayout]:
        g = QGroupBox(title)
        form = QFormLayout(g)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(g)
        return g, form

    def _add(self, form: QFormLayout, name: str, label: str, w: QWidget, tip: str) -> None:
        w.setToolTip(tip)
        w.setObjectName(name)
        w.setAccessibleName(label)
        self.controls[name] = w
        self.labels[name] = label
        self._forms[name] = form
        form.addRow(label, w)
        form.labelForField(w).setToolTip(tip)
        if isinstance(w, QComboBox):
            w.currentIndexChanged.connect(lambda _i, n=name: self.edited.emit(n))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda _v, n=name: self.edited.emit(n))
        elif isinstance(w, QCheckBox):
            w.toggled.connect(lambda _v, n=name: self.edited.emit(n))

    def _combo(self, form, name, label, choices: dict[str, str], tip) -> None:
        w = QComboBox()
        for key, text in choices.items():
            w.addItem(text, key)
        self._add(form, name, label, w, tip)

    def _double(self, form, name, label, lo, hi, decimals, step, tip, special: str | None = None) -> None:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setDecimals(decimals)
        w.setSingleStep(step)
        if special:
            w.setSpecialValueText(special)  # shown at the minimum, which means None
        self._add(form, name, label, w, tip)

    def _int(self, form, name, label, lo, hi, step, tip) -> None:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setGroupSeparatorShown(True)
        self._add(form, name, label, w, tip)

    def _counts(self, form, name, label, counts: tuple[int, ...], tip, maximum: int) -> None:
        w = QComboBox()
        w.setEditable(True)
        for n in counts:
            w.addItem(f"{n:,}", n)
        w.lineEdit().editingFinished.connect(lambda n=name: self.edited.emit(n))
        self._count_max[name] = maximum
        self._add(form, name, label, w, tip)

    def set_row_visible(self, name: str, on: bool) -> None:
        self._forms[name].setRowVisible(self.controls[name], on)

    # ---- values ------------------------------------------------------------------------------------------------
    def value(self, name: str, typed_fallback=None):
        """The value the control `name` shows, in the type the settings use; a count box's text that is no number
        reads as `typed_fallback`."""
        w = self.controls[name]
        if name in self._count_max:
            text = w.currentText().replace(",", "").replace("_", "").strip()
            try:
                return max(1, min(self._count_max[name], int(float(text))))
            except ValueError:
                return typed_fallback
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return bool(w.isChecked())
        if isinstance(w, QDoubleSpinBox):
            v = float(w.value())
            if w.specialValueText() and v <= w.minimum():
                return None
            return v
        if isinstance(w, QSpinBox):
            return int(w.value())
        raise KeyError(name)

    def set_value(self, name: str, value) -> None:
        """Show `value` in the control without emitting a change request."""
        w = self.controls[name]
        w.blockSignals(True)
        try:
            if name in self._count_max:
                i = w.findData(int(value))
                if i >= 0:
                    w.setCurrentIndex(i)
                else:
                    w.setEditText(f"{int(value):,}")
            elif isinstance(w, QComboBox):
                i = w.findData(value)
                if i < 0:  # e.g. a device this machine lacks, from saved settings
                    w.addItem(str(value), value)
                    i = w.count() - 1
                w.setCurrentIndex(i)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(w.minimum() if value is None else float(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
        finally:
            w.blockSignals(False)


__all__ = ["SettingsForm"]
