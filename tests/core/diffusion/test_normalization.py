"""Normalization's data-space view of an SDE: the PF-ODE velocity v_x = scale * v_y (closed form for rectified flow
on Gaussian data; the normalised PF-ODE drift for every SDE on a GMM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import make_sde
from playground.data.targets.gaussian_mixture import GaussianMixture

NORM = Normalization((1.5, -0.5), 2.0)


def test_rectified_flow_velocity_of_gaussian_data_is_the_closed_form():
    """Data N(m, s^2 I): y = (x - m) / s is N(0, I), y_t ~ N(0, ((1 - t)^2 + t^2) I) and E[eps - y0 | y_t] =
    (2t - 1) y_t / ((1 - t)^2 + t^2), so v_x = (2t - 1) (x - m) / ((1 - t)^2 + t^2)."""
    sde = make_sde("rf")
    mean = torch.tensor(NORM.mean, dtype=torch.float64)
    x = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3 + mean
    for t in (0.05, 0.3, 0.5, 0.8, sde.T):
        var = (1 - t) ** 2 + t**2
        data_score = lambda z, _t, var=var: -(z - mean) / (var * NORM.scale**2)  # noqa: E731
        v = NORM.data_velocity_fn(sde, data_score)(x, t)
        torch.testing.assert_close(v, (2 * t - 1) * (x - mean) / var, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["vp", "subvp", "ve", "rf"])
def test_data_velocity_is_the_scaled_normalised_pf_ode_drift(name):
    sde = make_sde(name, sigma_max=8.0) if name == "ve" else make_sde(name)
    gmm = GaussianMixture(np.array([0.3, 0.7]), np.array([[0.0, 2.0], [3.0, -1.0]]),
                          np.stack([np.eye(2) * 0.4, np.diag([0.2, 0.9])]))
    norm_score = NORM.gmm_to_norm(gmm).score_fn(sde)
    pf = sde.reverse(norm_score, probability_flow=True)
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2
    for t in (1e-2, 0.2, 0.7, sde.T):
        v = NORM.data_velocity_fn(sde, NORM.data_score_fn(norm_score))(x, t)
        drift, _ = pf.sde(NORM.to_norm(x), t)
        torch.testing.assert_close(v, drift * NORM.scale, rtol=1e-9, atol=1e-9)
