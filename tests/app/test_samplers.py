"""The samplers as the app offers them: every core sampler has a spec (name, family, options within the core's
signature), option strings round-trip, a sampler that does not apply says why, and how each spends the step budget."""

import inspect

import pytest

from playground.app.samplers import (
    RK45_MAX_FRAMES,
    SPECS,
    describe_options,
    format_options,
    parse_options,
    sample_steps_for,
    sampler_name,
    sampler_problem,
    sampler_steps,
    side_changes,
    side_choice,
)
from playground.app.settings import Settings
from playground.core.sampling.samplers import SAMPLERS


def test_every_core_sampler_is_offered_with_options_it_takes():
    assert set(SPECS) == set(SAMPLERS)
    for key, spec in SPECS.items():
        accepted = inspect.signature(SAMPLERS[key]).parameters
        for opt in spec.options:
            assert opt.key in accepted, (key, opt.key)
            assert opt.check(opt.default) == opt.default and opt.tip
    assert sampler_name("ode_heun") == "Heun" and sampler_name("mystery") == "mystery"


def test_options_round_trip_and_bad_entries_fall_back_to_defaults():
    opts = {"predictor": "em", "corrector": "ald", "snr": 0.2, "n_corrector": 3}
    text = format_options("pc", opts)
    assert parse_options("pc", text) == opts
    assert format_options("pc", SPECS["pc"].defaults()) == ""  # defaults are not written
    assert parse_options("pc", "snr=abc,n_corrector=99,bogus=1,predictor=zigzag") == SPECS["pc"].defaults()
    assert describe_options("ddim", {"eta": 0.5}) == "η 0.5"
    with pytest.raises(ValueError, match="between 0 and 1"):
        SPECS["ddim"].option("eta").check(2.0)
    s = Settings(**side_changes("ode", "annealed_langevin", {"levels": 10, "eps": 1e-4}))
    assert side_choice(s, "ode") == ("annealed_langevin", {"levels": 10, "eps": 1e-4})
    assert side_choice(s, "sde") == ("em", {"stochasticity": 1.0})
    assert format_options("em", {"stochasticity": 0.5}) == "stochasticity=0.5" and format_options("em", {"stochasticity": 1.0}) == ""


def test_a_sampler_that_cannot_run_says_why():
    assert "too few" in sampler_problem("annealed_langevin", {"levels": 30, "eps": 5e-5}, 20)
    assert sampler_problem("annealed_langevin", {"levels": 30, "eps": 5e-5}, 30) is None
    assert "needs a corrector" in sampler_problem("pc", {"predictor": "none", "corrector": "none"}, 100)
    assert sampler_problem("pc", {"predictor": "none", "corrector": "ald", "n_corrector": 1}, 100) is None
    assert all(sampler_problem(k, s.defaults(), 200) is None for k, s in SPECS.items())


def test_steps_spend_about_the_same_budget_on_both_sides():
    for n in (2, 10, 99, 100, 5000):
        assert sampler_steps("ode_euler", n) == n == sampler_steps("em", n)  # 1 NFE a step
        heun = sampler_steps("ode_heun", n)
        assert 2 * heun - 1 in (n, n + 1) and sampler_steps("edm_heun", n) == heun  # 2 NFE a step, 1 for the last
        assert sampler_steps("ode_rk45", n) == min(n, RK45_MAX_FRAMES)
    assert sampler_steps("ode_heun", 1) == 2 and sampler_steps("ode_euler", 0) == 1 and sampler_steps("ode_rk45", 0) == 1


def test_rectified_flow_samples_its_reverse_sde_ancestrally():
    from playground.app.samplers import RF_SDE_SAMPLER, sde_sampler_for

    assert RF_SDE_SAMPLER == "ancestral" and sde_sampler_for("rf", "em") == "ancestral"
    assert sde_sampler_for("rf", "pc") == "pc" and sde_sampler_for("vp", "em") == "em"
    assert sde_sampler_for("vp", "ancestral") == "ancestral"


def test_sample_steps_for_inverts_sampler_steps():
    """The setting a Race point loads gives its sampler exactly the steps it raced with."""
    for key in SPECS:
        if key == "ode_rk45":
            continue  # its steps are output frames, capped: not raced
        for steps in range(2, 600):
            assert sampler_steps(key, sample_steps_for(key, steps)) == steps, (key, steps)
