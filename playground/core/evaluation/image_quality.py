"""Sample metrics of generated images against a dataset: memorisation (nearest-image distance), sliced Wasserstein
distance against the floor of two real sets, and the reference classifier's scores.

`nearest_distance`: generated images that copy training images sit much closer to them than held-out real images do.
"""

from __future__ import annotations

import numpy as np
import torch

from playground.core.evaluation.metrics import sliced_wasserstein
from playground.core.evaluation.reference_classifier import classifier_scores, train_classifier
from playground.data.images.dataset import ImageDataset


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


def image_sample_report(samples: np.ndarray, dataset: ImageDataset, asked=None, seed: int = 0,
                        classifier_seconds: float = 3.0, max_reference: int = 20000) -> dict:
    """Metrics of generated images against a dataset: mean nearest-dataset-image distance of the samples vs that
    of dataset images to the rest (leave-one-out); the sliced Wasserstein distance to as many dataset images vs
    the floor of two disjoint dataset sets; with labels, an ImageClassifier (trained on 80% of the dataset) and its
    scores. At most `max_reference` dataset images are used."""
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
