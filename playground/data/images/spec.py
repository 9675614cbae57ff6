"""Image datasets by name, all offline: `load_image_dataset(spec, size=None, rgb=False)` with spec one of

    digits                  the 1,797 8x8 handwritten digits bundled with scikit-learn (values / 16), labels 0-9
    shapes | shapes8 | shapes16 | shapes28 | shapes32
                            procedural shapes drawn with numpy (circle, square, triangle, cross, ring), labelled
                            by shape; 'shapes' is 16x16; with `rgb` each is drawn in colour on a coloured
                            background (`shapes32` + rgb: the 32x32 RGB set of `bench images`)
    mnist:PATH              MNIST IDX files: PATH is a folder holding train-images-idx3-ubyte[.gz] and
    fashion:PATH            train-labels-idx1-ubyte[.gz] (or t10k-*), or the images file itself (its labels file is
                            found next to it by name; without one the set is unlabelled)
    folder:PATH             a folder of PNG/JPG/... images; with sub-folders, one class per sub-folder

`size` resizes to size x size (None keeps each set's own size: 8 for digits, 28 for MNIST, 16 for shapes, the
images' common square size for a folder, else 28); `rgb` gives 3 channels (grayscale sets are repeated; shapes are drawn in colour). Every
loader returns an `ImageDataset` with float32 (N, C, H, W) pixels in [0, 1].
"""

from __future__ import annotations

from playground.data.images.dataset import ImageDataset, check_size
from playground.data.images.digits import load_digits_dataset
from playground.data.images.folder import load_image_folder
from playground.data.images.idx_dataset import IDX_KINDS, load_idx_dataset
from playground.data.images.shapes import SHAPE_SIZES, make_shapes
from playground.data.targets.target import DataError

IMAGE_SPEC_HELP = "digits | shapes | shapes8 | shapes16 | shapes28 | shapes32 | mnist:PATH | fashion:PATH | folder:PATH"


def is_image_spec(spec: str) -> bool:
    """True when `spec` names an image dataset (so a CLI can route it here rather than to `load_target`)."""
    s = spec.strip()
    head = s.split(":", 1)[0].lower() if ":" in s else s.lower()
    return head in ("digits", "shapes", "mnist", "fashion", "folder") or head in {f"shapes{k}" for k in SHAPE_SIZES}


def _finish(ds: ImageDataset, size: int | None, rgb: bool) -> ImageDataset:
    if size is not None and ds.size != check_size(size):
        ds = ds.resized(size)
    return ds.to_rgb() if rgb else ds


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
            raise DataError(f"unknown shapes spec {spec!r}; use shapes, shapes8, shapes16, shapes28 or shapes32 (and --size)")
        native = int(tail) if tail else 16
        return make_shapes(size if size is not None else native, n if n is not None else 4000, seed, colour=rgb)
    if head in IDX_KINDS and arg:
        return _finish(load_idx_dataset(arg, kind=head, limit=n), size, rgb)
    if head == "folder" and arg:
        return load_image_folder(arg, size, rgb, limit=n)
    if head in ("mnist", "fashion", "folder"):
        raise DataError(f"{spec!r}: '{head}' needs a path, e.g. {head}:/path/to/files")
    raise DataError(f"unknown image dataset {spec!r}; use one of: {IMAGE_SPEC_HELP}")
