"""ImageDataset: validation of pixels and labels, and the seeded train / test split."""

import numpy as np
import pytest

from playground.data.images.dataset import ImageDataset
from playground.data.images.shapes import make_shapes
from playground.data.targets.target import DataError


def test_dataset_validation_and_split():
    with pytest.raises(DataError, match="3 labels for 2 images"):
        ImageDataset(np.zeros((2, 1, 4, 4)), np.zeros(3), ("a",))
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        ImageDataset(np.full((2, 1, 4, 4), 2.0))
    ds = make_shapes(8, n=50)
    tr, te = ds.split(0.2, seed=0)
    assert len(tr) == 40 and len(te) == 10 and tr.class_names == ds.class_names
