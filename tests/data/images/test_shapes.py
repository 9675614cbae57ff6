"""Procedural shapes: balanced classes, visible and distinct shapes at every size, seeded."""

import numpy as np
import pytest

from playground.data.images.shapes import hsv_to_rgb, make_shapes
from playground.data.images.spec import load_image_dataset


@pytest.mark.parametrize("size", [8, 16, 28, 32])
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


def test_hsv_to_rgb_primaries_and_grey():
    h = np.array([0.0, 1 / 3, 2 / 3, 1 / 6, 0.5])
    rgb = hsv_to_rgb(h, np.ones(5), np.ones(5))
    np.testing.assert_allclose(rgb, [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]], atol=1e-12)
    np.testing.assert_allclose(hsv_to_rgb(np.array([0.3]), np.zeros(1), np.array([0.4])), [[0.4, 0.4, 0.4]])


def test_coloured_shapes_blend_one_foreground_and_one_background_colour_by_the_grey_coverage():
    """`shapes32 --rgb`: each image is bg (1 - c) + fg c with c the grey set's coverage; colours differ per image."""
    grey = make_shapes(32, n=60, seed=3)
    rgb = load_image_dataset("shapes32", rgb=True, n=60, seed=3)
    assert rgb.images.shape == (60, 3, 32, 32) and rgb.name == "shapes32-rgb"
    np.testing.assert_array_equal(rgb.labels, grey.labels)
    x = rgb.images.reshape(60, 3, -1)
    assert 0 <= x.min() and x.max() <= 1
    for k in range(60):
        cover = grey.images[k, 0].ravel() / grey.images[k, 0].max()
        inside, outside = cover > 0.999, cover < 1e-3
        fg, bg = x[k][:, inside].mean(1), x[k][:, outside].mean(1)
        np.testing.assert_allclose(x[k], bg[:, None] * (1 - cover) + fg[:, None] * cover, atol=0.02)
        assert fg.max() - fg.min() > 0.2 and np.abs(fg - bg).max() > 0.2  # saturated, and not its background
    hues = np.array([np.argmax(x[k][:, grey.images[k, 0].ravel() >= grey.images[k, 0].max() * 0.999].mean(1))
                     for k in range(60)])
    assert np.bincount(hues, minlength=3).min() >= 5  # red-, green- and blue-dominant shapes all occur
