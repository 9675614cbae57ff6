"""The Race dock's control row: which score races (the exact one or the trained model), which samplers (a menu of
check boxes), the NFE rungs, the samples per run, and Run race / Cancel; wraps onto two lines in a narrow dock.
What the user chose is kept between sessions (`options`, `restore_options`; the window saves it in QSettings)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QMenu, QPushButton, QSpinBox, QToolButton, QWidget

from playground.app.samplers import sampler_title
from playground.app.widgets.flow_layout import FlowLayout
from playground.core.evaluation.sampler_race import NFE_LADDER, RACE_SAMPLERS

EXACT, LEARNED = "exact", "learned"
DEFAULT_SAMPLES = 2000


def parse_ladder(text: str) -> tuple[int, ...]:
    """NFE rungs from '5, 10, 20' (sorted, without repeats); ValueError with a message for anything else."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        rungs = sorted({int(p) for p in parts})
    except ValueError:
        raise ValueError(f"NFE rungs: expected whole numbers separated by commas (e.g. 5,10,20,40), got {text!r}") \
            from None
    if not rungs or rungs[0] < 2:
        raise ValueError("NFE rungs: give at least one, each at least 2 (one step and the final denoise).")
    return tuple(rungs)


class RaceControls(QWidget):
    """`source`, `sampler_actions` (key -> checkable QAction), `ladder`, `samples`, `run_btn`, `cancel_btn`;
    `preferred_source`: the score the user last picked (shown whenever it can be chosen; at first the trained
    model's, which needs a model)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.source = QComboBox()
        self.source.addItem("exact score", EXACT)
        self.source.addItem("trained model", LEARNED)
        self.source.setToolTip("The score the samplers race with: the target's exact score, or the current trained\n"
                               "model (its snapshot when Run race is pressed).")
        self.preferred_source = LEARNED
        self.source.activated.connect(lambda i: setattr(self, "preferred_source", self.source.itemData(i)))
        self.samplers_btn = QToolButton()
        self.samplers_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.samplers_btn.setToolTip("The samplers that race (each at every rung).")
        menu = QMenu(self.samplers_btn)
        menu.setToolTipsVisible(True)
        self.sampler_actions = {}
        for key in RACE_SAMPLERS:
            a = menu.addAction(sampler_title(key))
            a.setCheckable(True)
            a.setChecked(True)
            a.toggled.connect(self._on_samplers)
            self.sampler_actions[key] = a
        self.samplers_btn.setMenu(menu)
        self.samplers_btn.setMinimumWidth(120)  # room for 'Samplers 9/9' and the menu arrow
        self.ladder = QLineEdit(", ".join(map(str, NFE_LADDER)))
        self.ladder.setToolTip("The NFE budgets (score evaluations) each sampler runs at, cheapest first; a sampler\n"
                               "takes the most steps within each budget (Heun: about half, predictor–corrector:\n"
                               "half, one corrector step each).")
        self.ladder.setMinimumWidth(200)
        self.samples = QSpinBox()
        self.samples.setRange(500, 20000)
        self.samples.setSingleStep(500)
        self.samples.setValue(DEFAULT_SAMPLES)
        self.samples.setToolTip("Samples per run, compared with as many fresh target samples (more: a steadier\n"
                                "SWD ratio, a slower race).")
        self.run_btn = QPushButton("Run race")
        self.run_btn.setToolTip("Run every chosen sampler at every rung, cheapest rungs first (a running race "
                                "starts over).")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the race (the points so far stay).")
        self.cancel_btn.setEnabled(False)
        row = FlowLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Score"), self.source, self.samplers_btn, QLabel("NFE"), self.ladder, QLabel("Samples"),
                  self.samples, self.run_btn, self.cancel_btn):
            row.addWidget(w)
        self._on_samplers()

    def chosen_samplers(self) -> tuple[str, ...]:
        return tuple(k for k, a in self.sampler_actions.items() if a.isChecked())

    def set_samplers(self, keys) -> None:
        """Check exactly the samplers `keys`."""
        for k, a in self.sampler_actions.items():
            a.setChecked(k in keys)

    def show_preferred_source(self) -> None:
        """Show `preferred_source` where it can be chosen (the trained model only when there is one)."""
        i = self.source.findData(self.preferred_source)
        if self.source.model().item(i).isEnabled():
            self.source.setCurrentIndex(i)

    def options(self) -> dict:
        """What the user chose, as JSON-ready values (`restore_options` applies them in a later session)."""
        return {"source": self.preferred_source, "samplers": list(self.chosen_samplers()),
                "ladder": self.ladder.text(), "samples": int(self.samples.value())}

    def restore_options(self, options) -> None:
        """Apply `options()` of an earlier session; an entry that is missing or unreadable (an unknown sampler, rungs
        that do not parse, a number out of range, a value of another type) keeps its default."""
        if not isinstance(options, dict):
            return
        if options.get("source") in (EXACT, LEARNED):
            self.preferred_source = options["source"]
            self.show_preferred_source()
        samplers = options.get("samplers")
        if isinstance(samplers, list):
            known = [k for k in samplers if isinstance(k, str) and k in self.sampler_actions]
            if known:  # none known (or none chosen): every sampler, as at first
                self.set_samplers(known)
        ladder = options.get("ladder")
        if isinstance(ladder, str):
            try:
                self.ladder.setText(", ".join(map(str, parse_ladder(ladder))))
            except ValueError:
                pass
        samples = options.get("samples")
        if type(samples) is int and self.samples.minimum() <= samples <= self.samples.maximum():
            self.samples.setValue(samples)

    def set_model_available(self, available: bool) -> None:
        """The trained-model choice only when there is a model (without one the exact score is chosen)."""
        self.source.model().item(1).setEnabled(available)
        if not available and self.source.currentData() == LEARNED:
            self.source.setCurrentIndex(0)

    def set_running(self, running: bool) -> None:
        self.cancel_btn.setEnabled(running)

    def _on_samplers(self, *_) -> None:
        self.samplers_btn.setText(f"Samplers {len(self.chosen_samplers())}/{len(self.sampler_actions)}")


__all__ = ["EXACT", "LEARNED", "RaceControls", "parse_ladder"]
