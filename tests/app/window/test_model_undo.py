"""No trained model is lost by one click: every action that discards it (a preset, the first brush stroke, a new
Gaussian, an import, image mode and back, the SDE, the network, the output, the sample count, Train > Reset) is one
undo step that brings the model back whole: the same weights and trainer (optimiser state), step, loss curve; redo
discards it again, and training continues from the restored model (pytest-qt, offscreen, the in-thread trainer)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from tests.app import window_helpers  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TRAIN_IN_PROCESS", "0")
    w = window_helpers.make_window(qtbot, tmp_path, steps=100_000)
    w.panels["sampling"].follow.setChecked(False)  # no sampling work in the background: faster
    yield w
    w.close()


def train(window, qtbot, steps: int = 4) -> None:
    c = window.controller
    assert c.play(max_steps=steps)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    assert c.has_progress and window.state.model is not None


def snapshot(window) -> tuple:
    c = window.controller
    steps, losses = c.losses()
    return window.state.model, c.trainer, c.step, losses.copy()


def assert_restored(window, before: tuple) -> None:
    model, trainer, step, losses = before
    c = window.controller
    assert window.state.model is model and c.trainer is trainer and c.step == step
    np.testing.assert_array_equal(c.losses()[1], losses)
    assert trainer.optimizer.state  # Adam's moments came back with the trainer


def discard_and_undo(window, action, check_changed) -> None:
    """Trained model -> action discards it -> undo: back whole -> redo: discarded again -> undo."""
    before = snapshot(window)
    stack = window.undo_stack
    n = stack.index()
    action()
    assert stack.index() == n + 1 and stack.count() == n + 1, "the action must be one undo step"
    assert window.state.model is None and window.controller.step == 0
    assert "Undo" in window.statusBar().currentMessage()
    check_changed()
    stack.undo()
    assert_restored(window, before)
    stack.redo()
    assert window.state.model is None and window.controller.step == 0
    check_changed()
    stack.undo()
    assert_restored(window, before)


def test_every_2d_action_that_discards_a_model_is_undone_with_the_model(window, qtbot, tmp_path):
    st = window.state
    target = window.panels["target"]
    train(window, qtbot)
    moons = st.target
    discard_and_undo(window, lambda: target.choose_preset("8gaussians"), lambda: st.target.name == "8gaussians")
    assert st.target is moons
    target.set_mode("Draw")
    discard_and_undo(window, lambda: target.draw_page.stroke([(-1, -1), (0, 1), (1, -1)]),
                     lambda: st.target.name == "drawing")
    target.set_mode("Gaussians")
    discard_and_undo(window, lambda: target.gaussians_page.editor.add_component(0.5, 0.5),
                     lambda: st.target.gmm is not None)
    gmm = tmp_path / "two.json"
    gmm.write_text(json.dumps({"weights": [0.5, 0.5], "means": [[-1, 0], [1, 0]],
                               "covariances": [[[0.1, 0], [0, 0.1]], [[0.1, 0], [0, 0.1]]]}))
    discard_and_undo(window, lambda: window.import_target(str(gmm)), lambda: st.target.gmm.n_components == 2)
    for changes in ({"sde": "ve"}, {"hidden": 48}, {"output": "x0"}, {"target_samples": 3000}):
        discard_and_undo(window, lambda c=changes: window.request_settings(c),
                         lambda c=changes: all(getattr(st.settings, k) == v for k, v in c.items()))
        assert all(getattr(st.settings, k) != v for k, v in changes.items())  # undone: the old value
    discard_and_undo(window, window.act_reset.trigger, lambda: True)
    assert st.target is moons and st.settings.sde == "vp"
    # training continues from the restored model, its history extended
    step = window.controller.step
    train(window, qtbot, 3)
    assert window.controller.step == step + 3 and len(window.controller.losses()[1]) == step + 3


def test_a_settings_change_that_keeps_the_model_is_undoable_too(window, qtbot):
    train(window, qtbot)
    model = window.state.model
    lr, particles = window.state.settings.lr, window.state.settings.n_particles
    assert window.request_settings({"lr": 1e-3, "n_particles": 2000})
    assert window.state.model is model and window.controller.trainer.config.lr == 1e-3
    window.undo_stack.undo()
    assert window.state.settings.lr == lr and window.state.settings.n_particles == particles
    assert window.state.model is model and window.settings_panel.value("lr") == pytest.approx(lr)


def test_image_mode_and_back_keep_both_models(window, qtbot):
    pytest.importorskip("sklearn")
    st = window.state
    train(window, qtbot)
    points = snapshot(window)
    assert window.panels["target"].load_images("digits")
    qtbot.waitUntil(lambda: st.image_mode, timeout=10_000)
    qtbot.waitUntil(lambda: not window.panels["target"].images_page.loading, timeout=10_000)
    assert st.model is None
    train(window, qtbot, 2)
    images = snapshot(window)
    discard_and_undo(window, lambda: window.panels["target"].choose_preset("circles"), lambda: not st.image_mode)
    assert st.image_mode and st.model.image_shape == (1, 8, 8)
    window.undo_stack.undo()  # before the dataset: 2D and the points model
    assert not st.image_mode
    assert_restored(window, points)
    window.undo_stack.redo()
    assert st.image_mode
    assert_restored(window, images)


def test_file_new_starts_from_the_default_settings(window, qtbot):
    from playground.app.settings import Settings

    window.workspace.ask_save = lambda _reason: "discard"
    window.request_settings({"sde": "ve", "lr": 1e-3, "sde_sampler": "pc", "sample_steps": 77})
    window.panels["sampling"].use_exact.setChecked(True)
    assert window.new_session()
    assert window.state.settings == Settings()
    assert window.settings_panel.value("lr") == Settings().lr
    assert not window.panels["sampling"].use_exact.isChecked() and window.undo_stack.count() == 0


def test_only_the_most_recent_replaced_models_are_kept_for_undo(window, qtbot):
    """The undo history keeps at most `kept_runs.limit` replaced models (an image run holds a network, its EMA and
    Adam state and data): undoing to an older step restores its settings with a fresh network and says so."""
    import gc
    import weakref

    window.training.kept_runs.limit = 2
    stack = window.undo_stack
    kept = []
    for changes in ({"sde": "ve"}, {"hidden": 48}, {"output": "x0"}):
        train(window, qtbot)
        kept.append(snapshot(window))
        assert window.request_settings(changes)
    oldest = weakref.ref(kept[0][1])  # the first run's trainer
    kept[0] = None
    gc.collect()
    assert oldest() is None, "the released run's trainer must be freed (nothing else may hold it: not its loop)"
    assert len(window.training.kept_runs) == 2
    stack.undo()
    assert_restored(window, kept[2])
    stack.undo()
    assert_restored(window, kept[1])
    stack.undo()  # the first change: its model was let go
    assert window.state.settings.sde == "vp" and window.state.model is None and window.controller.step == 0
    assert "bound memory" in window.statusBar().currentMessage()
    train(window, qtbot, 2)  # a fresh network trains
    stack.redo()
    assert window.state.settings.sde == "ve"
