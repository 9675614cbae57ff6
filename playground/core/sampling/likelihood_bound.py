"""The continuous-time ELBO of a score model: an upper bound on -log p of its reverse SDE (Song, Durkan, Murray &
Ermon 2021, "Maximum likelihood training of score-based diffusion models", Sec. 4.2, Theorem 3).

The model's reverse SDE dx = [f - g^2 s_theta] dt + g dw_bar started from the prior pi at T (their Eq. 5) has a
density p^SDE_theta that, unlike the PF-ODE's p^ODE_theta (`likelihood.log_likelihood`), cannot be evaluated; Theorem 3
bounds it for every data point x through the forward transition p_0t(x' | x):

    -log p^SDE_theta(x) <= L^DSM(x) = -E[log pi(x_T)]
                                      + 1/2 int_0^T E[g^2 |s_theta(x_t, t) - grad log p_0t(x_t | x)|^2] dt
                                      - 1/2 int_0^T E[g^2 |grad log p_0t(x_t | x)|^2 + 2 div f(x_t, t)] dt,

Averaged over the data, E_p[L^DSM] - H(p) = J_SM(theta; g^2) + KL(p_T || pi) >= KL(p || p^SDE_theta), Theorem 1's
bound, with J_SM = 1/2 int E_p_t[g^2 |s_theta - grad log p_t|^2] dt (their Eq. 3): with the exact score and
pi = p_T the bound is tight, and otherwise its mean gap is exactly J_SM + KL(p_T || pi) (the tests check both on a
Gaussian).

As in `log_likelihood`, x is read at t = eps (default `sde.likelihood_eps`) and the SDE runs on [eps, T], so the
bound is on the same density p_eps that the PF-ODE likelihood evaluates (no Gaussian decoder term; score_flow's
eps_offset would bound p_0 instead). Estimator, for the linear SDEs here (f = c(t) x, x_t = a x + sqrt(v) e with
(a, v) = `SDE.transition_coefficients(eps, t)`, grad log p_0t = -e / sqrt(v)):

- -E log pi(x_T) is exact for the Gaussian prior N(0, P^2 I): D/2 log(2 pi P^2) + (a_T^2 |x|^2 + D v_T) / (2 P^2);
- int E[div f] dt = D log a_T exactly (a_T = exp(int c dt));
- the two score terms combine to 1/2 int g^2 E[|s|^2 + 2 s . e / sqrt(v)] dt (the |grad log p_0t|^2 parts cancel in
  expectation and are done in closed form), estimated with `n_times` times stratified under an importance density
  (`_time_density`; cf. Song et al.'s importance sampling of t, Sec. 5.1), antithetic noise pairs +-e
  (which cancel the odd, 1 / sqrt(v)-sized part of s . e / sqrt(v)) and a control variate: the same terms for a
  Gaussian score, whose fluctuation is known in closed form.

Units: nats per sample (plus `log_det_jacobian` for a model on normalised data), bits/dim with the 8-bit offset as
in `LikelihoodResult`. Unbiased for the bound, with a Monte Carlo standard error per sample from the strata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from playground.core.diffusion.sde import SDE, ScoreFn, bcast


@dataclass
class LikelihoodBound:
    """Per-sample continuous-time ELBO terms, shape (N,) each, in nats.

    nll_bound: the bound on -log p^SDE_eps(x), including log_det_jacobian (as a NLL: minus it). prior_term:
    -E log pi(x_T). score_term: 1/2 int g^2 E[|s|^2 + 2 s . e / sqrt(v)] dt (Monte Carlo). drift_term: -D log a_T.
    nll_sem: the Monte Carlo standard error of nll_bound, from the differences of adjacent strata (one draw per
    stratum: sum_j (h_2j - h_2j+1)^2 / K^2 estimates the variance, slightly high for a curved integrand).
    nfe: score calls (each on a batch of 2 x the chunk)."""

    nll_bound: torch.Tensor
    prior_term: torch.Tensor
    score_term: torch.Tensor
    drift_term: torch.Tensor
    nll_sem: torch.Tensor
    n_times: int
    nfe: int
    dim: int
    eps: float
    log_det_jacobian: float = 0.0

    @property
    def mean_nll_bound(self) -> float:
        return float(self.nll_bound.mean())

    def bits_per_dim(self, offset: float = 8.0) -> torch.Tensor:
        """nll_bound / (D ln 2) + offset; offset 8 = log2(256) for dequantised 8-bit data scaled to [0, 1]."""
        return self.nll_bound / (self.dim * math.log(2.0)) + offset


def likelihood_bound(
    score_fn: ScoreFn,
    sde: SDE,
    x: torch.Tensor,
    *,
    eps: float | None = None,
    n_times: int = 64,
    seed: int = 0,
    log_det_jacobian: float = 0.0,
    batch_size: int | None = None,
    dtype: torch.dtype | None = None,
) -> LikelihoodBound:
    """The continuous-time ELBO (module docstring) of each sample of x (N, ...) read at t = eps.

    n_times: stratified time points per sample, even (2 score evaluations each, at x_t and its antithetic twin).
    batch_size splits x into chunks; dtype sets the precision (default x's; the score is called in it)."""
    x = torch.as_tensor(x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"likelihood_bound needs a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    eps = sde.likelihood_eps if eps is None else eps
    if not 0 < eps < sde.T:
        raise ValueError(f"eps must lie in (0, T), got {eps}")
    if n_times < 2 or n_times % 2:
        raise ValueError(f"n_times must be even and >= 2 (the standard error pairs adjacent strata), got {n_times}")
    dtype = dtype or (x.dtype if x.is_floating_point() else torch.float32)
    x = x.detach().to(dtype)
    dim = x[0].numel()
    generator = torch.Generator(device=x.device).manual_seed(seed)
    chunks = [x] if not batch_size or batch_size >= len(x) else list(torch.split(x, batch_size))
    strata = torch.cat([_score_strata(score_fn, sde, c, eps, n_times, generator) for c in chunks])  # (N, K)

    a_T, v_T = (float(c) for c in sde.transition_coefficients(eps, sde.T))
    p2 = sde.prior_std**2
    sq = x.reshape(len(x), -1).pow(2).sum(1)
    prior_term = 0.5 * dim * math.log(2 * math.pi * p2) + (a_T * a_T * sq + dim * v_T) / (2 * p2)
    drift_term = torch.full_like(prior_term, -dim * math.log(a_T))
    score_term = strata.mean(1)
    nll = prior_term + score_term + drift_term - log_det_jacobian
    return LikelihoodBound(
        nll_bound=nll, prior_term=prior_term, score_term=score_term, drift_term=drift_term,
        nll_sem=(strata[:, 0::2] - strata[:, 1::2]).pow(2).sum(1).sqrt() / n_times, n_times=n_times,
        nfe=len(chunks) * n_times, dim=dim, eps=eps, log_det_jacobian=log_det_jacobian,
    )


def _time_density(sde: SDE, eps: float, data_var: float, points: int = 20001) -> tuple[torch.Tensor, torch.Tensor]:
    """(grid, cdf) of the importance density of t on [eps, T], piecewise constant between the grid points: an even
    mixture of q1 ~ g^2 / (a^2 var + v), the integrand's own scale (|s|^2 ~ D / (a^2 var + v) for a Gaussian of
    variance var; it resolves VP's large-t weight and rectified flow's g^2 = 2t / (1 - t) spike near T), and
    q2 ~ 1 / sqrt(t - eps), for the data's curvature just after eps (t = eps + (T - eps) u^2 with u uniform)."""
    u = torch.linspace(0.0, 1.0, points, dtype=torch.float64)
    t = eps + (sde.T - eps) * u * u
    a, v = sde.transition_coefficients(torch.full_like(t, eps), t)
    w = sde.diffusion(t) ** 2 / (a * a * data_var + v)
    mass = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(0.5 * (w[1:] + w[:-1]) * (t[1:] - t[:-1]), 0)])
    return t, 0.5 * mass / mass[-1] + 0.5 * u


def _draw_times(grid: torch.Tensor, cdf: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse-CDF times for u in [0, 1) and their density under the piecewise-constant q (exact for that q)."""
    i = torch.searchsorted(cdf, u.contiguous(), right=True).clamp(1, len(cdf) - 1) - 1
    width, mass = grid[i + 1] - grid[i], cdf[i + 1] - cdf[i]
    return grid[i] + (u - cdf[i]) / mass * width, mass / width


@torch.no_grad()
def _score_strata(
    score_fn: ScoreFn, sde: SDE, x: torch.Tensor, eps: float, n_times: int, generator: torch.Generator
) -> torch.Tensor:
    """(N, n_times): per stratum k of q, g^2 / (2 q(t)) (|s|^2 + 2 s . e / sqrt(v) - control) over the pair +-e."""
    n, d = len(x), x[0].numel()
    data_var = float(x.double().var()) if x.numel() > 1 else 1.0
    data_var = data_var if data_var > 0 else 1.0
    grid, cdf = _time_density(sde, eps, data_var)
    u = (torch.arange(n_times, dtype=torch.float64) + torch.rand(n, n_times, generator=generator,
                                                                  dtype=torch.float64)) / n_times
    out = torch.empty(n, n_times, dtype=torch.float64)
    for k in range(n_times):
        t, q = _draw_times(grid, cdf, u[:, k])  # (N,) each
        a, v = sde.transition_coefficients(torch.full_like(t, eps), t)
        g2 = sde.diffusion(t) ** 2
        e = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        mean = bcast(a, x) * x
        noise = bcast(v.sqrt(), x) * e
        tt = torch.cat([t, t]).to(x.device, x.dtype)
        s = score_fn(torch.cat([mean + noise, mean - noise]), tt).reshape(2, n, -1)
        e_flat = e.reshape(1, n, -1)
        norm2 = s.pow(2).sum(-1).cpu().double()  # (2, N)
        dot = (s * e_flat).sum(-1).cpu().double() * torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
        # control variate: the same terms for the linear score -(x_t - c) / (a^2 var + v) of a Gaussian with the
        # chunk's variance, whose only randomness after the +-e pairing is |e|^2: (|e|^2 - D) (v / V^2 - 2 / V), mean 0
        big_v = a * a * data_var + v
        control = (e.reshape(n, -1).pow(2).sum(-1).cpu().double() - d) * (v / big_v**2 - 2 / big_v)
        terms = norm2 + 2 * dot / v.sqrt() - control
        out[:, k] = 0.5 * g2 / q * terms.mean(0)
    return out.to(x.dtype)
