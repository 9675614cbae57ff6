"""FieldLadder: the field at any t from rungs uniform in log-SNR matches the field evaluated at t within ~1 % (RMS
over the grid) for the exact score of a Gaussian mixture under every SDE; knots are exact, a fixed shape times a power
of the SNR is reproduced, knots are evaluated lazily, once, at most one per t, and a non-finite one hands the
evaluation back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.app.field_ladder import FieldLadder
from playground.app.geometry import grid_centres
from playground.core.diffusion.sde import RFSDE, SubVPSDE, VESDE, VPSDE
from playground.data.targets.gaussian_mixture import GaussianMixture

SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=5.0), "rf": RFSDE()}


def eight_gaussians_grid():
    ang = np.arange(8) * np.pi / 4
    gmm = GaussianMixture(np.ones(8), 2 * np.stack([np.cos(ang), np.sin(ang)], 1), np.tile(np.eye(2) * 0.05, (8, 1, 1)))
    _, _, pts = grid_centres((-3.5, 3.5, -3.5, 3.5), 32)
    return gmm, torch.as_tensor(pts)


@pytest.mark.parametrize("name", list(SDES))
def test_ladder_matches_the_exact_score_at_every_t(name):
    sde = SDES[name]
    gmm, x = eight_gaussians_grid()
    rungs_evaluated = []

    def score(ts):
        return [gmm.score(x, torch.full((len(x),), t, dtype=torch.float64), sde).numpy() for t in ts]

    def rung_score(ts):
        rungs_evaluated.extend(ts)
        return score(ts)

    t_hi = float(sde.T)
    ladder = FieldLadder(sde, 1e-3, t_hi)
    assert ladder.rung_t[0] == pytest.approx(1e-3) and ladder.rung_t[-1] == pytest.approx(t_hi)
    assert (np.diff(ladder.rung_t) > 0).all()
    worst = 0.0
    for t in np.linspace(1e-3, t_hi, 157):
        ref = score([t])[0]
        got = ladder.at(float(t), rung_score)
        worst = max(worst, float(np.sqrt(np.mean((got - ref) ** 2) / np.mean(ref**2))))
    assert worst < 0.01
    assert len(set(rungs_evaluated)) == len(rungs_evaluated) == ladder.evaluated  # each knot once
    assert ladder.evaluated <= 157  # never more than one per t asked
    n = ladder.evaluated
    for k in (0, n // 2, n - 1):  # at an evaluated knot: its values, no new evaluation
        tk = float(rungs_evaluated[k])
        np.testing.assert_allclose(ladder.at(tk, rung_score), score([tk])[0], rtol=1e-9, atol=1e-12)
    assert ladder.evaluated == n


def test_a_power_of_the_snr_is_exact_and_rungs_are_lazy():
    sde = VESDE(sigma_max=5.0)  # a fixed shape times 1 / sigma(t) = exp(lambda / 2): what the ladder reproduces exactly
    shape = np.random.default_rng(0).normal(size=(50, 2))

    def field(ts):
        return [shape / float(sde.marginal_coefficients(torch.tensor([t], dtype=torch.float64))[1][0]) for t in ts]

    ladder = FieldLadder(sde, 1e-3, 1.0, rungs=8)
    np.testing.assert_allclose(ladder.at(0.37, field), field([0.37])[0], rtol=1e-12)  # no knot yet: t itself
    assert ladder.evaluated == 1
    above = float(ladder.rung_t[np.searchsorted(ladder.rung_t, 0.37)])
    t = (0.37 + above) / 2
    np.testing.assert_allclose(ladder.at(t, field), field([t])[0], rtol=1e-3)  # lambda(t): a 2049-point table
    assert ladder.evaluated == 2  # the rung above: interpolated between 0.37 and it
    np.testing.assert_allclose(ladder.at(0.38, field), field([0.38])[0], rtol=1e-3)
    assert ladder.evaluated == 2


def test_a_non_finite_rung_hands_the_evaluation_back():
    ladder = FieldLadder(VPSDE(), 1e-3, 1.0, rungs=8)
    assert ladder.at(0.5, lambda ts: [np.full((4, 2), np.nan) for _ in ts]) is None
    assert ladder.covers(0.5) and not ladder.covers(1.5)
