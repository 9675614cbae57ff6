"""Shared pieces of the image-mode panel tests (their `digits` and `cond_model` fixtures are in conftest.py): a
state, showing a widget and checking a grab is not blank."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from playground.app.state import AppState, Settings
from playground.data.targets.presets import make_preset


def make_state(dataset=None, model=None, **settings) -> AppState:
    state = AppState(make_preset("moons"), Settings(**{"target_samples": 500, "sample_steps": 10, **settings}))
    if dataset is not None:
        state.set_images(dataset, "digits")
    if model is not None:
        state.set_model(model)
    return state


def show(keep, qtbot, widget, size=(700, 600)):
    keep(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def not_blank(widget) -> bool:
    """Many distinct colours and a real spread of pixel values in a grab of the widget."""
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]
    colours = np.unique(a[..., :3].reshape(-1, 3)[::7], axis=0)
    return len(colours) > 20 and float(a[..., :3].std()) > 5.0
