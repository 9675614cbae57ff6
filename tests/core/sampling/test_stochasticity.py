"""The lam-family of reverse processes (Song et al. 2021, App. D.1) as em's `stochasticity`: lam = 0 is Euler on the
PF-ODE, lam = 1 today's Euler-Maruyama, and every lam samples the target with the exact score."""

import math

import pytest
import torch

from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE, SubVPSDE
from playground.core.evaluation.metrics import swd_report
from playground.core.sampling.samplers import em, ode_euler, sample
from tests.core.sampling.test_samplers import GMM3, _target_sampler

SDES = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(sigma_max=20.0), "rf": RFSDE()}
# Rectified flow's EM is stiff near T = 0.999 (f = -1 / (1 - t), g^2 = 2t / (1 - t)): lam = 0.5 needs 400 steps there.
STEPS = {"vp": 200, "subvp": 200, "ve": 200, "rf": 400}


def _reference_em(score_fn, sde, x, steps, generator):
    """Euler-Maruyama on dx = [f - g^2 s] dt + g dw_bar written out, as em was before the stochasticity option."""
    grid = torch.linspace(sde.T, sde.sampling_eps, steps + 1, dtype=torch.float64).tolist()
    for t, t_next in zip(grid[:-1], grid[1:]):
        tv = torch.full((len(x),), t, dtype=x.dtype)
        f, g = sde.sde(x, tv)
        drift = f - (g * g)[:, None] * score_fn(x, tv) * 1.0
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x - drift * (t - t_next) + g[:, None] * math.sqrt(t - t_next) * z
    return x


@pytest.mark.parametrize("sde_name", list(SDES))
def test_lam_zero_is_ode_euler_and_lam_one_is_em(sde_name):
    sde = SDES[sde_name]
    score_fn = GMM3.score_fn(sde)
    x_T = sde.prior_sample((500, 2), generator=torch.Generator().manual_seed(3))
    ode = ode_euler(score_fn, sde, x_T, steps=40, denoise_last=False).x
    lam0 = em(score_fn, sde, x_T, steps=40, denoise_last=False, stochasticity=0.0,
              generator=torch.Generator().manual_seed(4)).x  # fmt: skip
    torch.testing.assert_close(lam0, ode, rtol=1e-6, atol=1e-6)
    lam1 = em(score_fn, sde, x_T, steps=40, denoise_last=False, stochasticity=1.0,
              generator=torch.Generator().manual_seed(4)).x  # fmt: skip
    default = em(score_fn, sde, x_T, steps=40, denoise_last=False, generator=torch.Generator().manual_seed(4)).x
    reference = _reference_em(score_fn, sde, x_T, 40, torch.Generator().manual_seed(4))
    assert torch.equal(lam1, default)
    assert torch.equal(lam1, reference)


def test_every_lam_draws_the_same_brownian_increments():
    """The same generator gives every lam the same z's: paths differ smoothly in lam (the app's slider re-runs)."""
    sde = VPSDE()
    score_fn = GMM3.score_fn(sde)
    x_T = sde.prior_sample((200, 2), generator=torch.Generator().manual_seed(3))
    runs = [em(score_fn, sde, x_T, steps=30, stochasticity=lam, generator=torch.Generator().manual_seed(9)).x
            for lam in (1.0, 1.001, 2.0)]  # fmt: skip
    assert (runs[0] - runs[1]).abs().max() < 0.05 < (runs[0] - runs[2]).abs().max()


def test_invalid_stochasticity_is_refused():
    sde = VPSDE()
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="stochasticity"):
            sample("em", GMM3.score_fn(sde), sde, 10, steps=2, stochasticity=bad)


@pytest.mark.slow
@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("sde_name", list(SDES))
def test_every_lam_reaches_the_swd_floor_with_the_exact_score(sde_name, lam):
    sde = SDES[sde_name]
    result = sample("em", GMM3.score_fn(sde), sde, 8000, steps=STEPS[sde_name], seed=11, stochasticity=lam)
    assert torch.isfinite(result.x).all()
    report = swd_report(result.x, _target_sampler(GMM3), seed=5)
    assert report.swd_ratio <= 1.3, (sde_name, lam, report.as_dict())
