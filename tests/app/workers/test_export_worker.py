"""File > Export's background half: GIF and MP4 encoding (read back with imageio), cancellation that never leaves a
file, and the model export in a worker process (its result, and Cancel terminating it mid-export)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("PySide6")

from playground.app.workers.export_worker import Cancellation, encode_animation  # noqa: E402
from playground.app.workers.model_export_process import ModelExportProcess  # noqa: E402
from tests.core.io.test_export import make_model  # noqa: E402


def frames(n: int = 7, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """n frames whose grey level steps by 30: frame k is 30 k everywhere."""
    return [np.full((h, w, 3), 30 * k, np.uint8) for k in range(n)]


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_an_animation_reads_back_with_its_frame_count_and_size(tmp_path, fmt):
    import imageio.v3 as iio

    path = tmp_path / f"a.{fmt}"
    done = []
    assert encode_animation(frames(), path, 5.0, fmt, Cancellation(), done.append)
    back = iio.imread(path, index=None, extension=f".{fmt}")
    assert back.shape[:3] == (7, 48, 64)
    assert np.abs(back[..., :3].reshape(7, -1).mean(1) - 30 * np.arange(7)).max() < 3  # the frames, in order
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    if fmt == "mp4":
        assert done == list(range(1, 8))
        meta = iio.immeta(path, extension=".mp4")
        assert meta["fps"] == 5.0 and meta["size"] == (64, 48) and meta["codec"] == "h264"


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_cancel_during_encoding_writes_nothing(tmp_path, fmt):
    cancel = Cancellation()
    path = tmp_path / f"a.{fmt}"
    path_before = tmp_path / "keep.txt"
    path_before.write_text("untouched")

    def progress(k: int) -> None:
        if k == 2:
            assert cancel.cancel()  # mid-encoding: nothing written yet

    if fmt == "gif":
        cancel.cancel()
    assert not encode_animation(frames(), path, 5.0, fmt, cancel, progress)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_cancellation_excludes_the_write():
    c = Cancellation()
    assert c.commit(lambda: None) and not c.cancel()  # written: too late to cancel
    c, wrote = Cancellation(), []
    assert c.cancel() and not c.commit(lambda: wrote.append(1)) and not wrote  # cancelled: never written
    # a cancel racing a slow write waits for it and then reports it as done
    c, entered = Cancellation(), threading.Event()
    th = threading.Thread(target=c.commit, args=(lambda: (entered.set(), time.sleep(0.2)),))
    th.start()
    entered.wait(5)
    assert not c.cancel()
    th.join()


def test_the_export_process_writes_a_checked_file_and_cleans_up(tmp_path):
    model = make_model("vp", "eps")
    out = tmp_path / "m.pt2"
    job = ModelExportProcess(model, out, "torch-export")
    deadline = time.monotonic() + 240
    outcome = None
    while outcome is None and time.monotonic() < deadline:
        outcome = job.poll()
        time.sleep(0.05)
    assert outcome is not None and outcome[0] == "done", outcome
    report = outcome[1]
    assert report.path == out and out.is_file() and report.max_abs_diff < 1e-4
    assert job.started and not job.folder.exists() and not job.proc.is_alive()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt2"]


def test_cancel_terminates_the_export_process_mid_export(tmp_path):
    """The ONNX exporter (~10 s of tracing) is stopped once it runs: the process is gone, no file, no folder."""
    job = ModelExportProcess(make_model("ve", "edm"), tmp_path / "m.onnx", "onnx")
    deadline = time.monotonic() + 240
    while not job.started and time.monotonic() < deadline:
        assert job.poll() is None  # still exporting
        time.sleep(0.05)
    assert job.started and job.proc.is_alive()
    job.cancel()
    assert not job.proc.is_alive() and not job.folder.exists()
    assert list(tmp_path.iterdir()) == []
