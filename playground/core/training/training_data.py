"""The data a Trainer learns from, checked: the pool of (M, D) float32 samples, the (C, H, W) shape of flat images
for a UNet, and the class labels of a class-conditional model (with their names)."""

from __future__ import annotations

import numpy as np
import torch

from playground.core.training.config import TrainConfig


def make_pool(data, cfg: TrainConfig) -> np.ndarray:
    """The training pool: `data` as (M, D) float32 samples, or `data(cfg.pool, cfg.seed)` for a callable; checked."""
    if callable(data):
        arr = np.asarray(data(int(cfg.pool), int(cfg.seed)))
    else:
        arr = np.asarray(data)
    if arr.ndim == 1:
        raise ValueError(f"training data must be (M, D) samples, got shape {arr.shape}")
    arr = arr.reshape(len(arr), -1)
    if len(arr) < 2:
        raise ValueError(f"need at least 2 training points, got {len(arr)}")
    if not np.isfinite(arr).all():
        raise ValueError("training data contain NaN or infinity")
    return arr.astype(np.float32, copy=False)


def resolve_image_shape(image_shape, data, dim: int) -> tuple[int, int, int]:
    """(C, H, W) for a UNet: the config's, else that of (N, C, H, W) array data; it must hold dim = C*H*W values."""
    if image_shape is None:
        shape = getattr(data, "shape", None)
        if shape is None or len(shape) != 4:
            raise ValueError("network 'unet' needs image_shape (C, H, W) in the config, or (N, C, H, W) data")
        image_shape = shape[1:]
    c, h, w = (int(v) for v in image_shape)
    if h != w or c * h * w != dim:
        raise ValueError(f"image_shape {(c, h, w)} must be square with C*H*W = {dim} (the data's dimension)")
    return c, h, w


def prepare_labels(labels, n: int, class_names, cfg: TrainConfig,
                   device: torch.device) -> tuple[torch.Tensor | None, tuple[str, ...]]:
    """(labels (n,) as int64 on the training device, class names), setting cfg.num_classes when it is 0."""
    if labels is None:
        if cfg.num_classes:
            raise ValueError(f"num_classes = {cfg.num_classes} needs labels: Trainer(config, data, labels=...)")
        return None, ()
    arr = np.asarray(labels).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"{len(arr)} labels for {n} training samples")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    if not cfg.num_classes:
        cfg.num_classes = len(class_names) if class_names else int(arr.max()) + 1
    if arr.min() < 0 or arr.max() >= cfg.num_classes:
        raise ValueError(f"labels must lie in [0, {cfg.num_classes}), found {arr.min()}..{arr.max()}")
    names = tuple(str(c) for c in class_names) if class_names else tuple(str(i) for i in range(cfg.num_classes))
    if len(names) != cfg.num_classes:
        raise ValueError(f"{len(names)} class names for {cfg.num_classes} classes")
    return torch.as_tensor(arr, dtype=torch.long).to(device), names
