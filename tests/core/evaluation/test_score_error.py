"""Score error per time bin: 0 for the exact score, the closed form for a scaled exact score, DSM = error + floor,
and a longer-trained model is nearer the exact score."""

import numpy as np
import pytest
import torch

from playground.core.diffusion.sde import RFSDE, VESDE, VPSDE
from playground.core.evaluation.score_error import model_score_error, score_error_by_time, time_bin_edges
from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer
from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.presets import make_preset

MEAN = [0.5, -1.0]
COV = [[0.6, 0.3], [0.3, 0.4]]
GAUSSIAN = GaussianMixture([1.0], [MEAN], [COV])
SDES = {"vp": VPSDE(), "ve": VESDE(sigma_max=20.0), "rf": RFSDE()}


def _x0(n: int = 20000) -> torch.Tensor:
    return GAUSSIAN.sample(n, torch.Generator().manual_seed(1)).to(torch.float64)


@pytest.mark.parametrize("sde_name", list(SDES))
def test_the_exact_score_has_zero_error_at_every_time(sde_name):
    sde = SDES[sde_name]
    exact = GAUSSIAN.score_fn(sde)
    table = score_error_by_time(exact, exact, sde, _x0(2000), bins=10)
    assert table.score_error.shape == (10,)
    np.testing.assert_allclose(table.score_error, 0.0, atol=1e-12)
    np.testing.assert_array_equal(table.dsm_loss, table.dsm_floor)
    assert (table.dsm_floor > 0).all()  # the DSM loss's floor is not zero
    np.testing.assert_allclose(table.edges, time_bin_edges(sde, 10))


@pytest.mark.parametrize("sde_name", list(SDES))
def test_a_scaled_exact_score_gives_the_closed_form_error(sde_name):
    """s = 1.1 s*: error(t) = 0.01 std^2 E|s*|^2 = 0.01 std^2 tr(Sigma_t^-1), Sigma_t = alpha^2 Sigma + std^2 I (the
    Fisher information of a Gaussian), averaged over each bin's times."""
    sde = SDES[sde_name]
    exact = GAUSSIAN.score_fn(sde)
    table = score_error_by_time(lambda x, t: 1.1 * exact(x, t), exact, sde, _x0(), bins=5, seed=2)
    cov = torch.tensor(COV, dtype=torch.float64)
    for k in range(5):
        t = torch.linspace(table.edges[k], table.edges[k + 1], 2001, dtype=torch.float64)
        alpha, std = sde.marginal_coefficients(t)
        cov_t = alpha[:, None, None] ** 2 * cov + std[:, None, None] ** 2 * torch.eye(2, dtype=torch.float64)
        closed = float((0.01 * std**2 * torch.linalg.inv(cov_t).diagonal(dim1=-2, dim2=-1).sum(-1)).mean())
        assert table.score_error[k] == pytest.approx(closed, rel=0.04), (k, table.score_error, closed)
    # DSM = score error + floor in expectation (the cross term vanishes)
    np.testing.assert_allclose(table.dsm_loss, table.score_error + table.dsm_floor, rtol=0.03)


def _trained_model(steps: int):
    target = make_preset("8gaussians")
    cfg = TrainConfig(steps=steps, hidden=64, depth=2, batch=256, warmup=20, seed=0)
    trainer = Trainer(cfg, target.sample(20000, seed=0))
    trainer.run()
    return trainer.snapshot(), target


def test_a_longer_trained_model_has_a_lower_mean_score_error():
    """60 steps (a fraction of a second) against 1200 steps of training on 8gaussians (closed-form GMM score)."""
    torch.set_num_threads(1)
    short_model, target = _trained_model(60)
    long_model, _ = _trained_model(1200)
    short = model_score_error(short_model, target, n=2000)
    long = model_score_error(long_model, target, n=2000)
    assert np.isfinite(long.score_error).all()
    assert long.mean_error < 0.5 * short.mean_error, (short.score_error, long.score_error)
    assert (long.dsm_loss >= long.dsm_floor * 0.9).all()


def test_a_target_without_an_exact_score_is_refused():
    from playground.data.targets.target import Target

    model, _ = _trained_model(2)
    target = Target("noisy", lambda n, rng: rng.normal(size=(n, 2)))
    with pytest.raises(ValueError, match="no exact score"):
        model_score_error(model, target, n=100)
