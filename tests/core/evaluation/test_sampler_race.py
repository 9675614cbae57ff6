"""The sampler race: NFE per rung as planned, cheapest first, good runs at the SWD floor, cancellable."""

import pytest
import torch

from playground.core.diffusion.sde import VPSDE
from playground.core.evaluation.sampler_race import (
    RACE_SAMPLERS,
    race_plan,
    run_race,
    smallest_good_nfe,
    steps_for_nfe,
)
from playground.core.sampling.samplers import sample
from tests.core.sampling.test_samplers import GMM3, _target_sampler

SDE = VPSDE()


@pytest.mark.parametrize("name", RACE_SAMPLERS)
@pytest.mark.parametrize("nfe", [5, 20, 81])
def test_steps_for_nfe_give_the_largest_nfe_within_the_rung(name, nfe):
    steps = steps_for_nfe(name, nfe)
    options = {"levels": min(30, steps)} if name == "annealed_langevin" else {}
    used = sample(name, GMM3.score_fn(SDE), SDE, 4, steps=steps, **options).nfe
    assert used <= nfe
    more = {"levels": min(30, steps + 1)} if name == "annealed_langevin" else {}
    assert sample(name, GMM3.score_fn(SDE), SDE, 4, steps=steps + 1, **more).nfe > nfe


def test_the_plan_runs_cheap_rungs_first_and_skips_repeats():
    plan = race_plan(["ode_heun", "em"], [40, 5, 6])
    assert plan == [("ode_heun", 3), ("em", 4), ("em", 5), ("ode_heun", 20), ("em", 39)]
    with pytest.raises(ValueError, match="unknown sampler"):
        race_plan(["nope"], [5])
    with pytest.raises(ValueError, match="rung"):
        race_plan(["em"], [1])


def test_the_race_reaches_the_floor_and_reports_every_run():
    seen = []
    entries = run_race(GMM3.score_fn(SDE), SDE, _target_sampler(GMM3), samplers=["ode_heun", "em"], ladder=[5, 61],
                       n=2000, seed=3, callback=seen.append)  # fmt: skip
    assert seen == entries
    assert [(e.sampler, e.nfe) for e in entries] == [("ode_heun", 5), ("em", 5), ("ode_heun", 61), ("em", 61)]
    by = {(e.sampler, e.nfe): e for e in entries}
    assert by[("ode_heun", 61)].swd_ratio <= 1.3 < by[("em", 5)].swd_ratio
    assert all(e.seconds > 0 and e.swd_floor > 0 for e in entries)
    best = smallest_good_nfe(entries)
    assert list(best) == ["ode_heun", "em"] and best["ode_heun"] in (5, 61)
    assert smallest_good_nfe(entries, ratio=0.0) == {"ode_heun": None, "em": None}


def test_a_cancelled_race_stops_mid_run():
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] >= 5  # 1 check before the run, then one per step: the 4th step's

    entries = run_race(GMM3.score_fn(SDE), SDE, _target_sampler(GMM3), samplers=["ode_euler", "em"], ladder=[31],
                       n=500, cancelled=cancelled)  # fmt: skip
    assert entries == [] and calls["n"] == 5


def test_a_race_cancelled_between_runs_keeps_what_finished():
    stop = []
    entries = run_race(GMM3.score_fn(SDE), SDE, _target_sampler(GMM3), samplers=["ode_euler", "em"], ladder=[31],
                       n=500, callback=stop.append, cancelled=lambda: bool(stop))  # fmt: skip
    assert [e.sampler for e in entries] == ["ode_euler"]


def test_a_model_space_race_maps_its_samples_to_data():
    shift = torch.tensor([10.0, 0.0])
    entries = run_race(GMM3.score_fn(SDE), SDE, _target_sampler(GMM3), samplers=["ode_heun"], ladder=[41], n=2000,
                       to_data=lambda x: x + shift)  # fmt: skip
    assert entries[0].swd_ratio > 10
