"""The Images tab's chooser: Download… fetches MNIST-style files (offline here: a file:// mirror), fills in the path
and the set loads; a bad checksum is a message and leaves nothing behind."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.panels.target.images_page import ImageDatasetChooser  # noqa: E402
from playground.data.images import download as image_download  # noqa: E402
from playground.data.images.idx import write_idx  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """Small MNIST-named IDX files behind a file:// mirror, the cache in tmp_path; returns the registry entry."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    rng = np.random.default_rng(1)
    files = {}
    for name, array in (("train-images-idx3-ubyte.gz", rng.integers(0, 256, (9, 28, 28), dtype=np.uint8)),
                        ("train-labels-idx1-ubyte.gz", rng.integers(0, 10, 9).astype(np.uint8))):
        path = write_idx(folder / name, array)
        files[name] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    entry = {"mirrors": (folder.as_uri() + "/",), "files": files}
    monkeypatch.setitem(image_download.IDX_DOWNLOADS, "mnist", entry)
    monkeypatch.setenv("DIFFUSION_PLAYGROUND_CACHE", str(tmp_path / "cache"))
    return entry


def make_chooser(keep) -> ImageDatasetChooser:
    chooser = ImageDatasetChooser(AppState(make_preset("moons"), Settings(target_samples=200)))
    keep(chooser)
    chooser.set_choice("mnist")
    return chooser


def test_download_fills_the_path_and_the_set_loads(keep, qtbot, mirror, tmp_path):
    chooser = make_chooser(keep)
    assert chooser.download_button.isVisibleTo(chooser)
    assert chooser.download(confirm=False)
    qtbot.waitUntil(lambda: chooser.downloader is None, timeout=10000)
    assert chooser.path_edit.text() == str(tmp_path / "cache" / "mnist")
    assert "Downloaded" in chooser.status.text()
    with qtbot.waitSignal(chooser.loaded, timeout=10000) as got:
        assert chooser.load()
    dataset, spec, _notes = got.args
    assert len(dataset) == 9 and dataset.shape == (1, 28, 28) and spec.startswith("mnist:")
    chooser.set_choice("digits")
    assert not chooser.download_button.isVisibleTo(chooser) and not chooser.download(confirm=False)


def test_a_bad_checksum_is_a_message_and_no_file(keep, qtbot, mirror, tmp_path, monkeypatch):
    bad = {**mirror, "files": {k: (v[0], "f" * 64) for k, v in mirror["files"].items()}}
    monkeypatch.setitem(image_download.IDX_DOWNLOADS, "mnist", bad)
    chooser = make_chooser(keep)
    with qtbot.waitSignal(chooser.failed, timeout=10000) as got:
        assert chooser.download(confirm=False)
    assert "SHA-256 mismatch" in got.args[0] and chooser.path_edit.text() == ""
    qtbot.waitUntil(lambda: chooser.downloader is None, timeout=5000)
    assert not any((tmp_path / "cache" / "mnist").iterdir())
    chooser.shutdown()
