"""Image mode of the app (pytest-qt, offscreen): Target > Images loads a dataset, the image docks replace the 2D
views, training builds a UNet (in the worker thread and in the worker process), bad datasets give a message and keep
what was there, workspaces and model files bring the dataset back."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("sklearn")


from playground.app.window.docks import DOCKS_2D, IMAGE_DOCKS  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from tests.app import window_helpers  # noqa: E402

IMAGE_KEYS = [k for k, _t, _n in IMAGE_DOCKS]


def make_window(qtbot, tmp_path, **settings) -> MainWindow:
    return window_helpers.make_window(qtbot, tmp_path, autosave=True, lr=5e-3, **settings)


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    yield w
    w.close()


@pytest.fixture
def thread_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TRAIN_IN_PROCESS", "0")
    w = make_window(qtbot, tmp_path)
    assert not w.controller.in_process
    yield w
    w.close()


def load_digits(window, qtbot) -> None:
    assert window.panels["target"].load_images("digits")
    qtbot.waitUntil(lambda: window.state.image_mode, timeout=10_000)
    qtbot.waitUntil(lambda: not window.panels["target"].images_page.loading, timeout=10_000)  # its thread has ended


def visible(window, keys) -> list[bool]:
    docks = window.all_docks()
    return [docks[k].isVisible() for k in keys]


def not_uniform(widget) -> bool:
    """The widget's picture has a real spread of pixel values (text, grids or plots drawn, not one flat colour)."""
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]
    colours = np.unique(a[..., :3].reshape(-1, 3)[::5], axis=0)
    return img.width() > 50 and img.height() > 50 and len(colours) > 3 and float(a[..., :3].std()) > 2.0


def train(window, qtbot, steps: int) -> None:
    c = window.controller
    assert c.play(max_steps=steps)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    assert c.step >= steps and window.state.model is not None


def test_digits_switch_docks_and_settings_and_back(window, qtbot):
    st = window.state
    assert visible(window, DOCKS_2D) == [True] * len(DOCKS_2D) and visible(window, IMAGE_KEYS) == [False] * 4
    load_digits(window, qtbot)
    assert st.images.shape == (1, 8, 8) and st.image_spec == "digits"
    assert visible(window, DOCKS_2D) == [False] * len(DOCKS_2D) and visible(window, IMAGE_KEYS) == [True] * 4
    s = st.settings
    assert (s.lr, s.batch, s.seconds) == (3e-3, 64, 60.0)
    assert (s.lr_2d, s.batch_2d, s.steps_2d) == (5e-3, 128, 300)
    assert (s.output, s.weighting, s.output_2d, s.weighting_2d) == ("edm", "edm", "eps", "song")
    view_menu = window.menuBar().actions()[2].menu().actions()
    assert all(window.image_docks[k].toggleViewAction() in view_menu for k in IMAGE_KEYS)
    # the settings panel shows the U-Net's channels and the class switch instead of the MLP's size
    sp = window.settings_panel
    assert not sp.controls["hidden"].isVisible() and sp.controls["base_channels"].isVisible()
    assert sp.controls["image_classes"].isVisible() and sp.controls["image_classes"].isEnabled()
    assert "U-Net" in window.show_equations().text() and "MLP" not in window._equations.text()
    window._equations.close()
    qtbot.wait(300)
    for key in IMAGE_KEYS:
        assert not_uniform(window.image_docks[key].widget()), key
    assert "digits" in window.panels["target"].header.info.text()
    # any 2D target leaves image mode: the 2D views and the 2D training values come back
    window.panels["target"].choose_preset("8gaussians")
    assert not st.image_mode and st.target.name == "8gaussians"
    assert visible(window, DOCKS_2D) == [True] * len(DOCKS_2D) and visible(window, IMAGE_KEYS) == [False] * 4
    assert (st.settings.lr, st.settings.batch, st.settings.steps, st.settings.seconds) == (5e-3, 128, 300, None)
    assert (st.settings.output, st.settings.weighting) == ("eps", "song")
    assert not sp.controls["base_channels"].isVisible() and sp.controls["hidden"].isVisible()
    # the window starts in 2D next time: QSettings keeps the 2D values even when closed in image mode
    load_digits(window, qtbot)
    window.save_ui()
    from playground.app.window.persistence import load_settings

    assert load_settings(window.store).lr == 5e-3 and load_settings(window.store).batch == 128
    assert load_settings(window.store).output == "eps"


def test_image_mode_keeps_flow_matchings_velocity_output(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, sde="rf", objective="fm", output="v")
    try:
        load_digits(w, qtbot)
        s = w.state.settings
        assert (s.output, s.weighting, s.output_2d) == ("v", "edm", "v")  # not IMAGE_TRAIN_DEFAULTS' 'edm' output
        w.panels["target"].choose_preset("moons")
        assert (w.state.settings.output, w.state.settings.objective) == ("v", "fm")
    finally:
        w.close()


def test_training_in_thread_makes_an_image_model_and_a_preview(thread_window, qtbot):
    w = thread_window
    load_digits(w, qtbot)
    w.controller.first_preview_after = 0.0
    train(w, qtbot, 30)
    model = w.state.model
    assert model.image_shape == (1, 8, 8) and model.num_classes == 0
    assert model.config["info"]["data"] == "digits"
    _, losses = w.controller.losses()
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert losses[-10:].mean() < losses[:10].mean()
    grid = w.panels["training"].preview_grid
    qtbot.waitUntil(lambda: grid.picture is not None, timeout=10_000)
    assert grid.isVisible() and not w.panels["training"].sample_plot.isVisible()
    assert "step 30" in w.status_labels["step"].text()


def test_class_conditional_training_in_the_worker_process(window, qtbot, tmp_path):
    assert window.controller.in_process
    load_digits(window, qtbot)
    window.panels["target"].images_page.classes_box.click()  # the Images tab's switch goes through the settings
    assert window.state.settings.image_classes
    train(window, qtbot, 5)
    model = window.state.model
    assert model.image_shape == (1, 8, 8) and model.num_classes == 10
    assert window.controller.trainer.config.label_dropout == pytest.approx(0.15)
    # the model file names its dataset: opening it after leaving image mode brings digits back
    path = tmp_path / "digits.safetensors"
    assert window.save_model_to(str(path))
    window.panels["target"].choose_preset("circles")
    assert not window.state.image_mode and window.state.model is None
    assert window.open_model(str(path))
    st = window.state
    assert st.image_mode and st.image_spec == "digits" and st.model.num_classes == 10
    assert st.settings.image_classes and window.controller.step == 5 and window.controller.trainer is not None


def test_changing_the_class_switch_or_the_dataset_after_training_is_undoable(thread_window, qtbot):
    w = thread_window
    load_digits(w, qtbot)
    train(w, qtbot, 2)
    model = w.state.model
    assert w.request_settings({"image_classes": True})
    assert w.controller.step == 0 and w.state.model is None and w.state.settings.image_classes
    w.undo_stack.undo()
    assert w.controller.step == 2 and w.state.model is model and not w.state.settings.image_classes
    # a new dataset discards the model too, undoably: the dataset and the model come back
    assert w.panels["target"].load_images("shapes8")
    qtbot.waitUntil(lambda: w.state.image_spec == "shapes8", timeout=10_000)
    assert w.controller.step == 0
    w.undo_stack.undo()
    assert w.state.image_spec == "digits" and w.controller.step == 2 and w.state.model is model


def test_bad_folder_gives_a_message_and_keeps_what_was_there(window, qtbot, tmp_path):
    folder = tmp_path / "not_images"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    page = window.panels["target"].images_page
    page.set_choice("folder")
    page.path_edit.setText(str(folder))
    target = window.state.target
    assert page.load()
    qtbot.waitUntil(lambda: not page.loading, timeout=10_000)
    qtbot.waitUntil(lambda: bool(window.messages), timeout=5_000)
    title, text = window.messages[-1]
    assert title == "Target" and "no images found" in text and str(folder) in text
    assert not window.state.image_mode and window.state.target is target
    # in image mode a broken image file keeps the dataset
    load_digits(window, qtbot)
    (folder / "broken.png").write_bytes(b"not a png")
    assert page.load()
    qtbot.waitUntil(lambda: "broken.png" in window.messages[-1][1], timeout=10_000)
    assert window.state.image_spec == "digits"
    page.set_choice("mnist")
    page.path_edit.setText("")
    assert not page.load() and "Choose the images file" in window.messages[-1][1]


def test_workspace_in_image_mode_reloads_the_dataset(window, qtbot, tmp_path):
    load_digits(window, qtbot)
    window.request_settings({"base_channels": 8})
    path = tmp_path / "images.dpw"
    assert window.save_workspace_to(str(path))
    window.panels["target"].choose_preset("moons")
    assert not window.state.image_mode
    assert window.open_workspace(str(path))
    st = window.state
    assert st.image_mode and st.image_spec == "digits" and st.images.shape == (1, 8, 8)
    assert st.settings.base_channels == 8 and st.settings.lr == 3e-3 and st.settings.lr_2d == 5e-3
    assert visible(window, IMAGE_KEYS) == [True] * 4


def test_a_2d_redraw_left_pending_when_image_mode_starts_draws_nothing(window, qtbot):
    """The score view's deferred redraw can fire after the switch to images (monkey walk, seed 0, action ~8,800):
    it used the 2D exact score with the pixels' normalisation and raised. In image mode it now waits, and it draws
    again on leaving."""
    score = window.panels["score"]
    load_digits(window, qtbot)
    before = score.redraws
    score.redraw()  # what the pending deferred call does
    assert score.redraws == before
    window.panels["target"].choose_preset("moons")  # back to 2D
    qtbot.waitUntil(lambda: not window.state.image_mode, timeout=10_000)
    qtbot.waitUntil(lambda: score.redraws > before, timeout=10_000)
