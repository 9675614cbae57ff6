"""Reading a large point file in blocks: the CSV text parser and the uniform random subset that keeps at most
`limit` of the points seen, in file order.

A CSV is read MiB by MiB (`read_csv_points`): each block of whole lines is parsed with numpy's C reader, and only a
block that it rejects (a header, comment lines, whitespace-only lines, a bad line) is parsed again line by line to
follow the format exactly and to name the bad line. `progress(bytes_done, bytes_total)` is called after each block;
it may raise to stop the reading (a Cancel button), and the exception propagates.

The subset (`PointSubset`) gives every point seen an independent U(0, 1) key from a seeded generator and keeps the
`limit` smallest keys: a uniform random subset of size `limit` of the whole file, drawn without replacement, in
O(limit) memory however long the file is (the bottom-k sketch; Cohen & Kaplan 2007).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from playground.data.targets.target import DataError

BLOCK_BYTES = 512 << 10
"""Bytes read per block of a CSV (whole lines; a longer line makes its block longer). numpy's reader holds the GIL
for a whole block: 512 kB (~25,000 lines, some 30 ms) keeps a UI thread beside a reading thread fluid."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""Largest coordinate accepted: Target.sample returns float32."""

Progress = Callable[[int, int], None]


class PointSubset:
    """At most `limit` of the (N, 2) rows added block by block: all of them while N <= limit, else a uniform random
    subset of `limit` (bottom-k of seeded U(0, 1) keys), in the order they were added. Rows are checked finite."""

    def __init__(self, limit: int, where: str, seed: int = 0):
        self.limit = int(limit)
        self.where = where
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._rows: list[np.ndarray] = []  # blocks, in stream order
        self._keys: list[np.ndarray] = []
        self._held = 0

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
        check_coordinates(rows, self.where, self.seen)
        self.seen += len(rows)
        self._rows.append(rows)
        self._keys.append(self._rng.random(len(rows)))
        self._held += len(rows)
        if self._held > 2 * self.limit:  # prune now and then: amortised O(1) per row
            self._prune()

    def _prune(self) -> None:
        rows, keys = np.concatenate(self._rows), np.concatenate(self._keys)
        if len(rows) > self.limit:
            keep = np.argpartition(keys, self.limit - 1)[: self.limit]
            keep.sort()  # positions in the buffer are in stream order
            rows, keys = rows[keep], keys[keep]
        self._rows, self._keys, self._held = [rows], [keys], len(rows)

    @property
    def points(self) -> np.ndarray:
        """The rows kept, (min(N, limit), 2) float64, in stream order."""
        self._prune()
        return self._rows[0]


def check_coordinates(rows: np.ndarray, where: str, first_index: int = 0) -> None:
    """DataError naming the first point (counted from first_index) that is not finite or beyond float32's range."""
    bad = ~(np.abs(rows) <= FLOAT32_MAX).all(1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: point {first_index + i} is {rows[i].tolist()}; coordinates must be finite, "
                        f"|v| <= {FLOAT32_MAX:.3g}")


def read_csv_points(path: str | Path, subset: PointSubset, progress: Progress | None = None) -> None:
    """Add the points of a CSV file to `subset`, block by block (module docstring); DataError names a bad line."""
    path = Path(path)
    total = path.stat().st_size
    done = 0
    lines_before = 0
    header_pending = True  # the first non-blank, non-comment line may be a header
    with open(path, "rb") as f:
        carry = b""
        while True:
            data = f.read(BLOCK_BYTES)
            block, carry = _whole_lines(carry + data, last=not data)
            if block:
                text = _decode(path, block, done, first=done == 0)
                rows, header_pending = _parse_block(path, text, lines_before, header_pending)
                subset.add(rows)
                lines_before += text.count("\n")
                done += len(block)
            if progress is not None:
                progress(done, total)
            if not data:
                return


def _whole_lines(data: bytes, last: bool) -> tuple[bytes, bytes]:
    """(the whole lines at the start of data, the rest): split after the last '\\n' (or '\\r' when it has none)."""
    if last:
        return data, b""
    cut = data.rfind(b"\n")
    if cut < 0:
        cut = data.rfind(b"\r")
    return (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)


def _decode(path: Path, block: bytes, offset: int, first: bool) -> str:
    """UTF-8 text of a block ('\\r\\n' and '\\r' become '\\n'; the file's byte-order mark is dropped)."""
    try:
        text = block.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e.reason} at byte {offset + e.start})") from e
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _parse_block(path: Path, text: str, lines_before: int, header_pending: bool) -> tuple[np.ndarray, bool]:
    """The (n, 2) points of a block of whole lines, and whether the header may still come."""
    head = np.zeros((0, 2))
    if header_pending:  # up to the first content line: line by line (it may be a header)
        cut = _first_content_line_end(text)
        head, header_pending = _strict_rows(path, text[:cut], lines_before, True)
        lines_before += text.count("\n", 0, cut)
        text = text[cut:]
    rows = _fast_rows(text) if "#" not in text else None
    if rows is None:
        rows, _ = _strict_rows(path, text, lines_before, header_pending)
    return (np.concatenate([head, rows]) if len(head) else rows), header_pending


def _first_content_line_end(text: str) -> int:
    """The index just after the first line that is neither blank nor a comment (len(text) when none is)."""
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end + 1
        line = text[pos:end].strip()
        if line and not line.startswith("#"):
            return end
        pos = end
    return len(text)


def _fast_rows(text: str) -> np.ndarray | None:
    """numpy's C reader on a block (comma-separated when it has a comma, else whitespace); None when it refuses."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" for a blank block
            rows = np.loadtxt(io.StringIO(text), delimiter="," if "," in text else None, comments=None,
                              dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    if rows.size == 0:
        return np.zeros((0, 2))
    return rows if rows.shape[1] == 2 else None


def _strict_rows(path: Path, text: str, lines_before: int, header_pending: bool) -> tuple[np.ndarray, bool]:
    """Line by line: two numbers per line, comma- or whitespace-separated; blank and '#' lines skipped; the first
    content line of the file may be a header (any field not a number)."""
    rows: list[tuple[float, float]] = []
    for number, line in enumerate(text.split("\n"), lines_before + 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")] if "," in line else line.split()
        values = _floats(fields)
        if values is None and header_pending:
            if len(fields) != 2:
                raise DataError(f"{path}: the header (line {number}) has {len(fields)} columns; need exactly 2 (x, y)")
        elif len(fields) != 2:
            raise DataError(f"{path}: line {number} has {len(fields)} columns; need exactly 2 (x, y)")
        elif values is None:
            bad = next(field for field in fields if _floats([field]) is None)
            raise DataError(f"{path}: line {number}: {bad[:40]!r} is not a number")
        else:
            rows.append((values[0], values[1]))
        header_pending = False
    return np.array(rows, dtype=np.float64).reshape(-1, 2), header_pending


def _floats(fields: list[str]) -> list[float] | None:
    """The fields as floats, or None when any is not a number."""
    try:
        return [float(field) for field in fields]
    except ValueError:
        return None
