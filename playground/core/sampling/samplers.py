"""Samplers for score-based diffusion: flat functions sharing one signature (k-diffusion style).

    sampler(score_fn, sde, x_T, *, steps, callback=None, trajectory_stride=0, denoise_last=True, generator=None,
            **options) -> SampleResult

Conventions shared by every sampler:
- Time grid: t_0 = T > t_1 > ... > t_steps = sde.sampling_eps, uniform in t; step i moves the state from t_i to
  t_{i+1}. edm_heun uses the Karras et al. (2022) noise-level grid, the Langevin samplers their own noise levels.
- denoise_last=True: after the last step the Tweedie denoise x0 = (x + std^2 s) / alpha at the last time (1 NFE),
  reported as that step at t = 0. The two Heun samplers follow Karras et al. Alg. 1/2 instead: with denoise_last
  their `steps`-th step is the Euler step to zero noise, which is that same denoise, and it skips Heun's correction.
  denoise_last=False returns the last noisy iterate.
- NFE (score_fn calls per batch, counted by wrapping score_fn; `+1` only with denoise_last):
  em, reverse_diffusion, ancestral, ode_euler, ddim, langevin, annealed_langevin: steps + 1;
  pc: steps * (n_corrector + 1) + 1 (predictor 'none': steps * n_corrector + 1; corrector 'none': steps + 1);
  ode_heun, edm_heun: 2 steps - 1 with denoise_last, 2 steps without;
  ode_rk45: what dopri5 used (+1), `steps` being the number of output frames.
- callback(StepInfo) runs after every step; trajectory_stride k > 0 keeps x_T, every k-th state and the final one.
- Samplers run under torch.no_grad(); a score_fn that needs gradients (classifier guidance) enables them itself.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torchdiffeq import odeint

from playground.core.diffusion.parameterization import score_to_x0
from playground.core.diffusion.sde import SDE, ScoreFn, check_stochasticity, time_vector
from playground.core.sampling.pc_steps import (
    CORRECTORS,
    PREDICTORS,
    CorrectorFn,
    PredictorFn,
    ancestral_predictor,
    coefficients,
    ddim_step,
    em_predictor,
    noise,
    reverse_diffusion_predictor,
)


@dataclass
class StepInfo:
    """What a callback sees after step i of `steps`: the time reached, the current state (copy it to keep it), NFE."""

    i: int
    steps: int
    t: float
    x: torch.Tensor
    nfe: int


@dataclass
class SampleResult:
    """Final samples, the number of score evaluations, and the strided trajectory (K, N, ...) with its times (K,)."""

    x: torch.Tensor
    nfe: int
    trajectory: torch.Tensor | None = None
    times: torch.Tensor | None = None


Callback = Callable[[StepInfo], None]
SamplerFn = Callable[..., SampleResult]


class _CountedScore:
    """score_fn that counts its evaluations (one per batch call)."""

    def __init__(self, score_fn: ScoreFn):
        self.score_fn = score_fn
        self.nfe = 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        return self.score_fn(x, t)


class _Run:
    """Bookkeeping every sampler shares: the counted score, callbacks, the strided trajectory, the final denoise."""

    def __init__(
        self, score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, steps: int, callback: Callback | None,
        trajectory_stride: int, denoise_last: bool,
    ):  # fmt: skip
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if trajectory_stride < 0:
            raise ValueError(f"trajectory_stride must be >= 0, got {trajectory_stride}")
        self.score = _CountedScore(score_fn)
        self.sde = sde
        self.steps = steps
        self.callback = callback
        self.stride = trajectory_stride
        self.denoise_last = denoise_last
        self.states = [x_T.detach().clone()] if trajectory_stride else []
        self.times = [float(sde.T)] if trajectory_stride else []

    def report(self, i: int, t: float, x: torch.Tensor) -> None:
        """Call the callback for step i and keep the state if the stride (or the end) asks for it."""
        if self.callback is not None:
            self.callback(StepInfo(i, self.steps, float(t), x, self.score.nfe))
        if self.stride and ((i + 1) % self.stride == 0 or i + 1 == self.steps):
            self.states.append(x.detach().clone())
            self.times.append(float(t))

    def finish_step(self, i: int, t: float, x: torch.Tensor) -> torch.Tensor:
        """Report step i, which reached time t; after the last one apply the Tweedie denoise if asked."""
        if i == self.steps - 1 and self.denoise_last:
            x, t = tweedie_denoise(self.score, self.sde, x, t), 0.0
        self.report(i, t, x)
        return x

    def result(self, x: torch.Tensor) -> SampleResult:
        if not self.stride:
            return SampleResult(x, self.score.nfe)
        return SampleResult(x, self.score.nfe, torch.stack(self.states), torch.tensor(self.times, dtype=torch.float64))


def tweedie_denoise(score_fn: ScoreFn, sde: SDE, x: torch.Tensor, t: float) -> torch.Tensor:
    """E[x0 | x_t] = (x + std^2 s) / alpha (Tweedie's formula; Efron 2011)."""
    tv = time_vector(t, x)
    alpha, std = sde.marginal_coefficients(tv)
    return score_to_x0(score_fn(x, tv), x, alpha, std)


def _time_grid(sde: SDE, n_points: int) -> list[float]:
    """n_points times uniform from T down to sde.sampling_eps."""
    return torch.linspace(sde.T, sde.sampling_eps, n_points, dtype=torch.float64).tolist()


def _sigma_edm(sde: SDE, t: float) -> float:
    return float(sde.sigma_edm(torch.tensor(t, dtype=torch.float64)))


def _t_of_sigma(sde: SDE, sigma: float) -> float:
    return float(sde.t_of_sigma_edm(torch.tensor(sigma, dtype=torch.float64)))


def _sigma_space_denoiser(score_fn: ScoreFn, sde: SDE, y: torch.Tensor, sigma: float) -> torch.Tensor:
    """D(y; sigma) for y = x / alpha = x0 + sigma n: Tweedie at t = t(sigma) (Karras et al. 2022, Eq. 3 and App. C)."""
    t = _t_of_sigma(sde, sigma)
    alpha, _ = coefficients(sde, t)
    return tweedie_denoise(score_fn, sde, alpha * y, t)


def _predictor_corrector(
    run: _Run, x: torch.Tensor, predictor: PredictorFn, corrector: CorrectorFn | None, n_corrector: int, snr: float,
    generator: torch.Generator | None,
) -> SampleResult:  # fmt: skip
    """On the uniform grid: n_corrector corrector steps at t_i, then the predictor from t_i to t_{i+1}."""
    grid = _time_grid(run.sde, run.steps + 1)
    for i in range(run.steps):
        if corrector is not None:
            for _ in range(n_corrector):
                x = corrector(run.score, run.sde, x, grid[i], grid[i + 1], snr, generator)
        x = predictor(run.score, run.sde, x, grid[i], grid[i + 1], generator)
        x = run.finish_step(i, grid[i + 1], x)
    return run.result(x)


@torch.no_grad()
def em(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    stochasticity: float = 1.0,
) -> SampleResult:  # fmt: skip
    """Euler-Maruyama on the reverse process dx = [f - (1 + lam^2) / 2 g^2 s] dt + lam g dw_bar, lam = stochasticity
    (Song et al. 2021, Eq. 6 at lam = 1, the PF-ODE Eq. 13 at lam = 0; the family of App. D.1 for any lam >= 0)."""
    lam = check_stochasticity(stochasticity)
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    predictor = functools.partial(em_predictor, stochasticity=lam)
    return _predictor_corrector(run, x_T, predictor, None, 0, 0.0, generator)


@torch.no_grad()
def reverse_diffusion(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
) -> SampleResult:  # fmt: skip
    """Reverse-diffusion predictor x <- x - f_i + G_i^2 s + G_i z of the SDE discretised on the grid (Song et al. 2021, App. E)."""
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    return _predictor_corrector(run, x_T, reverse_diffusion_predictor, None, 0, 0.0, generator)


@torch.no_grad()
def ancestral(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
) -> SampleResult:  # fmt: skip
    """Ancestral sampling with beta_i, sigma_i from the grid (`ancestral_predictor`): DDPM's step on VP, SMLD's on VE,
    and on any other SDE (sub-VP, rf) the DDPM posterior of the path's exact transition, i.e. DDIM at eta = 1."""
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    return _predictor_corrector(run, x_T, ancestral_predictor, None, 0, 0.0, generator)


@torch.no_grad()
def pc(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    predictor: str = "reverse_diffusion", corrector: str = "langevin", snr: float = 0.16, n_corrector: int = 1,
) -> SampleResult:  # fmt: skip
    """Predictor-corrector sampling (Song et al. 2021, Alg. 1-5; score_sde's sampling.py): at every grid time t_i,
    n_corrector corrector steps, then the predictor step to t_{i+1}.

    predictor: 'reverse_diffusion', 'em', 'ancestral' or 'none' (corrector only); corrector: 'langevin'
    (step from the score/noise norm ratio), 'ald' (annealed Langevin, step 2 alpha_i (snr std)^2) or 'none'.
    alpha_i = a^2 of the grid step (`SDE.langevin_alpha`): 1 - beta_i for VP and sub-VP, 1 for VE, r^2 for rf.
    NFE: steps * (n_corrector [corrector] + 1 [predictor]) + denoise_last.
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; choose one of {', '.join(PREDICTORS)}")
    if corrector not in CORRECTORS:
        raise ValueError(f"unknown corrector {corrector!r}; choose one of {', '.join(CORRECTORS)}")
    if n_corrector < 0:
        raise ValueError(f"n_corrector must be >= 0, got {n_corrector}")
    if not (math.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a finite number > 0, got {snr}")
    if predictor == "none" and (corrector == "none" or n_corrector == 0):
        raise ValueError("pc with predictor 'none' needs a corrector and n_corrector >= 1: nothing would move")
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    return _predictor_corrector(run, x_T, PREDICTORS[predictor], CORRECTORS[corrector], n_corrector, snr, generator)


@torch.no_grad()
def ode_euler(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
) -> SampleResult:  # fmt: skip
    """Euler on the probability-flow ODE dx/dt = f - g^2 s / 2 (Song et al. 2021, Eq. 13)."""
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    flow = sde.reverse(run.score, probability_flow=True)
    grid = _time_grid(sde, steps + 1)
    x = x_T
    for i in range(steps):
        x = x + (grid[i + 1] - grid[i]) * flow.sde(x, grid[i])[0]
        x = run.finish_step(i, grid[i + 1], x)
    return run.result(x)


@torch.no_grad()
def ode_heun(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
) -> SampleResult:  # fmt: skip
    """Heun's 2nd-order method on the PF-ODE (Song et al. 2021, Eq. 13; Karras et al. 2022, Alg. 1).

    With denoise_last the grid has `steps` points from T to sampling_eps and the last step is the Euler step to zero
    noise (the Tweedie denoise): 2 steps - 1 NFE. Without it, `steps` Heun steps end at sampling_eps: 2 steps NFE.
    """
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last=False)
    flow = sde.reverse(run.score, probability_flow=True)
    grid = _time_grid(sde, steps if denoise_last else steps + 1)
    x = x_T
    for i in range(len(grid) - 1):
        h = grid[i + 1] - grid[i]
        d = flow.sde(x, grid[i])[0]
        d_next = flow.sde(x + h * d, grid[i + 1])[0]
        x = x + 0.5 * h * (d + d_next)
        run.report(i, grid[i + 1], x)
    if denoise_last:
        x = tweedie_denoise(run.score, sde, x, grid[-1])
        run.report(steps - 1, 0.0, x)
    return run.result(x)


@torch.no_grad()
def ode_rk45(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    rtol: float = 1e-5, atol: float = 1e-5,
) -> SampleResult:  # fmt: skip
    """Adaptive Dormand-Prince RK45 (torchdiffeq dopri5) on the PF-ODE (Song et al. 2021, Sec. 4.3; Dormand & Prince 1980).

    `steps` is the number of output frames: each frame is one solve between consecutive grid times, so callbacks come
    live; one step size serves the whole batch, and every stage stays inside the frame (first_step = the frame,
    step_t at its end), so the score is never asked for a time outside [sampling_eps, T]. NFE counts dopri5's
    actual evaluations.
    """
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    flow = sde.reverse(run.score, probability_flow=True)
    grid = _time_grid(sde, steps + 1)

    def velocity(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return flow.sde(x, t)[0]

    x = x_T
    for i in range(steps):
        span = torch.tensor([grid[i], grid[i + 1]], dtype=x.dtype, device=x.device)
        inside = {"first_step": grid[i] - grid[i + 1], "step_t": span[1:]}  # never evaluate outside [t_{i+1}, t_i]
        x = odeint(velocity, x, span, rtol=rtol, atol=atol, method="dopri5", options=inside)[-1]
        x = run.finish_step(i, grid[i + 1], x)
    return run.result(x)


@torch.no_grad()
def ddim(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    eta: float = 0.0,
) -> SampleResult:  # fmt: skip
    """DDIM (Song, Meng & Ermon 2021, Eq. 12 and 16) for any (alpha, std) marginals; eta = 0 is deterministic.

    x_s = alpha_s x0 + sqrt(std_s^2 - v) eps + sqrt(v) z, v = eta^2 std_s^2 (std_t^2 - (alpha_t / alpha_s)^2 std_s^2) / std_t^2:
    the posterior variance of the Markov forward step s -> t at eta = 1 (DDPM's beta-tilde for VP, SMLD's for VE).
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    grid = _time_grid(sde, steps + 1)
    x = x_T
    for i in range(steps):
        now, nxt = coefficients(sde, grid[i]), coefficients(sde, grid[i + 1])
        x = ddim_step(x, run.score(x, time_vector(grid[i], x)), now, nxt, eta, generator)
        x = run.finish_step(i, grid[i + 1], x)
    return run.result(x)


def karras_sigmas(n_points: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> list[float]:
    """sigma_i = (s_max^(1/rho) + i / (n - 1) (s_min^(1/rho) - s_max^(1/rho)))^rho (Karras et al. 2022, Eq. 5)."""
    if n_points == 1:
        return [sigma_max]
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return [(hi + i / (n_points - 1) * (lo - hi)) ** rho for i in range(n_points)]


@torch.no_grad()
def edm_heun(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, S_churn: float = 0.0, S_tmin: float = 0.0,
    S_tmax: float = float("inf"), S_noise: float = 1.0,
) -> SampleResult:  # fmt: skip
    """EDM stochastic Heun sampler (Karras et al. 2022, Alg. 2) in sigma-space y = x / alpha, sigma = std / alpha.

    The sigma range is clipped to [sigma_edm(sampling_eps), sigma_edm(T)], and so is the churned sigma-hat; each
    sigma maps to t by sde.t_of_sigma_edm. x_T is read as prior noise: y_0 = sigma_0 x_T / prior_std. With
    denoise_last the grid ends with sigma_N = 0 (18 steps = 35 NFE); without it the `steps` Heun steps end at sigma_min.
    """
    if S_churn < 0 or S_noise < 0 or rho <= 0:
        raise ValueError(f"edm_heun needs S_churn >= 0, S_noise >= 0, rho > 0; got {S_churn}, {S_noise}, {rho}")
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last=False)
    sigma_top = _sigma_edm(sde, sde.T)
    lo, hi = max(sigma_min, _sigma_edm(sde, sde.sampling_eps)), min(sigma_max, sigma_top)
    if not lo < hi:
        raise ValueError(f"edm_heun: the sigma range [{lo}, {hi}] left after clipping to the SDE is empty")
    sigmas = karras_sigmas(steps if denoise_last else steps + 1, lo, hi, rho) + ([0.0] if denoise_last else [])
    gamma_churn = min(S_churn / steps, math.sqrt(2) - 1)
    y = x_T * (sigmas[0] / sde.prior_std)
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        gamma = gamma_churn if S_tmin <= sigma <= S_tmax else 0.0
        sigma_hat = min(sigma * (1 + gamma), sigma_top)
        if sigma_hat > sigma:
            y = y + math.sqrt(sigma_hat**2 - sigma**2) * S_noise * noise(y, generator)
        d = (y - _sigma_space_denoiser(run.score, sde, y, sigma_hat)) / sigma_hat
        y_next = y + (sigma_next - sigma_hat) * d
        if sigma_next > 0:
            d_next = (y_next - _sigma_space_denoiser(run.score, sde, y_next, sigma_next)) / sigma_next
            y_next = y + (sigma_next - sigma_hat) * 0.5 * (d + d_next)
        y = y_next
        t_next = _t_of_sigma(sde, sigma_next) if sigma_next > 0 else 0.0
        x = y if sigma_next == 0 else coefficients(sde, t_next)[0] * y
        run.report(i, t_next, x)
    return run.result(x)


@torch.no_grad()
def langevin(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    step_size: float = 1e-3, t: float | None = None,
) -> SampleResult:  # fmt: skip
    """Unadjusted Langevin dynamics on p_t at a fixed t (default sampling_eps): x <- x + (e/2) s + sqrt(e) z (Roberts & Tweedie 1996).

    step_size e is in squared data units. It mixes poorly between separated modes and gets their weights wrong.
    """
    if step_size <= 0:
        raise ValueError(f"step_size must be > 0, got {step_size}")
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    t_fixed = sde.sampling_eps if t is None else float(t)
    tv = time_vector(t_fixed, x_T)
    x = x_T
    for i in range(steps):
        x = x + 0.5 * step_size * run.score(x, tv) + math.sqrt(step_size) * noise(x, generator)
        x = run.finish_step(i, t_fixed, x)
    return run.result(x)


SIGMA_REF = 0.01
"""annealed_langevin's reference noise level: NCSN's smallest sigma, for which its step eps was tuned."""


@torch.no_grad()
def annealed_langevin(
    score_fn: ScoreFn, sde: SDE, x_T: torch.Tensor, *, steps: int, callback: Callback | None = None,
    trajectory_stride: int = 0, denoise_last: bool = True, generator: torch.Generator | None = None,
    sigma_max: float | None = None, sigma_min: float | None = None, levels: int = 30, eps: float = 5e-5,
) -> SampleResult:  # fmt: skip
    """Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1): y <- y + (a_i/2) s + sqrt(a_i) z over `levels` sigmas.

    Runs in sigma-space y = x / alpha = x0 + sigma n (the NCSN perturbation), sigma = std / alpha, at t = t(sigma_i),
    with `levels` geometric sigmas from sigma_max (default sigma_edm(T)) to sigma_min (default sigma_edm(sampling_eps)),
    clipped to that range. `steps` is the total, split as evenly as possible over the levels. x_T is read as prior
    noise: y_0 = sigma_max x_T / prior_std.

    Step rule: a_i = eps (sigma_i / SIGMA_REF)^2 with SIGMA_REF = 0.01, the smallest level sigma_L for which Song &
    Ermon tuned eps: a fixed fraction eps / SIGMA_REF^2 of sigma_i^2 (0.5 at eps = 5e-5) whatever the SDE's sigma
    range. Their a_i = eps sigma_i^2 / sigma_L^2 with sigma_L the SDE's own smallest level is that rule only when
    sigma_L = 0.01; under sub-VP (sigma_L ~ 1e-4) or VE with a small sigma_min it makes a_i thousands of times
    sigma_i^2, and Langevin on a density of variance >= sigma_i^2 diverges once a_i > 4 sigma_i^2. Over a whole SDE
    range (VP: 152 -> 0.01) 30 levels with eps = 5e-5 reach the SWD floor on 2D targets.
    """
    if levels < 1 or steps < levels or eps <= 0:
        raise ValueError(f"annealed_langevin needs levels >= 1, steps >= levels, eps > 0; got {levels}, {steps}, {eps}")
    run = _Run(score_fn, sde, x_T, steps, callback, trajectory_stride, denoise_last)
    top, bottom = _sigma_edm(sde, sde.T), _sigma_edm(sde, sde.sampling_eps)
    hi = top if sigma_max is None else min(sigma_max, top)
    lo = bottom if sigma_min is None else max(sigma_min, bottom)
    if not lo < hi:
        raise ValueError(f"annealed_langevin: the sigma range [{lo}, {hi}] left after clipping to the SDE is empty")
    sigmas = torch.logspace(math.log10(hi), math.log10(lo), levels, dtype=torch.float64).tolist()
    y = x_T * (hi / sde.prior_std)
    i = 0
    for level, sigma in enumerate(sigmas):
        t = _t_of_sigma(sde, sigma)
        alpha, _ = coefficients(sde, t)
        tv = time_vector(t, y)
        step = eps * (sigma / SIGMA_REF) ** 2
        for _ in range(steps // levels + (level < steps % levels)):
            score_y = alpha * run.score(alpha * y, tv)
            y = y + 0.5 * step * score_y + math.sqrt(step) * noise(y, generator)
            x = run.finish_step(i, t, alpha * y)
            i += 1
    return run.result(x)


SAMPLERS: dict[str, SamplerFn] = {
    "em": em,
    "reverse_diffusion": reverse_diffusion,
    "ancestral": ancestral,
    "pc": pc,
    "ode_euler": ode_euler,
    "ode_heun": ode_heun,
    "ode_rk45": ode_rk45,
    "ddim": ddim,
    "edm_heun": edm_heun,
    "langevin": langevin,
    "annealed_langevin": annealed_langevin,
}

DEFAULT_STEPS: dict[str, int] = {
    "em": 500,
    "reverse_diffusion": 500,
    "ancestral": 500,
    "pc": 250,
    "ode_euler": 250,
    "ode_heun": 50,
    "ode_rk45": 10,
    "ddim": 50,
    "edm_heun": 18,
    "langevin": 1000,
    "annealed_langevin": 1000,
}
"""Steps that reach the iid SWD floor on the 2D presets with the exact score (see `python -m playground bench samplers`)."""


def sample(
    name: str, score_fn: ScoreFn, sde: SDE, n_or_x_T: int | torch.Tensor, *, steps: int | None = None, seed: int = 0,
    shape: tuple[int, ...] = (2,), dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu", **kwargs,
) -> SampleResult:  # fmt: skip
    """Run sampler `name` from x_T (given, or n draws of sde.prior_sample of `shape`) with one seeded generator."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    generator = torch.Generator(device).manual_seed(seed)
    if isinstance(n_or_x_T, int):
        x_T = sde.prior_sample((n_or_x_T, *shape), generator=generator, device=device, dtype=dtype)
    else:
        x_T = n_or_x_T
    return SAMPLERS[name](score_fn, sde, x_T, steps=DEFAULT_STEPS[name] if steps is None else steps, generator=generator, **kwargs)
