"""Inpainting by replacement: known entries kept exactly, and the method's known bias on a 2D Gaussian."""

from __future__ import annotations

import pytest
import torch

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.core.diffusion.sde import VPSDE, bcast, make_sde
from playground.core.nets.unet import UNet
from playground.core.sampling.inpainting import finalize, inpaint, replace_known

SIGMA = torch.tensor([[1.0, 0.9], [0.9, 1.0]], dtype=torch.float64)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast, and immune to oversubscription on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _gauss_score_fn(sde):
    """Exact score of N(0, SIGMA) under the SDE: -(alpha^2 SIGMA + sigma^2 I)^-1 x (all t in a batch are equal)."""

    def fn(x, t):
        alpha, std = sde.marginal_coefficients(t[:1].to(torch.float64))
        prec = torch.linalg.inv(alpha**2 * SIGMA + std**2 * torch.eye(2, dtype=torch.float64))
        return -(x @ prec.T)

    return fn


def test_fast_gaussian_score_matches_exact_module():
    sde = VPSDE()
    gmm = GaussianMixture([1.0], [[0.0, 0.0]], SIGMA[None])
    x = torch.randn(20, 2, dtype=torch.float64)
    t = torch.full((20,), 0.37, dtype=torch.float64)
    assert torch.allclose(_gauss_score_fn(sde)(x, t), gmm.score(x, t, sde), atol=1e-12)


@pytest.mark.parametrize("name", ["vp", "ve"])
def test_replacement_bias_on_correlated_gaussian(name):
    """SCIENCE.md: rho = 0.9, x1 = 1 observed, exact score. The replacement method gives x2 mean ~0.63, var ~0.31;
    the true conditional is N(0.9, 0.19). n = 10000 gives standard errors 0.0056 (mean) and 0.0062 (variance);
    the step count moves the result by < 0.01 (VP, n = 20000: 0.624 / 0.315 at 500 steps, 0.633 / 0.310 at 1000;
    n = 10000: 0.633 / 0.315 at 250), so a tolerance of 0.03 is ~4 standard errors beyond that, while the exact
    answer is 0.27 / 0.12 away."""
    sde = make_sde(name, sigma_max=5.0) if name == "ve" else make_sde(name)
    g = torch.Generator().manual_seed(1)
    obs = torch.tensor([1.0, 0.0], dtype=torch.float64)
    known = torch.tensor([True, False])
    res = inpaint(_gauss_score_fn(sde), sde, obs, known, n=10000, steps=250, generator=g)
    assert torch.equal(res.x[:, 0], torch.ones(10000, dtype=torch.float64))
    m, v = float(res.x[:, 1].mean()), float(res.x[:, 1].var())
    assert abs(m - 0.63) < 0.03 and abs(v - 0.31) < 0.03, (m, v)
    assert 0.9 - m > 0.2 and v - 0.19 > 0.08  # the bias exists: far from the exact conditional 0.90 / 0.19
    assert res.nfe == 251


def test_langevin_corrector_reduces_the_bias():
    sde = VPSDE()
    g = torch.Generator().manual_seed(2)
    res = inpaint(_gauss_score_fn(sde), sde, torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([1, 0]),
                  n=10000, steps=250, corrector_steps=1, generator=g)
    m, v = float(res.x[:, 1].mean()), float(res.x[:, 1].var())
    assert m > 0.78 and v < 0.25, (m, v)  # ~0.83 / 0.22 (n = 20000); replacement alone: 0.63 / 0.31
    assert res.nfe == 501


def _score_from_unet(sde):
    net = UNet(1, 8, base_channels=8, channel_mults=(1, 2))
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)

    def fn(x, t):
        alpha, std = sde.marginal_coefficients(t)
        with torch.no_grad():
            return -net(x, 0.25 * torch.log(std / alpha)) / bcast(std, x)

    return fn


@pytest.mark.parametrize("predictor,corrector", [("em", 0), ("em", 1), ("reverse_diffusion", 0), ("ode_euler", 0)])
def test_known_pixels_kept_exactly(predictor, corrector):
    sde = VPSDE()
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(3, 1, 8, 8) * 2 - 1
    known = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    known[..., :4, :] = True  # top half known
    calls = []
    res = inpaint(_score_from_unet(sde), sde, obs, known, steps=20, predictor=predictor, corrector_steps=corrector,
                  generator=g, callback=lambda info: calls.append((info.i, info.t, info.nfe)), trajectory_stride=10)
    k = known.expand_as(obs)
    assert torch.equal(res.x[k], obs[k])
    assert (res.x[~k] - obs[~k]).abs().max() > 0.1  # the unknown part was generated, not copied
    assert torch.isfinite(res.x).all()
    assert res.nfe == 20 * (1 + corrector) + 1 == calls[-1][2]
    assert [c[0] for c in calls] == list(range(20)) and calls[-1][1] == 0.0  # the last step reports the denoise
    assert res.trajectory.shape == (3, 3, 1, 8, 8) and torch.equal(res.trajectory[-1], res.x)
    assert res.times.tolist() == pytest.approx([1.0, calls[9][1], 0.0])


def test_single_observation_many_samples_and_projection():
    sde = VPSDE()
    obs = torch.rand(1, 8, 8)
    known = torch.rand(8, 8) > 0.5  # an (H, W) mask broadcasts
    res = inpaint(_score_from_unet(sde), sde, obs, known, n=4, steps=5, generator=torch.Generator().manual_seed(0))
    assert res.x.shape == (4, 1, 8, 8)
    k = known.expand(4, 1, 8, 8)
    assert torch.equal(res.x[k], obs.expand(4, 1, 8, 8)[k])
    # the projection on its own: known entries at t are alpha y + sigma z, the rest untouched
    x = torch.randn(4, 1, 8, 8)
    y = replace_known(x, obs, known, sde, 1e-4)
    assert torch.equal(y[~k], x[~k]) and (y[k] - obs.expand(4, 1, 8, 8)[k]).abs().max() < 0.05
    assert torch.equal(finalize(y, obs, known)[k], obs.expand(4, 1, 8, 8)[k])


def test_bad_arguments():
    sde = VPSDE()
    fn = _gauss_score_fn(sde)
    obs = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="predictor"):
        inpaint(fn, sde, obs, torch.tensor([1, 0]), n=2, steps=2, predictor="rk45")
    with pytest.raises(ValueError, match="0 and 1"):
        inpaint(fn, sde, obs, torch.tensor([0.5, 0.0]), n=2, steps=2)
    with pytest.raises(ValueError, match="does not fit"):
        inpaint(fn, sde, obs, torch.tensor([1, 0, 1]), n=2, steps=2)
    # the corrector and reverse diffusion follow the grid's exact transitions: any number of steps is valid on VP
    res = inpaint(fn, sde, obs, torch.tensor([1, 0]), n=2, steps=3, corrector_steps=1, predictor="reverse_diffusion")
    assert torch.isfinite(res.x).all() and res.nfe == 3 * 2 + 1
