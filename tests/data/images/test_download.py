"""The download path, offline: a file:// URL with a good and a bad SHA-256, progress reported."""

import hashlib

import pytest

from playground.data.images.download import fetch_file
from playground.data.targets.target import DataError


def test_fetch_file_checks_sha256(tmp_path):
    """The download path, offline: a file:// URL, a good and a bad checksum, progress reported."""
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100_000)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    calls = []
    out = fetch_file(src.as_uri(), tmp_path / "cache" / "f.gz", good, progress=lambda *a: calls.append(a))
    assert out.read_bytes() == src.read_bytes() and calls[-1][1] == 100_000
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        fetch_file(src.as_uri(), tmp_path / "cache" / "g.gz", "0" * 64)
    assert not (tmp_path / "cache" / "g.gz").exists() and not (tmp_path / "cache" / "g.gz.part").exists()
    with pytest.raises(DataError, match="download failed"):
        fetch_file((tmp_path / "missing").as_uri(), tmp_path / "cache" / "h.gz", good)
