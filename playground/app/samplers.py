"""The samplers as the app offers them (Qt-free): their display names, and how the one 'sampling steps' setting is
spent on the ODE side so that both sides of a comparison spend a similar budget."""

from __future__ import annotations

SAMPLER_NAMES = {
    "em": "Euler–Maruyama",
    "pc": "predictor–corrector",
    "ancestral": "ancestral",
    "reverse_diffusion": "reverse diffusion",
    "ode_euler": "Euler",
    "ode_heun": "Heun",
    "ode_rk45": "adaptive RK45",
}
RK45_MAX_FRAMES = 25


def sampler_name(key: str) -> str:
    """The display name of sampler `key` (the key itself when it has none)."""
    return SAMPLER_NAMES.get(key, key)


def ode_steps(name: str, sample_steps: int) -> int:
    """Steps for the ODE side from the one `sample_steps` setting, so both sides spend a similar budget:
    Euler: the same steps; Heun (2 NFE a step, the last one a denoise): about half, for about the SDE's NFE;
    RK45: `steps` is its number of output frames (each an adaptive solve), at most RK45_MAX_FRAMES."""
    if name == "ode_heun":
        return max(2, (sample_steps + 2) // 2)
    if name == "ode_rk45":
        return max(1, min(sample_steps, RK45_MAX_FRAMES))
    return max(1, sample_steps)


__all__ = ["RK45_MAX_FRAMES", "SAMPLER_NAMES", "ode_steps", "sampler_name"]
