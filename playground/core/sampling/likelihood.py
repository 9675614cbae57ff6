"""Exact log-likelihood through the probability-flow ODE (Song et al. 2021, Sec. 4.3 and App. D.2; FFJORD).

Along the PF-ODE dx/dt = f~(x, t) = f(x, t) - g(t)^2 s(x, t) / 2 the log-density obeys the instantaneous
change of variables d log p_t(x_t) / dt = -div f~(x_t, t). Integrating the augmented ODE forwards from t = eps to T,

    log p_eps(x) = log p_T(x_T) + int_eps^T div f~(x_t, t) dt,

with x_eps = x and p_T the SDE's prior; eps defaults to `sde.likelihood_eps` = 1e-5 (the reference likelihood's; the
samplers stop at sampling_eps = 1e-3 on VP, where p_eps is visibly smoother than the data). The divergence is exact
(autograd over the D data dimensions, or a supplied closed form such as `GaussianMixture.divergence`) for
low-dimensional data, and the Hutchinson (1989) estimator v^T (d f~ / dx) v for images, with one probe v per sample,
Rademacher (+-1, the lower-variance default) or Gaussian N(0, I), held fixed over the whole solve (unbiased, because
the trajectory does not depend on the probe; Grathwohl et al. 2019, FFJORD).

Units: nats per sample. For images, bits/dim = -log p / (D ln 2) + offset, with offset = log2(256) = 8 for 8-bit
data scaled to [0, 1] (the uniform-dequantisation convention of Ho et al. 2020 / Song et al. 2021). If the model
works on a normalised copy y = a x + b of the data x (for example y = 2x - 1, in [-1, 1]), pass
`log_det_jacobian = log|det dy/dx|` (= D ln 2 for y = 2x - 1): log p_x(x) = log p_y(y) + log_det_jacobian, and the
reported log-likelihood and bits/dim are then those of x.

The solver is torchdiffeq's dopri5 with rtol = atol = 1e-5 by default (the reference implementation's values).
NFE counts evaluations of the ODE right-hand side, i.e. forward passes of the score function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from playground.core.diffusion.sde import SDE, ScoreFn, bcast, time_vector

DivergenceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""divergence_fn(x, t) -> div_x s(x, t) (the Laplacian of log p_t), shape (N,); t has shape (N,)."""

PROBES = ("rademacher", "gaussian")
"""Hutchinson probe distributions."""

ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
"""torchdiffeq's adaptive solvers (they take the step_t option)."""

EXACT_MAX_DIM = 16
"""With divergence='auto', data with at most this many dimensions per sample gets the exact divergence."""


@dataclass
class LikelihoodResult:
    """Per-sample PF-ODE log-likelihoods.

    logp: log p(x) in nats, shape (N,), including `log_det_jacobian`. prior_logp: log p_T(x_T). delta_logp: the
    integral of div f~ from eps to T. x_T: the ODE's end points. nfe: right-hand-side evaluations (score calls).
    dim: D, the number of dimensions per sample. bpd: bits/dim for image-shaped data (N, C, H, W), else None.
    """

    logp: torch.Tensor
    prior_logp: torch.Tensor
    delta_logp: torch.Tensor
    x_T: torch.Tensor
    nfe: int
    dim: int
    eps: float
    divergence: str
    log_det_jacobian: float = 0.0
    bpd: torch.Tensor | None = None

    @property
    def nll(self) -> torch.Tensor:
        """-log p(x) in nats, shape (N,)."""
        return -self.logp

    @property
    def mean_nll(self) -> float:
        return float(-self.logp.mean())

    def bits_per_dim(self, offset: float = 8.0) -> torch.Tensor:
        """-log p / (D ln 2) + offset; offset 8 = log2(256) for 8-bit data scaled to [0, 1]."""
        return -self.logp / (self.dim * math.log(2.0)) + offset


def divergence_exact(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(fn(x), exact div fn(x)) by one backward pass per data dimension. x: (N, ...); returns (N, ...), (N,)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x)
        flat_out = out.reshape(len(x), -1)
        div = torch.zeros(len(x), dtype=out.dtype, device=out.device)
        if not out.requires_grad:  # constant in x (e.g. the VE drift, zero)
            return out.detach(), div
        d = flat_out.shape[1]
        for i in range(d):
            (g,) = torch.autograd.grad(flat_out[:, i].sum(), x, retain_graph=i < d - 1)
            div = div + g.reshape(len(x), -1)[:, i]
    return out.detach(), div.detach()


def divergence_hutchinson(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, probe: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(fn(x), eps^T (d fn / dx) eps) with the probe eps of x's shape, by one vector-Jacobian product."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x)
        if not out.requires_grad:
            return out.detach(), torch.zeros(len(x), dtype=out.dtype, device=out.device)
        (vjp,) = torch.autograd.grad((out * probe).sum(), x)
    return out.detach(), (vjp * probe).reshape(len(x), -1).sum(1).detach()


def rademacher(shape, generator: torch.Generator | None = None, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Entries +1 / -1 with probability 1/2 each."""
    return torch.randint(0, 2, shape, generator=generator, device=device).to(dtype) * 2 - 1


def hutchinson_probe(
    kind: str, shape, generator: torch.Generator | None = None, dtype=torch.float32, device="cpu"
) -> torch.Tensor:
    """A probe v with E[v v^T] = I, 'rademacher' (+-1) or 'gaussian' (N(0, I)): v^T A v is unbiased for tr A."""
    if kind == "rademacher":
        return rademacher(shape, generator, dtype, device)
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)
    raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {kind!r}")


def pf_ode_drift(score_fn: ScoreFn, sde: SDE) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """f~(x, t) = f(x, t) - g(t)^2 s(x, t) / 2 with t of shape (N,)."""

    def drift(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        f, g = sde.sde(x, t)
        return f - 0.5 * bcast(g * g, x) * score_fn(x, t)

    return drift


def log_likelihood(
    score_fn: ScoreFn,
    sde: SDE,
    x: torch.Tensor,
    *,
    eps: float | None = None,
    divergence: str = "auto",
    probe: str = "rademacher",
    divergence_fn: DivergenceFn | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    seed: int = 0,
    log_det_jacobian: float = 0.0,
    bpd_offset: float = 8.0,
    batch_size: int | None = None,
    dtype: torch.dtype | None = None,
    prior_logp: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> LikelihoodResult:
    """log p_eps(x) for each sample of x (N, ...) by integrating the augmented PF-ODE from eps (default
    sde.likelihood_eps) to sde.T.

    divergence: 'exact' (autograd over all D dimensions, or `divergence_fn` = div s when given), 'hutchinson'
    (probes of kind `probe`, 'rademacher' or 'gaussian', seeded by `seed`), or 'auto' (exact when `divergence_fn` is
    given or D <= EXACT_MAX_DIM, else Hutchinson). divergence_fn(x, t) returns the divergence of the *score* (e.g.
    GaussianMixture.divergence); the drift's divergence is added by autograd. `batch_size` splits x into chunks
    solved one after another (NFE is summed). `dtype` sets the integration precision (default: x's dtype; the score
    is called in that dtype).
    `prior_logp(x_T) -> (N,)` replaces the SDE's prior density at T (default `sde.prior_logp`); tests pass the exact
    marginal p_T to separate the solver's error from the prior mismatch p_T != prior (for VE with a small sigma_max,
    or VP's alpha(1) ~ 0.007, the mismatch is what a trained model also pays).
    """
    x = torch.as_tensor(x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"log_likelihood needs a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    eps = sde.likelihood_eps if eps is None else eps
    if not 0 <= eps < sde.T:
        raise ValueError(f"eps must lie in [0, T), got {eps}")
    if divergence not in ("auto", "exact", "hutchinson"):
        raise ValueError(f"divergence must be 'auto', 'exact' or 'hutchinson', got {divergence!r}")
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
    dtype = dtype or (x.dtype if x.is_floating_point() else torch.float32)
    x = x.detach().to(dtype)
    dim = x[0].numel()
    if divergence == "auto":
        divergence = "exact" if (divergence_fn is not None or dim <= EXACT_MAX_DIM) else "hutchinson"
    if divergence == "hutchinson" and divergence_fn is not None:
        raise ValueError("divergence_fn is exact: use divergence='exact' (or 'auto') with it")

    generator = torch.Generator(device=x.device).manual_seed(seed)
    chunks = [x] if not batch_size or batch_size >= len(x) else list(torch.split(x, batch_size))
    parts, nfe = [], 0
    for chunk in chunks:
        v = hutchinson_probe(probe, chunk.shape, generator, dtype, x.device) if divergence == "hutchinson" else None
        part, n = _solve(score_fn, sde, chunk, eps, divergence, divergence_fn, v, rtol, atol, method)
        parts.append(part)
        nfe += n
    z = torch.cat([p[0] for p in parts])
    delta = torch.cat([p[1] for p in parts])
    prior = (prior_logp or sde.prior_logp)(z).to(z.dtype)
    logp = prior + delta + log_det_jacobian
    bpd = -logp / (dim * math.log(2.0)) + bpd_offset if x.ndim >= 4 else None
    return LikelihoodResult(
        logp=logp, prior_logp=prior, delta_logp=delta, x_T=z, nfe=nfe, dim=dim, eps=eps, divergence=divergence,
        log_det_jacobian=log_det_jacobian, bpd=bpd,
    )


def _solve(score_fn, sde, x, eps, divergence, divergence_fn, probe, rtol, atol, method):
    """Integrate (x, delta) from eps to T; returns ((x_T, delta_T), nfe)."""
    from torchdiffeq import odeint

    drift = pf_ode_drift(score_fn, sde)
    nfe = 0

    def rhs(t, state):
        nonlocal nfe
        nfe += 1
        xt = state[0]
        tv = time_vector(t, xt)
        if divergence_fn is not None:
            f_div = divergence_exact(lambda y: sde.drift(y, tv), xt)[1]
            _, g = sde.sde(xt, tv)
            out = drift(xt, tv).detach()
            div = f_div - 0.5 * g * g * divergence_fn(xt, tv).to(xt.dtype)
        elif divergence == "exact":
            out, div = divergence_exact(lambda y: drift(y, tv), xt)
        else:
            out, div = divergence_hutchinson(lambda y: drift(y, tv), xt, probe)
        return out, div.to(xt.dtype)

    t_span = torch.tensor([eps, sde.T], dtype=x.dtype, device=x.device)
    delta0 = torch.zeros(len(x), dtype=x.dtype, device=x.device)
    # An adaptive solver steps past the end and interpolates back unless told to stop at it: step_t keeps every stage
    # inside [eps, T] (rectified flow's drift has a pole at t = 1, just past its T = 0.999).
    options = {"step_t": t_span[1:]} if method in ADAPTIVE_METHODS else None
    with torch.no_grad():
        xs, deltas = odeint(rhs, (x, delta0), t_span, rtol=rtol, atol=atol, method=method, options=options)
    return (xs[-1], deltas[-1]), nfe
