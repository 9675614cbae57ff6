"""The Sampling panel's PF-ODE solvers report the straightness of its paths (Liu et al. 2023): zero for rectified flow
from a point mass (its PF-ODE paths x_t = (1 - t) m + t z are straight lines run at constant speed), clearly
positive for VP's PF-ODE from the same target (its paths x_t = alpha_t m + sigma_t z bend); none on the SDE side."""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from playground.app.exact_scores import fast_gmm_score_fn
from playground.app.workers.sampling_worker import SamplingJob, _run
from playground.core.diffusion.sde import make_sde
from playground.data.targets.gaussian_mixture import GaussianMixture

POINT = (1.5, -0.5)


def run_side(side: str, sde_name: str, sampler: str) -> object:
    gmm = GaussianMixture(torch.ones(1), torch.tensor([POINT]), 1e-6 * torch.eye(2)[None])
    sde = make_sde(sde_name)
    x_T = torch.randn(400, 2, generator=torch.Generator().manual_seed(0))
    job = SamplingJob(side=side, sampler=sampler, score_fn=fast_gmm_score_fn(gmm, sde), sde=sde, x_T=x_T, steps=40,
                      seed=0, mean=(0.0, 0.0), scale=1.0, rect=(-4.0, 4.0, -4.0, 4.0), n_paths=8)
    out = _run(job, threading.Event(), lambda _frame: None)
    assert out.error is None and np.isfinite(out.x).all()
    return out


def test_ode_side_reports_straightness_zero_for_rectified_flow_from_a_point():
    rf = run_side("ode", "rf", "ode_heun")
    chord = float(np.mean(np.sum((rf.x - rf.x_T) ** 2, axis=1)))  # the paths' mean squared length, ~ |m|^2 + 2
    np.testing.assert_allclose(rf.x, np.broadcast_to(POINT, rf.x.shape), atol=1e-2)
    assert 0.0 <= rf.straightness < 1e-3 * chord
    vp = run_side("ode", "vp", "ode_heun")
    assert vp.straightness > 0.05 * chord
    assert math.isnan(run_side("sde", "rf", "ancestral").straightness)
