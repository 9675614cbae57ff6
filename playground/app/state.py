"""The app's shared state: one QObject holding target, settings, time and the current model snapshot.

Panels read it and listen to its signals; they never talk to each other directly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from playground.app.samplers import sde_sampler_for
from playground.app.settings import Settings  # noqa: F401 - re-exported (Qt-free home: playground.app.settings)
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn, make_sde, suggest_sigma_max
from playground.data.targets.target import Target

# Choices offered by the settings panel (and usable by any panel). Names match the core / trainer.
SDE_NAMES: dict[str, str] = {"vp": "VP", "subvp": "sub-VP", "ve": "VE", "rf": "rectified flow"}
OUTPUT_KINDS: dict[str, str] = {"eps": "\u03b5 (noise)", "score": "score", "x0": "x\u2080 (denoiser)", "edm": "EDM denoiser",
                                "v": "v (velocity)"}
OBJECTIVES: dict[str, str] = {"dsm": "denoising score matching", "ssm": "sliced score matching",
                              "fm": "flow matching"}
WEIGHTINGS: dict[str, str] = {"song": "\u03c3\u00b2 (Song)", "likelihood": "g(t)\u00b2 (likelihood)", "edm": "EDM"}

# Settings whose change makes the current model meaningless (another SDE, output kind or network): the app asks
# before applying them to a trained model and resets training. Everything else applies at once.
MODEL_KEYS: frozenset[str] = frozenset(
    {"sde", "beta_min", "beta_max", "sigma_min", "sigma_max", "output", "hidden", "depth", "objective", "weighting",
     "classes_2d"}
)
# Settings the trainer reads: lr and batch apply to a running trainer at once, seed and device when training is reset
# (or at once while nothing is trained yet). Samplers, particle counts and steps / seconds always apply at once.
TRAINER_KEYS: frozenset[str] = frozenset({"lr", "batch", "seed", "device"})


def with_implied_settings(changes: dict, settings: Settings) -> dict:
    """`changes` plus the settings they imply (those not in `changes` themselves): flow matching trains the velocity
    (output v, as `train --objective fm`) and takes no likelihood weighting (then σ², uniform t); rectified flow
    samples its reverse SDE with `samplers.sde_sampler_for` (ancestral instead of Euler–Maruyama)."""
    out = dict(changes)
    new = {**settings.to_dict(), **changes}
    if changes.get("objective") == "fm" and settings.objective != "fm":
        out.setdefault("output", "v")
        if new["weighting"] == "likelihood":
            out.setdefault("weighting", "song")
    if "sde" in changes and "sde_sampler" not in changes:
        sampler = sde_sampler_for(changes["sde"], settings.sde_sampler)
        if sampler != settings.sde_sampler:
            out["sde_sampler"] = sampler
    return {k: v for k, v in out.items() if k in changes or v != getattr(settings, k)}


class AppState(QObject):
    """Single source of truth for the GUI (napari-style model under Qt views)."""

    targetChanged = Signal()
    settingsChanged = Signal(set)  # names of the settings that changed
    timeChanged = Signal(float)
    modelChanged = Signal()  # a new model snapshot (or None after a reset)
    trainingChanged = Signal(bool)  # the training worker started (True) or stopped (False)
    imagesChanged = Signal()  # entered or left image mode, or another image dataset (see `set_images`)

    def __init__(self, target: Target, settings: Settings | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.t = 0.5
        self.model = None  # a ScoreModel snapshot, safe to evaluate on the UI thread
        self.training = False  # True while the training worker runs (panels may redraw less often)
        self._sde_cache: SDE | None = None
        self.target = target
        self.target_samples = target.sample(self.settings.target_samples, self.settings.seed)
        self.normalization = Normalization.fit(self.target_samples)
        self.images = None  # an ImageDataset in image mode (the 2D target is kept for when the user goes back)
        self.image_spec: str | None = None  # the spec the image dataset was loaded from ('digits', 'folder:...')

    @property
    def image_mode(self) -> bool:
        """True while the app trains and shows an image dataset instead of the 2D target."""
        return self.images is not None

    # ---- mutations -------------------------------------------------------------------------------------------
    def set_target(self, target: Target) -> None:
        self.target = target
        self.target_samples = target.sample(self.settings.target_samples, self.settings.seed)
        if self.images is None:
            self.normalization = Normalization.fit(self.target_samples)
        self._sde_cache = None
        self.targetChanged.emit()

    def set_images(self, dataset, spec: str | None = None) -> None:
        """Enter image mode with `dataset` (an ImageDataset; pixels normalised as y = 2x - 1), or leave it (None:
        back to the 2D target and its normalisation). Emits imagesChanged; the model is the caller's to reset."""
        self.images = dataset
        self.image_spec = spec if dataset is not None else None
        if dataset is None:
            self.normalization = Normalization.fit(self.target_samples)
        else:
            self.normalization = Normalization.pixels(dataset.dim)
        self._sde_cache = None
        self.imagesChanged.emit()

    def update_settings(self, **changes) -> None:
        """Change settings by name; emits settingsChanged(names). A new `target_samples` count re-draws the
        target's samples (and emits targetChanged after settingsChanged)."""
        changed = {k for k, v in changes.items() if getattr(self.settings, k) != v}
        if not changed:
            return
        self.settings = replace(self.settings, **changes)
        self._sde_cache = None
        self.settingsChanged.emit(changed)
        if "target_samples" in changed:
            self.set_target(self.target)

    def set_training(self, running: bool) -> None:
        if running != self.training:
            self.training = running
            self.trainingChanged.emit(running)

    def set_time(self, t: float) -> None:
        t = float(np.clip(t, 0.0, 1.0))
        if t != self.t:
            self.t = t
            self.timeChanged.emit(t)

    def set_model(self, model) -> None:
        self.model = model
        self.modelChanged.emit()

    # ---- derived ---------------------------------------------------------------------------------------------
    def sde(self) -> SDE:
        """The SDE in normalised coordinates, as the trainer builds it (VE sigma_max from the data if unset)."""
        if self._sde_cache is None:
            s = self.settings
            if s.sde == "ve":
                data = self.target_samples[:2000] if self.images is None else self.images.images[:2000]
                sigma_max = s.sigma_max or suggest_sigma_max(
                    self.normalization.to_norm(_tensor(data).reshape(len(data), -1))
                )
                self._sde_cache = make_sde("ve", sigma_min=s.sigma_min, sigma_max=sigma_max)
            else:
                self._sde_cache = make_sde(s.sde, beta_min=s.beta_min, beta_max=s.beta_max)
        return self._sde_cache

    def exact_score_fn(self) -> ScoreFn | None:
        """The target's exact score of the data-space process (float64 reference), None for an empty target: the
        closed form of a Gaussian mixture, else the ideal denoiser of its point set (of EXACT_POINTS fixed samples
        for a continuous target), as the CLI's --exact (`target_score_fn`)."""
        if len(self.target_samples) == 0:
            return None
        norm = self.normalization
        if self.target.gmm is not None:
            return norm.data_score_fn(norm.gmm_to_norm(self.target.gmm).score_fn(self.sde()))
        from playground.core.diffusion.exact_score import EmpiricalScore, exact_point_set

        pts = norm.to_norm(_tensor(exact_point_set(self.target)))
        return norm.data_score_fn(EmpiricalScore(pts).score_fn(self.sde()))


def _tensor(a: np.ndarray):
    import torch

    return torch.as_tensor(np.asarray(a, dtype=np.float32))
