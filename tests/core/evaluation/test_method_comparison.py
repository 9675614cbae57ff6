"""The DSM / FM comparison's pieces (shared by `bench compare` and the app's Compare dock): the recipes, the seconds
budget, the NLL in chunks, the Euler ladder and cancellation through the samplers' callbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from playground.core.evaluation.method_comparison import (
    FLOW_MATCHING,
    METHODS,
    TUNED_DSM,
    budget_trainer,
    euler_nfe,
    evaluate_nll,
    evaluate_swd,
    path_straightness,
)
from playground.data.targets.presets import make_preset

TINY = {"hidden": 16, "depth": 1, "batch": 64, "pool": 512}


@pytest.fixture(scope="module")
def target():
    return make_preset("8gaussians")


@pytest.fixture(scope="module")
def model(target):
    trainer = budget_trainer(target.sample, {**FLOW_MATCHING, **TINY}, seconds=5.0, seed=3)
    trainer.run(max_steps=3)
    return trainer.snapshot()


def test_recipes_and_the_seconds_budget(target):
    assert METHODS == {"DSM": TUNED_DSM, "FM": FLOW_MATCHING}
    assert (TUNED_DSM["output"], TUNED_DSM["weighting"]) == ("edm", "edm")
    assert (FLOW_MATCHING["sde"], FLOW_MATCHING["objective"], FLOW_MATCHING["output"]) == ("rf", "fm", "v")
    trainer = budget_trainer(target.sample, {**TUNED_DSM, **TINY}, seconds=2.5, seed=7)
    cfg = trainer.config
    assert (cfg.steps, cfg.seconds, cfg.seed, cfg.output, cfg.batch) == (None, 2.5, 7, "edm", 64)
    assert trainer.sde.name == "vp"
    # a callable draws the pool as target.sample(pool, seed) does
    np.testing.assert_allclose(trainer.normalization.to_data(trainer.pool.cpu()).numpy(), target.sample(512, 7),
                               atol=1e-5)
    with pytest.raises(ValueError, match="likelihood"):
        budget_trainer(target.sample, {**FLOW_MATCHING, **TINY, "weighting": "likelihood"}, seconds=1.0)


def test_nll_in_chunks_is_the_nll_of_all_points(model, target):
    checks = []
    chunked = evaluate_nll(model, target, 30, seed=0, chunk=10, check=lambda: checks.append(1))
    assert len(checks) == 3
    x = target.sample(30, 777).astype(np.float64)
    whole = -model.log_prob(x, eps=1e-5)
    assert chunked["nll"] == pytest.approx(float(whole.mean()), rel=1e-4)
    assert chunked["nll_se"] == pytest.approx(float(whole.std(ddof=1) / math.sqrt(30)), rel=1e-3)
    assert "kl" in chunked  # 8gaussians has a log density: the paired estimate


def test_euler_ladder_stops_at_the_first_rung_that_passes(model, target):
    assert euler_nfe(model, target, (3, 1, 2), math.inf, 600, 1, seed=0) == (2, pytest.approx(evaluate_swd(
        model, target, 600, "ode_euler", 1, 0)[0]))
    nfe, ratio = euler_nfe(model, target, (1, 2), -1.0, 600, 1, seed=0)
    assert nfe is None and ratio == pytest.approx(evaluate_swd(model, target, 600, "ode_euler", 2, 0)[0])


def test_checks_stop_when_the_callback_raises(model, target):
    class Stop(Exception):
        pass

    def stop(_info):
        raise Stop

    with pytest.raises(Stop):
        evaluate_swd(model, target, 200, "ode_heun", 5, 0, callback=stop)
    with pytest.raises(Stop):
        path_straightness(model, 0, paths=50, steps=5, callback=stop)
    with pytest.raises(Stop):
        euler_nfe(model, target, (1, 2), 1.2, 200, 1, 0, callback=stop)
    assert path_straightness(model, 0, paths=50, steps=5) >= 0.0
