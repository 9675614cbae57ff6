"""Procedural shapes: balanced classes, visible and distinct shapes at every size, seeded."""

import numpy as np
import pytest

from playground.data.images.shapes import make_shapes


@pytest.mark.parametrize("size", [8, 16, 28])
def test_shapes_each_size(size):
    ds = make_shapes(size, n=200, seed=1)
    assert ds.images.shape == (200, 1, size, size) and ds.images.dtype == np.float32
    assert ds.num_classes == 5 and np.bincount(ds.labels).tolist() == [40] * 5
    assert 0 <= ds.images.min() and ds.images.max() <= 1
    # every image has a visible shape that does not touch the border too much, and classes differ on average
    assert (ds.images.reshape(200, -1).max(1) > 0.5).all()
    means = np.stack([ds.images[ds.labels == k].mean(0) for k in range(5)])
    assert np.abs(means[:, None] - means[None]).sum(axis=(2, 3, 4))[~np.eye(5, dtype=bool)].min() > 0.5
    np.testing.assert_array_equal(make_shapes(size, n=200, seed=1).images, ds.images)  # seeded
    assert not np.array_equal(make_shapes(size, n=200, seed=2).images, ds.images)
