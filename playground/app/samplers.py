"""The samplers as the app offers them (Qt-free): their display names, how the one 'sampling steps' setting is
spent on the ODE side so that both sides of a comparison spend a similar budget, and the reverse-SDE sampler an SDE
starts with."""

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
RF_SDE_SAMPLER = "ancestral"
"""The reverse-SDE sampler that replaces Euler–Maruyama when the SDE becomes rectified flow: rf's g(t)² = 2t / (1 − t)
is ~2000 at T = 0.999, so EM's first step x -= [f − g² s] h moves x by ~g² h |s| (10 prior std at 200 steps, 100 at
20; measured with the exact 8-Gaussians score: |y| reaches 19 resp. 209 after one step, so the particles leave the
view and a learned score is asked far outside its training data). The ancestral step samples the exact Gaussian
posterior of the path between grid points (DDPM's step for VP), at EM's cost of one score a step, and its particles
never leave the data's range (max |y| 4.2 on the same test)."""


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


def sde_sampler_for(sde: str, sampler: str) -> str:
    """The reverse-SDE sampler to use after switching to SDE `sde` from `sampler`: Euler–Maruyama becomes
    RF_SDE_SAMPLER under rectified flow (see there); every other choice is kept."""
    return RF_SDE_SAMPLER if sde == "rf" and sampler == "em" else sampler


__all__ = ["RF_SDE_SAMPLER", "RK45_MAX_FRAMES", "SAMPLER_NAMES", "ode_steps", "sampler_name", "sde_sampler_for"]
