"""Image training on top of the 2D training engine: the UNet defaults for images and a Trainer for an ImageDataset.

    ds = load_image_dataset("digits")
    trainer = image_trainer(ds, image_train_config(seconds=60), classes=True)   # a UNet on flat (N, C*H*W) pixels
    trainer.run(); model = trainer.snapshot()
    x = model.sample(64, class_labels=3, guidance=2.0)                          # (64, 1, 8, 8) in [0, 1]

The trainer keeps images flat and normalises them as y = 2x - 1 (`Normalization.pixels`), so the model file's
log_det_jacobian is D ln 2 and bits/dim are those of [0, 1] pixels. Images train on uniformly dequantised pixels
(255 x + u) / 256, the density whose bits/dim bound the 8-bit images' (`image_likelihood`), with EDM's sigma_data
measured from the normalised data (~0.75 for the digits and shapes; EDM's 0.5 is CIFAR-10's).
`IMAGE_TRAIN_DEFAULTS` are tuned for 8x8 digits in about a minute on 2 CPU threads (`python -m playground bench
images`).
"""

from __future__ import annotations

from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer
from playground.data.images.dataset import ImageDataset

IMAGE_TRAIN_DEFAULTS: dict = {
    "network": "unet",
    "output": "edm",  # EDM's preconditioned denoiser and weighting: clearly better digits in a minute (bench images)
    "weighting": "edm",
    "base_channels": 16,
    "batch": 64,
    "lr": 3e-3,
    "warmup": 50,
    "ema_decay": 0.999,
    "grad_clip": 1.0,
    "label_dropout": 0.15,
    "sigma_data": None,  # measured: the std of the normalised, dequantised training pixels
    "dequantize": True,  # train on (255 x + u) / 256, the density bits/dim are reported for
}
"""TrainConfig overrides for images (the 2D defaults are tuned for an MLP on points)."""


def image_train_config(**overrides) -> TrainConfig:
    """TrainConfig with IMAGE_TRAIN_DEFAULTS, then `overrides` (any TrainConfig field)."""
    return TrainConfig(**{**IMAGE_TRAIN_DEFAULTS, **overrides})


def image_trainer(dataset: ImageDataset, config: TrainConfig, classes: bool = False, distributed=None) -> Trainer:
    """A Trainer for a UNet on `dataset` (class-conditional with its labels when `classes`; distributed: this
    rank's DistributedRun under torchrun)."""
    if classes and dataset.labels is None:
        raise ValueError(f"{dataset.name or 'the dataset'} has no labels: cannot train a class-conditional model")
    if not classes:
        config = TrainConfig.from_dict({**config.to_dict(), "num_classes": 0, "label_dropout": 0.0})
    labels = dataset.labels if classes else None
    names = dataset.class_names if classes else None
    trainer = Trainer(config, dataset.images, labels=labels, class_names=names, distributed=distributed)
    trainer.info["dataset"] = dataset.info()
    return trainer
