"""Conversions between network output kinds (eps, score, x0/denoiser, v/velocity) and EDM preconditioning.

With x_t = alpha x0 + sigma eps: score = -eps / sigma = (alpha D - x_t) / sigma^2 (SCIENCE.md; Song et al. 2021).
Velocity (Lipman et al. 2023; Liu et al. 2023): v = alpha' x0 + sigma' eps = k_x x_t + k_eps eps with k_x = f(t) and
k_eps = g^2 / (2 sigma) (`SDE.velocity_coefficients`), so v = f x - g^2 s / 2 is the PF-ODE drift; for rectified
flow v = eps - x0. Every kind converts to every other exactly (affine maps through eps; `convert`).
EDM (Karras et al. 2022, Table 1), in sigma-space y = x_t / alpha = x0 + sigma_edm n with sigma_data = 0.5:
c_skip = sd^2 / (s^2 + sd^2), c_out = s sd / sqrt(s^2 + sd^2), c_in = 1 / sqrt(s^2 + sd^2), c_noise = ln(s) / 4.
"""

from __future__ import annotations

from typing import Literal

import torch

from playground.core.diffusion.sde import bcast

OutputKind = Literal["eps", "score", "x0", "edm", "v"]
OUTPUT_KINDS: tuple[str, ...] = ("eps", "score", "x0", "edm", "v")
VelocityCoefficients = tuple[torch.Tensor, torch.Tensor]
"""(k_x, k_eps) of `SDE.velocity_coefficients`: v = k_x x_t + k_eps eps."""
SIGMA_DATA = 0.5


def eps_to_score(eps: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """s = -eps / sigma."""
    return -eps / bcast(std, eps)


def score_to_eps(score: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """eps = -sigma s."""
    return -bcast(std, score) * score


def x0_to_score(x0: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """s = (alpha D - x_t) / sigma^2."""
    return (bcast(alpha, x) * x0 - x) / bcast(std * std, x)


def score_to_x0(score: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """D = (x_t + sigma^2 s) / alpha (Tweedie's formula)."""
    return (x + bcast(std * std, x) * score) / bcast(alpha, x)


def eps_to_x0(eps: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """D = (x_t - sigma eps) / alpha."""
    return (x - bcast(std, x) * eps) / bcast(alpha, x)


def x0_to_eps(x0: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """eps = (x_t - alpha D) / sigma."""
    return (x - bcast(alpha, x) * x0) / bcast(std, x)


def eps_to_velocity(eps: torch.Tensor, x: torch.Tensor, velocity: VelocityCoefficients) -> torch.Tensor:
    """v = k_x x_t + k_eps eps."""
    k_x, k_eps = velocity
    return bcast(k_x, x) * x + bcast(k_eps, x) * eps


def velocity_to_eps(v: torch.Tensor, x: torch.Tensor, velocity: VelocityCoefficients) -> torch.Tensor:
    """eps = (v - k_x x_t) / k_eps."""
    k_x, k_eps = velocity
    return (v - bcast(k_x, x) * x) / bcast(k_eps, x)


def to_eps(kind: str, out: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor,
           velocity: VelocityCoefficients | None = None) -> torch.Tensor:
    """eps_hat from a network output of `kind` at x_t ('v' needs the velocity coefficients)."""
    if kind == "eps":
        return out
    if kind == "score":
        return score_to_eps(out, std)
    if kind in ("x0", "edm"):
        return x0_to_eps(out, x, alpha, std)
    if kind == "v":
        return velocity_to_eps(out, x, _need_velocity(velocity))
    raise ValueError(f"unknown output kind {kind!r}; choose one of {OUTPUT_KINDS}")


def from_eps(kind: str, eps: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor,
             velocity: VelocityCoefficients | None = None) -> torch.Tensor:
    """The prediction of `kind` ('eps', 'score', 'x0' / 'edm' denoiser, 'v') that eps_hat at x_t implies."""
    if kind == "eps":
        return eps
    if kind == "score":
        return eps_to_score(eps, std)
    if kind in ("x0", "edm"):
        return eps_to_x0(eps, x, alpha, std)
    if kind == "v":
        return eps_to_velocity(eps, x, _need_velocity(velocity))
    raise ValueError(f"unknown output kind {kind!r}; choose one of {OUTPUT_KINDS}")


def convert(out: torch.Tensor, source: str, target: str, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor,
            velocity: VelocityCoefficients | None = None) -> torch.Tensor:
    """A prediction of kind `source` at x_t as kind `target` (through eps; the score <-> x0 pair directly)."""
    for kind in (source, target):
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r}; choose one of {OUTPUT_KINDS}")
    denoiser = ("x0", "edm")
    if source == target or (source in denoiser and target in denoiser):
        return out
    if source in denoiser and target == "score":
        return x0_to_score(out, x, alpha, std)
    if source == "score" and target in denoiser:
        return score_to_x0(out, x, alpha, std)
    return from_eps(target, to_eps(source, out, x, alpha, std, velocity), x, alpha, std, velocity)


def _need_velocity(velocity: VelocityCoefficients | None) -> VelocityCoefficients:
    if velocity is None:
        raise ValueError("the velocity output kind 'v' needs the SDE's velocity coefficients (k_x, k_eps)")
    return velocity


def edm_coefficients(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA):
    """(c_skip, c_out, c_in, c_noise) for noise level sigma (EDM Table 1)."""
    s2 = sigma * sigma
    d2 = sigma_data * sigma_data
    root = torch.sqrt(s2 + d2)
    return d2 / (s2 + d2), sigma * sigma_data / root, 1.0 / root, 0.25 * torch.log(sigma)


def edm_denoise(raw_net, y: torch.Tensor, sigma: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """D(y; sigma) = c_skip y + c_out F(c_in y, c_noise) for y = x0 + sigma n."""
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, sigma_data)
    return bcast(c_skip, y) * y + bcast(c_out, y) * raw_net(bcast(c_in, y) * y, c_noise)


def to_score(kind: str, out: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor,
             velocity: VelocityCoefficients | None = None) -> torch.Tensor:
    """Convert a network output of `kind` ('eps', 'score', 'x0' / 'edm' denoiser or 'v') at x_t into the score."""
    return convert(out, kind, "score", x, alpha, std, velocity)
