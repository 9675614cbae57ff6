"""IDX files (gzipped and raw): round trips, the MNIST magic numbers, and every bad file as one clear error."""

import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from playground.data.images import idx as idx_module
from playground.data.images.idx import read_idx, read_idx_images_labels, write_idx
from playground.data.targets.target import DataError
from tests.data.bombs import idx_gzip_bomb
from tests.data.images.idx_files import mnist_like


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip_and_mnist_magic(tmp_path, gz):
    images, labels, ip, lp = mnist_like(tmp_path, gz=gz)
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


def test_idx_truncated(tmp_path):
    _, _, ip, _ = mnist_like(tmp_path, gz=False)
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
    _, _, ip, lp = mnist_like(tmp_path)
    with pytest.raises(DataError, match=r"labels-idx1-ubyte.gz: expected images with 3 dimensions"):
        read_idx_images_labels(lp, lp)
    with pytest.raises(DataError, match=r"images-idx3-ubyte.gz: expected labels with 1 dimension"):
        read_idx_images_labels(ip, ip)
    write_idx(tmp_path / "float-images", np.zeros((2, 4, 4), np.float32))
    with pytest.raises(DataError, match="float-images: expected uint8"):
        read_idx_images_labels(tmp_path / "float-images", None)


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
