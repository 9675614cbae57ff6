"""The Target panel (pytest-qt, offscreen): presets, drawing with undo/redo, Gaussian editing, import, screenshots."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from playground.app.panels.target.panel import TargetPanel
from playground.app.state import AppState, Settings
from playground.data.targets.gmm_components import Component
from playground.data.targets.presets import make_preset
from tests.app.mouse_helpers import mouse_click, mouse_drag


@pytest.fixture
def panel(qtbot):
    state = AppState(make_preset("moons"), Settings(target_samples=4000))
    stack = QUndoStack()
    p = TargetPanel(state, stack)
    qtbot.addWidget(p)
    p.resize(460, 680)
    p.show()
    qtbot.waitExposed(p)
    return p


def not_blank(widget, path) -> None:
    img = widget.grab().toImage()
    img.save(str(path))
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert a.std() > 5.0, f"{path} looks blank"
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 50


# ---- presets --------------------------------------------------------------------------------------------------
def test_gallery_selects_preset_and_undo(panel, qtbot):
    state, stack = panel.state, panel.undo_stack
    gallery = panel.presets_page.gallery
    panel.presets_page.ensure_thumbnails()
    assert not gallery.item(0).icon().isNull()
    row = [gallery.item(i).text() for i in range(gallery.count())].index("8gaussians")
    rect = gallery.visualItemRect(gallery.item(row))
    QTest.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert state.target.name == "8gaussians" and state.target.gmm is not None
    assert "exact GMM score (8 components)" in panel.header.info.text()
    stack.undo()
    assert state.target.name == "moons"
    assert gallery.currentRow() == [gallery.item(i).text() for i in range(gallery.count())].index("moons")
    stack.redo()
    assert state.target.name == "8gaussians"


def test_noise_and_sample_count(panel):
    state, stack = panel.state, panel.undo_stack
    presets = panel.presets_page
    assert panel.choose_preset("moons")  # already the target: no command
    assert stack.count() == 0
    presets.noise_spin.setValue(0.2)
    presets.noise_spin.setValue(0.3)
    assert state.target.params["noise"] == pytest.approx(0.3)
    assert stack.count() == 1  # consecutive noise changes of one preset merge
    stack.undo()
    assert state.target.params["noise"] == pytest.approx(0.1) and presets.noise_spin.value() == pytest.approx(0.1)
    asked = []
    panel.changeRequested.connect(asked.append)  # the main window applies it (an undoable settings change)
    panel.changeRequested.connect(lambda changes: state.update_settings(**changes))
    presets.samples_spin.setValue(3000)
    assert asked == [{"target_samples": 3000}]
    assert state.settings.target_samples == 3000 and len(state.target_samples) == 3000
    panel.choose_preset("checkerboard")
    assert not presets.noise_spin.isEnabled()


# ---- drawing --------------------------------------------------------------------------------------------------
def test_mouse_strokes_make_a_target_and_undo_redo_per_stroke(panel, qtbot):
    state, stack = panel.state, panel.undo_stack
    draw = panel.draw_page
    panel.set_mode("Draw")
    moons = state.target
    mouse_drag(draw.canvas_plot, draw.canvas_view, [(-2.0, 2.0), (-1.0, 3.2), (0.0, 2.0), (1.0, 3.2)])
    assert state.target.name == "drawing" and state.target is not moons
    x = state.target_samples
    assert (x[:, 1] > 1.5).all() and (x[:, 0] > -2.9).all() and (x[:, 0] < 1.9).all()
    assert draw.drawing.canvas[12, 48] > 0.3  # the zig-zag's corner at (-1, 3) was painted: every move counted
    first = draw.drawing.raster()
    first_target = state.target
    # a second stroke (scripted with data coordinates)
    assert draw.stroke([(0.0, -2.0), (0.0, -3.0)])
    assert stack.count() == 2 and (state.target_samples[:, 1] < -1.5).any()
    stack.undo()
    assert np.array_equal(draw.drawing.raster(), first) and state.target is first_target
    stack.undo()
    assert draw.drawing.is_empty() and state.target is moons
    stack.redo()
    assert np.array_equal(draw.drawing.raster(), first) and state.target is first_target
    stack.redo()
    assert (state.target_samples[:, 1] < -1.5).any()


def test_eraser_clear_and_empty_drawing(panel):
    state, stack = panel.state, panel.undo_stack
    draw = panel.draw_page
    moons = state.target
    draw.use_drawing()  # nothing drawn yet
    assert "empty" in panel.message_text and state.target is moons and stack.count() == 0
    draw.stroke([(-1, 0), (1, 0)])
    drawn = state.target
    assert draw.stroke([(-1, 0), (1, 0)], erase=True)
    assert not draw.drawing.is_empty() and state.target is not drawn  # strength 0.6 thins
    thinned = state.target
    draw.size_spin.setValue(1.0)
    draw.strength_spin.setValue(1.0)
    draw.stroke([(-1, 0), (1, 0)])  # eraser still selected: erase the rest with a wide, full-strength brush
    assert draw.drawing.is_empty()
    assert state.target is thinned and "empty" in panel.message_text  # an empty drawing keeps the target
    stack.undo()
    assert state.target is thinned and not draw.drawing.is_empty()
    stack.undo()
    assert state.target is drawn
    draw.stroke([(0, 2), (0, 3)], erase=False)
    assert state.target is not drawn
    before_clear = draw.drawing.raster()
    kept = state.target
    draw.clear_drawing()
    assert draw.drawing.is_empty() and state.target is kept
    stack.undo()
    assert np.array_equal(draw.drawing.raster(), before_clear)
    stack.redo()
    assert draw.drawing.is_empty()


# ---- gaussians ------------------------------------------------------------------------------------------------
def test_gaussian_mode_add_move_weight_delete(panel, qtbot):
    state, stack = panel.state, panel.undo_stack
    panel.set_mode("Gaussians")
    ed = panel.gaussians_page.editor
    qtbot.wait(10)
    mouse_click(ed.plot, ed.plot.view, -1.5, 0.0)
    mouse_click(ed.plot, ed.plot.view, 1.5, 1.0)
    g = state.target.gmm
    assert g is not None and g.n_components == 2
    assert np.allclose(g.means.numpy(), [[-1.5, 0.0], [1.5, 1.0]], atol=0.05)
    assert np.allclose(g.weights.numpy(), [0.5, 0.5])
    assert state.exact_score_fn() is not None
    probe = torch.tensor([[0.0, 0.5]], dtype=torch.float64)
    s_before = g.score(probe)
    n_before = stack.count()
    # drag the second component to (0.5, -2) through several live updates: one undo step
    mouse_drag(ed.plot, ed.plot.view, [(1.5, 1.0), (1.2, 0.0), (0.9, -1.0), (0.5, -2.0)], qtbot=qtbot, wait_ms=90)
    g2 = state.target.gmm
    assert np.allclose(g2.means.numpy()[1], [0.5, -2.0], atol=0.05)
    assert stack.count() == n_before + 1
    s_after = g2.score(probe)
    # the exact score follows the mean: it equals the analytic mixture score at the new position
    w = np.array([0.5, 0.5])
    mu = g2.means.numpy()  # (the mouse lands on whole pixels: within 0.05 of the intended means)
    x = np.array([0.0, 0.5])
    sig2 = g2.covariances.numpy()[:, 0, 0]
    logn = -0.5 * ((x - mu) ** 2).sum(1) / sig2 - np.log(sig2)
    r = w * np.exp(logn - logn.max())
    r /= r.sum()
    expected = (r[:, None] * (mu - x) / sig2[:, None]).sum(0)
    assert np.allclose(s_after.numpy()[0], expected, rtol=1e-6)
    assert not torch.allclose(s_before, s_after)
    # weights: the table/spin value is relative, the GMM's normalised
    ed.select(0)
    ed.weight_spin.setValue(3.0)
    assert np.allclose(state.target.gmm.weights.numpy(), [0.75, 0.25])
    # wheel widens the selected component
    sx = ed.components[0].sx
    ed.wheel_at(-1.5, 0.0, 2)
    ed.wheel_at(-1.5, 0.0, 1)
    assert ed.components[0].sx == pytest.approx(sx * 1.1**3)
    assert state.target.gmm.covariances[0, 0, 0].item() == pytest.approx((sx * 1.1**3) ** 2)
    # undo the drag (and everything after it): back to the original means
    while stack.count() and stack.index() > n_before:
        stack.undo()
    assert np.allclose(state.target.gmm.means.numpy(), [[-1.5, 0.0], [1.5, 1.0]], atol=0.05)
    # Delete key removes the selected component
    ed.select(1)
    ed.plot.setFocus()
    QTest.keyClick(ed.plot, Qt.Key.Key_Delete)
    assert state.target.gmm.n_components == 1 and len(ed.components) == 1
    stack.undo()
    assert state.target.gmm.n_components == 2


def test_gaussian_undo_to_previous_mode_target(panel):
    state, stack = panel.state, panel.undo_stack
    page = panel.gaussians_page
    moons = state.target
    page.editor.add_component(0.0, 0.0)
    assert state.target.gmm.n_components == 1
    assert state.target.entropy == pytest.approx(1 + np.log(2 * np.pi) + 2 * np.log(0.4))
    page.editor.set_weight(0, 0.0)  # the only weight cannot become zero
    assert page.editor.components[0].weight == 1.0
    stack.undo()
    assert state.target is moons and page.editor.components == []
    stack.redo()
    page.editor.select(0)
    page.editor.delete_selected()  # removing the last one keeps the target
    assert state.target.gmm.n_components == 1 and "No Gaussians" in panel.message_text
    page.editor.set_components([Component(1, 1), Component(-1, -1, weight=3)])
    page.use_mixture()
    assert np.allclose(state.target.gmm.weights.numpy(), [0.25, 0.75])


# ---- import ---------------------------------------------------------------------------------------------------
def test_import_good_and_bad_files(panel, tmp_path, qtbot):
    state = panel.state
    errors = []
    panel.errorOccurred.connect(errors.append)

    img = np.zeros((40, 40, 3), dtype=np.uint8)
    img[2:12, 28:38] = 255  # a bright square top-right
    png = tmp_path / "square.png"
    Image.fromarray(img).save(png)
    assert panel.import_file(png)
    x = state.target_samples
    assert (x[:, 0] > 1.0).all() and (x[:, 1] > 1.0).all()
    drawing = panel.draw_page.drawing
    assert not drawing.is_empty() and drawing.canvas[10, 110] > 0.5 and drawing.canvas[110, 10] == 0
    assert "exact density" in panel.header.info.text()

    csv = tmp_path / "pts.csv"
    csv.write_text("x,y\n0,0\n1,1\n2,-1\n")
    assert panel.import_file(csv)
    assert state.target.points is not None and len(state.target.points) == 3
    assert "ideal denoiser of the 3 target points" in panel.header.info.text()

    js = tmp_path / "mix.json"
    js.write_text(json.dumps({"weights": [1, 3], "means": [[-1, 0], [2, 1]], "covariances": [[[0.1, 0], [0, 0.2]]] * 2}))
    assert panel.import_file(js)
    assert state.target.gmm is not None and np.allclose(state.target.gmm.weights.numpy(), [0.25, 0.75])
    assert [round(c.x, 6) for c in panel.gaussians_page.editor.components] == [-1.0, 2.0]  # opened in the editor too

    kept = state.target
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    assert not panel.import_file(bad)
    assert state.target is kept and errors and "broken.png" in errors[-1]
    assert panel.message.isVisible() and "broken.png" in panel.message_text
    assert not panel.import_file(tmp_path / "missing.csv")
    assert not panel.import_file(tmp_path / "notes.txt")
    assert state.target is kept and len(errors) == 3

    panel.undo_stack.undo()  # undo the JSON import
    assert state.target.points is not None

    # drag-and-drop of a file onto the panel imports it
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(png))])
    ev = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    panel.dropEvent(ev)
    assert state.target.name == "square.png"


# ---- screenshots ----------------------------------------------------------------------------------------------
def test_screenshot_of_each_mode_is_not_blank(panel, tmp_path, qtbot):
    panel.presets_page.ensure_thumbnails()
    panel.draw_page.stroke([(-2, 1), (0, 2), (2, 1)])
    panel.gaussians_page.editor.add_component(-1, -1)
    panel.gaussians_page.editor.add_component(1.5, 1.0, sigma=0.7)
    for mode in TargetPanel.MODES:
        panel.set_mode(mode)
        qtbot.wait(20)
        not_blank(panel, tmp_path / f"target_panel_{mode.lower()}.png")


def test_every_control_has_a_tooltip(panel):
    from pyqtgraph import PlotWidget
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QListWidget, QTableWidget

    kinds = (QAbstractButton, QAbstractSpinBox, QListWidget, QTableWidget, PlotWidget)
    missing = [
        w
        for w in panel.findChildren(object)
        if isinstance(w, kinds)
        and not w.objectName()  # Qt's own sub-widgets (tab scroll arrows, table corner) are named
        and not w.toolTip()
    ]
    assert not missing, [type(w).__name__ + ":" + (w.text() if hasattr(w, "text") else "") for w in missing]


# ---- large files load in the background --------------------------------------------------------------------------
@pytest.fixture
def background(monkeypatch):
    """Every file of 1 kB or more loads in a TargetLoader, in blocks of 4 kB (so the tests' files take many)."""
    from playground.app.workers import target_loader
    from playground.data.targets import point_stream

    monkeypatch.setattr(target_loader, "BACKGROUND_BYTES", 1000)
    monkeypatch.setattr(point_stream, "BLOCK_BYTES", 4096)


def big_csv(tmp_path, n: int, name: str = "big.csv"):
    pts = np.stack([np.arange(n) % 500 / 100.0, np.arange(n) // 500 / 100.0], 1)
    path = tmp_path / name
    np.savetxt(path, pts, fmt="%.2f", delimiter=",", header="x,y", comments="")
    return path, pts


def test_a_large_file_loads_in_the_background_with_a_progress_dialog(panel, tmp_path, qtbot, background):
    state = panel.state
    moons = state.target
    path, pts = big_csv(tmp_path, 8_000)  # 20 blocks
    page = panel.import_page
    steps = []
    assert panel.import_file(path)  # returns at once: the reading runs in a thread
    assert page.loading and state.target is moons
    dialog = page.progress_dialog
    assert dialog.isVisible() and dialog.labelText().startswith("Reading big.csv (")
    page.loader.progress.connect(lambda done, total: steps.append(dialog.value()))
    qtbot.waitUntil(lambda: not page.loading, timeout=30_000)
    assert state.target is not moons and state.target.name == "big.csv"
    np.testing.assert_array_equal(state.target.points, pts)
    assert len(steps) > 5 and steps == sorted(steps) and page.progress_dialog is None
    assert "ideal denoiser of the 8,000 target points" in panel.header.info.text()
    panel.undo_stack.undo()
    assert state.target is moons


def test_cancel_stops_a_background_load_and_keeps_the_target(panel, tmp_path, qtbot, background, monkeypatch):
    """Cancel in the progress dialog after the first block: the reader stops at its next block."""
    import threading

    from playground.app.workers.target_loader import TargetLoader

    gate, reported = threading.Event(), []
    real_progress = TargetLoader._progress

    def gated(self, done, total):  # the reader waits after each block until the test has pressed Cancel
        real_progress(self, done, total)
        reported.append(done)
        gate.wait(10)

    monkeypatch.setattr(TargetLoader, "_progress", gated)
    state = panel.state
    moons = state.target
    path, _ = big_csv(tmp_path, 300_000)  # some 750 blocks of 4 kB
    page = panel.import_page
    errors = []
    panel.errorOccurred.connect(errors.append)
    assert panel.import_file(path)
    loader, dialog = page.loader, page.progress_dialog
    cancel = dialog.findChild(QPushButton)
    assert cancel.text() == "Cancel"
    ended = []
    loader.finished.connect(lambda: ended.append(True))
    qtbot.waitUntil(lambda: dialog.maximum() == 1000 and dialog.value() > 0, timeout=10_000)  # the first block
    cancel.click()
    gate.set()
    assert not page.loading and page.progress_dialog is None
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)  # the reader stopped at its next block
    assert len(reported) == 1 and reported[0] < path.stat().st_size
    assert state.target is moons and panel.undo_stack.count() == 0 and not errors
    assert "Import of big.csv cancelled; the target is unchanged." in panel.message_text


def test_a_subset_is_announced_and_a_bad_large_file_says_why(panel, tmp_path, qtbot, background):
    """The app keeps APP_MAX_POINTS (10,000, the real cap) of a 12,000-point file, and says so."""
    from playground.app.panels.target.import_page import APP_MAX_POINTS

    path, pts = big_csv(tmp_path, 12_000)
    assert panel.import_file(path)
    qtbot.waitUntil(lambda: not panel.import_page.loading, timeout=30_000)
    kept = panel.state.target.points
    assert APP_MAX_POINTS == 10_000 and kept.shape == (10_000, 2)
    assert (np.lexsort(kept.T) == np.arange(10_000)).all()  # file order (y, then x)
    assert "big.csv has 12,000 points; a uniform random 10,000 of them are kept" in panel.message_text
    assert "10,000 of 12,000 points in the file, a random subset" in panel.header.info.text()
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text() + "1,two\n")
    errors = []
    panel.errorOccurred.connect(errors.append)
    kept = panel.state.target
    assert panel.import_file(bad)
    qtbot.waitUntil(lambda: not panel.import_page.loading, timeout=30_000)
    assert panel.state.target is kept and len(errors) == 1
    assert "Could not import bad.csv:" in errors[0] and "line 12002: 'two' is not a number" in errors[0]
