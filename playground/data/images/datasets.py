"""Image datasets, all offline by default: procedural shapes, scikit-learn's 8x8 digits, MNIST / Fashion-MNIST IDX
files, and any folder of images. Every loader returns an `ImageDataset` with float32 (N, C, H, W) pixels in [0, 1].

Entry point: `load_image_dataset(spec, size=None, rgb=False)` with spec one of

    digits                  the 1,797 8x8 handwritten digits bundled with scikit-learn (values / 16), labels 0-9
    shapes | shapes8 | shapes16 | shapes28
                            procedural shapes drawn with numpy (circle, square, triangle, cross, ring), labelled
                            by shape; 'shapes' is 16x16
    mnist:PATH              MNIST IDX files: PATH is a folder holding train-images-idx3-ubyte[.gz] and
    fashion:PATH            train-labels-idx1-ubyte[.gz] (or t10k-*), or the images file itself (its labels file is
                            found next to it by name; without one the set is unlabelled)
    folder:PATH             a folder of PNG/JPG/... images; with sub-folders, one class per sub-folder

`size` resizes to size x size (None keeps each set's own size: 8 for digits, 28 for MNIST, 16 for shapes, the
images' common square size for a folder, else 28); `rgb` gives 3 channels (grayscale sets are repeated).

Folder policy: files whose extension is not an image extension, and sub-folders without images, are skipped with
a `DataWarning` naming them (hidden files silently); a file *with* an image extension that cannot be decoded is an
error, and so are loose images next to class sub-folders. Images are
centre-cropped to a square and resized (box filter when shrinking, bilinear when enlarging); transparent pixels are
composited on black. Bad inputs raise one `DataError` naming the file and the problem.

`download_idx_dataset` fetches the official MNIST / Fashion-MNIST files (when online) into a cache folder with a
progress callback and a SHA-256 check; nothing else here touches the network, and tests never call it.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from playground.data.images.idx import read_idx_images_labels
from playground.data.targets.target import DataError


class DataWarning(UserWarning):
    """A dataset loaded, but something was skipped (e.g. non-image files in an image folder)."""


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring")
SHAPE_SIZES = (8, 16, 28)
DIGIT_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_IGNORED_SILENTLY = {"thumbs.db", "desktop.ini"}


# ---- the dataset ---------------------------------------------------------------------------------------------
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
    size = _check_size(size)
    if images.shape[2:] == (size, size):
        return np.ascontiguousarray(images, dtype=np.float32)
    out = []
    for s in range(0, len(images), 4096):
        x = torch.from_numpy(np.ascontiguousarray(images[s : s + 4096], dtype=np.float32))
        out.append(F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(out).clamp_(0, 1).numpy()


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 4 <= int(size) <= 512:
        raise DataError(f"image size must be an integer from 4 to 512, got {size!r}")
    return int(size)


def _finish(ds: ImageDataset, size: int | None, rgb: bool) -> ImageDataset:
    if size is not None and ds.size != _check_size(size):
        ds = ds.resized(size)
    return ds.to_rgb() if rgb else ds


# ---- procedural shapes -----------------------------------------------------------------------------------------
def make_shapes(
    size: int = 16, n: int = 4000, seed: int = 0, classes: tuple[str, ...] = SHAPE_CLASSES, supersample: int = 4
) -> ImageDataset:
    """White shapes on black with random centre, size and brightness, labelled by shape; balanced classes.

    Drawn on a `supersample`-times finer grid and box-averaged, so edges are antialiased even at 8x8.
    """
    size = _check_size(size)
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown or not classes:
        raise DataError(f"unknown shape classes {unknown}; choose from {SHAPE_CLASSES}")
    if n < 1:
        raise DataError(f"shapes: need n >= 1 images, got {n}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes))
    # half-extent r in pixels, the shape kept at least half a pixel inside the border
    r = rng.uniform(0.25, 0.42, n) * size
    lo, hi = r + 0.5, np.maximum(size - r - 0.5, r + 0.5)
    cx = rng.uniform(lo, hi)
    cy = rng.uniform(lo, hi)
    level = rng.uniform(0.75, 1.0, n)
    ss = supersample
    coords = (np.arange(size * ss) + 0.5) / ss
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for s in range(0, n, 256):
        sl = slice(s, min(n, s + 256))
        u = coords[None, None, :] - cx[sl, None, None]  # horizontal offset
        v = coords[None, :, None] - cy[sl, None, None]  # vertical offset (down is positive)
        rr = r[sl, None, None]
        inside = np.zeros((sl.stop - sl.start, size * ss, size * ss), dtype=bool)
        lab = labels[sl]
        for k, name in enumerate(classes):
            m = lab == k
            if not m.any():
                continue
            inside[m] = _shape_mask(name, u[m], v[m], rr[m])
        img = inside.reshape(-1, size, ss, size, ss).mean(axis=(2, 4))
        images[sl, 0] = img * level[sl, None, None]
    return ImageDataset(images, labels.astype(np.int64), tuple(classes), f"shapes{size}",
                        {"seed": seed, "n": n, "size": size})


def _shape_mask(name: str, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    d2 = u * u + v * v
    if name == "circle":
        return np.broadcast_to(d2 <= r * r, np.broadcast_shapes(u.shape, v.shape))
    if name == "ring":
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if name == "square":
        h = 0.85 * r
        return (np.abs(u) <= h) & (np.abs(v) <= h)
    if name == "triangle":  # apex up, base at the bottom, base half-width r
        return (v <= r) & (np.abs(u) <= (v + r) / 2)
    if name == "cross":  # a plus sign, arm half-width about a third of r (at least half a pixel)
        w = np.maximum(0.32 * r, 0.5)
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    raise DataError(f"unknown shape {name!r}")


# ---- scikit-learn digits ---------------------------------------------------------------------------------------
def load_digits_dataset() -> ImageDataset:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (UCI optical digits), values 0..16 -> [0, 1].

    Reads scikit-learn's bundled digits.csv.gz directly (importing sklearn.datasets takes seconds); falls back to
    sklearn.datasets.load_digits if that file is not where it usually is."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise DataError("digits: needs scikit-learn (pip install scikit-learn), which bundles the 8x8 digits")
    data = None
    for loc in spec.submodule_search_locations or ():
        csv = Path(loc) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            try:
                arr = np.loadtxt(csv, delimiter=",", dtype=np.float32)
            except (OSError, ValueError):
                continue
            if arr.shape == (1797, 65):
                data, target = arr[:, :64], arr[:, 64]
                break
    if data is None:  # pragma: no cover - depends on the scikit-learn layout
        from sklearn.datasets import load_digits

        d = load_digits()
        data, target = d.data, d.target
    images = (np.asarray(data, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return ImageDataset(images, np.asarray(target).astype(np.int64), DIGIT_CLASSES, "digits")


# ---- MNIST / Fashion-MNIST IDX files ---------------------------------------------------------------------------
IDX_KINDS = {"mnist": DIGIT_CLASSES, "fashion": FASHION_CLASSES}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    # a few common variants (e.g. 'train-images.idx3-ubyte')
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name.replace(".", "-").startswith(stem.replace(".", "-")):
            return p
    return None


def locate_idx_files(path: str | os.PathLike, split: str = "train") -> tuple[Path, Path | None]:
    """(images file, labels file or None) for a folder of MNIST-style files or an images file."""
    path = Path(path).expanduser()
    if split not in _SPLIT_PREFIX:
        raise DataError(f"unknown split {split!r}; choose 'train' or 'test'")
    if path.is_dir():
        prefix = _SPLIT_PREFIX[split]
        images = _find(path, f"{prefix}-images-idx3-ubyte")
        if images is None:
            raise DataError(
                f"{path}: no {prefix}-images-idx3-ubyte[.gz] in this folder (expected the standard MNIST file names)"
            )
        return images, _find(path, f"{prefix}-labels-idx1-ubyte")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    name = path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images", "labels")):
        if a in name:
            cand = path.with_name(name.replace(a, b))
            if cand.is_file():
                return path, cand
            if cand.name.endswith(".gz") and cand.with_name(cand.name[:-3]).is_file():
                return path, cand.with_name(cand.name[:-3])
            if (cand.parent / (cand.name + ".gz")).is_file():
                return path, cand.parent / (cand.name + ".gz")
    return path, None


def load_idx_dataset(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike | None = None,
    kind: str = "mnist",
    split: str = "train",
    limit: int | None = None,
) -> ImageDataset:
    """MNIST / Fashion-MNIST from IDX files. images_path may be a folder (standard file names, `split` picks
    train or t10k) or the images file; labels_path defaults to the matching file next to it (None if absent:
    the set is then unlabelled, with a DataWarning)."""
    if kind not in IDX_KINDS:
        raise DataError(f"unknown IDX dataset kind {kind!r}; choose one of {sorted(IDX_KINDS)}")
    if labels_path is None:
        images_path, labels_path = locate_idx_files(images_path, split)
        if labels_path is None:
            warnings.warn(f"{images_path}: no matching labels file found; loading the images without labels",
                          DataWarning, stacklevel=2)
    imgs, labels = read_idx_images_labels(images_path, labels_path)
    names = IDX_KINDS[kind]
    if labels is not None and labels.max() >= len(names):
        names = tuple(str(i) for i in range(int(labels.max()) + 1))
    if limit is not None:
        imgs = imgs[:limit]
        labels = None if labels is None else labels[:limit]
    images = imgs[:, None].astype(np.float32) / 255.0
    return ImageDataset(images, labels, names if labels is not None else (), kind,
                        {"images": str(images_path), "labels": str(labels_path) if labels_path else None})


# Official files and their SHA-256 sums (as published in tensorflow/datasets url_checksums/{mnist,fashion_mnist}.txt
# and matching many independent download scripts; the MD5 sums on the Fashion-MNIST page and in torchvision
# name the same files).
IDX_DOWNLOADS: dict[str, dict] = {
    "mnist": {
        "mirrors": (
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        "files": {
            "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        },
    },
    "fashion": {
        "mirrors": (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        "files": {
            "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        },
    },
}

ProgressFn = Callable[[str, int, int], None]
"""progress(file_name, bytes_done, bytes_total)."""


def default_cache_dir() -> Path:
    """$DIFFUSION_PLAYGROUND_CACHE, else $XDG_CACHE_HOME/diffusion-playground, else ~/.cache/diffusion-playground."""
    env = os.environ.get("DIFFUSION_PLAYGROUND_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "diffusion-playground"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_file(url: str, dest: Path, sha256: str, size: int | None = None, progress: ProgressFn | None = None,
               timeout: float = 60.0) -> Path:
    """Download url to dest through dest.part, check its SHA-256, then rename; a bad download is deleted."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or size or 0)
            while True:
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(dest.name, done, total)
    except (urllib.error.URLError, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: download failed ({getattr(e, 'reason', None) or e})") from None
    digest = sha256_file(part)
    if digest != sha256:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: SHA-256 mismatch (got {digest}, expected {sha256}); the file was discarded")
    part.replace(dest)
    return dest


def download_idx_dataset(
    kind: str = "mnist", cache_dir: str | os.PathLike | None = None, splits: tuple[str, ...] = ("train", "test"),
    progress: ProgressFn | None = None, timeout: float = 60.0,
) -> Path:
    """Fetch the official MNIST or Fashion-MNIST files (gzipped IDX) into cache_dir/kind and return that folder
    (pass it to `load_idx_dataset` or as 'mnist:FOLDER'). Files already present with the right SHA-256 are kept;
    each mirror is tried in turn. Needs a network connection; nothing else in the playground downloads."""
    if kind not in IDX_DOWNLOADS:
        raise DataError(f"no download known for {kind!r}; choose one of {sorted(IDX_DOWNLOADS)}")
    entry = IDX_DOWNLOADS[kind]
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = folder / kind
    prefixes = tuple(_SPLIT_PREFIX[s] for s in splits)
    for name, (size, sha) in entry["files"].items():
        if not name.startswith(prefixes):
            continue
        dest = folder / name
        if dest.is_file() and sha256_file(dest) == sha:
            if progress is not None:
                progress(name, size, size)
            continue
        errors = []
        for mirror in entry["mirrors"]:
            try:
                fetch_file(mirror + name, dest, sha, size, progress, timeout)
                break
            except DataError as e:
                errors.append(str(e))
        else:
            raise DataError(f"{name}: could not download from any mirror:\n  " + "\n  ".join(errors))
    return folder


# ---- a folder of images ----------------------------------------------------------------------------------------
def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".") or p.name.lower() in _IGNORED_SILENTLY


def _open_image(path: Path, rgb: bool):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
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
        size = _check_size(size)
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


# ---- specs -----------------------------------------------------------------------------------------------------
IMAGE_SPEC_HELP = "digits | shapes | shapes8 | shapes16 | shapes28 | mnist:PATH | fashion:PATH | folder:PATH"


def is_image_spec(spec: str) -> bool:
    """True when `spec` names an image dataset (so a CLI can route it here rather than to `load_target`)."""
    s = spec.strip()
    head = s.split(":", 1)[0].lower() if ":" in s else s.lower()
    return head in ("digits", "shapes", "mnist", "fashion", "folder") or head in {f"shapes{k}" for k in SHAPE_SIZES}


def load_image_dataset(spec: str, size: int | None = None, rgb: bool = False, *, n: int | None = None,
                       seed: int = 0) -> ImageDataset:
    """An image dataset from a spec (see the module docstring). n: the number of procedural shapes (default
    4000), or at most n images of the other sets (the first n); seed: the shapes' seed."""
    s = spec.strip()
    head, _, arg = s.partition(":")
    head = head.lower()
    if head == "digits" and not arg:
        ds = load_digits_dataset()
        if n is not None:
            ds = ds.subset(slice(0, n))
        return _finish(ds, size, rgb)
    if head.startswith("shapes") and not arg:
        tail = head[len("shapes"):]
        if tail and (not tail.isdigit() or int(tail) not in SHAPE_SIZES):
            raise DataError(f"unknown shapes spec {spec!r}; use shapes, shapes8, shapes16 or shapes28 (and --size)")
        native = int(tail) if tail else 16
        ds = make_shapes(size if size is not None else native, n if n is not None else 4000, seed)
        return _finish(ds, None, rgb)
    if head in IDX_KINDS and arg:
        return _finish(load_idx_dataset(arg, kind=head, limit=n), size, rgb)
    if head == "folder" and arg:
        return load_image_folder(arg, size, rgb, limit=n)
    if head in ("mnist", "fashion", "folder"):
        raise DataError(f"{spec!r}: '{head}' needs a path, e.g. {head}:/path/to/files")
    raise DataError(f"unknown image dataset {spec!r}; use one of: {IMAGE_SPEC_HELP}")
