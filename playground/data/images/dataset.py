"""`ImageDataset`, what every image loader returns: float32 (N, C, H, W) pixels in [0, 1], optional int64 labels and
class names, validated on creation; with the [0, 1] <-> [-1, 1] model-space maps and antialiased resizing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from playground.data.targets.target import DataError


class DataWarning(UserWarning):
    """A dataset loaded, but something was skipped (e.g. non-image files in an image folder)."""


@dataclass
class ImageDataset:
    """images: float32 (N, C, H, W) in [0, 1]; labels: int64 (N,) in [0, len(class_names)) or None."""

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    name: str = ""
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        self.images = np.ascontiguousarray(self.images, dtype=np.float32)
        if self.images.ndim != 4 or self.images.shape[1] not in (1, 3) or len(self.images) == 0:
            raise DataError(
                f"{self.name or 'dataset'}: expected images (N>0, C in {{1, 3}}, H, W), got {self.images.shape}"
            )
        if not np.isfinite(self.images).all() or self.images.min() < 0 or self.images.max() > 1:
            raise DataError(f"{self.name or 'dataset'}: pixel values must be finite and in [0, 1]")
        self.class_names = tuple(str(c) for c in self.class_names)
        if self.labels is not None:
            self.labels = np.asarray(self.labels).astype(np.int64).reshape(-1)
            if len(self.labels) != len(self.images):
                raise DataError(f"{self.name or 'dataset'}: {len(self.labels)} labels for {len(self.images)} images")
            if not self.class_names:
                self.class_names = tuple(str(i) for i in range(int(self.labels.max()) + 1))
            if self.labels.min() < 0 or self.labels.max() >= len(self.class_names):
                raise DataError(
                    f"{self.name or 'dataset'}: labels must lie in [0, {len(self.class_names)}), "
                    f"found {self.labels.min()}..{self.labels.max()}"
                )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def size(self) -> int:
        """Height (= width: every loader here makes square images)."""
        return self.images.shape[2]

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 for an unlabelled set."""
        return len(self.class_names) if self.labels is not None else 0

    @property
    def dim(self) -> int:
        """Dimensions per image, C * H * W (for bits/dim)."""
        return int(np.prod(self.shape))

    def tensor(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """The images as a float32 tensor in [0, 1]."""
        return torch.from_numpy(self.images).to(device)

    def labels_tensor(self, device: str | torch.device = "cpu") -> torch.Tensor | None:
        return None if self.labels is None else torch.from_numpy(self.labels).to(device)

    def subset(self, index) -> "ImageDataset":
        idx = index if isinstance(index, slice) else np.asarray(index)
        return ImageDataset(
            self.images[idx], None if self.labels is None else self.labels[idx], self.class_names, self.name,
            dict(self.params),
        )

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple["ImageDataset", "ImageDataset"]:
        """A seeded random (train, test) split."""
        perm = np.random.default_rng(seed).permutation(len(self))
        n_test = int(round(test_fraction * len(self)))
        if not 0 < n_test < len(self):
            raise ValueError(f"test_fraction {test_fraction} leaves an empty split of {len(self)} images")
        return self.subset(np.sort(perm[n_test:])), self.subset(np.sort(perm[:n_test]))

    def resized(self, size: int) -> "ImageDataset":
        out = self.subset(slice(None))
        out.images = resize_images(self.images, size)
        return out

    def to_rgb(self) -> "ImageDataset":
        out = self.subset(slice(None))
        if self.channels == 1:
            out.images = np.ascontiguousarray(np.repeat(self.images, 3, axis=1))
        return out

    def info(self) -> dict:
        """JSON-ready description (for a model file): name, shape, classes."""
        return {"name": self.name, "shape": list(self.shape), "num_classes": self.num_classes,
                "class_names": list(self.class_names), "n": len(self)}


def to_model_space(x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels -> [-1, 1], the centred range the SDEs and networks work in (Ho et al. 2020)."""
    return x01 * 2 - 1


def from_model_space(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] model space -> [0, 1] pixels, clipped."""
    return ((x + 1) / 2).clamp(0, 1)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, C, size, size): antialiased bilinear (area-like when shrinking)."""
    size = check_size(size)
    if images.shape[2:] == (size, size):
        return np.ascontiguousarray(images, dtype=np.float32)
    out = []
    for s in range(0, len(images), 4096):
        x = torch.from_numpy(np.ascontiguousarray(images[s : s + 4096], dtype=np.float32))
        out.append(F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(out).clamp_(0, 1).numpy()


def check_size(size) -> int:
    """An image size (int, 4 to 512), else a DataError."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 4 <= int(size) <= 512:
        raise DataError(f"image size must be an integer from 4 to 512, got {size!r}")
    return int(size)
