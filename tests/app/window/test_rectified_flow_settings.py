"""The app with rectified-flow / flow-matching settings trains, samples and shows every view without an error; a
rectified-flow model file brings its settings (and the ancestral reverse-SDE sampler)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from tests.app.window_helpers import make_window  # noqa: E402


def test_flow_matching_settings_train_sample_and_show(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, sde="rf", objective="fm", output="v", steps=40)
    try:
        c, sp = w.controller, w.panels["sampling"]
        assert c.play()
        qtbot.waitUntil(lambda: not c.running, timeout=90_000)
        assert c.step == 40 and w.state.model is not None
        assert w.state.model.sde.name == "rf" and w.state.model.output == "v"
        qtbot.waitUntil(lambda: not sp.running and all(s.outcome is not None for s in sp.sides.values()),
                        timeout=60_000)
        for t in (1.0, 0.9995, 0.3, 0.0):  # the forward and score views at the path's end point and near it
            w.state.set_time(t)
            qtbot.wait(100)
        assert np.isfinite(w.state.model.score(np.zeros((3, 2), np.float32), 1.0)).all()
        w.show_equations().close()
        path = tmp_path / "fm.safetensors"
        c.trainer.save(path)
        assert w.open_model(str(path))
        assert (w.state.settings.sde, w.state.settings.output, w.state.settings.objective) == ("rf", "v", "fm")
        assert w.state.settings.sde_sampler == "ancestral"  # Euler-Maruyama overshoots at rf's T
    finally:
        w.close()
