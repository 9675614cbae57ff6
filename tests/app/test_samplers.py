"""The samplers as the app offers them: every sampler the settings offer has a display name; the ODE side's steps."""

from playground.app.samplers import RK45_MAX_FRAMES, SAMPLER_NAMES, ode_steps, sampler_name
from playground.app.state import ODE_SAMPLERS, SDE_SAMPLERS


def test_every_offered_sampler_has_a_display_name():
    assert set(SDE_SAMPLERS) | set(ODE_SAMPLERS) <= set(SAMPLER_NAMES)
    assert sampler_name("ode_heun") == "Heun" and sampler_name("mystery") == "mystery"


def test_ode_steps_spend_about_the_sde_budget():
    for n in (2, 10, 99, 100, 5000):
        assert ode_steps("ode_euler", n) == n  # 1 NFE a step, like Euler-Maruyama
        heun = ode_steps("ode_heun", n)
        assert 2 * heun - 1 in (n, n + 1)  # Heun: 2 NFE a step, 1 for the last (a denoise): about the SDE's n
        assert ode_steps("ode_rk45", n) == min(n, RK45_MAX_FRAMES)
    assert ode_steps("ode_heun", 1) == 2 and ode_steps("ode_euler", 0) == 1 and ode_steps("ode_rk45", 0) == 1


def test_rectified_flow_samples_its_reverse_sde_ancestrally():
    from playground.app.samplers import RF_SDE_SAMPLER, sde_sampler_for

    assert RF_SDE_SAMPLER == "ancestral" and sde_sampler_for("rf", "em") == "ancestral"
    assert sde_sampler_for("rf", "pc") == "pc" and sde_sampler_for("vp", "em") == "em"
    assert sde_sampler_for("vp", "ancestral") == "ancestral"
