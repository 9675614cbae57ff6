"""Workspaces in the app: save / open / recent, the modified mark, the close prompt, autosave and crash recovery."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402

SMALL = dict(
    hidden=32, depth=2, batch=128, steps=300, n_particles=1000, n_forward=1000, target_samples=4000,
    sample_steps=40, n_trajectories=8,
)


@pytest.fixture
def windows(qtbot, tmp_path):
    """make(name, preset, **settings) -> a shown MainWindow with its own settings file and the shared autosave
    folder tmp_path/autosave; every window is held strongly and closed (discarding changes) at the end."""
    made: list[MainWindow] = []

    def make(name: str = "a", preset: str = "moons", autosave_ms: int = 60_000, **settings) -> MainWindow:
        store = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
        state = AppState(make_preset(preset), Settings(**{**SMALL, **settings}))
        w = MainWindow(state=state, store=store, restore=False, autosave_dir=tmp_path / "autosave",
                       autosave_interval_ms=autosave_ms)
        w.workspace.ask_save = lambda reason: "discard"
        w.workspace.ask_recover = lambda found: None
        qtbot.addWidget(w)
        made.append(w)
        w.resize(1200, 800)
        w.show()
        qtbot.waitExposed(w)
        return w

    yield make
    for w in made:
        w.workspace.ask_save = lambda reason: "discard"
        w.close()


def train(qtbot, w: MainWindow, steps: int = 30) -> None:
    c = w.controller
    c.play(max_steps=steps)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)


def test_save_then_open_in_a_new_window_restores_everything(windows, qtbot, tmp_path):
    w = windows("a", "8gaussians", seed=3)
    w.state.update_settings(sde="subvp", sample_steps=30)
    train(qtbot, w, 30)
    w.state.set_time(0.3)
    path = tmp_path / "work.dpw"
    assert w.save_workspace_to(str(path)) and path.is_file()
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    score = np.asarray(w.state.model.score(x, 0.4))
    samples = np.asarray(w.state.model.sample(200, sampler="em", steps=20, seed=5))
    steps, losses = (a.copy() for a in w.controller.losses())

    w2 = windows("b", "moons")
    assert w2.open_path(str(path)), w2.messages
    st = w2.state
    assert st.target.name == "8gaussians" and st.settings == w.state.settings and st.t == pytest.approx(0.3)
    assert np.array_equal(st.target_samples, w.state.target_samples)
    assert np.array_equal(np.asarray(st.model.score(x, 0.4)), score)
    assert np.array_equal(np.asarray(st.model.sample(200, sampler="em", steps=20, seed=5)), samples)
    s2, l2 = w2.controller.losses()
    assert np.array_equal(s2, steps) and np.array_equal(l2, losses) and len(l2) == 30
    assert w2.controller.step == 30 and w2.controller.trainer is not None  # training resumes where it stopped
    w2.panels["training"]._redraw()
    assert len(w2.panels["training"].raw_curve.getData()[1]) == 30  # the loss curve is drawn again
    assert not w2.workspace.dirty and "work.dpw" in w2.windowTitle()
    train(qtbot, w2, 5)
    assert w2.controller.step == 35


def test_a_class_conditional_2d_run_reopens_with_its_trainer(windows, qtbot, tmp_path):
    """A 2D model trained on a mixture's components as classes resumes from its workspace (found by the monkey walk:
    the trainer was refused for want of labels, so the reopened document had lost its optimiser state)."""
    w = windows("a", "8gaussians", seed=2, classes_2d=True)
    train(qtbot, w, 20)
    assert w.controller.trainer.config.num_classes == 8
    path = tmp_path / "classes.dpw"
    assert w.save_workspace_to(str(path))
    saved = w.workspace.current_workspace()
    w2 = windows("b", "moons")
    assert w2.open_path(str(path)), w2.messages
    assert w2.controller.trainer is not None and w2.controller.step == 20
    assert w2.workspace.current_workspace() == saved
    train(qtbot, w2, 5)
    assert w2.controller.step == 25


def test_bad_workspace_gives_one_message_and_keeps_the_state(windows, tmp_path):
    w = windows()
    target, settings = w.state.target, w.state.settings
    for name, data in (("bad.dpw", b"PK\x03\x04 not really a zip"), ("empty.dpw", b""),
                       ("text.dpw", b"hello")):
        p = tmp_path / name
        p.write_bytes(data)
        n = len(w.messages)
        assert not w.open_path(str(p))
        assert len(w.messages) == n + 1
        title, text = w.messages[-1]
        assert title == "Cannot open workspace" and name in text and "\n" not in text
        assert w.state.target is target and w.state.settings == settings
    assert w.workspace.path is None


def test_modified_mark_and_title(windows, tmp_path):
    w = windows()
    assert not w.isWindowModified() and w.windowTitle().startswith("Untitled[*]")
    w.state.update_settings(n_particles=1234)
    assert w.workspace.dirty and w.isWindowModified()
    path = tmp_path / "m.dpw"
    assert w.save_workspace_to(str(path))
    assert not w.isWindowModified() and w.windowTitle().startswith("m.dpw[*]")
    w.state.set_time(0.9)  # moving the time is a view change, not a modification
    assert not w.isWindowModified()
    w.state.set_target(make_preset("circles"))
    assert w.isWindowModified()


def test_close_asks_and_cancel_keeps_the_window(windows, qtbot, tmp_path):
    w = windows()
    w.state.update_settings(n_particles=1500)
    asked = []
    w.workspace.ask_save = lambda reason: asked.append(reason) or "cancel"
    assert not w.close()
    assert asked == ["close"] and w.isVisible()
    # New asks too; Cancel keeps the target
    target = w.state.target
    assert not w.new_session() and asked[-1] == "new" and w.state.target is target
    # Save: asks for a file, writes it, then closes
    path = tmp_path / "closing.dpw"
    w.workspace.ask_save = lambda reason: "save"
    w.workspace.choose_save_path = lambda: str(path.with_suffix(""))  # the suffix is added
    assert w.close()
    assert path.is_file() and not w.isVisible()


def test_autosave_and_recovery_after_a_crash(windows, qtbot, tmp_path):
    folder = tmp_path / "autosave"
    w = windows("crashing", "8gaussians", autosave_ms=50, seed=7)
    assert not list(folder.glob("autosave-*.dpw"))  # nothing to autosave while unmodified
    w.state.update_settings(sample_steps=33)
    train(qtbot, w, 10)
    qtbot.waitUntil(lambda: w.workspace.autosaves > 0, timeout=10_000)  # the timer autosaves modified work
    qtbot.waitUntil(lambda: w.state.model is not None, timeout=10_000)
    w.workspace.autosave_now()  # the timer's last write may predate the final model snapshot
    x = np.random.default_rng(1).normal(size=(8, 2)).astype(np.float32)
    score = np.asarray(w.state.model.score(x, 0.5))
    files = list(folder.glob("autosave-*.dpw"))
    assert len(files) == 1
    # a crash: the process dies holding unsaved work (the OS releases the lock, nothing is cleaned up)
    w.workspace.timer.stop()
    w.workspace.session._abandon()
    w.workspace.session = None
    w.close()
    assert files[0].is_file()

    w2 = windows("next", "moons")
    assert w2.workspace.recoverable is not None and w2.workspace.recoverable.path == files[0]
    offered = []
    w2.workspace.ask_recover = lambda found: offered.append(found) or True
    qtbot.waitUntil(lambda: bool(offered), timeout=5000)  # offered once the window is up
    qtbot.waitUntil(lambda: w2.state.target.name == "8gaussians", timeout=10_000)
    assert w2.state.settings.sample_steps == 33 and w2.state.settings.seed == 7
    assert np.allclose(np.asarray(w2.state.model.score(x, 0.5)), score, atol=1e-6)
    assert w2.workspace.dirty and w2.isWindowModified()  # recovered work is not saved yet
    assert not files[0].exists()  # the recovered autosave is gone

    # a clean exit leaves nothing behind
    w2.workspace.ask_save = lambda reason: "discard"
    w2.workspace.autosave_now()
    assert list(folder.glob("autosave-*.dpw"))
    w2.close()
    w3 = windows("third")
    assert w3.workspace.recoverable is None
    w3.close()
    assert not list(folder.glob("autosave-*"))


def test_recent_menu_lists_saved_and_opened_files(windows, qtbot, tmp_path):
    w = windows()
    paths = []
    for i in range(3):
        p = tmp_path / f"r{i}.dpw"
        w.state.update_settings(n_particles=1000 + i)
        assert w.save_workspace_to(str(p))
        paths.append(str(p.resolve()))
    listed = [a.data() for a in w.recent_menu.actions() if a.data()]
    assert listed == paths[::-1]  # newest first
    (tmp_path / "r0.dpw").unlink()  # files that no longer exist are not offered
    w.workspace.fill_recent_menu(w.recent_menu)
    assert [a.data() for a in w.recent_menu.actions() if a.data()] == paths[:0:-1]
    # a new window (same settings file) shows the list; choosing an entry opens it
    w2 = windows("a")
    assert [a.data() for a in w2.recent_menu.actions() if a.data()] == paths[:0:-1]
    entry = next(a for a in w2.recent_menu.actions() if a.data() == paths[1])
    entry.trigger()
    assert w2.workspace.path is not None and str(w2.workspace.path.resolve()) == paths[1]
    assert w2.state.settings.n_particles == 1001


def test_dropping_a_workspace_opens_it(windows, qtbot, tmp_path):
    w = windows("a", "8gaussians")
    path = tmp_path / "dropped.dpw"
    assert w.save_workspace_to(str(path))
    w2 = windows("b", "moons")
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(path))])
    ev = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    w2.dropEvent(ev)
    assert w2.state.target.name == "8gaussians" and w2.workspace.path == path


def test_open_dispatches_models_and_workspaces(windows, qtbot, tmp_path):
    w = windows()
    train(qtbot, w, 10)
    model = tmp_path / "m.safetensors"
    assert w.save_model_to(str(model))
    w2 = windows("b")
    assert w2.open_path(str(model)) and w2.state.model is not None and w2.controller.step == 10
    assert w2.workspace.path is None and w2.workspace.dirty  # an opened model is a change to the document


def test_a_model_snapshot_after_the_last_autosave_is_autosaved_too(windows, tmp_path):
    """The run's last progress report can be autosaved before its final model snapshot arrives (seen under load):
    the snapshot itself is a change, so the next autosave holds the model and a crash loses nothing."""
    from playground.app.document.autosave import find_recoverable_autosave
    from playground.app.workers.training_progress import TrainProgress
    from playground.core.io.workspace import load_workspace
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    w = windows("snap", "8gaussians")
    c = w.controller
    c.progressed.emit(TrainProgress(5, np.arange(1, 6), np.ones(5), None, 10.0, 0.0))  # steps done, no model yet
    assert w.workspace.autosave_now() is not None
    tr = Trainer(TrainConfig(hidden=16, depth=1, batch=64, steps=3, threads=1), w.state.target_samples)
    tr.run()
    w.state.set_model(tr.snapshot())  # the final snapshot arrives after that autosave
    path = w.workspace.autosave_now()
    assert path is not None, "the model snapshot was not treated as a change: the autosave lacks the model"
    assert load_workspace(path).load_model() is not None
    assert find_recoverable_autosave(tmp_path / "autosave") is None  # this window holds its own session (alive)
