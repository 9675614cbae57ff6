"""File > Export: samples and trajectories, pictures, animations (progress, cancel) and the model."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from playground.app.dialogs.export.items import has_video_writer  # noqa: E402
from playground.app.dialogs.export_dialog import ExportDialog  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402

SMALL = dict(
    hidden=32, depth=2, batch=128, steps=300, n_particles=800, n_forward=800, target_samples=4000,
    sample_steps=30, n_trajectories=8,
)


@pytest.fixture
def window(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(state=AppState(make_preset("8gaussians"), Settings(**SMALL)), store=store, restore=False,
                   autosave_dir=tmp_path / "autosave")
    w.workspace.ask_save = lambda reason: "discard"
    qtbot.addWidget(w)
    w.resize(1300, 850)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


@pytest.fixture
def dialog(window) -> ExportDialog:
    dlg = window.export_dialog()  # held by the window
    assert isinstance(dlg, ExportDialog) and dlg.isVisible()
    return dlg


def sampled(qtbot, window) -> None:
    """Run the Sampling panel with the exact score and wait until both sides are done."""
    sp = window.panels["sampling"]
    sp.use_exact.setChecked(True)
    qtbot.waitUntil(lambda: not sp.running and all(s.outcome is not None for s in sp.sides.values()),
                    timeout=60_000)


def wait_done(qtbot, dlg, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: not dlg.busy, timeout=timeout)


def test_samples_csv_npy_round_trip(window, dialog, qtbot, tmp_path):
    assert not dialog.export("samples_sde", tmp_path / "x.csv")  # nothing sampled yet: says why
    assert "Sampling" in dialog.last_message and not (tmp_path / "x.csv").exists()
    sampled(qtbot, window)
    sp = window.panels["sampling"]
    for key, expected in (("samples_sde", sp.sides["sde"].outcome.x), ("samples_ode", sp.sides["ode"].outcome.x),
                          ("target", window.state.target_samples)):
        for suffix in (".csv", ".npy"):
            p = tmp_path / f"{key}{suffix}"
            assert dialog.export(key, p), dialog.last_message
            back = np.loadtxt(p, delimiter=",", skiprows=1) if suffix == ".csv" else np.load(p)
            assert back.shape == expected.shape
            assert np.array_equal(back.astype(np.float32), np.asarray(expected, np.float32))
    window.state.set_time(0.4)
    assert dialog.export("forward", tmp_path / "fwd.npy")
    assert np.array_equal(np.load(tmp_path / "fwd.npy"), window.panels["forward"].compute_particles(0.4))
    assert dialog.export("traj_sde", tmp_path / "traj.npy")
    traj = np.load(tmp_path / "traj.npy")
    assert traj.ndim == 3 and traj.shape[1:] == (8, 2) and traj.shape[0] > 2
    assert not dialog.export("traj_sde", tmp_path / "traj.csv", "csv")  # trajectories are .npy only


def _rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return a[:, : img.width(), :3]


def test_panel_png_is_not_blank_and_svg_is_a_document(window, dialog, qtbot, tmp_path):
    qtbot.wait(200)
    png = tmp_path / "forward.png"
    assert dialog.export("panel:forward", png), dialog.last_message
    img = QImage(str(png))
    a = _rgb(img)
    assert img.width() > 100 and len(np.unique(a.reshape(-1, 3)[::5], axis=0)) > 20 and a.std() > 5
    svg = tmp_path / "score.svg"
    assert dialog.export("panel:score", svg), dialog.last_message
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 50
    assert dialog.export("panel:window", tmp_path / "window.png")
    assert QImage(str(tmp_path / "window.png")).width() == window.width()


def test_gif_export_is_a_valid_animation_and_cancel_stops_it(window, dialog, qtbot, tmp_path):
    import imageio.v3 as iio

    t0 = window.state.t
    gif = tmp_path / "forward.gif"
    seen = []
    dialog.done.connect(lambda ok, msg: seen.append(ok))
    assert dialog.export("anim_forward", gif, fps=5, duration=1.0, size=(160, 120))
    assert dialog.busy and not dialog.export("target", tmp_path / "t.npy")  # one export at a time
    wait_done(qtbot, dialog)
    assert dialog.last_ok, dialog.last_message
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 5 and frames.shape[1:3] == (120, 160)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1  # t = 0 and t = T differ
    assert window.state.t == t0  # the app's time is back where it was
    assert seen[-1] is True

    # the sampling animation replays the stored frames
    sampled(qtbot, window)
    assert dialog.export("anim_sampling", tmp_path / "sampling.gif", fps=4, duration=1.0, size=(200, 100))
    wait_done(qtbot, dialog)
    assert dialog.last_ok and iio.imread(tmp_path / "sampling.gif", index=None).shape[0] == 4

    # Cancel: a long animation stops, nothing is written, the view is restored
    long_gif = tmp_path / "long.gif"
    assert dialog.export("anim_score", long_gif, fps=30, duration=20.0, size=(120, 120))
    assert dialog.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 4, timeout=30_000)
    dialog.cancel_btn.click()
    wait_done(qtbot, dialog, 10_000)
    assert dialog.last_ok is False and "Cancel" in dialog.last_message
    assert not long_gif.exists() and not list(tmp_path.glob(".long.gif*"))
    assert window.state.t == t0 and not dialog.cancel_btn.isEnabled()


def test_mp4_writer_comes_with_the_readme_app_install():
    """MP4 needs imageio-ffmpeg (ffmpeg in a 68 MB wheel): an extra of the package that the README's app command
    installs, and that the tests install too."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    app_command = next(line for line in (root / "README.md").read_text().splitlines()
                       if line.endswith("&& .venv/bin/diffusion-playground"))
    installed = re.search(r"pip install -e '\.\[([\w,]+)\]'", app_command)
    assert installed, app_command
    names = {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0] for x in installed.group(1).split(",") for d in extras[x]}
    assert "imageio-ffmpeg" in names
    assert any(d.startswith("imageio-ffmpeg") for d in extras["test"])


def test_mp4_export_reads_back_with_its_frames_and_size(window, dialog, qtbot, tmp_path):
    import imageio.v3 as iio

    dialog.select("anim_forward")
    assert dialog.format.model().item(dialog.format.findData("mp4")).isEnabled() and has_video_writer()
    mp4 = tmp_path / "forward.mp4"
    assert dialog.export("anim_forward", mp4, "mp4", fps=5, duration=1.0, size=(160, 120)), dialog.last_message
    wait_done(qtbot, dialog)
    assert dialog.last_ok, dialog.last_message
    frames = iio.imread(mp4, index=None, extension=".mp4")
    assert frames.shape == (5, 120, 160, 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1  # t = 0 and t = T differ
    assert iio.immeta(mp4, extension=".mp4")["fps"] == 5.0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mp4" or p.name.startswith(".")) == ["forward.mp4"]


def test_model_export_in_a_worker_reports_the_difference(window, dialog, qtbot, tmp_path):
    assert not dialog.export("model", tmp_path / "m.pt2") and "Train" in dialog.last_message
    c = window.controller
    c.play(max_steps=20)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    out = tmp_path / "m.pt2"
    assert dialog.export("model", out)
    assert dialog.busy  # runs in a worker
    wait_done(qtbot, dialog, 120_000)
    assert dialog.last_ok, dialog.last_message
    assert out.is_file() and "max abs difference" in dialog.last_message
    assert dialog.last_report.max_abs_diff < 1e-3


def test_dialog_controls(window, dialog, qtbot, tmp_path):
    dialog.select("anim_score", "gif")
    assert dialog.anim_box.isVisible() and dialog.path_edit.text().endswith(".gif")
    dialog.anim_box.fps.setValue(10)
    dialog.anim_box.duration.setValue(2.0)
    assert dialog.anim_box.frames_label.text() == "20 frames"
    dialog.select("target", "npy")
    assert not dialog.anim_box.isVisible() and dialog.path_edit.text().endswith("target.npy")
    dialog.path_edit.setText(str(tmp_path / "via_button.npy"))
    dialog.export_btn.click()
    assert np.load(tmp_path / "via_button.npy").shape == (4000, 2)
    img = dialog.grab().toImage()
    img.save(str(tmp_path / "dialog.png"))
    assert img.width() > 300


def test_cancel_stops_a_model_export_at_once_and_writes_nothing(window, dialog, qtbot, tmp_path):
    """ONNX export runs in a worker process; Cancel terminates it mid-export, the dialog is free again at once, and
    neither the file nor a temporary file is left."""
    from PySide6.QtCore import QTimer

    c = window.controller
    c.play(max_steps=20)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    out = tmp_path / "m.onnx"
    assert dialog.export("model", out)
    job = dialog._job.worker
    assert dialog.busy and dialog.cancel_btn.isEnabled() and job.process.proc.pid != os.getpid()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    qtbot.waitUntil(lambda: job.process.started, timeout=240_000)  # the child is exporting now
    timer.stop()
    assert len(ticks) > 10  # the event loop kept turning while the process started
    assert "Cancel stops it" in dialog.status.text()
    dialog.cancel_btn.click()
    assert not dialog.busy and dialog.last_ok is False and "Cancelled" in dialog.last_message
    assert not job.process.proc.is_alive() and not job.process.folder.exists()
    assert list(tmp_path.glob("*m.onnx*")) == [] and not dialog.cancel_btn.isEnabled()
    assert dialog.export("target", tmp_path / "t.npy")  # the dialog works again


def test_cancel_while_a_gif_is_encoded_frees_the_dialog_at_once(window, dialog, qtbot, tmp_path, monkeypatch):
    """Pillow encodes a GIF in one uninterruptible call: Cancel frees the dialog at once, the encoder thread ends on
    its own later, and its bytes are never written."""
    import threading

    from playground.app.workers import export_worker

    gate, inside = threading.Event(), threading.Event()
    real = export_worker.encode_animation

    def stuck_in_pillow(*args, **kwargs):
        inside.set()
        gate.wait(30)  # as if Pillow were still encoding
        return real(*args, **kwargs)

    monkeypatch.setattr(export_worker, "encode_animation", stuck_in_pillow)
    gif = tmp_path / "a.gif"
    assert dialog.export("anim_forward", gif, fps=4, duration=1.0, size=(80, 80))
    qtbot.waitUntil(inside.is_set, timeout=30_000)
    encoder = dialog._job.encoder
    dialog.cancel_btn.click()
    assert not dialog.busy and "Cancelled" in dialog.last_message  # at once, the encoder still inside its call
    assert encoder.isRunning()
    gate.set()
    qtbot.waitUntil(lambda: not encoder.isRunning(), timeout=30_000)
    assert list(tmp_path.glob("*.gif*")) == []
