"""load_target: presets, every file kind by suffix, the shipped examples, and bad image files."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.data.targets.spec import load_target
from playground.data.targets.target import DataError

EXAMPLES = Path(__file__).resolve().parents[3] / "assets" / "examples"


def png_bytes(pixels: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_presets_by_name_any_case_with_noise():
    target = load_target(" Moons ", noise=0.2)
    assert target.name == "moons" and target.params["noise"] == 0.2


@pytest.mark.parametrize("name", ["heart.png", "smiley.png", "three_gaussians.json", "spiral_points.csv"])
def test_examples_load_and_are_small(name):
    path = EXAMPLES / name
    assert path.stat().st_size < 50_000
    target = load_target(str(path))
    x = target.sample(500, 0)
    assert x.shape == (500, 2) and np.abs(x).max() <= 6


def test_heart_is_upright_and_extent_scales_it():
    heart = load_target(str(EXAMPLES / "heart.png"))
    x = heart.sample(20_000, 0)
    top = x[x[:, 1] > np.quantile(x[:, 1], 0.97)]
    bottom = x[x[:, 1] < np.quantile(x[:, 1], 0.03)]
    assert x[:, 1].mean() > 0.2  # the lobes carry the mass: the image's top row is at +y
    assert np.ptp(top[:, 0]) > 2 * np.ptp(bottom[:, 0]) and not (np.abs(top[:, 0]) < 0.3).any()  # lobes and notch
    small = load_target(str(EXAMPLES / "heart.png"), extent=1.0).sample(20_000, 0)
    assert np.abs(small).max() <= 1.0 and np.abs(x).max() > 3.0


def test_file_kinds_by_suffix(tmp_path):
    jpg = tmp_path / "photo.JPEG"
    Image.fromarray(np.full((8, 16, 3), 200, dtype=np.uint8), "RGB").save(jpg, format="JPEG")
    assert load_target(str(jpg)).params["rect"] == (-4.0, 4.0, -2.0, 2.0)
    npy = tmp_path / "p.npy"
    np.save(npy, np.eye(2))
    assert load_target(str(npy)).points.shape == (2, 2)


@pytest.mark.parametrize("spec", ["nothing", "data.txt", "picture.gif"])
def test_unknown_spec_lists_presets_and_suffixes(spec):
    with pytest.raises(DataError, match=r"neither a preset \(swissroll, .*25gaussians\) nor a file ending in "
                       r"\.png, \.jpg, \.jpeg, \.csv, \.npy, \.json"):
        load_target(spec)


def test_noise_on_a_file_is_refused():
    with pytest.raises(DataError, match="noise applies only to presets"):
        load_target(str(EXAMPLES / "heart.png"), noise=0.1)


BAD_IMAGES = [
    ("missing.png", None, "file not found"),
    ("empty.png", b"", "file is empty"),
    ("black.png", png_bytes(np.zeros((4, 4), dtype=np.uint8), "L"), "the image is all black"),
    ("clear.png", png_bytes(np.full((4, 4, 4), (255, 255, 255, 0), dtype=np.uint8), "RGBA"), "the image is all black"),
    ("text.png", b"hello, this is not an image", "not a readable PNG or JPEG image"),
    ("cut.png", png_bytes(np.tile(np.arange(64, dtype=np.uint8), (64, 1)), "L")[:-30], "not a readable PNG or JPEG"),
    ("gif.jpg", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not a readable PNG or JPEG image"),
]


@pytest.mark.parametrize("name, content, message", BAD_IMAGES, ids=[case[0] for case in BAD_IMAGES])
def test_bad_images(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: {message}"):
        load_target(str(path))
