"""The score panel's Velocity view: the learned arrows are ScoreModel.velocity, the exact ones the PF-ODE drift
f(t)(x - m) - g(t)^2 s^2 grad_x log p_t(x) / 2 of the GMM target, and the two agree for a model whose network
returns the exact score (VP and rectified flow, up to rf's end point)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("pytestqt")

from playground.app.panels.score_panel import ScoreFieldPanel  # noqa: E402
from playground.core.training.model import ScoreModel  # noqa: E402
from tests.app.panels.test_panels import make_state  # noqa: E402


class ExactScoreNet(nn.Module):
    """A 'network' for output 'score' returning the exact normalised GMM score: it recovers t from EDM's noise input
    c_noise = ln(sigma_t / alpha_t) / 4 and y from ScoreModel's input scaling c_in = 1 / sqrt(alpha^2 + sigma^2)."""

    dim = 2

    def __init__(self, gmm, sde):
        super().__init__()
        self.gmm, self.sde = gmm, sde
        self.anchor = nn.Parameter(torch.zeros(1, dtype=torch.float64))  # float64: ScoreModel evaluates in its dtype

    def forward(self, x_in, c_noise):
        t = self.sde.t_of_sigma_edm(torch.exp(4 * c_noise))
        alpha, std = self.sde.marginal_coefficients(t)
        y = x_in * torch.sqrt(alpha**2 + std**2)[:, None]
        return self.gmm.score(y, t, self.sde)


def exact_score_model(state) -> ScoreModel:
    norm, sde = state.normalization, state.sde()
    return ScoreModel(ExactScoreNet(norm.gmm_to_norm(state.target.gmm), sde), sde, "score", norm).eval()


@pytest.mark.parametrize("sde", ["vp", "rf"])
def test_velocity_arrows_are_the_exact_velocity(qtbot, keep, sde):
    st = make_state(sde=sde)
    st.set_model(exact_score_model(st))
    p = keep(ScoreFieldPanel(st))
    p.show_velocity.setChecked(True)
    p.show_exact.setChecked(True)
    assert p.field == "velocity" and "Velocity field" in p.plot.getPlotItem().titleLabel.text
    norm, model = st.normalization, st.model
    for t in (0.05, 0.4, 0.9):
        st.set_time(t)
        p.redraw()
        assert p.t_eval == pytest.approx(t)
        pf = st.sde().reverse(norm.gmm_to_norm(st.target.gmm).score_fn(st.sde()), probability_flow=True)
        pts = p.arrow_points[::97]  # a few points over the view; the learned field sees them in float32

        def drift(points):  # the PF-ODE drift of the normalised process, in data units
            return (pf.sde(norm.to_norm(torch.as_tensor(points, dtype=torch.float64)), t)[0] * norm.scale).numpy()

        ref = drift(pts)
        np.testing.assert_allclose(p.exact_field[::97], ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())
        np.testing.assert_allclose(p.learned_field[::97], drift(pts.astype(np.float32)), rtol=1e-4,
                                   atol=1e-5 * np.abs(ref).max())
        np.testing.assert_allclose(p.learned_field, model.velocity(p.arrow_points.astype(np.float32), t), rtol=1e-6,
                                   atol=1e-6)
    p.show_error.setChecked(True)
    p.redraw()
    assert p.heat_kind == "error |v_θ − v|" and float(np.nanmax(p.heat_values)) < 1e-2 * np.abs(p.exact_field).max()
    st.set_time(1.0)  # rectified flow's f and g blow up at t = 1: the field is evaluated at the path's T
    p.redraw()
    assert p.t_eval == pytest.approx(st.sde().T)
    assert np.isfinite(p.exact_field).all() and np.isfinite(p.learned_field).all()


def test_score_and_velocity_toggle_without_a_model(qtbot, keep):
    st = make_state(sde="rf")
    st.set_time(0.5)
    p = keep(ScoreFieldPanel(st))
    p.redraw()
    score = p.exact_field.copy()
    assert p.heat_kind == "|s| (exact)"
    p.show_velocity.setChecked(True)
    p.redraw()
    assert p.heat_kind == "|v| (exact)" and "exact velocity" in p.info.text()
    # rectified flow: v = (eps-prediction - x0-prediction) = -x/(1 - t) - t/(1 - t) * s in normalised units
    norm, t = st.normalization, p.t_eval
    y = norm.to_norm(torch.as_tensor(p.arrow_points))
    v_norm = (-y - t * torch.as_tensor(score) * norm.scale) / (1 - t)
    np.testing.assert_allclose(p.exact_field, v_norm.numpy() * norm.scale, rtol=1e-4, atol=1e-4)
    p.show_score.setChecked(True)
    p.redraw()
    np.testing.assert_allclose(p.exact_field, score)
