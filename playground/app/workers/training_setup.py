"""What a training run is built from, read off the app's state (Qt-free): the TrainConfig, the Trainer's arguments
(`training_recipe`), the Trainer itself, and the small preview sample the training panel shows.

Image mode (`state.images` set): the trainer is a UNet on the flat images (`image_config`, like
`image_training.image_trainer`: IMAGE_TRAIN_DEFAULTS under the settings' SDE, output, objective, weighting, lr, batch,
base channels and limits; with `settings.image_classes` and a labelled set, class-conditional with label dropout),
and the preview is a small grid (`preview_plan`: 16 images, one class per tile for a conditional model).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Callable

import numpy as np

from playground.app.state import AppState

LABEL_DROPOUT_2D = 0.15  # a 2D class-conditional model's label dropout (as the CLI's train --classes)
IMAGE_PREVIEW_N = 16  # the training preview of an image model: a 4 x 4 grid
IMAGE_PREVIEW_STEPS = 30  # Euler-Maruyama steps of that preview (a rough look, cheap next to training)


def train_config(state: AppState, threads: int = 1, **overrides):
    """A TrainConfig from the app's settings (names shared with Settings), one torch thread by default."""
    from playground.core.training.config import TrainConfig

    s = state.settings.to_dict()
    names = {f.name for f in fields(TrainConfig)}
    kw = {k: v for k, v in s.items() if k in names}
    kw["threads"] = threads
    kw.update(overrides)
    return TrainConfig(**{k: v for k, v in kw.items() if k in names})


def image_config(state: AppState, threads: int = 1):
    """The TrainConfig of an image-mode trainer: IMAGE_TRAIN_DEFAULTS (UNet, warm-up, EMA, clipping, label dropout)
    under the settings shared with TrainConfig (SDE, output, objective, weighting, lr, batch, base_channels, steps,
    seconds, seed, device); label dropout only for a class-conditional model (`trains_classes`)."""
    from playground.core.training.image_training import image_train_config

    cfg = train_config(state, threads=threads).to_dict()
    shared = {k: cfg[k] for k in state.settings.to_dict() if k in cfg}
    config = image_train_config(**shared, threads=threads)
    if not trains_classes(state):
        config.label_dropout = 0.0
    return config


def trains_classes(state: AppState) -> bool:
    """True when image-mode training is class-conditional: the switch is on and the dataset has labels."""
    images = state.images
    return bool(state.settings.image_classes and images is not None and images.labels is not None)


def trains_classes_2d(state: AppState) -> bool:
    """True when 2D training is class-conditional: the switch is on and the target is a Gaussian mixture, whose
    components are the classes."""
    return bool(state.settings.classes_2d and state.images is None and state.target.gmm is not None)


def preview_plan(preview_n: int, preview_steps: int, image: bool, num_classes: int) -> tuple[int, int, np.ndarray | None]:
    """(samples, EM steps, class labels or None) of the training preview: `preview_n` points in 2D; for an image model
    IMAGE_PREVIEW_N images in IMAGE_PREVIEW_STEPS steps, labelled 0, 1, ... K-1, 0, ... when class-conditional.
    preview_n <= 0 turns previews off in both modes."""
    if preview_n <= 0 or not image:
        return max(preview_n, 0), preview_steps, None
    labels = np.arange(IMAGE_PREVIEW_N) % num_classes if num_classes else None
    return IMAGE_PREVIEW_N, IMAGE_PREVIEW_STEPS, labels


def trainer_preview_plan(trainer, preview_n: int, preview_steps: int) -> tuple[int, int, np.ndarray | None]:
    """`preview_plan` for `trainer`'s network (a UNet: an image grid) and classes."""
    cfg = trainer.config
    return preview_plan(preview_n, preview_steps, cfg.network == "unet", int(cfg.num_classes or 0))


def training_recipe(state: AppState, threads: int = 1) -> tuple:
    """The arguments of `build_trainer` for a new trainer: (TrainConfig, target samples) from the settings, with
    the samples' component labels and class names for a class-conditional 2D model (`trains_classes_2d`); in
    image mode (TrainConfig, flat images, labels, class names, info) with labels and class names None for an
    unconditional model and info naming the dataset (stored in the model file: File > Open model reloads it)."""
    images = state.images
    if images is None:
        if trains_classes_2d(state):
            from playground.data.targets.classes import class_names, sample_with_classes

            points, labels = sample_with_classes(state.target, len(state.target_samples), state.settings.seed)
            return (train_config(state, threads=threads, label_dropout=LABEL_DROPOUT_2D), points, labels,
                    class_names(state.target), None)
        return train_config(state, threads=threads), state.target_samples
    classes = trains_classes(state)
    info = {"data": state.image_spec, "dataset": images.info()}
    return (image_config(state, threads=threads), images.images, images.labels if classes else None,
            images.class_names if classes else None, info)


def build_trainer(config, data, labels=None, class_names=None, info=None):
    """A Trainer from `training_recipe`'s arguments."""
    from playground.core.training.trainer import Trainer

    trainer = Trainer(config, data, labels=labels, class_names=class_names)
    trainer.info.update(info or {})
    return trainer


class _Cancelled(Exception):
    pass


def preview_samples(model, preview_n: int, preview_steps: int,
                    should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
    """A small sample of `model` (data space; images for an image model, see `preview_plan`) for the training
    panel; runs on the worker thread and gives up (None) as soon as should_stop() says so."""

    def check(_info) -> None:
        if should_stop is not None and should_stop():
            raise _Cancelled

    n, steps, labels = preview_plan(preview_n, preview_steps, model.image_shape is not None, model.num_classes)
    if n <= 0:
        return None
    try:
        return model.sample(n, sampler="em", steps=steps, seed=1, callback=check, class_labels=labels)
    except _Cancelled:
        return None
