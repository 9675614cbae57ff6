"""Objectives: exact minima at the true score, time sampling, weights."""

import itertools
import math

import pytest
import torch

from playground.core.diffusion.objectives import Objective
from playground.core.diffusion.parameterization import convert
from playground.core.diffusion.sde import make_sde


class ExactGaussianModel:
    """A stand-in ScoreModel whose score is exact for data N(0, s^2 I) (normalised space)."""

    def __init__(self, sde, s: float, output: str = "score"):
        self.sde = sde
        self.s2 = s * s
        self.output = output

    def _score(self, y, t):
        alpha, std = self.sde.marginal_coefficients(t)
        return -y / (alpha**2 * self.s2 + std**2)[:, None]

    def net_output(self, y, t):
        alpha, std = self.sde.marginal_coefficients(t)
        return self._score(y, t), alpha, std  # output 'score'

    def eps_norm(self, y, t):
        _, std = self.sde.marginal_coefficients(t)
        return -std[:, None] * self._score(y, t)

    def predict(self, kind, y, t, class_labels=None):
        alpha, std = self.sde.marginal_coefficients(t)
        return convert(self._score(y, t), "score", kind, y, alpha, std, self.sde.velocity_coefficients(t))


def _expected_min(sde, s2, eps=1e-5, n=20001):
    """E_t[alpha^2 s^2 / (alpha^2 s^2 + sigma^2)], t ~ U(eps, 1), by the trapezoid rule."""
    t = torch.linspace(eps, 1.0, n, dtype=torch.float64)
    alpha, std = sde.marginal_coefficients(t)
    f = alpha**2 * s2 / (alpha**2 * s2 + std**2)
    return float(torch.trapezoid(f, t) / (1 - eps))


@pytest.mark.parametrize("sde_name", ["vp", "subvp", "ve"])
def test_dsm_at_the_true_score_reaches_the_exact_minimum(sde_name):
    sde = make_sde(sde_name, sigma_max=4.0) if sde_name == "ve" else make_sde(sde_name)
    s = 0.7
    obj = Objective(sde, "dsm", "song")
    g = torch.Generator().manual_seed(0)
    y0 = torch.randn(200_000, 2, generator=g, dtype=torch.float64) * s
    per, t = obj(ExactGaussianModel(sde, s), y0, g)
    expect = _expected_min(sde, s * s)
    se = float(per.detach().std()) / math.sqrt(len(per))
    assert abs(float(per.detach().mean()) - expect) < 4 * se + 1e-4, (float(per.detach().mean()), expect, se)


def test_ssm_at_the_true_score():
    """Standard normal data under VP: p_t = N(0, I), score -y; lambda = sigma^2: per-dimension E[-sigma^2 / 2]."""
    sde = make_sde("vp")
    obj = Objective(sde, "ssm", "song")
    g = torch.Generator().manual_seed(1)
    y0 = torch.randn(50_000, 2, generator=g)
    per, t = obj(ExactGaussianModel(sde, 1.0), y0, g)
    tt = torch.linspace(1e-5, 1, 10001, dtype=torch.float64)
    expect = float(torch.trapezoid(-0.5 * sde.marginal_coefficients(tt)[1] ** 2, tt))
    se = float(per.detach().std()) / math.sqrt(len(per))
    assert abs(float(per.detach().mean()) - expect) < 4 * se + 1e-3


@pytest.mark.parametrize("sde_name", ["vp", "subvp", "ve"])
def test_likelihood_importance_sampling_matches_uniform_weighting(sde_name):
    """E_q[Z f(t)] = E_U[w(t) f(t)] for q ~ w = g^2 / sigma^2 (checked for f = t and f = 1 / (1 + 10 t))."""
    sde = make_sde(sde_name, sigma_max=4.0) if sde_name == "ve" else make_sde(sde_name)
    obj = Objective(sde, "dsm", "likelihood")
    g = torch.Generator().manual_seed(2)
    t = obj.sample_t(400_000, g, dtype=torch.float64)
    assert float(t.min()) >= 1e-5 and float(t.max()) <= 1.0
    grid = torch.exp(torch.linspace(math.log(1e-5), 0, 200_001, dtype=torch.float64))
    w = obj._w_likelihood(grid)
    for f in (lambda x: x, lambda x: 1 / (1 + 10 * x)):
        lhs = obj._Z * float(f(t).mean())
        rhs = float(torch.trapezoid(w * f(grid), grid)) / (1 - 1e-5)
        assert lhs == pytest.approx(rhs, rel=0.02)


def test_edm_time_sampling_is_log_normal_in_sigma():
    sde = make_sde("vp")
    obj = Objective(sde, "dsm", "edm", sigma_data=0.5)
    t = obj.sample_t(100_000, torch.Generator().manual_seed(3), dtype=torch.float64)
    ls = torch.log(sde.sigma_edm(t))
    inside = (t > 1e-5) & (t < 1)
    assert float(inside.double().mean()) > 0.99
    assert float(ls[inside].mean()) == pytest.approx(-1.2, abs=0.03)
    assert float(ls[inside].std()) == pytest.approx(1.2, abs=0.03)


def test_weights():
    sde = make_sde("vp")
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    alpha, std = sde.marginal_coefficients(t)
    lik = Objective(sde, "dsm", "likelihood", importance=False)
    torch.testing.assert_close(lik.eps_weight(t), sde.beta(t) / std**2)
    edm = Objective(sde, "dsm", "edm", sigma_data=1.0)
    s = std / alpha
    torch.testing.assert_close(edm.eps_weight(t, alpha, std), s**2 + 1.0)
    assert Objective(sde, "dsm", "song").eps_weight(t) is None


def test_rejects_unknown_names():
    with pytest.raises(ValueError):
        Objective(make_sde("vp"), "nope")
    with pytest.raises(ValueError):
        Objective(make_sde("vp"), "dsm", "nope")


@pytest.mark.parametrize("sde_name", ["vp", "subvp", "ve", "rf"])
def test_fm_is_minimised_by_the_marginal_velocity(sde_name):
    """Data N(0, s^2 I): the exact velocity v* = f y - g^2 s*(y) / 2 minimises E||v - (alpha' y0 + sigma' eps)||^2: any
    other v costs exactly E|v - v*|^2 more, the cross term 2 (v - v*).(v* - target) averaging to 0 because v* is the
    target's conditional mean given y_t. Checked for v* + 0.3 y and for the velocity of data with 1.3x the scale."""
    sde = make_sde(sde_name, sigma_max=4.0) if sde_name == "ve" else make_sde(sde_name)
    s = 0.7
    obj = Objective(sde, "fm", "song")
    g = torch.Generator().manual_seed(4)
    n = 100_000
    y0 = torch.randn(n, 2, generator=g, dtype=torch.float64) * s
    noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = obj.sample_t(n, g, dtype=torch.float64).clamp(min=0.05)  # VP's sigma' ~ 1 / sqrt(t): keep the variance finite
    alpha, std = sde.marginal_coefficients(t)
    y = alpha[:, None] * y0 + std[:, None] * noise
    exact = ExactGaussianModel(sde, s)
    best = obj.fm(exact, y0, t, noise=noise)

    class Shifted(ExactGaussianModel):
        def predict(self, kind, yy, tt, class_labels=None):
            return super().predict(kind, yy, tt) + 0.3 * yy

    extra = obj.fm(Shifted(sde, s), y0, t, noise=noise) - best
    expect = (0.3 * y).square().mean(1)  # |delta|^2 per dimension
    diff = extra - expect
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / math.sqrt(n), (float(diff.mean()), float(expect.mean()))
    wrong = obj.fm(ExactGaussianModel(sde, 1.3 * s), y0, t, noise=noise) - best
    wrong_delta = (ExactGaussianModel(sde, 1.3 * s).predict("v", y, t) - exact.predict("v", y, t)).square().mean(1)
    assert float(wrong.mean()) == pytest.approx(float(wrong_delta.mean()), rel=0.05)
    assert float(wrong.mean()) > 10 * float(wrong.std()) / math.sqrt(n)


def test_fm_on_rectified_flow_reaches_the_exact_minimum():
    """rf: target eps - y0; for data N(0, s^2 I) the least loss per dimension is Var(eps - y0 | y_t) =
    s^2 (a' b - a b')^2 / (a^2 s^2 + b^2) = s^2 / ((1 - t)^2 s^2 + t^2), averaged over t ~ U(1e-5, T)."""
    sde = make_sde("rf")
    s = 0.7
    obj = Objective(sde, "fm", "song")
    g = torch.Generator().manual_seed(5)
    per, t = obj(ExactGaussianModel(sde, s), torch.randn(200_000, 2, generator=g, dtype=torch.float64) * s, g)
    assert float(t.min()) >= 1e-5 and float(t.max()) <= sde.T
    grid = torch.linspace(1e-5, sde.T, 20001, dtype=torch.float64)
    expect = float(torch.trapezoid(s * s / ((1 - grid) ** 2 * s * s + grid**2), grid)) / (sde.T - 1e-5)
    se = float(per.std()) / math.sqrt(len(per))
    assert abs(float(per.mean()) - expect) < 4 * se, (float(per.mean()), expect, se)


def test_fm_time_sampling_and_weighting():
    """fm draws t ~ U(eps, T) ('song') or EDM's log-normal sigma ('edm': for rf ln sigma_edm = logit t, a logit-normal t);
    the likelihood weighting is not defined for it."""
    sde = make_sde("rf")
    t = Objective(sde, "fm", "edm", sigma_data=0.5).sample_t(100_000, torch.Generator().manual_seed(6), dtype=torch.float64)
    logit = torch.log(t / (1 - t))
    inside = (t > 1e-5) & (t < sde.T)
    assert float(logit[inside].mean()) == pytest.approx(-1.2, abs=0.03)
    assert float(logit[inside].std()) == pytest.approx(1.2, abs=0.03)
    with pytest.raises(ValueError, match="not 'likelihood'"):
        Objective(sde, "fm", "likelihood")


def test_losses_are_differentiable_for_every_output_kind():
    from playground.core.nets.mlp import ScoreMLP
    from playground.core.training.model import ScoreModel

    cases = (("dsm", "song"), ("dsm", "likelihood"), ("dsm", "edm"), ("ssm", "song"), ("fm", "song"), ("fm", "edm"))
    for output, sde_name in itertools.product(("eps", "score", "x0", "edm", "v"), ("vp", "rf")):
        for kind, weighting in cases:
            m = ScoreModel(ScoreMLP(2, 16, 2), make_sde(sde_name), output)
            with torch.no_grad():
                m.net.body[-1].weight.normal_(0, 0.1)
            obj = Objective(m.sde, kind, weighting)
            per, t = obj(m, torch.randn(64, 2), torch.Generator().manual_seed(0))
            assert per.shape == (64,) and bool(torch.isfinite(per).all())
            per.mean().backward()
            assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.net.parameters())
