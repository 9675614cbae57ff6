"""The class and guidance controls of the image panels: classifier-free guidance (Ho & Salimans 2022, as in
`playground.core.diffusion.guidance`) with weight w on the classes a class-conditional model is asked for.

    ClassPicker           a combo of class choices (a class index, or one of the CLASS_* choices below); greyed out
                          with a tooltip saying why when the model is not class-conditional
    SamplingClassPicker   the Sampling (images) panel's: each grid row a class, random classes, no class, one class
    InpaintClassPicker    the Inpainting panel's: the image's own class, no class, one class
    GuidanceSlider        w in [0, GUIDANCE_MAX] on a slider of GUIDANCE_TICKS steps
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QSlider, QWidget

CFG_FORMULA = "s̃(x, t, c) = (1 + w) s(x, t, c) − w s(x, t, ∅)"
GUIDANCE_MAX = 8.0
GUIDANCE_TICKS = 80  # slider resolution: w = tick / 10
CLASS_ROWS, CLASS_RANDOM, CLASS_NONE, CLASS_OWN = -1, -2, -3, -4  # picker choices besides one class
UNAVAILABLE = "\n(Disabled: the model is not class-conditional; train with labels.)"


def guidance_tip(how: str) -> str:
    """The guidance weight's tooltip: the formula, then `how` (what w = 0 and larger w do)."""
    return (f"Classifier-free guidance weight w in [0, {GUIDANCE_MAX:g}] (Ho & Salimans 2022):\n  {CFG_FORMULA}\n"
            + how)


class ClassPicker(QComboBox):
    """Class choices (item data: a class index or a CLASS_* choice) for a class-conditional model."""

    def __init__(self, tip: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.tip = tip
        self.setToolTip(tip)

    def set_choices(self, wanted: list[tuple[int, str]], keep: int | None) -> None:
        """Show `wanted` (data, text) pairs, choosing `keep` when it is among them (else the first); no signal, and
        nothing happens when the picker already shows exactly these."""
        current = [(self.itemData(i), self.itemText(i)) for i in range(self.count())]
        if current == wanted:
            return
        self.blockSignals(True)
        self.clear()
        for data, text in wanted:
            self.addItem(text, data)
        self.setCurrentIndex(max(0, self.findData(keep) if keep is not None else -1))
        self.blockSignals(False)

    def sync(self, conditional: bool, guidance: Sequence[QWidget], guidance_tip: str) -> None:
        """Enabled for a class-conditional model; the guidance widgets (the first gets `guidance_tip`) when a class
        is picked too. Disabled, the tooltips say why."""
        self.setEnabled(conditional)
        guided = conditional and self.currentData() != CLASS_NONE
        for w in guidance:
            w.setEnabled(guided)
        unavailable = "" if conditional else UNAVAILABLE
        self.setToolTip(self.tip + unavailable)
        guidance[0].setToolTip(guidance_tip + unavailable)


class SamplingClassPicker(ClassPicker):
    """Which classes a batch of images is sampled with: each grid row a class, random classes, none, or one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Which classes a class-conditional model samples: each grid row one class (row r:\n"
                         "class r mod K), random classes, no class (the null label ∅), or one class.", parent)

    def fill(self, num_classes: int, class_names: Sequence[str]) -> None:
        """The choices for a model with `num_classes` classes (0: unconditional), keeping the current one."""
        names = tuple(class_names) if num_classes else ()
        wanted = [(CLASS_ROWS, "each row a class"), (CLASS_RANDOM, "random classes"),
                  (CLASS_NONE, "no class (∅, unconditional)")]
        wanted += [(c, f"class {names[c] if c < len(names) else c}") for c in range(num_classes)]
        self.set_choices(wanted, self.currentData())

    def labels(self, n: int, num_classes: int, columns: int, seed: int) -> np.ndarray | None:
        """The (n,) labels of a grid of n images `columns` wide, or None for no class."""
        choice = self.currentData()
        if choice == CLASS_NONE:
            return None
        if choice == CLASS_ROWS:
            return (np.arange(n) // columns) % num_classes
        if choice == CLASS_RANDOM:
            return np.random.default_rng([seed, 1]).integers(0, num_classes, size=n)
        return np.full(n, int(choice))

    def describe(self, w: float) -> str:
        """', <the choice>, w = <w>' for the status and info lines."""
        which = {CLASS_ROWS: "a class per row", CLASS_RANDOM: "random classes"}.get(self.currentData())
        if which is None:
            which = self.currentText()
        return f", {which}, w = {w:.1f}"

    def captions(self, labels: np.ndarray, class_names: Sequence[str], columns: int) -> list[str] | None:
        """Tile captions for a grid sampled with `labels`: the class at each row's start, on every tile for random
        classes, none when all tiles share one class."""
        text = [class_names[y] if y < len(class_names) else str(y) for y in labels]
        choice = self.currentData()
        if choice == CLASS_ROWS:
            return [t if k % columns == 0 else "" for k, t in enumerate(text)]
        return text if choice == CLASS_RANDOM else None


class InpaintClassPicker(ClassPicker):
    """The class an image is inpainted with: its own (labelled datasets), none, or any class."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("The class a class-conditional model inpaints with: the image's own class (default when\n"
                         "the dataset is labelled), no class (the null label ∅), or any class.", parent)
        self._conditional = False  # the picker lists a conditional model's classes

    def fill(self, num_classes: int, own_text: str | None, class_name: Callable[[int], str]) -> None:
        """The choices for a model with `num_classes` classes (0: unconditional); `own_text` labels the image's own
        class (None: the image has no usable label). Keeps the current class of a conditional model."""
        keep = self.currentData() if self._conditional else None
        self._conditional = num_classes > 0
        if num_classes:
            wanted = [(CLASS_OWN, own_text)] if own_text is not None else []
            wanted += [(CLASS_NONE, "no class (∅)")]
            wanted += [(k, f"class {class_name(k)}") for k in range(num_classes)]
        else:
            wanted = [(CLASS_NONE, "no class (unconditional model)")]
        self.set_choices(wanted, keep)

    def set_own_text(self, text: str) -> None:
        own = self.findData(CLASS_OWN)
        if own >= 0:
            self.setItemText(own, text)

    def chosen_class(self, own_label: int | None, num_classes: int) -> int | None:
        """The class picked (the image's own label when that is picked and the model knows it), or None."""
        choice = self.currentData()
        if choice == CLASS_OWN:
            return own_label if own_label is not None and own_label < num_classes else None
        return None if choice in (None, CLASS_NONE) else int(choice)


class GuidanceSlider(QSlider):
    """The guidance weight w in [0, GUIDANCE_MAX] in steps of GUIDANCE_MAX / GUIDANCE_TICKS."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, GUIDANCE_TICKS)
        self.setValue(0)

    def weight(self) -> float:
        return self.value() * GUIDANCE_MAX / GUIDANCE_TICKS
