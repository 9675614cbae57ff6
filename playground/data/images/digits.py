"""scikit-learn's bundled 8x8 handwritten digits as an ImageDataset, read without importing sklearn.datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from playground.data.images.dataset import ImageDataset
from playground.data.targets.target import DataError

DIGIT_CLASSES = tuple(str(i) for i in range(10))


def load_digits_dataset() -> ImageDataset:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (UCI optical digits), values 0..16 -> [0, 1].

    Reads scikit-learn's bundled digits.csv.gz directly (importing sklearn.datasets takes seconds); falls back to
    sklearn.datasets.load_digits if that file is not where it usually is."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise DataError("digits: needs scikit-learn (pip install scikit-learn), which bundles the 8x8 digits")
    data = None
    for loc in spec.submodule_search_locations or ():
        csv = Path(loc) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            try:
                arr = np.loadtxt(csv, delimiter=",", dtype=np.float32)
            except (OSError, ValueError):
                continue
            if arr.shape == (1797, 65):
                data, target = arr[:, :64], arr[:, 64]
                break
    if data is None:  # pragma: no cover - depends on the scikit-learn layout
        from sklearn.datasets import load_digits

        d = load_digits()
        data, target = d.data, d.target
    images = (np.asarray(data, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return ImageDataset(images, np.asarray(target).astype(np.int64), DIGIT_CLASSES, "digits")
