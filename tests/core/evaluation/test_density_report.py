"""NLL, entropy and KL at time t: zero KL for the exact field, the known entropy at t = 0, a positive gap for a
wrong density."""

import numpy as np
import pytest

from playground.core.diffusion.sde import make_sde
from playground.core.evaluation.density_report import density_report
from playground.core.sampling.pf_ode_density import gmm_density_field
from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.presets import make_preset


@pytest.mark.parametrize("t", [0.0, 0.4])
def test_exact_field_has_zero_kl(t):
    target = make_preset("8gaussians")
    report = density_report(gmm_density_field(target.gmm, make_sde("vp")), target, t, n=600, seed=1)
    assert abs(report.kl) < 0.01
    assert report.nll == pytest.approx(report.entropy, abs=0.05)
    if t == 0:
        assert report.t == 0 and report.entropy == target.entropy and report.entropy_sem == 0
    else:
        assert report.t == 0.4 and report.entropy > target.entropy  # diffusion raises the entropy


def test_a_wrong_density_has_a_positive_kl():
    target = make_preset("8gaussians")
    wide = target.gmm
    blurred = GaussianMixture(wide.weights, wide.means, wide.covariances * 2.0)
    report = density_report(gmm_density_field(blurred, make_sde("vp")), target, 0.0, n=600, seed=2)
    assert report.kl > 0.1 and report.kl == pytest.approx(report.nll - report.entropy, abs=0.05)
    assert report.kl_sem < 0.05 and np.isfinite(report.error_estimate)
    with pytest.raises(ValueError, match="t must lie"):
        density_report(gmm_density_field(blurred, make_sde("vp")), target, 2.0)
