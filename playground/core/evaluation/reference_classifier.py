"""The reference classifier that scores generated images: a small MLP with an outlier class.

A plain softmax classifier is confident on images that are no digit at all (uniform noise: about 80% on 8x8
digits), so it also learns an outlier class from synthetic non-images (outlier exposure, Hendrycks et al. 2019:
uniform noise, independent per-pixel Gaussians with the data's mean and std, pixel-shuffled images); an image counts
as confident only when one real class has probability >= CONFIDENT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

CONFIDENT = 0.9
"""A classifier output counts as confident when its largest probability is at least this."""


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
