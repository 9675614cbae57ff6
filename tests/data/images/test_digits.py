"""scikit-learn's 8x8 digits: exactly scikit-learn's images and labels, read from its bundled CSV."""

import numpy as np

from playground.data.images.spec import load_image_dataset


def test_digits():
    ds = load_image_dataset("digits")
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == np.float32
    assert ds.labels.shape == (1797,) and ds.labels.dtype == np.int64
    assert ds.num_classes == 10 and set(np.unique(ds.labels)) == set(range(10))
    assert ds.images.min() == 0 and ds.images.max() == 1
    assert load_image_dataset("digits", size=16, rgb=True).images.shape == (1797, 3, 16, 16)
    from sklearn.datasets import load_digits  # the fast CSV path reads exactly scikit-learn's digits

    ref = load_digits()
    np.testing.assert_array_equal(ds.images[:, 0] * 16, ref.images)
    np.testing.assert_array_equal(ds.labels, ref.target)
