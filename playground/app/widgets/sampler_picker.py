"""SamplerPicker: one side's sampler and its options, compact enough to sit above a sampling view.

    [ Euler–Maruyama ▾ ] [ options ▾ ]

The combo lists every sampler of playground.app.samplers.SPECS by family (with options that cannot run, the view says
why instead of showing a picture); the options button opens a small
form built from the sampler's SamplerOption entries (a spin box or a choice each, with range and tooltip) and a
Defaults button. The picker only shows values: a change by the user emits `changed(key, options)`, and whoever
applies it calls `show_choice` back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from playground.app.samplers import SPECS, SamplerOption, describe_options
from playground.app.widgets.log_spin import LogSpin


def option_control(opt: SamplerOption) -> QWidget:
    """The control of one sampler option (not yet showing a value)."""
    if opt.choices:
        w = QComboBox()
        for value, label in opt.choices:
            w.addItem(label, value)
    elif opt.integer:
        w = QSpinBox()
        w.setRange(int(opt.minimum), int(opt.maximum))
        w.setSingleStep(max(1, int(opt.step)))
    elif opt.log:
        w = LogSpin(factor=opt.step)
        w.setRange(opt.minimum, opt.maximum)
    else:
        w = QDoubleSpinBox()
        w.setRange(opt.minimum, opt.maximum)
        w.setDecimals(opt.decimals)
        w.setSingleStep(opt.step)
    if not isinstance(w, QComboBox):
        w.setKeyboardTracking(False)
    w.setToolTip(f"{opt.tip}\nRange: {opt.minimum:g} … {opt.maximum:g}, default {opt.default:g}." if not opt.choices
                 else opt.tip)
    return w


def control_value(w: QWidget):
    if isinstance(w, QComboBox):
        return w.currentData()
    return w.value()


def show_value(w: QWidget, value) -> None:
    w.blockSignals(True)
    try:
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        else:
            w.setValue(value)
    finally:
        w.blockSignals(False)


class SamplerPicker(QWidget):
    """The sampler combo and its options button (see the module docstring)."""

    changed = Signal(str, dict)  # sampler key, all its options

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        family = None
        for key, spec in SPECS.items():
            if family is not None and spec.family != family:
                self.combo.insertSeparator(self.combo.count())
            family = spec.family
            self.combo.addItem(spec.name, key)
            self.combo.setItemData(self.combo.count() - 1, f"{spec.family}: {spec.tip}", Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip("The sampler of this side: reverse-SDE samplers (stochastic), probability-flow ODE\n"
                              "solvers (deterministic), DDIM, EDM Heun and the Langevin samplers of the score-based\n"
                              "models' origins. Any sampler can go on either side.")
        self.combo.activated.connect(self._on_sampler)
        self.options_button = QToolButton()
        self.options_button.setText("options")
        self.options_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.options_button)
        self.options_button.setMenu(self.menu)
        self.form_widget = QWidget()
        self.form = QFormLayout(self.form_widget)
        self.form.setContentsMargins(8, 6, 8, 6)
        action = QWidgetAction(self.menu)
        action.setDefaultWidget(self.form_widget)
        self.menu.addAction(action)
        self.controls: dict[str, QWidget] = {}
        self.key = ""
        self.options: dict = {}
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.combo)
        lay.addWidget(self.options_button)
        lay.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def show_choice(self, key: str, options: dict) -> None:
        """Show sampler `key` with `options` (no signal)."""
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(0, self.combo.findData(key)))
        self.combo.blockSignals(False)
        if key != self.key:
            self._build_form(key)
        self.key, self.options = key, dict(options)
        for name, w in self.controls.items():
            show_value(w, self.options.get(name, SPECS[key].option(name).default))
        text = describe_options(key, self.options)
        self.options_button.setEnabled(bool(self.controls))
        self.options_button.setToolTip(f"{SPECS[key].name}: {text}" if text else
                                       f"{SPECS[key].name} has no options (the steps are set in Settings).")

    def _build_form(self, key: str) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.controls = {}
        for opt in SPECS[key].options:
            w = option_control(opt)
            if isinstance(w, QComboBox):
                w.currentIndexChanged.connect(self._on_option)
            else:
                w.valueChanged.connect(self._on_option)
            self.controls[opt.key] = w
            self.form.addRow(opt.label, w)
            self.form.labelForField(w).setToolTip(opt.tip)
        if self.controls:
            reset = QPushButton("Defaults")
            reset.setToolTip("Every option of this sampler back to its default.")
            reset.clicked.connect(lambda: self.changed.emit(self.key, SPECS[self.key].defaults()))
            self.form.addRow(reset)

    def _on_sampler(self, index: int) -> None:
        key = self.combo.itemData(index)
        if key in SPECS and key != self.key:
            self.changed.emit(key, SPECS[key].defaults())

    def _on_option(self, *_args) -> None:
        self.changed.emit(self.key, {name: control_value(w) for name, w in self.controls.items()})


__all__ = ["SamplerPicker"]
