"""Raster targets: geometry (longer side spans [-extent, extent], top row at +y), mass, alpha, exact density."""

import math

import numpy as np
import pytest
from PIL import Image

from playground.data.targets.raster import load_image, raster_target
from playground.data.targets.target import DataError
from tests.data.bombs import png_claiming

N = 5000


def one_hot(height: int, width: int, row: int, col: int) -> np.ndarray:
    grid = np.zeros((height, width))
    grid[row, col] = 1.0
    return grid


@pytest.mark.parametrize("extent", [4.0, 2.5])
def test_one_hot_pixel_samples_inside_its_rectangle(extent):
    # 4 rows x 8 columns: the longer side (8 px) spans [-extent, extent], so a pixel is extent / 4 wide and the
    # image spans y in [-extent / 2, extent / 2]; row 0 is the top.
    pixel = extent / 4
    x = raster_target(one_hot(4, 8, row=0, col=7), extent=extent).sample(N, 0)
    assert x[:, 0].min() >= extent - pixel and x[:, 0].max() <= extent
    assert x[:, 1].min() >= extent / 2 - pixel and x[:, 1].max() <= extent / 2
    assert x[:, 0].max() - x[:, 0].min() > 0.9 * pixel  # uniform jitter fills the pixel
    x = raster_target(one_hot(4, 8, row=3, col=0), extent=extent).sample(N, 0)
    assert x[:, 0].min() >= -extent and x[:, 0].max() <= -extent + pixel
    assert x[:, 1].min() >= -extent / 2 and x[:, 1].max() <= -extent / 2 + pixel


def test_tall_image_spans_extent_vertically():
    target = raster_target(np.ones((10, 5)), extent=4.0)
    assert target.params["rect"] == (-2.0, 2.0, -4.0, 4.0)
    x = target.sample(N, 0)
    assert x[:, 1].min() < -3.9 and x[:, 1].max() > 3.9 and np.abs(x[:, 0]).max() <= 2.0


def test_left_bright_image_puts_mass_left(tmp_path):
    pixels = np.zeros((20, 20), dtype=np.uint8)
    pixels[:, :10] = 255
    path = tmp_path / "left.png"
    Image.fromarray(pixels, "L").save(path)
    x = load_image(path).sample(N, 0)
    assert (x[:, 0] <= 0).all()


def test_brightness_is_density_and_alpha_multiplies(tmp_path):
    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 255, 255, 255)  # left: white, opaque
    rgba[0, 1] = (255, 255, 255, 85)  # right: white, one-third alpha
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    target = load_image(path)
    np.testing.assert_allclose(target.params["raster"], [[0.75, 0.25]])
    grey = tmp_path / "grey.png"
    Image.fromarray(np.array([[255, 85]], dtype=np.uint8), "L").save(grey)
    np.testing.assert_allclose(load_image(grey).params["raster"], [[0.75, 0.25]])
    left = (target.sample(N, 0)[:, 0] < 0).mean()
    assert abs(left - 0.75) < 0.03


def test_high_bit_depth_png_keeps_its_values(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[1000, 3000]], dtype=np.uint16)).save(path)
    np.testing.assert_allclose(load_image(path).params["raster"], [[0.25, 0.75]])


def test_exact_log_density_and_entropy():
    density = np.array([[0.0, 1.0], [2.0, 1.0]])
    target = raster_target(density, extent=1.0)  # pixels of side 1 covering [-1, 1]^2
    probe = np.array([[-0.5, 0.5], [0.5, 0.5], [-0.5, -0.5], [0.5, -0.5], [1.5, 0.0]])
    np.testing.assert_allclose(np.exp(target.log_density(probe)), [0.0, 0.25, 0.5, 0.25, 0.0])
    expected = -(0.25 * math.log(0.25) * 2 + 0.5 * math.log(0.5))
    assert target.entropy == pytest.approx(expected)
    step = 0.01
    axis = np.arange(-1.2, 1.2, step) + step / 2
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    assert np.exp(target.log_density(grid)).sum() * step**2 == pytest.approx(1.0)
    x = target.sample(N, 0)
    assert np.isfinite(target.log_density(x)).all()


def test_uniform_raster_entropy_is_log_area():
    assert raster_target(np.ones((3, 6)), extent=3.0).entropy == pytest.approx(math.log(6.0 * 3.0))


def test_raster_is_kept_for_display_and_seeded():
    target = raster_target(np.arange(12.0).reshape(3, 4), name="drawing")
    assert target.name == "drawing" and target.params["raster"].shape == (3, 4)
    assert target.params["raster"].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(target.sample(100, 1), target.sample(100, 1))


@pytest.mark.parametrize(
    "density, extent, message",
    [
        (np.zeros((3, 3)), 4.0, "zero everywhere"),
        (np.array([[1.0, -1.0]]), 4.0, "negative"),
        (np.array([[1.0, np.nan]]), 4.0, "NaN"),
        (np.ones(3), 4.0, "2D array"),
        (np.ones((2, 2)), 0.0, "extent must be a positive number"),
    ],
)
def test_raster_errors(density, extent, message):
    with pytest.raises(DataError, match=f"drawing: .*{message}"):
        raster_target(density, extent, name="drawing")


def test_png_bomb_is_refused_from_its_header(tmp_path):
    """A ~300-byte PNG claiming 100,000 x 100,000 pixels (10 Gpx): refused before decoding, with the size named."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(100_000, 100_000))
    with pytest.raises(DataError, match=r"image too large .*10000000000 pixels.* limit is 64 Mpx"):
        load_image(path)
    # under Pillow's own limits (89 Mpx warns, 179 Mpx refuses) but over ours: refused from the header too
    path.write_bytes(png_claiming(9000, 9000))
    with pytest.raises(DataError, match=r"image too large: 9,000 x 9,000 pixels \(77 Mpx\); the limit is 64 Mpx"):
        load_image(path)
