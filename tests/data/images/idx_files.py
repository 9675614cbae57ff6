"""Small MNIST-style IDX files for the IDX reader and IDX dataset tests."""

import numpy as np

from playground.data.images.idx import write_idx


def mnist_like(tmp_path, n=12, size=28, gz=True, prefix="train", seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    ip = write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{ext}", images)
    lp = write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels, ip, lp
