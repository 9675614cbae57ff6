"""`download`: MNIST or Fashion-MNIST IDX files into a cache, SHA-256 checked (the only networked command)."""

from __future__ import annotations

import json
import sys
import time

from playground.cli.common import positive_float


def add_download_command(sub) -> None:
    p = sub.add_parser("download", help="download MNIST or Fashion-MNIST (IDX files, SHA-256 checked) into a cache",
                       description="Fetch the official gzipped IDX files of MNIST or Fashion-MNIST into a cache folder "
                       "($DIFFUSION_PLAYGROUND_CACHE, else ~/.cache/diffusion-playground), with progress and a SHA-256 "
                       "check; files already there and intact are kept. Prints the --data spec to train on (last "
                       "line: JSON). The only command that uses the network.")
    p.add_argument("kind", choices=("mnist", "fashion"), help="mnist or fashion (Fashion-MNIST)")
    p.add_argument("--cache", default=None, metavar="DIR", help="cache folder (default: see above)")
    p.add_argument("--splits", nargs="+", choices=("train", "test"), default=["train", "test"],
                   help="which files to fetch (default: train and test)")
    p.add_argument("--timeout", type=positive_float, default=60.0, metavar="S", help="network timeout (default 60 s)")
    p.set_defaults(func=cmd_download)


def cmd_download(args) -> int:
    """Fetch MNIST or Fashion-MNIST (gzipped IDX, SHA-256 checked) into the cache and print the spec to train on."""
    from playground.data.images.download import download_idx_dataset
    from playground.data.images.idx_dataset import load_idx_dataset

    start = time.perf_counter()
    folder = download_idx_dataset(args.kind, cache_dir=args.cache, splits=tuple(args.splits),
                                  progress=DownloadProgress(), timeout=args.timeout)
    count = len(load_idx_dataset(folder, kind=args.kind, split=args.splits[0]))
    spec = f"{args.kind}:{folder}"
    print(f"{args.kind} in {folder}, SHA-256 checked ({count:,} {args.splits[0]} images, "
          f"{time.perf_counter() - start:.1f} s); "
          f"train with --data {spec}")
    print(json.dumps({"kind": args.kind, "folder": str(folder), "spec": spec, "images": count}))
    return 0


class DownloadProgress:
    """progress(file_name, bytes_done, bytes_total) as text on a stream: one line updated in place on a terminal (at
    most 10 times a second), otherwise a line per file when it is complete."""

    def __init__(self, stream=None, tty: bool | None = None):

        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self._shown = 0.0

    def __call__(self, name: str, done: int, total: int) -> None:
        complete = total > 0 and done >= total
        if self.tty:
            now = time.perf_counter()
            if not complete and now - self._shown < 0.1:
                return
            self._shown = now
            frac = done / total if total else 0.0
            bar = "#" * int(round(24 * frac)) + "." * (24 - int(round(24 * frac)))
            self.stream.write(f"\r{name:<28} [{bar}] {100 * frac:3.0f}%  {done / 1e6:6.1f} MB" + ("\n" if complete else ""))
        elif complete:
            self.stream.write(f"{name}: {done / 1e6:.1f} MB\n")
        self.stream.flush()
