"""The score panel while the time bar plays: the arrows' field at each new t comes from the field's t ladder (within
~1 % of the field evaluated at t, at most one evaluation per frame, none between known knots),
a new model snapshot rebuilds it, and once the animation stops t is evaluated exactly again."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from playground.app.panels.score_panel import ScoreFieldPanel  # noqa: E402
from tests.app.panels.test_panels import ExactStandIn, make_state  # noqa: E402


def direct(model, p) -> np.ndarray:
    x = torch.as_tensor(p.arrow_points)
    return model.score(x, torch.full((len(x),), p.t_eval, dtype=x.dtype)).numpy()


def rel_rms(a, b) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2)))


def test_animation_interpolates_the_arrows_from_the_ladder(qtbot, keep):
    st = make_state()
    exact = st.exact_score_fn()
    model = ExactStandIn(exact)
    st.set_model(model)
    p = keep(ScoreFieldPanel(st))
    p.set_animating(True)
    for t in (0.05, 0.3, 0.71):
        st.set_time(t)
        n = p.evaluations
        p.redraw()
        assert p.evaluations - n <= 1
        assert rel_rms(p.learned_field, direct(model, p)) < 0.01
        assert p.heat_res == 32  # the heatmap is the arrows' values while t moves
    st.set_time(0.7105)  # the rung above 0.71 (0.71 was evaluated itself: no knot around it yet)
    p.redraw()
    n = p.evaluations
    st.set_time(0.7102)  # between the knots 0.71 and that rung: interpolated
    p.redraw()
    assert p.evaluations == n
    assert 0 < rel_rms(p.learned_field, direct(model, p)) < 0.01
    # a new snapshot: the ladder is rebuilt from it
    doubled = ExactStandIn(lambda x, t: 2 * exact(x, t))
    st.set_model(doubled)
    p.redraw()
    assert p.evaluations > n
    assert rel_rms(p.learned_field, direct(doubled, p)) < 0.01
    # stopped: t itself, exactly
    p.set_animating(False)
    p.redraw()
    np.testing.assert_allclose(p.learned_field, direct(doubled, p), rtol=1e-6, atol=1e-6)
