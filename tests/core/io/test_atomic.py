"""Atomic writes: a crash mid-write (any exception inside the block) leaves the previous file byte-identical."""

import os
import stat

import pytest

from playground.core.io import atomic
from playground.core.io.atomic import atomic_open, atomic_write


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_creates_and_replaces(tmp_path):
    path = tmp_path / "a.bin"
    assert atomic_write(path, b"one") == path
    assert path.read_bytes() == b"one"
    atomic_write(path, "two \u00e9")
    assert path.read_bytes() == "two \u00e9".encode()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_crash_inside_block_keeps_old_file(tmp_path, exc):
    path = tmp_path / "w.dpw"
    old = os.urandom(4096)
    path.write_bytes(old)
    with pytest.raises(type(exc)):
        with atomic_open(path, "wb") as f:
            f.write(b"half of the new file")
            f.flush()
            raise exc
    assert path.read_bytes() == old
    assert leftovers(tmp_path) == []


def test_crash_at_rename_or_fsync_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.csv"
    path.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError("no space left on device")

    monkeypatch.setattr(atomic.os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    monkeypatch.undo()
    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_crash_on_first_write_leaves_no_file(tmp_path):
    path = tmp_path / "new.npy"
    with pytest.raises(ValueError):
        with atomic_open(path) as f:
            f.write(b"abc")
            raise ValueError
    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_text_mode_and_newlines(tmp_path):
    path = tmp_path / "t.csv"
    with atomic_open(path, "w", newline="\n") as f:
        f.write("x,y\n1,2\n")
    assert path.read_bytes() == b"x,y\n1,2\n"
    with pytest.raises(ValueError):
        with atomic_open(path, "a"):
            pass
    with pytest.raises(ValueError):
        with atomic_open(path, "wb", encoding="utf-8"):
            pass
    with pytest.raises(TypeError):
        atomic_write(path, 123)


def test_missing_folder_and_folder_target(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nope" / "a.bin", b"x")
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path / "d", b"x")
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symlinks")
def test_keeps_permissions_and_writes_through_symlinks(tmp_path):
    real = tmp_path / "real.txt"
    real.write_bytes(b"old")
    os.chmod(real, 0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.txt"
    atomic_write(fresh, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask
