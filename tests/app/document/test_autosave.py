"""Autosave and crash recovery: a clean exit leaves nothing, a crash leaves an autosave the next start finds (and
names the document it belonged to), an exception exit keeps it, stale locks are cleaned up, bad session ids refused."""

import os

import pytest

from playground.app.document.autosave import AutosaveSession, find_recoverable_autosave, find_recoverable_autosaves
from playground.app.settings import Settings
from playground.core.io.workspace import Workspace, make_workspace, save_workspace
from playground.data.targets.presets import make_preset

SETTINGS = Settings().to_dict()


def small_ws(t=0.5) -> Workspace:
    return make_workspace(make_preset("moons"), SETTINGS, t=t)


def test_clean_exit_leaves_nothing(tmp_path):
    folder = tmp_path / "cache" / "autosave"
    with AutosaveSession(folder) as session:
        session.write(small_ws(), document=tmp_path / "doc.dpw")
        assert session.path.is_file() and session.lock_path.is_file()
        assert find_recoverable_autosaves(folder) == []  # a running session (even our own) is not recoverable
    assert list(folder.iterdir()) == []


def test_crash_leaves_a_recoverable_autosave(tmp_path):
    folder = tmp_path / "autosave"
    assert find_recoverable_autosave(folder) is None  # no folder yet
    crashed = AutosaveSession(folder, "crashed")
    crashed.write(small_ws(0.25), document="/home/me/moons.dpw")
    crashed.write(small_ws(0.75), document="/home/me/moons.dpw")
    crashed._abandon()  # the process dies: the OS releases its lock, the files stay
    live = AutosaveSession(folder, "live").start()
    live.write(small_ws(0.1))
    found = find_recoverable_autosaves(folder)
    assert [f.path.name for f in found] == ["autosave-crashed.dpw"]
    entry = found[0]
    assert entry.document == "/home/me/moons.dpw" and entry.pid == os.getpid()
    assert entry.load() == small_ws(0.75)
    entry.discard()
    assert find_recoverable_autosave(folder) is None
    assert sorted(p.name for p in folder.iterdir()) == ["autosave-live.dpw", "autosave-live.lock"]
    live.close()


def test_exception_exit_and_stale_locks(tmp_path):
    folder = tmp_path / "a"
    with pytest.raises(RuntimeError):
        with AutosaveSession(folder, "boom") as session:
            session.write(small_ws())
            raise RuntimeError("crash")
    stale = AutosaveSession(folder, "early").start()  # crashed before its first autosave
    stale._abandon()
    orphan = folder / "autosave-orphan.dpw"  # an autosave whose lock file is gone
    save_workspace(orphan, small_ws(0.2))
    os.utime(orphan, (1, 1))  # older
    found = find_recoverable_autosaves(folder)
    assert [f.path.name for f in found] == ["autosave-boom.dpw", "autosave-orphan.dpw"]
    assert found[1].lock_path is None and found[1].load().t == 0.2
    assert not (folder / "autosave-early.lock").exists()  # cleaned up
    with pytest.raises(ValueError):
        AutosaveSession(folder, "../escape")
