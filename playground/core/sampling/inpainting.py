"""Imputation / inpainting by the replacement method (Song et al. 2021, App. I.2; Song & Ermon 2019 for Langevin).

Given an observation y and a mask of known entries, run the reverse process on the whole state and, after every
predictor and corrector step at time t, overwrite the known entries with a fresh forward-noised copy of the
observation, y_t = alpha(t) y + sigma(t) z (`SDE.perturb`). At the end the known entries are set to the observation
exactly.

This is an *approximation*: the unknown part is driven by the score of the joint p_t(x) evaluated at a noisy copy of
the observation, not by grad log p_t(x_unknown | y), so the samples are biased. For a 2D Gaussian with correlation
rho = 0.9, x1 = 1 observed and the exact score (VP SDE), the imputed x2 has mean ~0.63 and variance ~0.31 against
the exact conditional 0.90 / 0.19 (SCIENCE.md; reproduced in tests/core/test_inpainting.py; the PF-ODE predictor
is worse, ~0.45 / 0.43). Langevin corrector steps reduce the bias a lot: they are MCMC on p_t with the known part
clamped near the observation, which pulls the unknown part towards its conditional (one corrector step per
predictor step, snr 0.16,
250 steps: ~0.83 / 0.22 with VP, ~0.90 / 0.20 with VE, in the same test). The method is nonetheless the standard,
training-free one, and looks convincing on images.

Two ways to use it:
- `inpaint(score_fn, sde, observation, known, ...)`: a complete predictor (+ optional Langevin corrector) loop
  like the samplers' `pc`, predictor 'em' (Euler-Maruyama reverse SDE), 'reverse_diffusion' or 'ode_euler'
  (probability-flow ODE); it returns the samplers' `SampleResult` and calls back with their `StepInfo`.
- `replace_known(x, observation, known, sde, t)`: the projection alone, for any sampler-like loop of your own that
  can modify its state between steps (call it after each step at the step's new time, and `finalize` at the end).

Mask convention: `known` is 1 / True where the value is observed (kept) and 0 / False where it is generated. It
must broadcast against x, e.g. (N, C, H, W), (1, C, H, W), (C, H, W) or (H, W) for images and (N, 2) or (2,) for
points.
"""

from __future__ import annotations

from typing import Callable

import torch

from playground.core.diffusion.sde import SDE, ScoreFn, time_vector
from playground.core.sampling.pc_steps import PredictorFn, em_predictor, langevin_corrector, reverse_diffusion_predictor
from playground.core.sampling.samplers import SampleResult, StepInfo, tweedie_denoise


def ode_euler_predictor(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Euler step of the PF-ODE dx/dt = f - g^2 s / 2 from t to t_next (Song et al. 2021, Eq. 13)."""
    return x - (t - t_next) * sde.reverse(score_fn, probability_flow=True).sde(x, t)[0]


PREDICTORS: dict[str, PredictorFn] = {
    "em": em_predictor, "reverse_diffusion": reverse_diffusion_predictor, "ode_euler": ode_euler_predictor,
}


def _prepare(observation: torch.Tensor, known, x_shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
    obs = torch.as_tensor(observation)
    if obs.shape != x_shape:
        if obs.shape == x_shape[1:]:
            obs = obs.unsqueeze(0)
        try:
            obs = obs.expand(x_shape)
        except RuntimeError:
            raise ValueError(
                f"observation of shape {tuple(observation.shape)} does not fit samples {tuple(x_shape)}"
            ) from None
    m = torch.as_tensor(known)
    if m.dtype == torch.bool:
        m = m.to(obs.dtype)
    else:
        if not ((m == 0) | (m == 1)).all():
            raise ValueError("the known mask must be boolean or hold only 0 and 1")
        m = m.to(obs.dtype)
    if m.ndim == len(x_shape) - 1:
        m = m.unsqueeze(0)
    try:
        m = m.expand(x_shape)
    except RuntimeError:
        shape = tuple(torch.as_tensor(known).shape)
        raise ValueError(f"known mask of shape {shape} does not fit samples {tuple(x_shape)}") from None
    return obs, m


def replace_known(
    x: torch.Tensor, observation: torch.Tensor, known, sde: SDE, t: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """x with its known entries replaced by alpha(t) y + sigma(t) z, z ~ N(0, I) drawn fresh (a new tensor)."""
    obs, m = _prepare(observation.to(x.device, x.dtype), torch.as_tensor(known, device=x.device), x.shape)
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    noisy = sde.perturb(obs, time_vector(t, x), noise=z)
    return torch.where(m.bool(), noisy, x)


def finalize(x: torch.Tensor, observation: torch.Tensor, known) -> torch.Tensor:
    """The final state: known entries set exactly to the observation (bit for bit), the rest kept."""
    obs, m = _prepare(observation.to(x.device, x.dtype), torch.as_tensor(known, device=x.device), x.shape)
    return torch.where(m.bool(), obs, x)


def inpaint(
    score_fn: ScoreFn,
    sde: SDE,
    observation: torch.Tensor,
    known,
    *,
    n: int | None = None,
    steps: int = 500,
    predictor: str = "em",
    corrector_steps: int = 0,
    snr: float = 0.16,
    denoise_last: bool = True,
    generator: torch.Generator | None = None,
    x_T: torch.Tensor | None = None,
    callback: Callable[[StepInfo], None] | None = None,
    trajectory_stride: int = 0,
) -> SampleResult:
    """Fill in the unknown entries of `observation` (see the module docstring; approximate).

    observation: the batch (N, ...); or, with n given, one sample (...) without a batch dimension, imputed n
    times; known: the mask (1 = observed); x_T: the start (default: a prior sample). The loop follows the
    samplers' `pc` (Song et al. 2021, Alg. 1 and the reference inpainter): on the uniform grid T = t_0 > ... >
    t_steps = sde.sampling_eps, step i runs `corrector_steps` Langevin steps at t_i (step 2 alpha_i (snr |z| / |s|)^2,
    batch-mean norms) and then the predictor from t_i to t_{i+1} ('em': Euler-Maruyama on the reverse SDE;
    'reverse_diffusion': the discretised reverse SDE; 'ode_euler': Euler on the PF-ODE), each followed by the
    replacement. denoise_last: a final Tweedie step x0 = (x + sigma^2 s) / alpha at t_steps (reported at t = 0).
    NFE = steps * (1 + corrector_steps) + denoise_last. Returns the samplers' SampleResult (the known entries of
    x equal the observation exactly); callback(StepInfo) after every step (i = 0 .. steps - 1), the trajectory
    every trajectory_stride steps (x_T first, the final x last).
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; choose one of {', '.join(PREDICTORS)}")
    if steps < 1 or corrector_steps < 0 or trajectory_stride < 0:
        raise ValueError(
            f"need steps >= 1, corrector_steps >= 0, trajectory_stride >= 0; got {steps}, {corrector_steps}, "
            f"{trajectory_stride}"
        )
    obs = torch.as_tensor(observation)
    if not obs.is_floating_point():
        obs = obs.float()
    if x_T is not None:
        x = x_T.clone()
    else:
        shape = (int(n), *obs.shape) if n is not None else tuple(obs.shape)
        x = sde.prior_sample(shape, generator=generator, device=obs.device, dtype=obs.dtype)
    obs, m = _prepare(obs.to(x.device, x.dtype), torch.as_tensor(known, device=x.device), x.shape)

    nfe = 0

    def score(xx, tt):
        nonlocal nfe
        nfe += 1
        return score_fn(xx, tt)

    times = torch.linspace(sde.T, sde.sampling_eps, steps + 1, dtype=torch.float64).tolist()
    states = [x.detach().clone()] if trajectory_stride else []
    kept_t = [float(sde.T)] if trajectory_stride else []
    step = PREDICTORS[predictor]
    with torch.no_grad():
        x = replace_known(x, obs, m, sde, times[0], generator)
        for i in range(steps):
            t, t_next = times[i], times[i + 1]
            for _ in range(corrector_steps):
                x = langevin_corrector(score, sde, x, t, t_next, snr, generator)
                x = replace_known(x, obs, m, sde, t, generator)
            x = step(score, sde, x, t, t_next, generator)
            x = replace_known(x, obs, m, sde, t_next, generator)
            if i == steps - 1:
                if denoise_last:
                    x, t_next = tweedie_denoise(score, sde, x, t_next), 0.0
                x = finalize(x, obs, m)
            if callback is not None:
                callback(StepInfo(i, steps, float(t_next), x, nfe))
            if trajectory_stride and ((i + 1) % trajectory_stride == 0 or i + 1 == steps):
                states.append(x.detach().clone())
                kept_t.append(float(t_next))
    if not trajectory_stride:
        return SampleResult(x, nfe)
    return SampleResult(x, nfe, torch.stack(states), torch.tensor(kept_t, dtype=torch.float64))

