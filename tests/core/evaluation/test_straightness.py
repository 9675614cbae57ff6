"""Straightness (Liu et al. 2023) against hand-computed paths and the exact flows of a point mass."""

import pytest
import torch

from playground.core.diffusion.exact_score import EmpiricalScore
from playground.core.diffusion.sde import make_sde
from playground.core.evaluation.straightness import straightness
from playground.core.sampling.samplers import ode_euler


def test_straight_lines_at_constant_speed_score_zero_on_any_time_grid():
    times = torch.tensor([0.999, 0.7, 0.65, 0.2, 0.0], dtype=torch.float64)
    u = (times[0] - times) / times[0]
    start, end = torch.randn(2, 30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    path = start + u[:, None, None] * (end - start)
    assert straightness(path, times) == pytest.approx(0.0, abs=1e-12)


def test_a_right_angle_and_a_speed_change_by_hand():
    """(0,0) -> (1,0) -> (1,1) in equal times: chord (1, 1) / per unit u, velocities (2, 0) and (0, 2):
    S = 1/2 |(1, -1)|^2 + 1/2 |(-1, 1)|^2 = 2. A straight line run at speeds 3 then 1 (u = 1/2 each half, x = 3/4 at
    the middle): velocities 3/2 and 1/2 against the chord 1: S = 1/2 (1/4) + 1/2 (1/4) = 1/4."""
    times = torch.tensor([1.0, 0.5, 0.0])
    corner = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert straightness(corner, times) == pytest.approx(2.0)
    speeds = torch.tensor([[[0.0]], [[0.75]], [[1.0]]])
    assert straightness(speeds, times) == pytest.approx(0.25)
    assert straightness(speeds, times.flip(0)) == pytest.approx(0.25)  # the direction of time does not matter


def test_rf_paths_to_a_point_mass_are_straight_and_vp_paths_are_not():
    """One data point m: rf's x_t = (1 - t) m + t eps has the constant velocity eps - m, so the PF-ODE (and Euler on it,
    exactly) runs the straight segment; VP's alpha(t) m + sigma(t) eps with alpha^2 + sigma^2 = 1 is a quarter-circle arc."""
    point = EmpiricalScore(torch.tensor([[1.0, -0.5]], dtype=torch.float64))
    x_T = torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    scores = {}
    for name in ("rf", "vp"):
        sde = make_sde(name)
        result = ode_euler(point.score_fn(sde), sde, x_T, steps=200, trajectory_stride=1)
        scores[name] = straightness(result.trajectory, result.times)
        torch.testing.assert_close(result.x, point.points.expand(200, 2), rtol=0, atol=1e-6)
    assert scores["rf"] < 1e-12
    assert scores["vp"] > 0.1


def test_bad_trajectories_are_rejected():
    with pytest.raises(ValueError, match="strictly monotone"):
        straightness(torch.zeros(3, 4, 2), torch.tensor([1.0, 0.5, 0.5]))
    with pytest.raises(ValueError, match="K \\+ 1 >= 2"):
        straightness(torch.zeros(1, 4, 2), torch.tensor([1.0]))
