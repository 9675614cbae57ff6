"""Qt test hygiene for every app test: strong references to the widgets a test registers, and workers stopped.

pytest-qt's `qtbot.addWidget` keeps only a WEAK reference. A widget created in a test (or a helper) and shown is
garbage once the test function returns; a garbage collection during pytest-qt's post-test event processing then
deletes it in the middle of its own paint (a segfault), or deletes a QThread it still runs (an abort). So, for every
test that uses qtbot:

- `qtbot.addWidget(w)` also holds `w` strongly until the end of the test's teardown, and registers a
  `before_close_func` that stops the widget's workers (`shutdown()`) before pytest-qt closes it (a main window stops
  its own in closeEvent);
- at teardown every held widget is closed, its workers stopped, worker threads still finishing are waited for
  (`threads.wait_for_workers`), and posted events (deleteLater) are processed before the references go.

`keep(widget)` is the same as `qtbot.addWidget(widget)` and returns the widget (for one-liners).
"""

from __future__ import annotations

import gc

import pytest


def _stop_workers(w) -> None:
    from PySide6.QtWidgets import QMainWindow

    if isinstance(w, QMainWindow):
        return  # its closeEvent shuts everything down (and saves its layout) when pytest-qt closes it
    stop = getattr(w, "shutdown", None)
    if callable(stop):
        try:
            stop()
        except RuntimeError:  # the C++ object is already gone
            pass


@pytest.fixture(autouse=True)
def _hold_qt_widgets(request):
    if "qtbot" not in request.fixturenames:
        yield []
        return
    qtbot = request.getfixturevalue("qtbot")
    held: list = []
    original = qtbot.addWidget

    def add_widget(widget, *, before_close_func=None):
        def before_close(w):
            if before_close_func is not None:
                before_close_func(w)
            _stop_workers(w)

        original(widget, before_close_func=before_close)
        held.append(widget)
        return widget

    qtbot.addWidget = add_widget
    qtbot.add_widget = add_widget
    yield held
    # pytest-qt has closed (and deleteLater'd) the registered widgets by now; make sure, then let the posted
    # deletions run while the Python references still hold the wrappers
    from PySide6.QtWidgets import QApplication

    from playground.app.workers.threads import wait_for_workers

    for w in reversed(held):
        try:
            _stop_workers(w)
            w.close()
        except RuntimeError:
            pass
    wait_for_workers(10.0)
    QApplication.processEvents()
    held.clear()
    gc.collect()
    QApplication.processEvents()


@pytest.fixture
def keep(qtbot, _hold_qt_widgets):
    """Register a widget with qtbot (held strongly until teardown, workers stopped) and return it."""

    def add(widget):
        return qtbot.addWidget(widget)

    return add


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits as an ImageDataset (image-mode tests)."""
    from playground.data.images.spec import load_image_dataset

    return load_image_dataset("digits")


@pytest.fixture(scope="module")
def cond_model(digits):
    """A tiny class-conditional UNet on the 8x8 digits (a few steps: it only has to run, not to be good)."""
    import torch

    from playground.core.training.image_training import image_train_config, image_trainer

    torch.manual_seed(0)
    trainer = image_trainer(digits, image_train_config(steps=5, base_channels=8, batch=16, device="cpu", seed=0),
                            classes=True)
    trainer.run(max_steps=5)
    return trainer.snapshot()
