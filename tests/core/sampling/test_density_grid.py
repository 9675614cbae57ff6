"""Progressive log-density maps: orientation, coarse-to-fine passes that cover every point once, partial frames,
cancellation."""

import numpy as np
import pytest
import torch

from playground.core.diffusion.sde import make_sde
from playground.core.sampling.density_grid import GridSpec, iter_log_density_grid, log_density_grid, passes
from playground.core.sampling.pf_ode_density import gmm_density_field
from playground.data.targets.gaussian_mixture import GaussianMixture

GMM = GaussianMixture([0.6, 0.4], [[-1.0, 0.5], [1.2, -0.8]], [[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.5]]])


@pytest.mark.parametrize("size", [2, 7, 16, 33, 64])
def test_passes_cover_every_point_once_coarse_to_fine(size):
    plan = passes(size, pilot_points=16)
    count = np.zeros((size, size), int)
    for stride, rows, cols in plan:
        assert (rows % stride == 0).all() and (cols % stride == 0).all()
        count[rows, cols] += 1
    assert (count == 1).all()
    assert [s for s, _, _ in plan] == sorted((s for s, _, _ in plan), reverse=True) and plan[-1][0] == 1


def test_grid_orientation_row0_is_lowest_y():
    grid = GridSpec((-2.0, 2.0, -1.0, 3.0), 4)
    np.testing.assert_allclose(grid.xs, [-1.5, -0.5, 0.5, 1.5])
    np.testing.assert_allclose(grid.ys, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_allclose(grid.points(np.array([0, 3]), np.array([1, 0])), [[-0.5, -0.5], [-1.5, 2.5]])
    with pytest.raises(ValueError, match="extent"):
        GridSpec((1.0, 0.0, 0.0, 1.0), 8)
    with pytest.raises(ValueError, match="grid size"):
        GridSpec((0.0, 1.0, 0.0, 1.0), 1)


def test_frames_refine_progressively_and_end_at_the_closed_form():
    sde = make_sde("vp")
    grid = GridSpec((-3.0, 3.0, -3.0, 3.0), 32)
    frames = list(iter_log_density_grid(gmm_density_field(GMM, sde), grid, 0.25, steps=16, chunk=256))
    fractions = [f.fraction for f in frames]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and frames[-1].done
    assert not any(f.done for f in frames[:-1]) and len(frames) > 3
    assert frames[0].stride > 1 and np.isfinite(frames[0].log_density).all()  # a coarse map at once
    assert [f.stride for f in frames][-1] == 1
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    true = GMM.log_prob(torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1)), 0.25, sde).numpy().reshape(32, 32)
    assert np.abs(frames[-1].log_density - true).max() < 5e-3
    assert frames[-1].nfe == 16 * 3 and frames[-1].steps == 16 and frames[-1].error_estimate < 5e-3
    frames[0].log_density[:] = 0  # frames are copies
    assert not (frames[1].log_density == 0).all()


def test_cancel_by_check_or_by_closing_the_iterator():
    field = gmm_density_field(GMM, make_sde("vp"))
    grid = GridSpec((-3.0, 3.0, -3.0, 3.0), 32)
    calls = []

    class Stop(Exception):
        pass

    def check():
        calls.append(1)
        if len(calls) == 5:
            raise Stop

    with pytest.raises(Stop):
        log_density_grid(field, grid, 0.3, steps=8, check=check)
    assert len(calls) == 5  # stopped inside the first solve, between two ODE steps
    it = iter_log_density_grid(field, grid, 0.3, steps=8, chunk=64)
    first = next(it)
    it.close()
    assert first.fraction < 1


def test_t_below_eps_starts_at_eps_and_bad_t():
    field = gmm_density_field(GMM, make_sde("vp"))
    grid = GridSpec((-1.0, 1.0, -1.0, 1.0), 4)
    assert log_density_grid(field, grid, 0.0, steps=4).t == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="t must lie"):
        log_density_grid(field, grid, 1.5, steps=4)
