"""InpaintSettings: the Inpainting panel's run settings in one row: how many results, predictor steps, the
predictor, Langevin corrector steps and the seed (the replacement method, Song et al. 2021 App. I.2, with the
predictor-corrector sampler of App. G: `playground.core.sampling.inpainting.inpaint`)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QWidget

PREDICTOR_NAMES = {"em": "Euler–Maruyama (reverse SDE)", "ode_euler": "Euler (PF-ODE)"}
DEFAULT_RESULTS = 8
DEFAULT_STEPS = 200
MAX_CORRECTOR_STEPS = 5
SNR = 0.16  # the Langevin corrector's signal-to-noise ratio (Song et al. 2021, App. G)


class InpaintSettings(QWidget):
    """Results, steps, predictor, corrector steps and seed of an inpainting run."""

    def __init__(self, seed: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(1, 64)
        self.count.setValue(DEFAULT_RESULTS)
        self.count.setSuffix(" results")
        self.count.setToolTip("How many inpaintings of the image to generate at once (one batch).")
        self.steps = QSpinBox()
        self.steps.setRange(1, 2000)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip("Predictor steps from t = 1 to t = ε on a uniform grid; NFE = steps × (1 + corrector\n"
                              "steps) + 1 (the final denoise). With the VP SDE the corrector needs steps ≥ β_max.")
        self.predictor = QComboBox()
        for key, name in PREDICTOR_NAMES.items():
            self.predictor.addItem(name, key)
        self.predictor.setToolTip(
            "The predictor of each step:\n"
            "Euler–Maruyama on the reverse SDE: x ← x − [f − g² s_θ] h + g √h z\n"
            "Euler on the probability-flow ODE: x ← x − [f − ½ g² s_θ] h\n"
            "after each, the kept pixels are replaced by α(t) y + σ(t) z (y the original, z fresh noise).")
        self.corrector = QSpinBox()
        self.corrector.setRange(0, MAX_CORRECTOR_STEPS)
        self.corrector.setPrefix("corrector ")
        self.corrector.setToolTip(
            f"Langevin corrector steps per predictor step (snr {SNR}): x ← x + ε s_θ + √(2ε) z, with the\n"
            "kept pixels replaced after each. They reduce the replacement method's bias: MCMC on p_t with the\n"
            "known part clamped pulls the generated part towards its conditional. Each costs one more NFE a step.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setValue(int(seed))
        self.seed.setToolTip("Seed of the starting noise, the sampler's noise and the random-pixels preset; the\n"
                             "same seed gives the same results.")
        # the panel shares the top row with three other docks: a long combo text and the seed's range may shrink
        self.predictor.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.predictor.setMinimumContentsLength(8)
        self.seed.setMinimumWidth(70)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.count, self.steps, self.predictor, self.corrector, self.seed):
            row.addWidget(w)
        row.addStretch(1)
