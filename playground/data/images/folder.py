"""A folder of images as an ImageDataset: one class per sub-folder holding images, or unlabelled.

Policy: files whose extension is not an image extension, and sub-folders without images, are skipped with a
`DataWarning` naming them (hidden files silently); a file *with* an image extension that cannot be decoded is an
error, and so are loose images next to class sub-folders. Images are centre-cropped to a square and resized (box
filter when shrinking, bilinear when enlarging); transparent pixels are composited on black. Bad inputs raise one
`DataError` naming the file and the problem.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from playground.data.images.dataset import DataWarning, ImageDataset, check_size
from playground.data.targets.raster import open_image
from playground.data.targets.target import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_IGNORED_SILENTLY = {"thumbs.db", "desktop.ini"}


def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".") or p.name.lower() in _IGNORED_SILENTLY


def _open_image(path: Path, rgb: bool):
    from PIL import Image

    img = open_image(path, path)  # its size checked from the header before decoding (decompression bombs)
    try:
        img.load()
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(bg, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return img.convert("RGB" if rgb else "L")


def _square_resize(img, size: int):
    from PIL import Image

    w, h = img.size
    s = min(w, h)
    if w != h:
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    if s != size:
        img = img.resize((size, size), Image.Resampling.BOX if size < s else Image.Resampling.BILINEAR)
    return img


def _images_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other items) directly inside folder, hidden files left out, both sorted."""
    inner = [p for p in sorted(folder.iterdir()) if not _is_hidden(p)]
    imgs = [p for p in inner if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return imgs, [p for p in inner if p not in imgs]


def _scan_folder(root: Path) -> tuple[list[tuple[Path, int]], list[str], list[Path]]:
    """([(image file, label)], class names, skipped items). Label -1 means unlabelled.

    Sub-folders holding images are classes; sub-folders without images are skipped (reported)."""
    if not root.exists():
        raise DataError(f"{root}: folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    loose, others = _images_in(root)
    skipped = [p for p in others if not p.is_dir()]
    class_dirs: list[tuple[Path, list[Path]]] = []
    for d in (p for p in others if p.is_dir()):
        imgs, rest = _images_in(d)
        if imgs:
            class_dirs.append((d, imgs))
            skipped += rest
        else:
            skipped.append(d)
    if not class_dirs:
        return [(p, -1) for p in loose], [], skipped
    if loose:
        raise DataError(
            f"{root}: mixes {len(loose)} loose image(s) (e.g. {loose[0].name}) with class sub-folders "
            f"({', '.join(d.name for d, _ in class_dirs[:3])}); put every image in a sub-folder, or use no sub-folders"
        )
    if all(d.name.isdigit() for d, _ in class_dirs):
        class_dirs.sort(key=lambda e: int(e[0].name))
    items = [(p, k) for k, (_, imgs) in enumerate(class_dirs) for p in imgs]
    return items, [d.name for d, _ in class_dirs], skipped


def load_image_folder(path: str | os.PathLike, size: int | None = None, rgb: bool = False,
                      limit: int | None = None) -> ImageDataset:
    """Every image in a folder, square-cropped and resized to size x size, grayscale (1 channel) or RGB (3).

    Sub-folders holding images are classes (labels in sorted folder-name order, numerically when every name is a
    number); without such sub-folders the set is unlabelled. Non-image files (and sub-folders without images) are
    skipped with a DataWarning; loose images next to class sub-folders are an error. size None: the images' common
    square size if they share one, else 28. limit: at most this many images, evenly spread over the sorted list."""
    from PIL import Image

    root = Path(path).expanduser()
    if size is not None:
        size = check_size(size)
    items, classes, skipped = _scan_folder(root)
    if skipped:
        shown = ", ".join(str(p.relative_to(root)) for p in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        warnings.warn(f"{root}: skipped {len(skipped)} non-image item(s): {shown}{more}", DataWarning, stacklevel=2)
    if not items:
        extra = f" ({len(skipped)} non-image item(s) skipped)" if skipped else ""
        raise DataError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)}){extra}")
    if limit is not None and limit < len(items):
        keep = np.unique(np.linspace(0, len(items) - 1, max(1, int(limit))).round().astype(int))
        items = [items[i] for i in keep]
    if size is None:
        dims = set()
        for p, _ in items:
            try:
                with Image.open(p) as im:  # reads the header only
                    dims.add(im.size)
            except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
                raise DataError(f"{p}: not a readable image ({e})") from None
            if len(dims) > 1:
                break
        (w, h) = next(iter(dims))
        size = w if len(dims) == 1 and w == h and 4 <= w <= 512 else 28
    arr = np.stack([np.asarray(_square_resize(_open_image(p, rgb), size), dtype=np.float32) / 255.0 for p, _ in items])
    arr = arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)
    labels = np.array([lab for _, lab in items], dtype=np.int64) if classes else None
    return ImageDataset(arr, labels, tuple(classes), root.name or str(root), {"folder": str(root)})
