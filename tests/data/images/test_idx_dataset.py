"""MNIST / Fashion-MNIST from IDX files: folder or file, train / test split, missing or mismatched labels."""

import numpy as np
import pytest

from playground.data.images.dataset import DataWarning
from playground.data.images.idx import write_idx
from playground.data.images.idx_dataset import load_idx_dataset
from playground.data.images.spec import load_image_dataset
from playground.data.targets.target import DataError
from tests.data.images.idx_files import mnist_like


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dataset_from_folder_and_file(tmp_path, gz):
    images, labels, ip, lp = mnist_like(tmp_path, gz=gz)
    for arg in (tmp_path, ip):
        ds = load_idx_dataset(arg, kind="mnist")
        assert ds.images.shape == (12, 1, 28, 28) and ds.images.dtype == np.float32
        np.testing.assert_allclose(ds.images[:, 0], images / 255.0, atol=1e-7)
        np.testing.assert_array_equal(ds.labels, labels)
        assert ds.class_names == tuple(str(i) for i in range(10))
    f = load_image_dataset(f"fashion:{tmp_path}", size=14, rgb=True)
    assert f.images.shape == (12, 3, 14, 14) and f.class_names[9] == "Ankle boot"
    assert 0 <= f.images.min() and f.images.max() <= 1


def test_idx_test_split_and_missing_labels(tmp_path):
    mnist_like(tmp_path, prefix="t10k")
    ds = load_idx_dataset(tmp_path, split="test")
    assert len(ds) == 12 and ds.labels is not None
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.warns(DataWarning, match="no matching labels"):
        ds = load_idx_dataset(tmp_path / "t10k-images-idx3-ubyte.gz")
    assert ds.labels is None and ds.num_classes == 0
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_idx_dataset(tmp_path, split="train")


def test_idx_mismatched_label_count(tmp_path):
    _, _, ip, _ = mnist_like(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: 11 labels for 12 images"):
        load_idx_dataset(tmp_path)
