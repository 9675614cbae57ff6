"""MNIST / Fashion-MNIST from IDX files: a folder with the standard file names (train or t10k split), or an images
file with its labels file found next to it by name (without one the set is unlabelled, with a DataWarning)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from playground.data.images.dataset import DataWarning, ImageDataset
from playground.data.images.digits import DIGIT_CLASSES
from playground.data.images.idx import read_idx_images_labels
from playground.data.targets.target import DataError

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
IDX_KINDS = {"mnist": DIGIT_CLASSES, "fashion": FASHION_CLASSES}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}  # file name prefix of each split


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    # a few common variants (e.g. 'train-images.idx3-ubyte')
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name.replace(".", "-").startswith(stem.replace(".", "-")):
            return p
    return None


def locate_idx_files(path: str | os.PathLike, split: str = "train") -> tuple[Path, Path | None]:
    """(images file, labels file or None) for a folder of MNIST-style files or an images file."""
    path = Path(path).expanduser()
    if split not in SPLIT_PREFIX:
        raise DataError(f"unknown split {split!r}; choose 'train' or 'test'")
    if path.is_dir():
        prefix = SPLIT_PREFIX[split]
        images = _find(path, f"{prefix}-images-idx3-ubyte")
        if images is None:
            raise DataError(
                f"{path}: no {prefix}-images-idx3-ubyte[.gz] in this folder (expected the standard MNIST file names)"
            )
        return images, _find(path, f"{prefix}-labels-idx1-ubyte")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    name = path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images", "labels")):
        if a in name:
            cand = path.with_name(name.replace(a, b))
            if cand.is_file():
                return path, cand
            if cand.name.endswith(".gz") and cand.with_name(cand.name[:-3]).is_file():
                return path, cand.with_name(cand.name[:-3])
            if (cand.parent / (cand.name + ".gz")).is_file():
                return path, cand.parent / (cand.name + ".gz")
    return path, None


def load_idx_dataset(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike | None = None,
    kind: str = "mnist",
    split: str = "train",
    limit: int | None = None,
) -> ImageDataset:
    """MNIST / Fashion-MNIST from IDX files. images_path may be a folder (standard file names, `split` picks
    train or t10k) or the images file; labels_path defaults to the matching file next to it (None if absent:
    the set is then unlabelled, with a DataWarning)."""
    if kind not in IDX_KINDS:
        raise DataError(f"unknown IDX dataset kind {kind!r}; choose one of {sorted(IDX_KINDS)}")
    if labels_path is None:
        images_path, labels_path = locate_idx_files(images_path, split)
        if labels_path is None:
            warnings.warn(f"{images_path}: no matching labels file found; loading the images without labels",
                          DataWarning, stacklevel=2)
    imgs, labels = read_idx_images_labels(images_path, labels_path)
    names = IDX_KINDS[kind]
    if labels is not None and labels.max() >= len(names):
        names = tuple(str(i) for i in range(int(labels.max()) + 1))
    if limit is not None:
        imgs = imgs[:limit]
        labels = None if labels is None else labels[:limit]
    images = imgs[:, None].astype(np.float32) / 255.0
    return ImageDataset(images, labels, names if labels is not None else (), kind,
                        {"images": str(images_path), "labels": str(labels_path) if labels_path else None})


# Official files and their SHA-256 sums (as published in tensorflow/datasets url_checksums/{mnist,fashion_mnist}.txt
