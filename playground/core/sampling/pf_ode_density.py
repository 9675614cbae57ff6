"""log p_t(x) at any t in [eps, T] through the probability-flow ODE, by a fixed-step Runge-Kutta solver with the exact
divergence (Song et al. 2021, Sec. 4.3 and App. D.2), made for 2D maps: fast, vectorised and error-controlled.

Along the PF-ODE the log-density obeys d log p_s(x_s) / ds = -div f~(x_s, s); starting at x_t = x at any t (not only
eps) and integrating to T, log p_t(x) = log p_T(x_T) + int_t^T div f~ ds. The solver works in the variables of Karras
et al. (2022, App. B), which absorb the linear drift exactly: y = x / alpha and sigma = std / alpha (`SDE.sigma_edm`),

    dy / dsigma = -sigma alpha s(alpha y, t(sigma)),       its divergence  -sigma alpha^2 div_x s,
    log p_t(x) = log p_T(alpha_T y_T) + D log alpha_T + int_{sigma_t}^{sigma_T} (divergence) dsigma - D log alpha_t.

The independent variable is lam = log sigma on a uniform grid, and the state is z = y / sqrt(1 + sigma^2 / c^2) with
c the data's scale (1 in a model's normalised space): for data N(m, c^2 I) z stands still, the divergence integrand
is a smooth logistic in lam (so its quadrature converges fast), and trajectories of any data become constant once
sigma >> c. Fixed steps keep every point of a batch on one grid (one batched score call per stage); `choose_steps`
controls the error by Richardson's estimate |l_N - l_{N/2}| / (2^p - 1) on a few pilot points, doubling N until it
is below a tolerance, then trying 3N/4 or 7N/8 steps against that bound. `python -m playground bench density` checks
it against torchdiffeq's adaptive dopri5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn
from playground.data.targets.gaussian_mixture import GaussianMixture

ScoreDivFn = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]
"""score_div(x, t) -> (grad_x log p_t(x) (N, D), its divergence (N,)); t is a 0-dim tensor, the batch's one time."""

DEFAULT_TOL = 0.01
"""Richardson error target in nats (the largest over the relevant pilot points)."""
RELEVANT_RANGE = 15.0
"""Pilot points more than this many nats below the highest one are left out of the error estimate."""

CHUNK = 1024
"""Points solved per batch: large enough for efficient matmuls, small enough that a 128-wide MLP's temporaries (0.5 MB)
are reused by the allocator instead of being mapped afresh (page faults cost ~40% at 2048 points on a busy CPU)."""

StepCheck = Callable[[], None]
"""Called after every solver step; raise from it to abandon the solve (e.g. a worker's Cancelled)."""

TABLEAUS: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...], tuple[float, ...], int]] = {
    "heun": (((),(1.0,)), (0.5, 0.5), (0.0, 1.0), 2),
    "rk3": (((), (1 / 3,), (0.0, 2 / 3)), (0.25, 0.0, 0.75), (0.0, 1 / 3, 2 / 3), 3),
    "rk4": (((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6), (0.0, 0.5, 0.5, 1.0), 4),
}
"""Explicit Runge-Kutta methods (a, b, c, order): Heun's 2nd order, Heun's 3rd order (Kutta), classical RK4."""


def method_stages(method: str) -> int:
    """Score evaluations per step of `method`."""
    if method not in TABLEAUS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(TABLEAUS)}")
    return len(TABLEAUS[method][2])


@dataclass(frozen=True)
class DensityField:
    """What the log-density solver needs: the score with its exact divergence in the SDE's space, the SDE, and how
    data-space points map into that space.

    score_div: (x, t) -> (score, div score) in the SDE's space. normalization: data -> SDE space (identity for a
    data-space SDE); log-densities come back in data space. prior_logp: log-density at T in the SDE's space (default
    the SDE's prior; the exact marginal p_T for an exact score). data_scale: c, the data's scale in the SDE's space.
    dtype: the ODE state's precision. label: what it is, for messages.
    """

    score_div: ScoreDivFn
    sde: SDE
    normalization: Normalization
    prior_logp: Callable[[torch.Tensor], torch.Tensor] | None = None
    data_scale: float = 1.0
    dtype: torch.dtype = torch.float64
    label: str = ""

    def to_space(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalization.to_norm(x.to(self.dtype))

    @property
    def log_det_jacobian(self) -> float:
        return self.normalization.log_det_jacobian


def gmm_density_field(gmm: GaussianMixture, sde: SDE, normalization: Normalization | None = None) -> DensityField:
    """The exact field of a mixture (data space), under the SDE acting on normalised data: closed-form score and
    divergence, the exact marginal p_T as the prior, float64 throughout."""
    norm = normalization or Normalization.identity(gmm.dim)
    g = norm.gmm_to_norm(gmm)

    def score_div(x, t):
        return g.score_and_divergence(x, t, sde)

    mean = g.weights @ g.means
    spread = torch.einsum("k,kii->", g.weights, g.covariances) + (g.weights[:, None] * (g.means - mean) ** 2).sum()
    scale = math.sqrt(float(spread) / g.dim)
    return DensityField(score_div, sde, norm, lambda x: g.log_prob(x, sde.T, sde), scale, torch.float64,
                        f"exact GMM ({gmm.n_components} components)")


def gmm_class_density_field(gmm: GaussianMixture, sde: SDE, label: int, guidance: float = 0.0,
                            normalization: Normalization | None = None) -> DensityField:
    """The exact field of class `label` (component `label` diffused) with exact classifier-free guidance w against
    the whole mixture (`guided_density_field`); w = 0 keeps the component's exact prior."""
    conditional = gmm_density_field(gmm.component(label), sde, normalization)
    return guided_density_field(conditional, gmm_density_field(gmm, sde, normalization), guidance)


def model_density_field(model, class_labels=None, guidance: float = 0.0) -> DensityField:
    """A trained ScoreModel's field in its normalised space (forward-mode exact divergence); with class_labels the
    class-conditional one, with classifier-free guidance weight `guidance` (`guided_density_field`)."""
    if class_labels is not None and model.null_class is None:
        raise ValueError("class_labels need a class-conditional model (trained with labels)")
    if class_labels is None and guidance != 0:
        raise ValueError("guidance needs class_labels")

    def field(labels) -> DensityField:
        label = "model" if labels is None else f"model, class {labels}"
        return DensityField(lambda y, t: model.score_norm_and_divergence(y, t, labels), model.sde,
                            model.normalization, None, float(model.sigma_data), torch.float64, label)

    if class_labels is None:
        return field(None)
    return guided_density_field(field(class_labels), field(None), guidance)


def guided_density_field(conditional: DensityField, unconditional: DensityField, w: float) -> DensityField:
    """Classifier-free guidance s = (1 + w) s(x, c) - w s(x) and likewise its divergence (Ho & Salimans 2022): the
    density of the guided PF-ODE (not p(x | c)^(1+w) p(x)^-w, which is no diffusion marginal). w = 0 is the
    conditional field itself; otherwise the prior is the SDE's."""
    from playground.core.diffusion.guidance import guided_combination

    if w == 0:
        return conditional

    def score_div(x, t):
        (sc, dc), (su, du) = conditional.score_div(x, t), unconditional.score_div(x, t)
        return guided_combination(sc, su, w), guided_combination(dc, du, w)

    return DensityField(score_div, conditional.sde, conditional.normalization, None, conditional.data_scale,
                        conditional.dtype, f"{conditional.label}, guidance {w:g}")


def score_fn_density_field(score_fn: ScoreFn, sde: SDE, normalization: Normalization | None = None, dim: int = 2,
                           data_scale: float = 1.0) -> DensityField:
    """Any ScoreFn in the SDE's space, its divergence by autograd (one backward pass per dimension)."""
    from playground.core.sampling.likelihood import divergence_exact

    def score_div(x, t):
        return divergence_exact(lambda v: score_fn(v, t), x)

    return DensityField(score_div, sde, normalization or Normalization.identity(dim), None, data_scale,
                        torch.float64, "score function")


@dataclass
class DensitySolve:
    """log p_t at the points (data space, nats, float64 (N,)) and the score evaluations each point took."""

    logp: torch.Tensor
    nfe: int


class _Grid:
    """The lam = log sigma grid from sigma_edm(t) to sigma_edm(T): each stage's sigma, t, alpha and
    k = sqrt(1 + sigma^2 / c^2)."""

    def __init__(self, sde: SDE, t: float, steps: int, nodes: tuple[float, ...], c: float):
        f64 = torch.float64
        lo = float(sde.sigma_edm(torch.tensor(t, dtype=f64)))
        hi = float(sde.sigma_edm(torch.tensor(sde.T, dtype=f64)))
        if not (math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"the log-density ODE needs 0 < sigma_edm(t) < sigma_edm(T) < inf; got {lo:g}, {hi:g}")
        lam = torch.linspace(math.log(lo), math.log(hi), steps + 1, dtype=f64)
        self.h = float(lam[1] - lam[0]) if steps else 0.0
        at = (lam[:-1, None] + self.h * torch.tensor(nodes, dtype=f64)[None]).reshape(-1)
        self.sigma = torch.exp(torch.cat([at, lam[-1:]]))
        tt = sde.t_of_sigma_edm(self.sigma).clamp(t, sde.T)
        tt[0], tt[-1] = t, sde.T  # the ends exactly (the inverse is exact up to rounding)
        self.t = tt
        self.alpha = sde.marginal_coefficients(tt)[0]
        self.k = torch.sqrt(1 + (self.sigma / c) ** 2)
        self.stages = len(nodes)

    def node(self, step: int, stage: int) -> int:
        return step * self.stages + stage


def solve_log_density(field: DensityField, x: torch.Tensor, t: float, steps: int, method: str = "rk3",
                      check: StepCheck | None = None) -> DensitySolve:
    """log p_t(x) for data-space points x (N, D) with `steps` fixed steps of `method` (see the module docstring).

    t in (0, T]: the ODE starts there; NFE = steps * stages. check() runs after every step (raise to abandon)."""
    if method not in TABLEAUS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(TABLEAUS)}")
    sde = field.sde
    if not 0 < t <= sde.T:
        raise ValueError(f"t must lie in (0, {sde.T}], got {t}")
    a, b, nodes, _ = TABLEAUS[method]
    y = field.to_space(torch.as_tensor(x))
    n, d = y.shape
    prior = field.prior_logp or sde.prior_logp
    if t >= sde.T:
        return DensitySolve(prior(y).to(torch.float64) + field.log_det_jacobian, 0)
    grid = _Grid(sde, float(t), steps, nodes, field.data_scale)
    c2 = field.data_scale**2
    dt = field.dtype
    ts = grid.t.to(dt)

    def rate(z, i):
        """d(z, l) / dlam at grid node i."""
        sigma, alpha, k = float(grid.sigma[i]), float(grid.alpha[i]), float(grid.k[i])
        s, div = field.score_div(alpha * k * z, ts[i])
        s2 = sigma * sigma
        return -s2 * alpha * s.to(dt) / k - z * (s2 / (c2 + s2)), -s2 * alpha * alpha * div.to(dt)

    z = y / (float(grid.alpha[0]) * float(grid.k[0]))
    logdet = torch.zeros(n, dtype=dt)
    h = grid.h
    for step in range(steps):
        ks = []
        for stage in range(len(nodes)):
            zi = z
            for coef, (kz, _) in zip(a[stage], ks):
                zi = zi + (h * coef) * kz
            ks.append(rate(zi, grid.node(step, stage)))
        for coef, (kz, kl) in zip(b, ks):
            if coef:
                z = z + (h * coef) * kz
                logdet = logdet + (h * coef) * kl
        if check is not None:
            check()
    alpha_T, alpha_t = float(grid.alpha[-1]), float(grid.alpha[0])
    y_T = float(grid.k[-1]) * z
    logp = prior(alpha_T * y_T).to(torch.float64) + d * math.log(alpha_T / alpha_t) + logdet.to(torch.float64)
    return DensitySolve(logp + field.log_det_jacobian, steps * len(nodes))


@dataclass
class StepChoice:
    """The steps chosen on pilot points: their log p at those steps, Richardson's error estimate (nats; None when it
    could not be formed) and the score evaluations per pilot point spent choosing."""

    steps: int
    logp: torch.Tensor
    error_estimate: float | None
    nfe: int


def choose_steps(field: DensityField, x: torch.Tensor, t: float, *, steps: int | None = None, tol: float = DEFAULT_TOL,
                 method: str = "rk3", start_steps: int = 16, max_steps: int = 256, check: StepCheck | None = None
                 ) -> StepChoice:
    """Solve the pilot points x at N = start_steps, 2 N, ... until Richardson's estimate e_N = max |l_N - l_{N/2}| /
    (2^order - 1) over relevant points (within RELEVANT_RANGE nats of the highest) is <= tol, or N would pass
    max_steps; then take M = 3N/4 (else 7N/8) steps instead when max |l_M - l_N| + e_N (a bound on l_M's error) is
    <= tol, since doubling overshoots the steps needed by up to 2x. The pilots keep l_N. With fixed `steps`, one
    extra solve at steps // 2 gives the estimate (None when steps < 2)."""
    if method not in TABLEAUS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(TABLEAUS)}")
    order = TABLEAUS[method][3]
    if steps is not None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        fine = solve_log_density(field, x, t, steps, method, check)
        if steps < 2:
            return StepChoice(steps, fine.logp, None, fine.nfe)
        coarse = solve_log_density(field, x, t, steps // 2, method, check)
        return StepChoice(steps, fine.logp, _richardson(fine.logp, coarse.logp, order), fine.nfe + coarse.nfe)
    n, coarse, spent = max(1, int(start_steps)), None, 0
    while True:
        fine = solve_log_density(field, x, t, n, method, check)
        spent += fine.nfe
        if coarse is not None:
            error = _richardson(fine.logp, coarse, order)
            if error <= tol or n * 2 > max_steps:
                break
        coarse, n = fine.logp, n * 2
    if error > tol:
        return StepChoice(n, fine.logp, error, spent)
    for fewer in (n * 3 // 4, n * 7 // 8):  # the doubling overshoots by up to 2x: try fewer steps, cheapest first
        if not n // 2 < fewer < n:
            continue
        trial = solve_log_density(field, x, t, fewer, method, check)
        spent += trial.nfe
        bound = _largest_difference(trial.logp, fine.logp) + error  # |l_m - l| <= |l_m - l_n| + |l_n - l|
        if bound <= tol:
            return StepChoice(fewer, fine.logp, bound, spent)
    return StepChoice(n, fine.logp, error, spent)


def _largest_difference(a: torch.Tensor, reference: torch.Tensor) -> float:
    """max |a - reference| over the points within RELEVANT_RANGE of the highest finite reference value."""
    finite = torch.isfinite(reference)
    if not bool(finite.any()):
        return float("inf")
    relevant = finite & (reference >= reference[finite].max() - RELEVANT_RANGE)
    return float(torch.nan_to_num((a[relevant] - reference[relevant]).abs().max(), nan=float("inf")))


def _richardson(fine: torch.Tensor, coarse: torch.Tensor, order: int) -> float:
    """max |fine - coarse| / (2^order - 1) over the points within RELEVANT_RANGE of the highest finite fine value."""
    return _largest_difference(coarse, fine) / (2**order - 1)
