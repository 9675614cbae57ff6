"""Forward diffusion of images (image mode): K dataset images noised along one path each, and the denoiser's view.

Pixels are normalised as y = 2x - 1 (`state.normalization`); each image keeps ONE noise draw eps, so the strip

    x_t = alpha(t) y + sigma(t) eps       (Song et al. 2021, Eq. 29 / App. B: the marginal of the forward SDE)

at STRIP_TIMES shows one forward path per image, mapped back to pixels x = (x_t + 1) / 2 and clipped to [0, 1] for
display. Below, at the time bar's t: x_t and, once an image model exists, its denoiser x0_hat = E[x0 | x_t]
(Tweedie's formula, `ScoreModel.denoise`) for the same images, with the denoiser's mean squared error against x0.
"""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from playground.app.panels.image_dataset_panel import NO_DATASET
from playground.app.state import SDE_NAMES
from playground.app.widgets.image_view import ImageGridView
from playground.app.widgets.plot_items import Coalescer

N_IMAGES = 6  # K images, one strip row each
STRIP_TIMES = np.linspace(0.0, 1.0, 8)
SDE_KEYS = frozenset({"sde", "beta_min", "beta_max", "sigma_min", "sigma_max"})
NO_MODEL = "Train a model first: Train > Play (Space)"


def image_model_problem(model, dataset) -> str | None:
    """Why `model` cannot be used on `dataset`'s images (a sentence for the panel), or None when it can."""
    if model is None or model.image_shape is None:
        return NO_MODEL
    shape = tuple(dataset.images.shape[1:])
    if tuple(model.image_shape) != shape:
        return (f"The model makes {'×'.join(map(str, model.image_shape))} images but the dataset has "
                f"{'×'.join(map(str, shape))}: train a model on this dataset (Train > Play).")
    return None


def image_run_problem(state) -> str | None:
    """Why the state's model cannot be run on its image dataset (a sentence for a panel), or None when it can."""
    if state.images is None:
        return NO_DATASET
    return image_model_problem(state.model, state.images)


def is_conditional_image_model(model) -> bool:
    """True for an image model trained with class labels (guidance and a class picker apply)."""
    return model is not None and model.image_shape is not None and model.num_classes > 0


class ImageForwardPanel(QWidget):
    """K dataset images along x_t = alpha(t) y + sigma(t) eps; at the time bar's t, x_t beside the model's x0_hat."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Forward diffusion (images)")
        self.strip_view = ImageGridView(title="")
        self.strip_view.setToolTip(
            "One row per image: x_t = α(t)·y + σ(t)·ε at t = 0 … 1 with ONE fixed noise ε per image, so the row is\n"
            "one path of the forward SDE; y = 2x − 1 are the normalised pixels, shown back as x = (x_t + 1)/2,\n"
            "clipped to [0, 1].")
        self.xt_view = ImageGridView(title="")
        self.xt_view.setToolTip("x_t = α(t)·y + σ(t)·ε at the time bar's t (the same images and noise as the strip).")
        self.x0_view = ImageGridView(title="")
        self.x0_view.setToolTip(
            "The model's denoiser x̂₀ = E[x₀ | x_t] = (x_t + σ² s_θ(x_t, t)) / α (Tweedie's formula) on the x_t at\n"
            "the left: what the network believes the clean image is (unconditional for class-conditional models).")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setToolTip("The marginal's coefficients at t, x_t | x₀ ~ N(α x₀, σ² I) in normalised pixels, its\n"
                             "signal-to-noise ratio α²/σ², and the denoiser's mean squared error against x₀ (pixels).")
        self.reshuffle_btn = QPushButton("Reshuffle")
        self.reshuffle_btn.setToolTip(f"Pick {N_IMAGES} other dataset images and new noise ε for them.")
        self.reshuffle_btn.clicked.connect(self.reshuffle)

        bottom = QHBoxLayout()
        bottom.addWidget(self.xt_view, 1)
        bottom.addWidget(self.x0_view, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.reshuffle_btn)
        controls.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.strip_view, 3)
        layout.addLayout(bottom, 2)
        layout.addLayout(controls)

        self._shuffles = 0
        self.images: np.ndarray | None = None  # (K, C, H, W) data-space [0, 1] images shown
        self.noise: torch.Tensor | None = None  # (K, D) the fixed eps of each image (normalised space)
        self.strip_norm: torch.Tensor | None = None  # (K, len(STRIP_TIMES), D) normalised x_t of the strip
        self.x_t: np.ndarray | None = None  # (K, C, H, W) data-space x_t at the time bar's t (not clipped)
        self.x0_hat: np.ndarray | None = None  # (K, C, H, W) the model's E[x0 | x_t], data space, or None
        self._coefficients = ""  # the info line's description of the marginal at t
        self._dirty: set[str] = {"strip", "now", "denoise"}
        self.redraws = 0
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        state.imagesChanged.connect(self._on_images)
        state.timeChanged.connect(lambda _t: self._request("now", "denoise"))
        state.modelChanged.connect(lambda: self._request("denoise"))
        state.settingsChanged.connect(self._on_settings)
        self._on_images()

    # ---- state -----------------------------------------------------------------------------------------------
    def _on_images(self) -> None:
        self._shuffles = 0
        self._pick()

    def _on_settings(self, names: set) -> None:
        if "seed" in names:
            self._pick()
        elif names & SDE_KEYS:
            self._request("strip", "now", "denoise")

    def reshuffle(self) -> None:
        """Other images and other noise."""
        self._shuffles += 1
        self._pick()

    def _pick(self) -> None:
        ds = self.state.images
        self.reshuffle_btn.setEnabled(ds is not None)
        if ds is None:
            self.images = self.noise = None
        else:
            seed = [int(self.state.settings.seed), self._shuffles]
            rng = np.random.default_rng(seed)
            idx = np.sort(rng.choice(len(ds), size=min(N_IMAGES, len(ds)), replace=False))
            self.images = ds.images[idx]
            g = torch.Generator().manual_seed(int(rng.integers(2**31)))
            self.noise = torch.randn((len(idx), ds.dim), generator=g, dtype=torch.float64)
        self._request("strip", "now", "denoise")

    def _request(self, *parts: str) -> None:
        self._dirty.update(parts)
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()

    # ---- computing -------------------------------------------------------------------------------------------
    def forward(self, t) -> torch.Tensor:
        """Normalised x_t = alpha(t) y + sigma(t) eps of the shown images, for times t (T,): (K, T, D) float64."""
        ds_norm, sde = self.state.normalization, self.state.sde()
        y = ds_norm.to_norm(torch.as_tensor(self.images, dtype=torch.float64).reshape(len(self.images), -1))
        alpha, sigma = sde.marginal_coefficients(torch.as_tensor(np.asarray(t, np.float64)))
        return alpha[None, :, None] * y[:, None, :] + sigma[None, :, None] * self.noise[:, None, :]

    def _to_images(self, y: torch.Tensor) -> np.ndarray:
        """Normalised (..., D) -> data-space float32 (..., C, H, W) (not clipped)."""
        x = self.state.normalization.to_data(y.reshape(-1, y.shape[-1]))
        return x.numpy().astype(np.float32).reshape(*y.shape[:-1], *self.images.shape[1:])

    def redraw(self) -> None:
        """Recompute and show what changed since the last redraw (strip, x_t at t, the denoiser)."""
        self.redraws += 1
        dirty, self._dirty = self._dirty, set()
        if self.images is None:
            self.strip_norm = self.x_t = self.x0_hat = None
            for view in (self.strip_view, self.xt_view, self.x0_view):
                view.set_title("")
                view.set_message(NO_DATASET)
            self.info.setText("")
            return
        try:
            if "strip" in dirty:
                self._draw_strip()
            if "now" in dirty:
                self._draw_now()
            if dirty & {"now", "denoise"}:
                self._draw_denoised()
        except (ValueError, RuntimeError) as e:  # e.g. an SDE setting the marginal cannot use
            self.info.setText(f"Cannot compute the forward process: {e}")

    def _draw_strip(self) -> None:
        self.strip_norm = self.forward(STRIP_TIMES)
        sde = self.state.settings.sde
        k, n_t = self.strip_norm.shape[:2]
        pictures = self._to_images(self.strip_norm).reshape(k * n_t, *self.images.shape[1:])
        self.strip_view.set_title(f"x_t = α(t)·y + σ(t)·ε,  t = 0 → 1  ({SDE_NAMES.get(sde, sde)})")
        self.strip_view.set_images(np.clip(pictures, 0, 1), n_t,
                                   column_labels=[f"t = {t:.2f}" for t in STRIP_TIMES])

    def _draw_now(self) -> None:
        t = float(self.state.t)
        self.x_t = self._to_images(self.forward([t])[:, 0])
        self.xt_view.set_title(f"x_t at t = {t:.3f}")
        self.xt_view.set_images(np.clip(self.x_t, 0, 1), 3)
        alpha, sigma = self.state.sde().marginal_coefficients(torch.tensor([t], dtype=torch.float64))
        a, s = float(alpha[0]), float(sigma[0])
        snr = a * a / (s * s) if s > 0 else float("inf")
        self._coefficients = f"t = {t:.3f}: α = {a:.3f}, σ = {s:.3f}, SNR α²/σ² = {snr:.3g}"

    def _draw_denoised(self) -> None:
        model = self.state.model
        problem = image_model_problem(model, self.state.images)
        if problem is None and model.sde.config() != self.state.sde().config():
            problem = "The model was trained with other SDE settings: train again (Train > Play)."
        text = self._coefficients
        if problem is not None:
            self.x0_hat = None
            self.x0_view.set_title("x̂₀ = E[x₀ | x_t]")
            self.x0_view.set_message(problem)
        else:
            t = max(float(self.state.t), float(model.sde.sampling_eps))  # sigma(0) = 0: the score is undefined there
            flat = self.x_t.reshape(len(self.x_t), -1)
            self.x0_hat = np.asarray(model.denoise(flat, t), np.float32).reshape(self.x_t.shape)
            mse = float(np.mean((self.x0_hat - self.images) ** 2))
            self.x0_view.set_title("x̂₀ = E[x₀ | x_t] (model)")
            self.x0_view.set_images(np.clip(self.x0_hat, 0, 1), 3)
            text += f"   denoiser MSE vs x₀: {mse:.4f}"
        self.info.setText(text)

    def shutdown(self) -> None:
        """Stop the redraw timer (nothing else runs in the background; safe to call twice)."""
        self._redraw.stop()
