"""Classifier-free guidance (w = 0 is the conditional model) and exact classifier guidance on a 2D mixture."""

from __future__ import annotations

import pytest
import torch

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.core.diffusion.guidance import (
    classifier_free_guidance,
    classifier_guidance,
    gmm_class_score_fn,
    gmm_classifier,
    gmm_conditional_score_fn,
    guided_combination,
)
from playground.core.diffusion.sde import VPSDE, bcast
from playground.core.nets.unet import UNet
from playground.core.sampling.samplers import sample


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast, and immune to oversubscription on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _cond_score_fn(net: UNet, sde):
    """A conditional score from a raw eps network (what a ScoreModel will provide): s = -eps / sigma."""

    def fn(x, t, labels):
        alpha, std = sde.marginal_coefficients(t)
        return -net(x, 0.25 * torch.log(std / alpha), labels) / bcast(std, x)

    return fn


def _unet():
    net = UNet(1, 8, base_channels=8, channel_mults=(1, 2), num_classes=3)
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    return net


def test_cfg_w0_equals_conditional_model():
    sde = VPSDE()
    cond = _cond_score_fn(_unet(), sde)
    x, t = torch.randn(5, 1, 8, 8), torch.full((5,), 0.4)
    labels = torch.tensor([0, 1, 2, 0, 1])
    for null in (None, 3):
        guided = classifier_free_guidance(cond, labels, 0.0, null_class=null)
        assert torch.equal(guided(x, t), cond(x, t, labels))
    assert torch.equal(classifier_free_guidance(cond, 2, 0.0)(x, t), cond(x, t, torch.full((5,), 2)))


def test_cfg_combination_and_batched_path_agree():
    sde = VPSDE()
    cond = _cond_score_fn(_unet(), sde)
    x, t = torch.randn(4, 1, 8, 8), torch.full((4,), 0.3)
    w = 2.5
    expected = (1 + w) * cond(x, t, torch.ones(4, dtype=torch.long)) - w * cond(x, t, None)
    two_calls = classifier_free_guidance(cond, 1, w)(x, t)
    batched = classifier_free_guidance(cond, 1, w, null_class=3)(x, t)
    assert torch.allclose(two_calls, expected, atol=1e-5)
    assert torch.allclose(batched, expected, atol=1e-4)
    assert (two_calls - cond(x, t, torch.ones(4, dtype=torch.long))).abs().max() > 1e-3
    a, b = torch.randn(3), torch.randn(3)
    assert torch.equal(guided_combination(a, b, 0), a)


GMM = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0]],
    [[[0.3, 0.0], [0.0, 0.3]], [[0.3, 0.1], [0.1, 0.3]], [[0.2, 0.0], [0.0, 0.4]]],
)


def test_exact_classifier_guidance_closed_form_matches_autograd():
    sde = VPSDE()
    x = torch.randn(50, 2, dtype=torch.float64) * 3
    for t in (0.05, 0.3, 0.8):
        tv = torch.full((50,), t, dtype=torch.float64)
        for y in (0, 2):
            auto = classifier_guidance(GMM.score_fn(sde), gmm_classifier(GMM, sde), y, 1.0)(x, tv)
            closed = gmm_class_score_fn(GMM, sde, y)(x, tv)
            assert torch.allclose(auto, closed, atol=1e-8)
            # scale 1: the score of component y alone
            comp = GaussianMixture([1.0], GMM.means[y : y + 1], GMM.covariances[y : y + 1])
            assert torch.allclose(closed, comp.score(x, tv, sde), atol=1e-10)
        # the exact classifier sums to one
        assert torch.allclose(gmm_classifier(GMM, sde)(x, tv).exp().sum(1), torch.ones(50, dtype=torch.float64))


def test_guided_gmm_samples_land_in_the_chosen_component():
    """Conditional sampling with exact scores through the project's samplers (which run under no_grad)."""
    sde = VPSDE()

    def draw(score_fn, sampler="em", seed=0):
        return sample(sampler, score_fn, sde, 400, steps=100, seed=seed, dtype=torch.float64).x

    for y in (0, 1, 2):
        x = draw(gmm_class_score_fn(GMM, sde, y), seed=y)
        assert (GMM.responsibilities(x).argmax(1) == y).float().mean() >= 0.99
        assert torch.allclose(x.mean(0), GMM.means[y], atol=0.15)
    # the autograd classifier path works inside a no_grad sampler too (here the PF-ODE)
    x = draw(classifier_guidance(GMM.score_fn(sde), gmm_classifier(GMM, sde), 2), "ode_heun", seed=5)
    assert (GMM.responsibilities(x).argmax(1) == 2).float().mean() >= 0.99
    # unguided: every component shows up with roughly its weight
    x = draw(GMM.score_fn(sde), seed=7)
    frac = torch.bincount(GMM.responsibilities(x).argmax(1), minlength=3).double() / 400
    assert torch.allclose(frac, GMM.weights, atol=0.08)


def test_exact_cfg_equals_exact_classifier_guidance_and_w0_is_the_component():
    """With exact scores, CFG at weight w is classifier guidance at scale 1 + w:
    (1 + w) s_y - w s = s + (1 + w)(s_y - s); w = 0 is the plain conditional score, bit for bit."""
    sde = VPSDE()
    x = torch.randn(60, 2, dtype=torch.float64) * 3
    conditional = gmm_conditional_score_fn(GMM, sde)
    for t in (0.02, 0.4):
        tv = torch.full((60,), t, dtype=torch.float64)
        for y in (0, 1, 2):
            assert torch.equal(classifier_free_guidance(conditional, y, 0.0)(x, tv), GMM.component(y).score(x, tv, sde))
            for w in (0.5, 3.0):
                cfg = classifier_free_guidance(conditional, y, w)(x, tv)
                torch.testing.assert_close(cfg, gmm_class_score_fn(GMM, sde, y, 1 + w)(x, tv), rtol=0, atol=1e-9)
                auto = classifier_guidance(GMM.score_fn(sde), gmm_classifier(GMM, sde), y, 1 + w)(x, tv)
                torch.testing.assert_close(cfg, auto, rtol=0, atol=1e-7)
    torch.testing.assert_close(conditional(x, tv, None), GMM.score(x, tv, sde))


def test_exact_class_samples_follow_the_component():
    """Sampling class y with its exact conditional score (w = 0): SWD to the component's own samples near the floor."""
    from playground.core.evaluation.metrics import swd_report

    sde = VPSDE()
    for y in (0, 2):
        score = classifier_free_guidance(gmm_conditional_score_fn(GMM, sde), y, 0.0)
        x = sample("ode_heun", score, sde, 3000, steps=30, seed=y + 1, dtype=torch.float64).x
        comp = GMM.component(y)
        report = swd_report(x, lambda n, seed: comp.sample(n, torch.Generator().manual_seed(seed)), seed=y + 1)
        assert report.swd_ratio < 1.6, (y, report)
