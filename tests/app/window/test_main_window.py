"""The main window: docks, menus, the shared time bar, equations, export/open, theme, screenshots (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from playground.app.window.docks import DOCKS  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from tests.app.window_helpers import make_window  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()


def not_blank(img) -> bool:
    """More than a handful of distinct colours and a real spread of pixel values."""
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]
    colours = np.unique(a[..., :3].reshape(-1, 3)[::7], axis=0)
    return img.width() > 50 and img.height() > 50 and len(colours) > 20 and float(a[..., :3].std()) > 5.0


def test_window_has_docks_menus_and_shortcuts(window):
    for key, title, _ in DOCKS:
        d = window.docks[key]
        assert d.windowTitle() == title and d.isVisible() and d.widget().widget() is window.panels[key]
        assert d.toggleViewAction() in window.menuBar().actions()[2].menu().actions()
    names = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert names == ["File", "Edit", "View", "Train", "Help"]
    assert window.act_play.shortcut() == QKeySequence(Qt.Key.Key_Space)
    assert window.act_undo.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert window.act_redo.shortcut() == QKeySequence(QKeySequence.StandardKey.Redo)
    for a in (window.act_new, window.act_open, window.act_save, window.act_save_as, window.act_import,
              window.act_export, window.act_step, window.act_reset, window.act_equations):
        assert a.toolTip() and a.text()
    sb = window.status_labels
    assert sb["device"].text() == "device: cpu" and "step 0" in sb["step"].text()
    # hiding a dock from View and resetting the layout brings it back
    window.docks["score"].toggleViewAction().trigger()
    assert not window.docks["score"].isVisible()
    window.reset_layout()
    assert window.docks["score"].isVisible()


def test_every_control_of_my_panels_has_a_tooltip(window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QScrollBar,
    )

    kinds = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox)
    for owner in (window.settings_panel, window.time_bar, window.panels["training"]):
        controls = [w for k in kinds for w in owner.findChildren(k)]
        assert len(controls) >= 4
        for w in controls:
            if isinstance(w, QScrollBar) or isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
                continue
            tip = w.toolTip() or (w.defaultAction().toolTip() if hasattr(w, "defaultAction") and w.defaultAction()
                                  else "")
            assert tip, f"{type(owner).__name__}: {type(w).__name__} {w.objectName()}"


def test_time_bar_drives_state_and_every_panel(window, qtbot):
    bar = window.time_bar
    panels = {k: window.panels[k] for k in ("forward", "score", "sampling") if hasattr(window.panels[k], "redraws")}
    assert {"forward", "score"} <= set(panels)
    sp = window.panels["sampling"]
    qtbot.waitUntil(lambda: not sp.running, timeout=60_000)  # the first exact-score run (its end moves the replay)
    qtbot.wait(100)
    before = {k: p.redraws for k, p in panels.items()}
    bar.slider.setValue(800)
    assert window.state.t == pytest.approx(0.8)
    assert bar.spin.value() == pytest.approx(0.8)
    qtbot.waitUntil(lambda: all(p.redraws > before[k] for k, p in panels.items()), timeout=5000)
    # the sampling panel's replay slider follows (left = T, right = 0) and drives t back
    assert sp.slider.value() == round(0.2 * sp.slider.maximum())
    sp.slider.setValue(sp.slider.maximum())
    assert window.state.t == pytest.approx(0.0)
    assert bar.slider.value() == 0
    # the play button animates t, with the direction chosen
    bar.direction.setCurrentIndex(0)
    bar.set_playing(True)
    qtbot.waitUntil(lambda: window.state.t > 0.05, timeout=5000)
    bar.set_playing(False)
    assert not bar.playing
    t = window.state.t
    qtbot.wait(100)
    assert window.state.t == t
    assert "α(t)" in bar.coef_label.text()


def test_equations_dialog_follows_the_settings(window, qtbot):
    dlg = window.show_equations()
    text = dlg.text()
    assert "VP SDE" in text and "β0 = 0.1" in text and "β1 = 20" in text
    assert "dx = −½ β(t) x dt + √β(t) dw" in text
    assert "Probability-flow ODE" in text and "Reverse-time SDE" in text and "Denoising score matching" in text
    assert "s_θ(x, t) = −εθ(x, t) / σt".replace("_", "") in text
    window.request_settings({"sde": "ve"})
    text = dlg.text()
    assert "VE SDE" in text and "σ(t)" in text and "VP SDE" not in text
    assert "dx = σ(t) √(2 ln(" in text
    window.request_settings({"sde": "subvp", "beta_max": 10.0})
    text = dlg.text()
    assert "sub-VP" in text and "10" in text
    window.request_settings({"weighting": "likelihood", "output": "x0"})
    text = dlg.text()
    assert "likelihood" in text and "D" in text
    dlg.close()


def test_export_samples_and_panel_picture(window, tmp_path):
    csv, npy, png = tmp_path / "s.csv", tmp_path / "s.npy", tmp_path / "p.png"
    assert window.export(str(csv)) and window.export(str(npy))
    a = np.loadtxt(csv, delimiter=",", skiprows=1)
    b = np.load(npy)
    assert a.shape == b.shape == (window.state.settings.n_particles, 2)
    assert window.export(str(png), panel="forward") and png.stat().st_size > 1000
    assert not window.export(str(tmp_path / "x.txt"))
    assert window.messages and window.messages[-1][0] == "Cannot export"


def test_open_bad_model_file_gives_a_message(window, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model at all")
    target = window.state.target
    assert not window.open_model(str(bad))
    title, text = window.messages[-1]
    assert title == "Cannot open model" and "bad.safetensors" in text
    assert window.state.model is None and window.state.target is target
    assert not window.import_target(str(tmp_path / "missing.csv"))
    assert window.state.target is target
    assert window.messages[-1][0] == "Target" and "missing.csv" in window.messages[-1][1]
    good = tmp_path / "pts.csv"
    np.savetxt(good, np.random.default_rng(0).normal(size=(200, 2)), delimiter=",")
    assert window.import_target(str(good)) and window.state.target is not target


def test_theme_light_dark(window, qtbot):
    import pyqtgraph as pg

    window.set_theme("dark")
    qtbot.wait(50)
    assert window.is_dark()
    assert window.palette().color(window.backgroundRole()).lightness() < 100
    views = window.findChildren(pg.GraphicsView)
    assert views and all(v.backgroundBrush().color().lightness() < 100 for v in views)
    window.set_theme("light")
    qtbot.wait(50)
    assert not window.is_dark()
    assert window.palette().color(window.backgroundRole()).lightness() > 150
    assert all(v.backgroundBrush().color().lightness() > 200 for v in views)
    window.set_theme("system")
    assert window.theme_actions["system"].isChecked()


def test_screenshots_of_window_and_every_dock_are_not_blank(window, qtbot, tmp_path):
    qtbot.wait(300)
    img = window.grab().toImage()
    img.save(str(tmp_path / "window.png"))
    assert not_blank(img)
    for key, d in window.docks.items():
        im = d.grab().toImage()
        im.save(str(tmp_path / f"{key}.png"))
        assert not_blank(im), key


def test_message_boxes_do_not_block(window, qtbot):
    box = window.show_message("Hello", "text")
    assert isinstance(box, QMessageBox) and box.isVisible()
    box.close()
    assert window.messages[-1] == ("Hello", "text")


def test_run_opens_the_window_with_a_target_and_saves_on_quit(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from playground.app import run

    ini = tmp_path / "run.ini"
    monkeypatch.setenv("PLAYGROUND_SETTINGS", str(ini))
    seen = {}

    def close_it():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["n"] = len(wins)
        seen["target"] = wins[0].state.target.name if wins else None
        for w in wins:
            w.close()

    QTimer.singleShot(1500, close_it)
    assert run(["8gaussians"]) == 0
    assert seen == {"n": 1, "target": "8gaussians"}
    assert ini.exists() and "settings" in ini.read_text()


def test_file_open_and_drop_of_a_large_point_file_load_in_the_background(window, qtbot, tmp_path, monkeypatch):
    """File > Open and a drop on the window import a target file; a large one loads in a worker behind a progress
    dialog (the threshold is lowered here), the window's event loop running meanwhile."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from playground.app.workers import target_loader

    monkeypatch.setattr(target_loader, "BACKGROUND_BYTES", 1000)
    path = tmp_path / "cloud.csv"
    np.savetxt(path, np.random.default_rng(0).normal(size=(3000, 2)), delimiter=",")
    page = window.panels["target"].import_page
    moons = window.state.target
    assert window.open_path(str(path))  # File > Open of a target file imports it
    assert page.loading and window.state.target is moons and page.progress_dialog.isVisible()
    qtbot.waitUntil(lambda: not page.loading, timeout=30_000)
    assert window.state.target.name == "cloud.csv" and len(window.state.target.points) == 3000
    window.undo_stack.undo()
    assert window.state.target is moons
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.dropEvent(QDropEvent(QPointF(30, 30), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                                Qt.KeyboardModifier.NoModifier))
    assert page.loading
    qtbot.waitUntil(lambda: not page.loading, timeout=30_000)
    assert window.state.target.name == "cloud.csv"


def test_smooth_animation_sets_the_frame_rate_while_playing_and_is_kept(window, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from playground.app.widgets.frame_clock import FRAME_MS, SMOOTH_MS, frame_clock
    from playground.app.window import persistence

    bar, clock = window.time_bar, frame_clock()
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.act_smooth.isChecked() and window.act_smooth in view_menu.actions()
    assert clock.interval == FRAME_MS  # not playing: the views' usual frame
    bar.set_playing(True)
    assert clock.interval == SMOOTH_MS
    window.act_smooth.setChecked(False)
    assert clock.interval == FRAME_MS  # off while playing: at once
    window.act_smooth.setChecked(True)
    assert clock.interval == SMOOTH_MS
    t0 = window.state.t
    qtbot.waitUntil(lambda: window.state.t != t0, timeout=5000)
    bar.set_playing(False)
    assert clock.interval == FRAME_MS
    window.act_smooth.setChecked(False)
    window.store = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    persistence.save_ui(window)
    window.act_smooth.setChecked(True)
    persistence.restore_ui(window)
    assert not window.act_smooth.isChecked() and not bar.smooth
    window.act_smooth.setChecked(True)
