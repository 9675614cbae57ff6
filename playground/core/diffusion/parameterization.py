"""Conversions between network output kinds (eps, score, x0/denoiser) and EDM preconditioning.

With x_t = alpha x0 + sigma eps: score = -eps / sigma = (alpha D - x_t) / sigma^2 (SCIENCE.md; Song et al. 2021).
EDM (Karras et al. 2022, Table 1), in sigma-space y = x_t / alpha = x0 + sigma_edm n with sigma_data = 0.5:
c_skip = sd^2 / (s^2 + sd^2), c_out = s sd / sqrt(s^2 + sd^2), c_in = 1 / sqrt(s^2 + sd^2), c_noise = ln(s) / 4.
"""

from __future__ import annotations

from typing import Literal

import torch

from playground.core.diffusion.sde import bcast

OutputKind = Literal["eps", "score", "x0", "edm"]
OUTPUT_KINDS: tuple[str, ...] = ("eps", "score", "x0", "edm")
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


def to_score(kind: str, out: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Convert a network output of `kind` ('eps', 'score' or 'x0' / 'edm' denoiser) at x_t into the score."""
    if kind == "eps":
        return eps_to_score(out, std)
    if kind == "score":
        return out
    if kind in ("x0", "edm"):
        return x0_to_score(out, x, alpha, std)
    raise ValueError(f"unknown output kind {kind!r}; choose one of {OUTPUT_KINDS}")
