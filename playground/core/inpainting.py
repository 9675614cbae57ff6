"""Imputation / inpainting by the replacement method (Song et al. 2021, App. I.2; Song & Ermon 2019 for Langevin).

Given an observation y and a mask of known entries, run the reverse process on the whole state and, after every
predictor and corrector step at time t, overwrite the known entries with a fresh forward-noised copy of the
observation, y_t = alpha(t) y + sigma(t) z (`SDE.perturb`). At the end the known entries are set to the observation
exactly.

This is an *approximation*: the unknown part is driven by the score of the joint p_t(x) evaluated at a noisy copy of
the observation, not by grad log p_t(x_unknown | y), so the samples are biased. For a 2D Gaussian with correlation
rho = 0.9, x1 = 1 observed and the exact score (VP SDE), the imputed x2 has mean ~0.63 and variance ~0.31 against
the exact conditional 0.90 / 0.19 (SCIENCE.md; reproduced in tests/core/test_inpainting.py; the PF-ODE predictor
is worse, ~0.44 / 0.44). Langevin corrector steps help a lot: they are MCMC on p_t with the known part clamped near
the observation, so as t -> 0 they target the true conditional (one corrector step per predictor step, snr 0.16,
gives ~0.89 / 0.20 in the same test). The method is nonetheless the standard, training-free one, and looks
convincing on images.

Two ways to use it:
- `inpaint(score_fn, sde, observation, known, ...)`: a complete predictor (+ optional Langevin corrector) loop,
  predictor 'em' (Euler-Maruyama reverse SDE) or 'ode_euler' (probability-flow ODE).
- `replace_known(x, observation, known, sde, t)`: the projection alone, for any sampler-like loop of your own that
  can modify its state between steps (call it after each step at the step's new time, and `finalize` at the end).

Mask convention: `known` is 1 / True where the value is observed (kept) and 0 / False where it is generated. It
must broadcast against x, e.g. (N, C, H, W), (1, C, H, W) or (C, H, W) for images and (N, 2) or (2,) for points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from playground.core.sde import SDE, ScoreFn, bcast, time_vector

PREDICTORS = ("em", "ode_euler")


@dataclass
class InpaintStep:
    """Passed to the callback after every step: step index i (1..steps), steps, time t (float), state x."""

    i: int
    steps: int
    t: float
    x: torch.Tensor


@dataclass
class InpaintResult:
    """Same fields as the samplers' SampleResult: final x (known entries = observation), network evaluations,
    trajectory (K, N, ...) every trajectory_stride steps (None if 0), and the matching times (K,)."""

    x: torch.Tensor
    nfe: int
    trajectory: torch.Tensor | None = None
    times: torch.Tensor | None = None


def _prepare(observation: torch.Tensor, known, x_shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
    obs = torch.as_tensor(observation)
    if obs.shape != x_shape:
        if obs.shape == x_shape[1:]:
            obs = obs.unsqueeze(0)
        try:
            obs = obs.expand(x_shape)
        except RuntimeError:
            raise ValueError(f"observation of shape {tuple(observation.shape)} does not fit samples {tuple(x_shape)}") from None
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
        raise ValueError(f"known mask of shape {tuple(torch.as_tensor(known).shape)} does not fit samples {tuple(x_shape)}") from None
    return obs, m


def replace_known(
    x: torch.Tensor, observation: torch.Tensor, known, sde: SDE, t: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """x with its known entries replaced by alpha(t) y + sigma(t) z, z ~ N(0, I) drawn fresh (a new tensor)."""
    obs, m = _prepare(observation.to(x.device, x.dtype), torch.as_tensor(known, device=x.device), x.shape)
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    noisy = sde.perturb(obs, time_vector(t, x), noise=z)
    return m * noisy + (1 - m) * x


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
    eps: float | None = None,
    denoise_last: bool = True,
    generator: torch.Generator | None = None,
    x_T: torch.Tensor | None = None,
    callback: Callable[[InpaintStep], None] | None = None,
    trajectory_stride: int = 0,
) -> InpaintResult:
    """Fill in the unknown entries of `observation` (see the module docstring; approximate).

    observation: the batch (N, ...); or, with n given, one sample (...) without a batch dimension, imputed n
    times; x_T: the start (default: a prior sample); known: the mask (1 = observed); steps: predictor
    steps on a uniform grid from T to eps (default sde.sampling_eps); predictor: 'em' or 'ode_euler';
    corrector_steps: Langevin steps per predictor step with step 2 alpha_i (snr |z| / |s|)^2 (batch means of
    per-sample norms, Song et al. 2021 Alg. 4/5); denoise_last: finish with one Tweedie step
    x0 = (x + sigma^2 s) / alpha at t = eps (1 more evaluation). NFE = steps * (1 + corrector_steps) + denoise_last.
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; choose one of {PREDICTORS}")
    if steps < 1 or corrector_steps < 0:
        raise ValueError(f"need steps >= 1 and corrector_steps >= 0, got {steps}, {corrector_steps}")
    obs = torch.as_tensor(observation)
    if not obs.is_floating_point():
        obs = obs.float()
    if x_T is not None:
        x = x_T.clone()
    else:
        shape = (int(n), *obs.shape) if n is not None else tuple(obs.shape)
        x = sde.prior_sample(shape, generator=generator, device=obs.device, dtype=obs.dtype)
    obs = obs.to(x.device, x.dtype)
    obs, m = _prepare(obs, torch.as_tensor(known, device=x.device), x.shape)
    eps = sde.sampling_eps if eps is None else float(eps)
    times = torch.linspace(sde.T, eps, steps + 1, dtype=torch.float64)
    nfe = 0
    traj, traj_t = [], []

    def record(xc, tc):
        traj.append(xc.detach().clone())
        traj_t.append(float(tc))

    if trajectory_stride:
        record(x, times[0])
    x = replace_known(x, obs, m, sde, float(times[0]), generator)
    for i in range(steps):
        t, t_next = float(times[i]), float(times[i + 1])
        h = t - t_next
        tv = time_vector(t, x)
        f, g = sde.sde(x, tv)
        s = score_fn(x, tv)
        nfe += 1
        g2 = bcast(g * g, x)
        if predictor == "em":
            z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x - (f - g2 * s) * h + bcast(g, x) * math.sqrt(h) * z
        else:
            x = x - (f - 0.5 * g2 * s) * h
        x = replace_known(x, obs, m, sde, t_next, generator)
        for _ in range(corrector_steps):
            tn = time_vector(t_next, x)
            s = score_fn(x, tn)
            nfe += 1
            z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            s_norm = s.reshape(len(s), -1).norm(dim=1).mean()
            z_norm = z.reshape(len(z), -1).norm(dim=1).mean()
            a = sde.langevin_alpha(tn).to(x.device, x.dtype)
            step = 2 * a * (snr * z_norm / s_norm.clamp(min=1e-12)) ** 2
            x = x + bcast(step, x) * s + bcast(torch.sqrt(2 * step), x) * z
            x = replace_known(x, obs, m, sde, t_next, generator)
        if trajectory_stride and ((i + 1) % trajectory_stride == 0 or i + 1 == steps):
            record(x, t_next)
        if callback is not None:
            callback(InpaintStep(i + 1, steps, t_next, x))
    if denoise_last:
        tv = time_vector(eps, x)
        alpha, std = sde.marginal_coefficients(tv)
        s = score_fn(x, tv)
        nfe += 1
        x = (x + bcast(std * std, x) * s) / bcast(alpha, x)
    x = finalize(x, obs, m)
    if trajectory_stride:
        traj[-1] = x.detach().clone()
        traj_t[-1] = 0.0 if denoise_last else eps
    return InpaintResult(
        x, nfe, torch.stack(traj) if traj else None, torch.tensor(traj_t, dtype=torch.float64) if traj else None
    )

