"""Image datasets: IDX files (gz and raw, every bad case), folders of images, digits, shapes, specs, download check."""

from __future__ import annotations

import gzip
import hashlib
import struct
import tracemalloc
import warnings

import numpy as np
import pytest
from PIL import Image

from playground.data.images import idx as idx_module
from playground.data.images.datasets import (
    DataWarning,
    ImageDataset,
    fetch_file,
    is_image_spec,
    load_idx_dataset,
    load_image_dataset,
    load_image_folder,
    make_shapes,
)
from playground.data.images.idx import read_idx, read_idx_images_labels, write_idx
from playground.data.targets.target import DataError
from tests.data.bombs import idx_gzip_bomb


def _mnist_like(tmp_path, n=12, size=28, gz=True, prefix="train", seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    ip = write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{ext}", images)
    lp = write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels, ip, lp


# ---- IDX -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip_and_mnist_magic(tmp_path, gz):
    images, labels, ip, lp = _mnist_like(tmp_path, gz=gz)
    raw = gzip.decompress(ip.read_bytes()) if gz else ip.read_bytes()
    assert struct.unpack(">I", raw[:4])[0] == 2051  # the MNIST images magic number
    lab_raw = gzip.decompress(lp.read_bytes()) if gz else lp.read_bytes()
    assert struct.unpack(">I", lab_raw[:4])[0] == 2049
    np.testing.assert_array_equal(read_idx(ip), images)
    imgs, labs = read_idx_images_labels(ip, lp)
    np.testing.assert_array_equal(imgs, images)
    np.testing.assert_array_equal(labs, labels)
    assert labs.dtype == np.int64


def test_idx_other_dtypes_roundtrip(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "f.idx", a)), a)
    b = -np.arange(6, dtype=np.int32)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "i.idx.gz", b)), b)


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dataset_from_folder_and_file(tmp_path, gz):
    images, labels, ip, lp = _mnist_like(tmp_path, gz=gz)
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
    _mnist_like(tmp_path, prefix="t10k")
    ds = load_idx_dataset(tmp_path, split="test")
    assert len(ds) == 12 and ds.labels is not None
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.warns(DataWarning, match="no matching labels"):
        ds = load_idx_dataset(tmp_path / "t10k-images-idx3-ubyte.gz")
    assert ds.labels is None and ds.num_classes == 0
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_idx_dataset(tmp_path, split="train")


def test_idx_truncated(tmp_path):
    _, _, ip, _ = _mnist_like(tmp_path, gz=False)
    data = ip.read_bytes()
    (tmp_path / "cut").write_bytes(data[:-100])
    with pytest.raises(DataError, match=r"cut: truncated IDX data"):
        read_idx(tmp_path / "cut")
    (tmp_path / "head").write_bytes(data[:10])
    with pytest.raises(DataError, match=r"head: truncated IDX header"):
        read_idx(tmp_path / "head")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(data[:-1]))
    with pytest.raises(DataError, match=r"cut.gz: truncated IDX data"):
        read_idx(tmp_path / "cut.gz")
    full = gzip.compress(data)
    (tmp_path / "broken.gz").write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match=r"broken.gz: broken or truncated gzip"):
        read_idx(tmp_path / "broken.gz")
    (tmp_path / "long").write_bytes(data + b"\0\0")
    with pytest.raises(DataError, match=r"long: 2 unexpected bytes"):
        read_idx(tmp_path / "long")


def test_idx_wrong_magic_and_wrong_dims(tmp_path):
    (tmp_path / "png.idx").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(DataError, match=r"png.idx: not an IDX file \(magic number 0x89504e47"):
        read_idx(tmp_path / "png.idx")
    (tmp_path / "tiny").write_bytes(b"\0\0")
    with pytest.raises(DataError, match="tiny: not an IDX file"):
        read_idx(tmp_path / "tiny")
    with pytest.raises(DataError, match="nothere: file not found"):
        read_idx(tmp_path / "nothere")
    # labels file given as images, images file given as labels
    _, _, ip, lp = _mnist_like(tmp_path)
    with pytest.raises(DataError, match=r"labels-idx1-ubyte.gz: expected images with 3 dimensions"):
        read_idx_images_labels(lp, lp)
    with pytest.raises(DataError, match=r"images-idx3-ubyte.gz: expected labels with 1 dimension"):
        read_idx_images_labels(ip, ip)
    write_idx(tmp_path / "float-images", np.zeros((2, 4, 4), np.float32))
    with pytest.raises(DataError, match="float-images: expected uint8"):
        read_idx_images_labels(tmp_path / "float-images", None)


def test_idx_mismatched_label_count(tmp_path):
    _, _, ip, _ = _mnist_like(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: 11 labels for 12 images"):
        load_idx_dataset(tmp_path)


# ---- folders ---------------------------------------------------------------------------------------------------
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


# ---- built-in sets ---------------------------------------------------------------------------------------------
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


def test_specs():
    assert load_image_dataset("shapes", n=10).images.shape == (10, 1, 16, 16)
    assert load_image_dataset("shapes28", n=10).images.shape == (10, 1, 28, 28)
    assert load_image_dataset("shapes8", n=10, rgb=True).images.shape == (10, 3, 8, 8)
    assert load_image_dataset("shapes", size=12, n=10).images.shape == (10, 1, 12, 12)
    assert is_image_spec("digits") and is_image_spec("mnist:/x") and is_image_spec("shapes28")
    assert not is_image_spec("8gaussians") and not is_image_spec("foo.png")
    for bad in ("nonsense", "mnist", "folder:", "shapes13"):
        with pytest.raises(DataError):
            load_image_dataset(bad)


def test_dataset_validation_and_split():
    with pytest.raises(DataError, match="3 labels for 2 images"):
        ImageDataset(np.zeros((2, 1, 4, 4)), np.zeros(3), ("a",))
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        ImageDataset(np.full((2, 1, 4, 4), 2.0))
    ds = make_shapes(8, n=50)
    tr, te = ds.split(0.2, seed=0)
    assert len(tr) == 40 and len(te) == 10 and tr.class_names == ds.class_names


def test_fetch_file_checks_sha256(tmp_path):
    """The download path, offline: a file:// URL, a good and a bad checksum, progress reported."""
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100_000)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    calls = []
    out = fetch_file(src.as_uri(), tmp_path / "cache" / "f.gz", good, progress=lambda *a: calls.append(a))
    assert out.read_bytes() == src.read_bytes() and calls[-1][1] == 100_000
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        fetch_file(src.as_uri(), tmp_path / "cache" / "g.gz", "0" * 64)
    assert not (tmp_path / "cache" / "g.gz").exists() and not (tmp_path / "cache" / "g.gz.part").exists()
    with pytest.raises(DataError, match="download failed"):
        fetch_file((tmp_path / "missing").as_uri(), tmp_path / "cache" / "h.gz", good)


@pytest.mark.parametrize("declared", [(64, 1024, 1024), (1, 28, 28)])
def test_idx_gzip_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch, declared):
    """A ~64 kB gzip stream inflating to 64 MiB: a header declaring more than the cap is refused from the header; a
    header declaring little stops reading after its data. Either way the stream is never inflated whole."""
    monkeypatch.setattr(idx_module, "MAX_IDX_BYTES", 2**20)
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(idx_gzip_bomb(*declared, body_bytes=64 * 2**20))
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"declares dimensions \(64, 1024, 1024\) = 67,108,864 bytes.* decompression bomb"
                           if declared[0] == 64 else r"unexpected bytes after the IDX data"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB: the stream was inflated"
