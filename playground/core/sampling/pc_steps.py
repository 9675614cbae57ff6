"""Predictor and corrector steps of predictor-corrector sampling (Song et al. 2021, Sec. 4.2 and App. G; score_sde's
sampling.py), one step each, shared by the samplers' loops and inpainting.

A predictor moves x from grid time t to t_next < t; a corrector runs one MCMC step at t (t_next only sets alpha_i).
Both follow the caller's own time grid: alpha_i and the discretisation come from the SDE's exact transition
t_next -> t (`SDE.transition_coefficients`), so any grid, uniform or not, of any length is valid.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from playground.core.diffusion.sde import SDE, VESDE, VPSDE, ScoreFn, SubVPSDE, bcast, time_vector


def coefficients(sde: SDE, t: float) -> tuple[float, float]:
    """(alpha(t), std(t)) as floats."""
    alpha, std = sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64))
    return float(alpha), float(std)


def noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """N(0, I) of x's shape, dtype and device from `generator`."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


PredictorFn = Callable[[ScoreFn, SDE, torch.Tensor, float, float, "torch.Generator | None"], torch.Tensor]
CorrectorFn = Callable[[ScoreFn, SDE, torch.Tensor, float, float, float, "torch.Generator | None"], torch.Tensor]


def em_predictor(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, generator: torch.Generator | None,
    stochasticity: float = 1.0,
) -> torch.Tensor:  # fmt: skip
    """Euler-Maruyama step t -> t_next of the reverse process dx = [f - (1 + lam^2) / 2 g^2 s] dt + lam g dw_bar
    (Song et al. 2021, Eq. 6 at lam = 1; App. D.1). The Brownian increment is drawn at every lam, lam = 0 included,
    so one generator gives every lam the same increments."""
    h = t - t_next
    drift, g = sde.reverse(score_fn, stochasticity=stochasticity).sde(x, t)
    return x - drift * h + bcast(g, x) * math.sqrt(h) * noise(x, generator)


def reverse_diffusion_predictor(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, generator: torch.Generator | None
) -> torch.Tensor:
    """x <- x - f_i + G_i^2 s + G_i z, undoing the forward step t_next -> t (SDE.discretize; Song et al. 2021, App. E)."""
    rev_f, G = sde.reverse(score_fn).discretize(x, t, t_next)
    return x - rev_f + bcast(G, x) * noise(x, generator)


def ddim_step(
    x: torch.Tensor, score: torch.Tensor, now: tuple[float, float], nxt: tuple[float, float], eta: float,
    generator: torch.Generator | None,
) -> torch.Tensor:  # fmt: skip
    """One DDIM step (Song, Meng & Ermon 2021, Eq. 12) from (alpha, std) = now to nxt given the score at x (see
    `samplers.ddim`); eta = 1 draws from the posterior of the path's exact transition (DDPM's, Ho et al. 2020 Eq. 7)."""
    (alpha, std), (alpha_next, std_next) = now, nxt
    x0 = (x + std * std * score) / alpha
    eps = -std * score
    forward_var = max(std * std - (alpha / alpha_next) ** 2 * std_next * std_next, 0.0)
    var = min(eta * eta * std_next * std_next * forward_var / (std * std), std_next * std_next)
    x = alpha_next * x0 + math.sqrt(std_next * std_next - var) * eps
    if var > 0:
        x = x + math.sqrt(var) * noise(x, generator)
    return x


def ancestral_predictor(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Ancestral step from t to t_next (Song et al. 2021, App. F; Ho et al. 2020, Eq. 11; the SMLD posterior).

    VP: beta_i = 1 - (alpha(t) / alpha(t_next))^2, x <- (x + beta_i s) / sqrt(1 - beta_i) + sqrt(beta_i) z.
    VE: x <- x + (s_i^2 - s_{i+1}^2) s + sqrt(s_{i+1}^2 (s_i^2 - s_{i+1}^2) / s_i^2) z with s_i = sigma(t).
    Any other SDE (sub-VP, rf): a draw from the posterior q(x_s | x_t, x0 = D(x_t)) of the path's exact Gaussian
    transition s = t_next -> t (DDPM's posterior for the path's alpha and sigma), i.e. `ddim_step` at eta = 1.
    """
    s = score_fn(x, time_vector(t, x))
    if isinstance(sde, VESDE):
        std, std_next = coefficients(sde, t)[1], coefficients(sde, t_next)[1]
        jump = std * std - std_next * std_next
        return x + jump * s + math.sqrt(std_next * std_next * jump / (std * std)) * noise(x, generator)
    if isinstance(sde, VPSDE) and not isinstance(sde, SubVPSDE):
        a, _ = sde.transition_coefficients(t_next, t)
        beta = 1.0 - float(a) ** 2
        return (x + beta * s) / math.sqrt(1.0 - beta) + math.sqrt(beta) * noise(x, generator)
    return ddim_step(x, s, coefficients(sde, t), coefficients(sde, t_next), 1.0, generator)


def no_predictor(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, generator: torch.Generator | None
) -> torch.Tensor:
    """No move (corrector-only sampling, score_sde's NonePredictor): 0 NFE."""
    return x


def langevin_corrector(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, snr: float,
    generator: torch.Generator | None,
) -> torch.Tensor:  # fmt: skip
    """x <- x + e s + sqrt(2 e) z with e = 2 alpha_i (r |z| / |s|)^2, batch-mean norms (Song et al. 2021, Alg. 4/5)."""
    s = score_fn(x, time_vector(t, x))
    z = noise(x, generator)
    grad_norm = s.reshape(len(s), -1).norm(dim=-1).mean()
    noise_norm = z.reshape(len(z), -1).norm(dim=-1).mean()
    step = 2 * float(sde.langevin_alpha(t, t_next)) * (snr * noise_norm / grad_norm) ** 2
    return x + step * s + torch.sqrt(2 * step) * z


def ald_corrector(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float, t_next: float, snr: float,
    generator: torch.Generator | None,
) -> torch.Tensor:  # fmt: skip
    """Annealed Langevin step at t: x <- x + e s + sqrt(2 e) z with e = 2 alpha_i (r std(t))^2 (Song & Ermon 2019,
    Alg. 1 with the step tied to the marginal std; score_sde's AnnealedLangevinDynamics)."""
    s = score_fn(x, time_vector(t, x))
    step = 2 * float(sde.langevin_alpha(t, t_next)) * (snr * coefficients(sde, t)[1]) ** 2
    return x + step * s + math.sqrt(2 * step) * noise(x, generator)


PREDICTORS: dict[str, PredictorFn] = {
    "reverse_diffusion": reverse_diffusion_predictor,
    "em": em_predictor,
    "ancestral": ancestral_predictor,
    "none": no_predictor,
}
CORRECTORS: dict[str, CorrectorFn | None] = {"langevin": langevin_corrector, "ald": ald_corrector, "none": None}
