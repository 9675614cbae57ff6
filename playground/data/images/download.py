"""`download_idx_dataset`: the official MNIST / Fashion-MNIST files fetched (when online) into a cache folder with a
progress callback and a SHA-256 check. Nothing else in playground.data touches the network, and tests never call
the real mirrors (they patch `IDX_DOWNLOADS` with a file:// mirror)."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from playground.data.images.idx_dataset import SPLIT_PREFIX
from playground.data.targets.target import DataError

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
    prefixes = tuple(SPLIT_PREFIX[s] for s in splits)
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
