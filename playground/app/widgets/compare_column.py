"""One column of the Compare dock: a method's recipe (objective, SDE, output, weighting), a plot of its PF-ODE samples
and a few of their trajectories over the target's density, and its figures (steps trained, NFE and SWD ratio, path
straightness, the Euler NFE that reaches the target, NLL - H)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from playground.app.geometry import Rect
from playground.app.samplers import sampler_name
from playground.app.state import OBJECTIVES, OUTPUT_KINDS, SDE_NAMES, WEIGHTINGS, Settings, with_implied_settings
from playground.app.widgets.plot_items import (
    CentredMessage,
    DensityImage,
    DotCloud,
    TrajectoryCurve,
    plot_widget,
    set_view,
)

RECIPE = (  # (TrainConfig field, label, choices, tooltip)
    ("objective", "Objective", OBJECTIVES,
     "What the network is trained on: denoising score matching, sliced score matching, or flow matching (the\n"
     "velocity; with rectified flow this is Liu et al.'s rectified flow)."),
    ("sde", "SDE", SDE_NAMES, "The forward process the method trains and samples on (VP, sub-VP, VE, rectified flow)."),
    ("output", "Output", OUTPUT_KINDS, "What the network predicts (ε, score, x₀, EDM denoiser or velocity v)."),
    ("weighting", "Weighting", WEIGHTINGS,
     "The loss weighting and the law of the training times (flow matching: σ² = uniform t, EDM = log-normal\n"
     "noise levels; no likelihood weighting)."),
)
SAMPLE_COLOR = (255, 170, 60, 210)
PATH_COLOR = (110, 200, 255, 150)


def figures_html(result, sampler: str, seconds: float, best: set[str]) -> str:
    """The figures of one method's result as a small HTML table; the names in `best` (the better of the two columns)
    in bold."""

    def row(name: str, label: str, value: str, tip: str = "") -> str:
        v = f"<b>{value}</b>" if name in best else value
        return f"<tr><td>{label}</td><td align='right'>{v}</td><td><small>{tip}</small></td></tr>"

    r = result
    loss = f"loss {r.loss:.3g}" if math.isfinite(r.loss) else ""
    rows = [row("steps", f"Steps in {seconds:g} s", f"{r.steps:,}", loss)]
    if r.samples is not None:
        rows.append(row("swd", f"PF-ODE {sampler_name(sampler)}, NFE {r.nfe}", _ratio(r.swd_ratio), "SWD ÷ floor"))
    if math.isfinite(r.straightness):
        rows.append(row("straightness", "Straightness S", f"{r.straightness:.3g}", "data units²"))
    if r.euler_done:
        if r.euler_skipped:
            value, tip = "—", "the solve above is too far off"
        elif r.euler_nfe is None:
            value, tip = f"&gt; {r.euler_max_nfe}", f"SWD ratio {r.euler_ratio:.2f} at {r.euler_max_nfe}"
        else:
            value, tip = f"{r.euler_nfe}", f"SWD ratio {r.euler_ratio:.2f}"
        rows.append(row("euler", f"Euler NFE to {r.euler_threshold:g}× floor", value, tip))
    if math.isfinite(r.nll) and r.entropy is not None:
        rows.append(row("nll", "NLL − H", f"{r.nll - r.entropy:+.3f}", f"± {r.nll_se:.3f} nats"))
    elif r.done and r.entropy is None and not r.error:
        rows.append(row("nll", "NLL − H", "—", "no entropy for this target"))
    return "<table cellspacing='0' cellpadding='1'>" + "".join(rows) + "</table>"


def _ratio(v: float) -> str:
    return f"{v:.2f}×" if math.isfinite(v) else "—"


class CompareColumn(QWidget):
    """The recipe combos (`combos` by field), the plot (`plot`: target density, samples, paths) and the figures
    (`figures`); `status` says what the worker is doing for this column. Emits `edited(field)` when the user changes
    the recipe."""

    edited = Signal(str)

    def __init__(self, key: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.key = key
        self.combos: dict[str, QComboBox] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for i, (name, label, choices, tip) in enumerate(RECIPE):
            combo = QComboBox()
            for value, text in choices.items():
                combo.addItem(text, value)
            combo.setToolTip(tip)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.currentIndexChanged.connect(lambda _i, n=name: self._on_edit(n))
            lab = QLabel(label)
            lab.setToolTip(tip)
            grid.addWidget(lab, i // 2, 2 * (i % 2))
            grid.addWidget(combo, i // 2, 2 * (i % 2) + 1)
            self.combos[name] = combo
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.plot = plot_widget(f"{key}")
        self.plot.setToolTip("Orange: the method's PF-ODE samples; blue: a few of their paths from t = T to 0; grey:\n"
                             "the target's density (its training samples).")
        pi = self.plot.getPlotItem()
        self.target_density = DensityImage(pi, bins=128, colormap="CET-L1", z=-10)
        self.paths = TrajectoryCurve(pi, color=PATH_COLOR, width=1.0, z=3)
        self.dots = DotCloud(pi, color=SAMPLE_COLOR, width=2.0, max_points=10_000, z=5)
        self.message = CentredMessage(pi)
        self.status = QLabel("—")
        self.status.setWordWrap(True)
        self.figures = QLabel()
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.figures.setToolTip(
            "SWD ÷ floor: sliced Wasserstein distance of the samples to fresh target samples over that of two\n"
            "independent target sets (1 = as close as the target to itself; below ~1.2 is a tie).\n"
            "Straightness S (Liu et al. 2023): mean squared deviation of the PF-ODE paths' velocity from their chord\n"
            "(0 = straight lines run at constant speed, which one Euler step integrates exactly).\n"
            "Euler NFE: the fewest network evaluations of Euler's method on the PF-ODE whose samples reach an SWD\n"
            "ratio of 1.2. NLL − H: the PF-ODE negative log-likelihood of fresh target points minus the target's\n"
            "entropy (≥ 0; 0 = the model is the target). Bold: the better of the two columns.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(grid)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.figures)
        self._updating = False
        self._shown = self.method()  # the recipe as last shown (what an edit changes from)
        self.result = None

    # ---- the recipe --------------------------------------------------------------------------------------------
    def method(self) -> dict:
        """The TrainConfig fields of this column's method."""
        return {name: combo.currentData() for name, combo in self.combos.items()}

    def set_method(self, fields: dict) -> None:
        """Show `fields` (a subset of the recipe) without emitting `edited`."""
        self._updating = True
        try:
            for name, value in fields.items():
                if name in self.combos:
                    combo = self.combos[name]
                    combo.setCurrentIndex(max(0, combo.findData(value)))
            weighting = self.combos["weighting"]  # flow matching has no likelihood weighting
            weighting.model().item(weighting.findData("likelihood")).setEnabled(self.method()["objective"] != "fm")
        finally:
            self._updating = False
        self._shown = self.method()

    def describe(self) -> str:
        """The method in words, e.g. 'flow matching, rectified flow, v (velocity)'."""
        m = self.method()
        return ", ".join(choices.get(m[name], m[name]) for name, _label, choices, _tip in RECIPE[:3])

    def _on_edit(self, name: str) -> None:
        """The user changed `name`: the fields it implies follow (flow matching trains v, with no likelihood
        weighting), as in the Settings panel."""
        if self._updating:
            return
        value = self.combos[name].currentData()
        implied = with_implied_settings({name: value}, replace(Settings(), **self._shown))
        self.set_method({k: v for k, v in implied.items() if k in self.combos})
        self.edited.emit(name)

    # ---- the views ---------------------------------------------------------------------------------------------
    def set_target(self, samples: np.ndarray, rect: Rect) -> None:
        """The target's density (from its samples) under everything, over `rect`."""
        set_view(self.plot, rect)
        self.target_density.set_rect(rect)
        self.target_density.set_points(samples, gamma=0.6)

    def clear(self, message: str) -> None:
        """No results: the target alone, `message` in the middle."""
        self.result = None
        self.dots.clear()
        self.paths.clear()
        self.figures.setText("")
        self.message.show(message)

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_result(self, result, sampler: str, seconds: float, rect: Rect, best: set[str] = frozenset()) -> None:
        """Draw `result` (a MethodResult) over the target: its samples, its paths, its figures."""
        self.result = result
        if result.samples is not None:
            self.message.hide()
            self.dots.set_points(result.samples)
            self.paths.set_paths(result.paths if result.paths is not None and len(result.paths) > 1 else None)
        elif result.error:
            self.dots.clear()
            self.paths.clear()
            self.message.show("Failed")
        self.figures.setText(figures_html(result, sampler, seconds, best))
        if result.error:
            self.status.setText(f"{self.key}: failed — {result.error}")


__all__ = ["CompareColumn", "RECIPE", "figures_html"]
