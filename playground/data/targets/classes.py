"""Classes of a 2D target: a Gaussian mixture's components (a GMM file's, a preset's, the Gaussians editor's) are
its classes, labelled 0..K-1 in the order of the components."""

from __future__ import annotations

import numpy as np
import torch

from playground.data.targets.target import Target


def class_names(target: Target) -> tuple[str, ...]:
    """The class names of a target ('0', '1', ... per mixture component); empty for a target without classes."""
    return tuple(str(k) for k in range(target.gmm.n_components)) if target.gmm is not None else ()


def sample_with_classes(target: Target, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n exact samples (n, 2) float32 and the component each came from (n,) int64; ValueError without classes."""
    if target.gmm is None:
        raise ValueError(f"{target.name} has no classes: only a Gaussian mixture's components are classes")
    x, labels = target.gmm.sample(int(n), torch.Generator().manual_seed(seed), return_labels=True)
    return x.numpy().astype(np.float32), labels.numpy().astype(np.int64)


def parse_class(target: Target, text: str) -> int:
    """A class given by index (or name) -> its index; ValueError naming the valid ones."""
    names = class_names(target)
    if not names:
        raise ValueError(f"{target.name} has no classes: only a Gaussian mixture's components are classes")
    if str(text) in names:
        return names.index(str(text))
    raise ValueError(f"unknown class {text!r} of {target.name}: it has classes 0..{len(names) - 1}")
