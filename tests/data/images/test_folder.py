"""Folders of images: gray and RGB, class sub-folders, crop / resize / alpha, skipped files, every bad layout."""

import warnings

import numpy as np
import pytest
from PIL import Image

from playground.data.images.dataset import DataWarning
from playground.data.images.folder import load_image_folder
from playground.data.images.spec import load_image_dataset
from playground.data.targets.target import DataError
from tests.data.bombs import png_claiming


def _png(path, size=(12, 12), value=200, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size[1], size[0]) if mode == "L" else (size[1], size[0], len(mode)), value, np.uint8)
    Image.fromarray(arr, mode).save(path)


def test_folder_flat_gray_and_rgb(tmp_path):
    for i in range(3):
        _png(tmp_path / f"im{i}.png", value=50 * i)
    ds = load_image_folder(tmp_path, size=8)
    assert ds.images.shape == (3, 1, 8, 8) and ds.labels is None and ds.num_classes == 0
    np.testing.assert_allclose(ds.images[:, 0, 0, 0], [0, 50 / 255, 100 / 255], atol=1e-6)
    rgb = load_image_dataset(f"folder:{tmp_path}", size=16, rgb=True)
    assert rgb.images.shape == (3, 3, 16, 16)
    # size=None keeps the common square size
    assert load_image_folder(tmp_path).images.shape[2:] == (12, 12)


def test_folder_classes_resize_crop_alpha(tmp_path):
    _png(tmp_path / "cat" / "a.png", size=(40, 20))  # wide: centre-cropped to 20x20
    _png(tmp_path / "cat" / "b.jpg", size=(30, 30))
    (tmp_path / "dog").mkdir()
    Image.fromarray(np.zeros((10, 10, 4), np.uint8), "RGBA").save(tmp_path / "dog" / "c.png")  # fully transparent
    ds = load_image_folder(tmp_path, size=10)
    assert ds.class_names == ("cat", "dog")
    np.testing.assert_array_equal(ds.labels, [0, 0, 1])
    assert ds.images.shape == (3, 1, 10, 10)
    assert ds.images[2].max() == 0  # transparent -> black
    assert abs(ds.images[1].mean() - 200 / 255) < 0.02  # JPEG is lossy
    # numeric class folders sort numerically
    root = tmp_path / "num"
    for c in ("10", "9", "2"):
        _png(root / c / "x.png")
    assert load_image_folder(root, 8).class_names == ("2", "9", "10")


def test_folder_bad_cases(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no images found"):
        load_image_folder(empty)
    with pytest.raises(DataError, match="nope: folder not found"):
        load_image_folder(tmp_path / "nope")
    # non-image files: skipped with a warning naming them
    mixed = tmp_path / "mixed"
    _png(mixed / "ok.png")
    (mixed / "notes.txt").write_text("hello")
    (mixed / ".DS_Store").write_bytes(b"\0")  # hidden: skipped silently
    with pytest.warns(DataWarning, match=r"skipped 1 non-image item\(s\): notes.txt"):
        ds = load_image_folder(mixed, 8)
    assert len(ds) == 1
    only_text = tmp_path / "text"
    only_text.mkdir()
    (only_text / "a.csv").write_text("1,2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(DataError, match=r"text: no images found .*1 non-image item"):
            load_image_folder(only_text)
    # a file that claims to be an image but is not: an error naming it
    broken = tmp_path / "broken"
    _png(broken / "good.png")
    (broken / "bad.png").write_bytes(b"this is not a png")
    with pytest.raises(DataError, match=r"bad.png: not a readable image"):
        load_image_folder(broken)
    # a few hundred bytes claiming 9,000 x 9,000 pixels: refused from its header, never decoded
    (broken / "bad.png").write_bytes(png_claiming(9000, 9000))
    with pytest.raises(DataError, match=r"bad.png: image too large: 9,000 x 9,000 pixels .* limit is 64 Mpx"):
        load_image_folder(broken)
    # loose images next to class folders
    mix = tmp_path / "mixlayout"
    _png(mix / "loose.png")
    _png(mix / "cls" / "a.png")
    with pytest.raises(DataError, match=r"mixlayout: mixes 1 loose image"):
        load_image_folder(mix)
    with pytest.raises(DataError, match="image size"):
        load_image_folder(mixed, size=2)
    # a sub-folder without images does not make the folder a class layout: it is skipped with a warning
    (mixed / "empty_sub").mkdir()
    with pytest.warns(DataWarning, match=r"skipped 2 non-image item\(s\)"):
        assert load_image_folder(mixed, 8).labels is None


def test_folder_limit_spreads_over_classes(tmp_path):
    for c in ("a", "b"):
        for i in range(5):
            _png(tmp_path / c / f"{i}.png")
    ds = load_image_dataset(f"folder:{tmp_path}", size=8, n=4)
    assert len(ds) == 4 and sorted(ds.labels.tolist()) == [0, 0, 1, 1]
