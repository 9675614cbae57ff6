"""The settings panel: every field of `Settings` as a control with a tooltip saying what it does and its formula.

The panel never writes the state itself. It emits `changeRequested({name: value})`; the main window decides whether
the change applies at once (samplers, particle counts, ...) or first asks, because it would invalidate a trained
model (the SDE, its parameters, the output kind, the network, the objective). After a refused change the main window
calls `refresh()` and the controls show the state's values again. A choice that implies others asks for them in the
same request (`state.with_implied_settings`): flow matching trains the velocity output v, rectified flow samples its
reverse SDE ancestrally instead of with Euler–Maruyama.

The network rows follow the mode: the MLP's hidden units and layers (and the target's sample count) for a 2D target,
the U-Net's base channels and the class-conditional switch in image mode (`state.imagesChanged`).
"""

from __future__ import annotations

import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QScrollArea, QVBoxLayout, QWidget

from playground.app.state import (
    OBJECTIVES,
    OUTPUT_KINDS,
    SDE_NAMES,
    WEIGHTINGS,
    AppState,
    Settings,
    with_implied_settings,
)
from playground.app.widgets.log_spin import LogSpin
from playground.app.widgets.settings_form import SettingsForm

PARTICLE_COUNTS = (1_000, 2_000, 4_000, 10_000, 20_000, 50_000, 100_000, 200_000)
ROWS_2D = ("hidden", "depth", "target_samples")  # shown only for a 2D target
ROWS_IMAGES = ("base_channels", "image_classes")  # shown only in image mode


def available_devices() -> list[str]:
    """The torch devices this machine has: cpu, then cuda and mps when torch finds them."""
    devices = ["cpu"]
    try:
        if torch.cuda.is_available():
            devices.append("cuda")
    except Exception:  # noqa: BLE001 - a broken driver means no cuda
        pass
    try:
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            devices.append("mps")
    except Exception:  # noqa: BLE001
        pass
    return devices


class SettingsPanel(SettingsForm):
    """Controls for `state.settings`, grouped: diffusion, network & objective, optimisation, sampling."""

    changeRequested = Signal(dict)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._updating = False
        self.edited.connect(self._emit)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer.addWidget(scroll)
        inner = QWidget()
        scroll.setWidget(inner)
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(6, 6, 6, 6)

        # ---- diffusion ---------------------------------------------------------------------------------------
        g, form = self._group("Diffusion (SDE)", lay)
        self._combo(
            form, "sde", "SDE", SDE_NAMES,
            "The forward SDE dx = f(x,t) dt + g(t) dw.\n"
            "VP: f = −½β(t)x, g = √β(t) (DDPM).\n"
            "sub-VP: f = −½β(t)x, g² = β(t)(1 − e^(−2β₀t − (β₁−β₀)t²)).\n"
            "VE: f = 0, g = σ(t)√(2 ln(σmax/σmin)), σ(t) = σmin(σmax/σmin)^t (SMLD).\n"
            "Rectified flow: x_t = (1 − t)x₀ + tε, so f = −x/(1 − t), g² = 2t/(1 − t) (Liu et al. 2023; no\n"
            "parameters; t runs to T = 0.999). Its PF-ODE is flow matching's straight-path flow.\n"
            "Changing it invalidates a trained model.",
        )
        self._double(
            form, "beta_min", "β₀ (beta min)", 0.001, 10.0, 3, 0.05,
            "VP / sub-VP noise rate at t = 0: β(t) = β₀ + t(β₁ − β₀). Default 0.1.",
        )
        self._double(
            form, "beta_max", "β₁ (beta max)", 0.1, 100.0, 2, 1.0,
            "VP / sub-VP noise rate at t = 1: β(t) = β₀ + t(β₁ − β₀). Default 20; "
            "α(1) = exp(−¼(β₁−β₀) − ½β₀) should be ≈ 0.",
        )
        self._double(
            form, "sigma_min", "σmin", 0.0001, 1.0, 4, 0.005,
            "VE noise level at t = 0: σ(t) = σmin (σmax/σmin)^t. Default 0.01 (normalised units).",
        )
        self._double(
            form, "sigma_max", "σmax", 0.0, 1000.0, 2, 1.0,
            "VE noise level at t = 1; the prior is N(0, σmax² I). 'auto' = the largest pairwise distance in the "
            "normalised data (Song & Ermon 2020, technique 1).",
            special="auto",
        )

        # ---- network and objective ----------------------------------------------------------------------------
        g, form = self._group("Network and objective", lay)
        self._combo(
            form, "output", "Output", OUTPUT_KINDS,
            "What the network predicts; all convert to a score s = ∇log p_t:\n"
            "ε: s = −ε_θ/σ_t.  score: s = F_θ.  x₀: s = (α_t D_θ − x)/σ_t².\n"
            "EDM: D = c_skip x + c_out F(c_in x, c_noise) (Karras et al. 2022).\n"
            "v: the velocity v_θ ≈ E[α′x₀ + σ′ε | x_t] (flow matching; rectified flow: ε − x₀):\n"
            "s = 2(f x − v_θ)/g², the PF-ODE drift f − ½g²s solved for s.\n"
            "Changing it invalidates a trained model.",
        )
        self._combo(
            form, "objective", "Objective", OBJECTIVES,
            "Denoising score matching: E λ(t)‖s_θ(α x₀ + σ ε, t) + ε/σ‖² (Vincent 2011).\n"
            "Sliced score matching: E[½‖s_θ‖² + vᵀ∇(vᵀ s_θ)], v ~ N(0, I) (Song et al. 2019).\n"
            "Flow matching: E‖v_θ(α x₀ + σ ε, t) − (α′x₀ + σ′ε)‖² (Lipman et al. 2023); with rectified flow\n"
            "the target is ε − x₀ (Liu et al. 2023). Choosing it sets the output to v (the velocity).\n"
            "Changing it invalidates a trained model.",
        )
        self._combo(
            form, "weighting", "Weighting", WEIGHTINGS,
            "λ(t) and the law of t in the loss. σ²: Song's default, E‖σ s_θ + ε‖², t ~ U(ε, 1).\n"
            "g(t)²: likelihood weighting (the loss bounds −log p); not for flow matching.\n"
            "EDM: λ = (σ² + σ_d²)/(σ σ_d)² with ln σ ~ N(−0.51, 1.2²) (EDM's −1.2 + ln(σ_d/0.5), σ_d = 1).\n"
            "Flow matching has unit weight: σ² draws t ~ U(ε, T), EDM the log-normal noise levels\n"
            "(for rectified flow a logit-normal t, Esser et al. 2024).",
        )
        self._int(form, "hidden", "Hidden units", 8, 1024, 16, "Width of each hidden layer of the MLP s_θ(x, t).")
        self._int(form, "depth", "Hidden layers", 1, 8, 1, "Number of hidden layers of the MLP s_θ(x, t).")
        self._int(
            form, "base_channels", "U-Net channels", 4, 256, 4,
            "Channels of the U-Net's first level (image mode); deeper levels multiply them (×2 per downsampling).\n"
            "More channels: a stronger, slower network. Default 16 (tuned for 8×8 digits on a CPU).\n"
            "Changing it invalidates a trained model.",
        )
        classes = QCheckBox("labels as classes")
        self._add(
            form, "image_classes", "Class-conditional", classes,
            "Train s_θ(x, t, y) on the dataset's labels y (image mode, labelled sets only), each label replaced by\n"
            "the null class with probability 0.15, so one network learns both the conditional and the unconditional\n"
            "score. Classifier-free guidance then samples a chosen class with weight w (Ho & Salimans 2022):\n"
            "s = (1 + w) s_θ(x, t, y) − w s_θ(x, t, ∅). Changing it invalidates a trained model.",
        )

        # ---- optimisation -------------------------------------------------------------------------------------
        g, form = self._group("Training", lay)
        lr = LogSpin()
        lr.setRange(1e-5, 1.0)
        self._add(form, "lr", "Learning rate", lr, "Adam step size η: θ ← θ − η m̂/(√v̂ + ε). Default 6e-3 with warm-up and cosine decay.")
        self._int(
            form, "batch", "Batch", 16, 65536, 128,
            "Samples x₀ per step; each gets its own t and ε. Larger = smoother loss, slower steps.",
        )
        self._int(
            form, "steps", "Stop after steps", 1, 10_000_000, 500,
            "Training pauses after this many optimiser steps (Play continues only after you raise it or Reset).",
        )
        self._double(
            form, "seconds", "Stop after seconds", 0.0, 86400.0, 0, 5.0,
            "Training pauses after this much training time (summed over runs). 'no limit' = steps only.",
            special="no limit",
        )
        self._int(
            form, "seed", "Seed", 0, 2_147_483_647, 1,
            "Random seed: network initialisation, the batches, t and ε of training, and the sampling noise.",
        )
        dev = QComboBox()
        for d in available_devices():
            dev.addItem(d, d)
        self._add(
            form, "device", "Device", dev,
            "Where training runs: cpu, or a GPU torch finds (cuda, mps). The views always evaluate on the CPU.",
        )

        # ---- sampling -----------------------------------------------------------------------------------------
        g, form = self._group("Sampling", lay)
        self._int(
            form, "sample_steps", "Sampling steps", 2, 5000, 10,
            "Number of time steps N of the samplers in the Sampling panel (h = (T − ε)/N); the 2-evaluation solvers\n"
            "(Heun, EDM Heun) take about N/2 steps and RK45 at most 25 output frames, so both sides spend a\n"
            "similar budget. The samplers themselves are picked above each sampling view.",
        )
        self._particles(
            form, "n_particles", "Sampling particles",
            "Particles drawn from the prior p_T and carried to t = 0 by each sampler (same noise on both sides).",
        )
        self._int(
            form, "n_trajectories", "Trajectories shown", 0, 2000, 16,
            "How many of the particles also draw their whole path x_t (one curve for all paths).",
        )
        self._particles(
            form, "n_forward", "Forward particles",
            "Particles x_t = α(t) x₀ + σ(t) ε shown in the forward-diffusion view.",
        )
        self._int(
            form, "target_samples", "Target samples", 500, 1_000_000, 1000,
            "How many samples of the target are drawn for training and for the views (the training set).",
        )
        lay.addStretch(1)

        state.settingsChanged.connect(lambda _names: self.refresh())
        state.imagesChanged.connect(self.refresh)
        self.refresh()

    def _particles(self, form, name, label, tip) -> None:
        self._counts(form, name, label, PARTICLE_COUNTS, tip + " Up to 200,000; pick one or type a number.",
                     maximum=1_000_000)

    def value(self, name: str):
        """The value the control `name` shows, in the type Settings uses (a count that is no number: the state's)."""
        return super().value(name, typed_fallback=getattr(self.state.settings, name))

    def refresh(self) -> None:
        """Show the state's settings in every control, enable only the parameters the chosen SDE uses and show the
        network rows of the current mode."""
        self._updating = True
        try:
            s = self.state.settings
            for name in self.controls:
                self.set_value(name, getattr(s, name))
            for name in ("beta_min", "beta_max"):
                self.controls[name].setEnabled(s.sde in ("vp", "subvp"))
            for name in ("sigma_min", "sigma_max"):
                self.controls[name].setEnabled(s.sde == "ve")
            weighting = self.controls["weighting"]  # flow matching has no likelihood weighting
            weighting.model().item(weighting.findData("likelihood")).setEnabled(s.objective != "fm")
            images = self.state.images
            for name in ROWS_2D:
                self.set_row_visible(name, images is None)
            for name in ROWS_IMAGES:
                self.set_row_visible(name, images is not None)
            self.controls["image_classes"].setEnabled(images is not None and images.labels is not None)
        finally:
            self._updating = False

    def _emit(self, name: str) -> None:
        if self._updating:
            return
        v = self.value(name)
        if v != getattr(self.state.settings, name):
            self.changeRequested.emit(with_implied_settings({name: v}, self.state.settings))

    def settings_from_controls(self) -> Settings:
        from dataclasses import replace

        return replace(self.state.settings, **{n: self.value(n) for n in self.controls})


__all__ = ["PARTICLE_COUNTS", "SettingsPanel", "available_devices"]
