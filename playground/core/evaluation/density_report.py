"""How well a score's density fits the target at time t: NLL, the target's entropy and their gap, the KL divergence.

With p_t the target diffused by the field's process and q_t the density the field's PF-ODE defines
(`playground.core.sampling.pf_ode_density`), on n samples x ~ p_t:

    NLL = -E log q_t(x),   H = -E log p_t(x),   KL(p_t || q_t) = E[log p_t(x) - log q_t(x)] = NLL - H  (nats).

At t <= eps the samples are the target's own (t = 0), q is the model's density at eps and H is the target's entropy
(exact where the target states it); at t > eps they are x_t = x_0 diffused by the process. Where the exact log p_t
is known (`exact_density`) the KL is the mean of the paired differences (lower variance than NLL - H).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from playground.core.diffusion.exact_density import marginal_log_density
from playground.core.sampling.pf_ode_density import (
    CHUNK,
    DEFAULT_TOL,
    DensityField,
    StepCheck,
    choose_steps,
    method_stages,
    solve_log_density,
)
from playground.data.targets.target import Target

PILOT = 256
"""Samples that choose the solver's steps (then reused)."""


@dataclass
class DensityReport:
    """NLL, entropy and KL in nats with standard errors (None where unknown); t: the time of the comparison (0 for
    the data themselves); n: samples; steps, nfe: the solver's; error_estimate: its Richardson estimate (nats)."""

    t: float
    n: int
    nll: float
    nll_sem: float
    entropy: float | None
    entropy_sem: float | None
    kl: float | None
    kl_sem: float | None
    steps: int
    nfe: int
    error_estimate: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def density_report(field: DensityField, target: Target, t: float = 0.0, *, n: int = 2000, seed: int = 0,
                   steps: int | None = None, tol: float = DEFAULT_TOL, method: str = "rk3", eps: float | None = None,
                   check: StepCheck | None = None) -> DensityReport:
    """NLL of the field's density, the target's entropy and their gap at time t (module docstring)."""
    sde = field.sde
    eps = sde.sampling_eps if eps is None else float(eps)
    if not 0 <= t <= sde.T:
        raise ValueError(f"t must lie in [0, {sde.T}], got {t}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    clean = t <= eps
    x0 = torch.as_tensor(target.sample(n, seed), dtype=torch.float64)
    if clean:
        x, t_true = x0, 0.0
    else:
        generator = torch.Generator().manual_seed(seed + 1)
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        norm = field.normalization
        x, t_true = norm.to_data(sde.perturb(norm.to_norm(x0), t, noise=noise)), float(t)
    t_ode = max(float(t), eps)
    choice = choose_steps(field, x[:PILOT], t_ode, steps=steps, tol=tol, method=method, check=check)
    parts = [choice.logp] + [solve_log_density(field, x[s : s + CHUNK], t_ode, choice.steps, method, check).logp
                             for s in range(PILOT, n, CHUNK)]
    model = torch.cat(parts).numpy()
    nll, nll_sem = _mean_sem(-model)
    true_fn = marginal_log_density(target, sde, t_true, field.normalization)
    true = None if true_fn is None else true_fn(x.numpy())
    entropy = entropy_sem = kl = kl_sem = None
    if true is not None and np.isfinite(true).all():
        entropy, entropy_sem = _mean_sem(-true)
        kl, kl_sem = _mean_sem(true - model)
    if clean and target.entropy is not None:
        entropy, entropy_sem = float(target.entropy), 0.0
        if kl is None:
            kl, kl_sem = nll - entropy, nll_sem
    return DensityReport(t_true, n, nll, nll_sem, entropy, entropy_sem, kl, kl_sem, choice.steps,
                         choice.steps * method_stages(method), choice.error_estimate)


def _mean_sem(v: np.ndarray) -> tuple[float, float]:
    return float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(len(v)))
