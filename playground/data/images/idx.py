"""IDX files (the MNIST / Fashion-MNIST format), gzipped or not, read and written with numpy only.

Layout (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number 0x00 0x00 TYPE NDIM, then NDIM
big-endian uint32 dimension sizes, then the data in C order, big-endian. TYPE: 0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64. MNIST images are (N, 28, 28) uint8 (magic 2051 = 0x00000803), labels (N,)
uint8 (magic 2049 = 0x00000801).

Compression is recognised by content (the gzip magic bytes 1f 8b), not by the file name. Every problem raises
`DataError` naming the file: missing file, wrong magic, truncated header or data, trailing bytes, a broken gzip
stream.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from playground.data.targets.target import DataError

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF: dict[str, int] = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
GZIP_MAGIC = b"\x1f\x8b"


MAX_IDX_BYTES = 2**31
"""The most data an IDX file may declare (2 GiB; MNIST's training images are 47 MB). A header that promises more is
refused before anything is decompressed, so a small gzip bomb cannot fill the memory."""


def _read_raw(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected an IDX file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


class _Stream:
    """The file's bytes, decompressed on demand (never more than asked for) when it is a gzip stream."""

    def __init__(self, path: Path):
        self.path = path
        self.raw = _read_raw(path)
        self.gzip = self.raw[:2] == GZIP_MAGIC
        self._inflate = zlib.decompressobj(31) if self.gzip else None
        self._pending = self.raw
        self.data = b"" if self.gzip else self.raw

    def ensure(self, n: int) -> bytes:
        """At least the first n bytes (fewer only when the stream ends sooner)."""
        while self.gzip and len(self.data) < n and (self._pending or not self._inflate.eof):
            try:
                chunk = self._inflate.decompress(self._pending, n - len(self.data))
            except zlib.error as e:
                raise DataError(f"{self.path}: broken or truncated gzip stream ({e})") from None
            self._pending = self._inflate.unconsumed_tail
            self.data += chunk
            if not chunk and (self._inflate.eof or not self._pending):
                break
        return self.data

    def check_complete(self) -> None:
        """DataError unless a gzip stream ended properly (its end marker and checksum read)."""
        if self.gzip and not self._inflate.eof:
            raise DataError(f"{self.path}: broken or truncated gzip stream (it ends before its end-of-stream marker)")

    def trailing(self, used: int) -> str:
        """How many bytes follow the first `used` ones, in words (exact for a plain file)."""
        return "unexpected bytes" if self.gzip else f"{len(self.raw) - used} unexpected bytes"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (native byte order), e.g. (N, 28, 28) uint8 for MNIST images."""
    path = Path(path)
    stream = _Stream(path)
    data = stream.ensure(4)
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(data)} bytes, no 4-byte magic number)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in IDX_TYPES or ndim == 0:
        raise DataError(
            f"{path}: not an IDX file (magic number 0x{data[:4].hex()}; expected 0x0000TTDD with a known type "
            f"TT in {{08, 09, 0b, 0c, 0d, 0e}} and DD >= 1 dimensions, e.g. 0x00000803 for MNIST images)"
        )
    header = 4 + 4 * ndim
    data = stream.ensure(header)
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, the {ndim} dimension sizes need {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    if expected > MAX_IDX_BYTES:
        raise DataError(
            f"{path}: the IDX header declares dimensions {dims} = {expected:,} bytes of data, more than the "
            f"{MAX_IDX_BYTES // 2**30} GiB this reader accepts (a damaged header or a decompression bomb)"
        )
    data = stream.ensure(header + expected + 1)
    got = len(data) - header
    if got < expected:
        stream.check_complete()
        raise DataError(
            f"{path}: truncated IDX data: dimensions {dims} need {expected} bytes, the file holds {got}"
        )
    if got > expected:
        raise DataError(f"{path}: {stream.trailing(header + expected)} after the IDX data (dimensions {dims} need {expected})")
    stream.check_complete()
    arr = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array, compress: bool | None = None) -> Path:
    """Write an array as an IDX file; gzip it when compress is True (default: when the name ends in .gz)."""
    path = Path(path)
    arr = np.asarray(array)
    key = arr.dtype.str[1:]
    if key not in _CODE_OF:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}; use uint8, int8, int16, int32, float32 or float64")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError("IDX needs an array with 1 to 255 dimensions")
    body = struct.pack(">HBB", 0, _CODE_OF[key], arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    body += np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(">")).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(body, mtime=0) if compress else body)
    return path


def read_idx_images_labels(
    images_path: str | os.PathLike, labels_path: str | os.PathLike | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(images (N, H, W) uint8, labels (N,) int64 or None) of an MNIST-style pair, with their shapes checked."""
    images = read_idx(images_path)
    if images.ndim != 3:
        raise DataError(
            f"{images_path}: expected images with 3 dimensions (count, rows, columns), found shape {images.shape}"
        )
    if images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected uint8 pixels (IDX type 0x08), found {images.dtype}")
    if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise DataError(f"{images_path}: holds no images (shape {images.shape})")
    if labels_path is None:
        return images, None
    labels = read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected labels with 1 dimension (count), found shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{labels_path}: expected integer labels, found {labels.dtype}")
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path}: {len(labels)} labels for {len(images)} images in {Path(images_path).name}"
        )
    if (labels < 0).any():
        raise DataError(f"{labels_path}: negative labels")
    return images, labels.astype(np.int64)
