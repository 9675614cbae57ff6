"""Image models on top of the 2D training engine: defaults, bits/dim, sample metrics and a reference classifier.

    ds = load_image_dataset("digits")
    trainer = image_trainer(ds, image_train_config(seconds=60), classes=True)   # a UNet on flat (N, C*H*W) pixels
    trainer.run(); model = trainer.snapshot()
    x = model.sample(64, class_labels=3, guidance=2.0)                          # (64, 1, 8, 8) in [0, 1]

The trainer keeps images flat and normalises them as y = 2x - 1 (`Normalization.pixels`), so the model file's
log_det_jacobian is D ln 2 and bits/dim are those of [0, 1] pixels. `IMAGE_TRAIN_DEFAULTS` are tuned for 8x8 digits
in about a minute on 2 CPU threads (`python -m playground bench images`).

Sample metrics: `nearest_distance` (memorisation: generated images that copy training images sit much closer to
them than held-out real images do) and `ImageClassifier`, a small MLP trained on real images for a few seconds that
scores generated ones (the fraction classified confidently, and for class-conditional sampling the fraction of the
asked class). A plain softmax classifier is confident on images that are no digit at all (uniform noise: about 80%
on 8x8 digits), so it also learns an outlier class from synthetic non-images (outlier exposure, Hendrycks et al.
2019: uniform noise, independent per-pixel Gaussians with the data's mean and std, pixel-shuffled images); an image
counts as confident only when one real class has probability >= CONFIDENT.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from playground.core.model import ScoreModel
from playground.core.trainer import TrainConfig, Trainer
from playground.data.images import ImageDataset

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
}
"""TrainConfig overrides for images (the 2D defaults are tuned for an MLP on points)."""

CONFIDENT = 0.9
"""A classifier output counts as confident when its largest probability is at least this."""


def image_train_config(**overrides) -> TrainConfig:
    """TrainConfig with IMAGE_TRAIN_DEFAULTS, then `overrides` (any TrainConfig field)."""
    return TrainConfig(**{**IMAGE_TRAIN_DEFAULTS, **overrides})


def image_trainer(dataset: ImageDataset, config: TrainConfig, classes: bool = False) -> Trainer:
    """A Trainer for a UNet on `dataset` (class-conditional with its labels when `classes`)."""
    if classes and dataset.labels is None:
        raise ValueError(f"{dataset.name or 'the dataset'} has no labels: cannot train a class-conditional model")
    if not classes:
        config = TrainConfig.from_dict({**config.to_dict(), "num_classes": 0, "label_dropout": 0.0})
    labels = dataset.labels if classes else None
    names = dataset.class_names if classes else None
    trainer = Trainer(config, dataset.images, labels=labels, class_names=names)
    trainer.info["dataset"] = dataset.info()
    return trainer


def dequantize(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """[0, 1] pixels plus uniform noise of one 8-bit level, clipped: the continuous data whose bits/dim (offset 8)
    bound the discrete data's (Ho et al. 2020)."""
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.uniform(0, 1 / 256, size=images.shape).astype(np.float32), 0, 1)


def bits_per_dim(model: ScoreModel, images: np.ndarray, *, eps: float | None = None, tol: float = 1e-5,
                 seed: int = 0, batch_size: int | None = 256) -> dict:
    """Mean bits/dim of [0, 1] images (N, C, H, W) through the PF-ODE with Hutchinson's divergence estimator.

    The images are dequantised (`dequantize`), normalised by the model and the normalisation's log-det Jacobian
    (D ln 2 for y = 2x - 1) is added, so the figure is for pixel space with the 8-bit offset log2(256).
    Returns {'bpd', 'bpd_sem' (its standard error), 'nfe', 'n', 'eps'}."""
    from playground.core.likelihood import log_likelihood

    x = torch.as_tensor(dequantize(np.asarray(images, dtype=np.float32), seed)).reshape(len(images), -1)
    y = model.to_norm(x.to(torch.float64)).to(model.device)
    eps = model.sde.sampling_eps if eps is None else eps
    res = log_likelihood(model.score_norm, model.sde, y, eps=eps, divergence="hutchinson", rtol=tol, atol=tol,
                         seed=seed, log_det_jacobian=model.normalization.log_det_jacobian, batch_size=batch_size)
    bpd = res.bits_per_dim().detach().cpu().numpy()
    sem = float(bpd.std(ddof=1) / math.sqrt(len(bpd))) if len(bpd) > 1 else float("nan")
    return {"bpd": float(bpd.mean()), "bpd_sem": sem, "nfe": res.nfe, "n": len(bpd), "eps": eps}


def nearest_distance(queries: np.ndarray, references: np.ndarray, exclude: np.ndarray | None = None,
                     chunk: int = 1024) -> np.ndarray:
    """Euclidean distance (pixel units) from each query image to its nearest reference image, (N,).
    exclude: for each query, the index of a reference to skip (leave-one-out when queries come from references)."""
    q = torch.as_tensor(np.asarray(queries, dtype=np.float32)).reshape(len(queries), -1)
    r = torch.as_tensor(np.asarray(references, dtype=np.float32)).reshape(len(references), -1)
    skip = None if exclude is None else torch.as_tensor(np.asarray(exclude)).long()
    out = []
    for s in range(0, len(q), chunk):
        d = torch.cdist(q[s : s + chunk], r)
        if skip is not None:
            d[torch.arange(len(d)), skip[s : s + chunk]] = float("inf")
        out.append(d.min(1).values)
    return torch.cat(out).numpy()


class ImageClassifier(nn.Module):
    """A small MLP on flat [0, 1] pixels: Linear(D, hidden) -> SiLU -> Linear(hidden, K + 1); the last logit is
    the outlier class ("not an image of the set"), index `num_classes`."""

    def __init__(self, dim: int, num_classes: int, hidden: int = 256):
        super().__init__()
        self.num_classes = num_classes
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, num_classes + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, K + 1) of images (N, ...)."""
        return self.body(x.reshape(len(x), -1))

    def probabilities(self, images) -> np.ndarray:
        """Probabilities (N, K + 1) of [0, 1] images: the K classes, then the outlier class."""
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(images, dtype=np.float32))
            return torch.softmax(self(x), dim=1).numpy()

    def accuracy(self, images, labels) -> float:
        return float((self.probabilities(images).argmax(1) == np.asarray(labels)).mean())


def outlier_images(x: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """n flat synthetic non-images like the flat [0, 1] images x (N, D), a third of each kind: uniform noise,
    independent per-pixel Gaussians with x's mean and std (clipped), and images of x with their pixels shuffled."""
    d = x.shape[1]
    kind = torch.arange(n) % 3
    uniform = torch.rand(n, d, generator=generator)
    gauss = (x.mean(0) + x.std(0) * torch.randn(n, d, generator=generator)).clamp(0, 1)
    picks = x[torch.randint(0, len(x), (n,), generator=generator)]
    shuffled = picks.gather(1, torch.rand(n, d, generator=generator).argsort(1))
    return torch.where((kind == 0)[:, None], uniform, torch.where((kind == 1)[:, None], gauss, shuffled))


def train_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int, seconds: float = 10.0,
                     max_epochs: int = 100, batch: int = 128, seed: int = 0) -> ImageClassifier:
    """An ImageClassifier trained with AdamW on real images and, in each batch, half as many `outlier_images`
    labelled as the outlier class; for at most `seconds` or `max_epochs`."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = ImageClassifier(int(np.prod(images.shape[1:])), num_classes)
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(len(images), -1)
    y = torch.as_tensor(np.asarray(labels)).long()
    opt = torch.optim.AdamW(clf.parameters(), lr=3e-3, weight_decay=1e-4)
    start = time.perf_counter()
    for _ in range(max_epochs):
        perm = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), batch):
            i = perm[s : s + batch]
            outliers = outlier_images(x, max(1, len(i) // 2), gen)
            xb = torch.cat([x[i], outliers])
            yb = torch.cat([y[i], torch.full((len(outliers),), num_classes, dtype=torch.long)])
            loss = nn.functional.cross_entropy(clf(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if time.perf_counter() - start > seconds:
            break
    return clf.eval().requires_grad_(False)


@dataclass
class ClassifierScores:
    """How a classifier sees generated images: confident = one real class has probability >= CONFIDENT; on_class =
    predicted class equals the asked one (None when no class was asked); predicted: argmax over the classes and the
    outlier class (index K for an outlier)."""

    confident: float
    on_class: float | None
    predicted: np.ndarray

    def as_dict(self) -> dict:
        return {"confident": self.confident, "on_class": self.on_class}


def classifier_scores(classifier: ImageClassifier, images, asked=None) -> ClassifierScores:
    """Score generated images; asked: the class each was generated for ((N,) ints or one int), or None."""
    p = classifier.probabilities(images)
    predicted = p.argmax(1)
    on_class = None
    if asked is not None:
        on_class = float((predicted == np.broadcast_to(np.asarray(asked), predicted.shape)).mean())
    confident = p[:, : classifier.num_classes].max(1) >= CONFIDENT
    return ClassifierScores(float(confident.mean()), on_class, predicted)


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one uint8 picture (rows, cols) or (rows, cols, 3), tiles on a mid-grey border."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"image_grid needs (N, C in {{1, 3}}, H, W) images, got {images.shape}")
    n, c, h, w = images.shape
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((c, rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for k in range(n):
        r, q = divmod(k, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = images[k]
    pixels = np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)
    return pixels[0] if c == 1 else pixels.transpose(1, 2, 0)


def save_image_grid(path, images: np.ndarray, columns: int | None = None, zoom: int | None = None) -> None:
    """Write images (N, C, H, W) in [0, 1] as one PNG grid, each pixel drawn as zoom x zoom (default: tiles of
    about 32 px, so 8x8 digits stay visible)."""
    from PIL import Image

    pic = image_grid(images, columns)
    zoom = zoom or max(1, 32 // np.asarray(images).shape[-1])
    img = Image.fromarray(pic)
    if zoom > 1:
        img = img.resize((img.width * zoom, img.height * zoom), Image.NEAREST)
    img.save(path)


def image_sample_report(samples: np.ndarray, dataset: ImageDataset, asked=None, seed: int = 0,
                        classifier_seconds: float = 3.0, max_reference: int = 20000) -> dict:
    """Metrics of generated images against a dataset: mean nearest-dataset-image distance of the samples vs that
    of dataset images to the rest (leave-one-out); the sliced Wasserstein distance to as many dataset images vs
    the floor of two disjoint dataset sets; with labels, an ImageClassifier (trained on 80% of the dataset) and its
    scores. At most `max_reference` dataset images are used."""
    from playground.core.metrics import sliced_wasserstein

    rng = np.random.default_rng(seed)
    if len(dataset) > max_reference:
        dataset = dataset.subset(np.sort(rng.choice(len(dataset), max_reference, replace=False)))
    real = dataset.images
    n = min(len(samples), len(real) // 2)
    perm = rng.permutation(len(real))
    queries = perm[: min(len(samples), 1000)]
    report = {
        "nn_samples": float(nearest_distance(samples, real).mean()),
        "nn_data": float(nearest_distance(real[queries], real, exclude=queries).mean()),
        "swd": sliced_wasserstein(samples[:n].reshape(n, -1), real[perm[:n]].reshape(n, -1), seed=seed),
        "swd_floor": sliced_wasserstein(real[perm[:n]].reshape(n, -1), real[perm[n : 2 * n]].reshape(n, -1), seed=seed),
        "confident": None,
    }
    if dataset.labels is not None:
        train, test = dataset.split(0.2, seed)
        clf = train_classifier(train.images, train.labels, dataset.num_classes, seconds=classifier_seconds, seed=seed)
        scores = classifier_scores(clf, samples, asked)
        report.update(scores.as_dict(), classifier_accuracy=clf.accuracy(test.images, test.labels),
                      confident_real=classifier_scores(clf, test.images).confident)
    return report

