"""Forward SDEs (VP, sub-VP, VE, rectified flow), their discretisations and reverse-time forms (Song et al. 2021, Sec. 3,
App. B-D).

Every SDE here is linear, f(x, t) = f(t) x, with Gaussian marginals x_t = alpha(t) x0 + sigma(t) eps. Such a path has
the velocity d x_t / dt = alpha' x0 + sigma' eps = k_x x_t + k_eps eps with k_x = f and k_eps = g^2 / (2 sigma)
(alpha' = f alpha, sigma' = g^2 / (2 sigma) + f sigma, from d(sigma^2)/dt = 2 f sigma^2 + g^2); the marginal velocity
E[v | x_t] = f x - g^2 s / 2 is the PF-ODE drift (SCIENCE.md, "Gaussian paths, velocity and flow matching").

Every method broadcasts over any data shape: x is (N, ...) (N x 2 points or N x C x H x W images) and t is a
scalar or a per-sample tensor of shape (N,). Per-sample coefficients come back with shape (N,); `bcast` reshapes
them against x.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Callable

import torch

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""score_fn(x, t) -> grad_x log p_t(x), same shape as x; t has shape (N,)."""


def bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample vector (N,) (or a scalar) so it broadcasts against x of shape (N, ...)."""
    v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
    if v.ndim == 0:
        return v
    return v.reshape(v.shape[0], *([1] * (x.ndim - 1)))


def time_vector(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """t as a float tensor of shape (N,) matching the batch of x."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.ndim == 0:
        t = t.expand(x.shape[0])
    return t


def suggest_sigma_max(x: torch.Tensor, max_points: int = 2000, seed: int = 0) -> float:
    """VE sigma_max from the data's largest pairwise distance (Song & Ermon 2020, Technique 1)."""
    x = torch.as_tensor(x).reshape(len(x), -1).double()
    if len(x) > max_points:
        g = torch.Generator().manual_seed(seed)
        x = x[torch.randperm(len(x), generator=g)[:max_points]]
    if len(x) < 2:
        raise ValueError("need at least two points to suggest sigma_max")
    return float(torch.cdist(x, x).max())


class SDE(ABC):
    """dx = f(x, t) dt + g(t) dw on t in [0, T]; data at t = 0, the prior at t = T."""

    T: float = 1.0
    sampling_eps: float = 1e-3
    likelihood_eps: float = 1e-5  # where likelihoods start (score_sde's likelihood eps), below sampling_eps
    name: str = "sde"

    def __init__(self, N: int = 1000):
        self.N = N

    # ---- continuous SDE -------------------------------------------------------------------------------------
    @abstractmethod
    def drift_coefficient(self, t: torch.Tensor) -> torch.Tensor:
        """f(t) of the linear drift f(x, t) = f(t) x, shape of t."""

    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """f(x, t) = f(t) x."""
        return bcast(self.drift_coefficient(time_vector(t, x)), x) * x

    @abstractmethod
    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        """g(t), shape of t."""

    @abstractmethod
    def marginal_coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha(t), sigma(t)) with x_t | x0 ~ N(alpha x0, sigma^2 I)."""

    def marginal_derivatives(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha'(t), sigma'(t)): alpha' = f alpha, sigma' = g^2 / (2 sigma) + f sigma (the module docstring)."""
        alpha, std = self.marginal_coefficients(t)
        f, g = self.drift_coefficient(t), self.diffusion(t)
        return f * alpha, g * g / (2 * std) + f * std

    def velocity_coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(k_x, k_eps) with the path velocity alpha' x0 + sigma' eps = k_x x_t + k_eps eps: k_x = f, k_eps = g^2 / (2 sigma)."""
        _, std = self.marginal_coefficients(t)
        g = self.diffusion(t)
        return self.drift_coefficient(t), g * g / (2 * std)

    def sde(self, x: torch.Tensor, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f(x, t), g(t)) with g of shape (N,)."""
        t = time_vector(t, x)
        return self.drift(x, t), self.diffusion(t)

    def marginal(self, x0: torch.Tensor, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean alpha(t) x0 and per-sample std sigma(t) (shape (N,)) of p(x_t | x0)."""
        t = time_vector(t, x0)
        alpha, std = self.marginal_coefficients(t)
        return bcast(alpha, x0) * x0, std

    def perturb(self, x0: torch.Tensor, t: float | torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Draw x_t = alpha x0 + sigma eps."""
        mean, std = self.marginal(x0, t)
        if noise is None:
            noise = torch.randn_like(x0)
        return mean + bcast(std, x0) * noise

    # ---- prior ----------------------------------------------------------------------------------------------
    @property
    def prior_std(self) -> float:
        return 1.0

    def prior_sample(
        self, shape: tuple[int, ...], generator: torch.Generator | None = None, device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """x_T ~ N(0, prior_std^2 I)."""
        return torch.randn(shape, generator=generator, device=device, dtype=dtype) * self.prior_std

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, prior_std^2 I), summed over all but the batch dimension."""
        d = z[0].numel()
        s = self.prior_std
        sq = z.reshape(len(z), -1).pow(2).sum(1)
        return -0.5 * d * math.log(2 * math.pi * s * s) - sq / (2 * s * s)

    # ---- noise-level view (EDM sigma space: x_t / alpha = x0 + sigma_edm n) -------------------------------------
    def sigma_edm(self, t: torch.Tensor) -> torch.Tensor:
        """sigma(t) / alpha(t): the noise level of x_t / alpha(t) (Karras et al. 2022, Eq. 4)."""
        alpha, std = self.marginal_coefficients(torch.as_tensor(t))
        return std / alpha

    @abstractmethod
    def t_of_sigma_edm(self, sigma: torch.Tensor) -> torch.Tensor:
        """Inverse of sigma_edm."""

    # ---- discretisation on any time grid -------------------------------------------------------------------
    def transition_coefficients(
        self, t_from: float | torch.Tensor, t_to: float | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, v) with x_{t_to} | x_{t_from} ~ N(a x_{t_from}, v I) for t_from <= t_to, in float64.

        a = alpha(t_to) / alpha(t_from), v = std(t_to)^2 - a^2 std(t_from)^2: the exact transition of a linear SDE,
        whose marginal from 0 splits at t_from (Sarkka & Solin 2019, Sec. 6.1). VP: a^2 = 1 - beta_i, v = beta_i,
        DDPM's step (Ho et al. 2020); VE: a = 1, v = sigma(t_to)^2 - sigma(t_from)^2, SMLD's (Song et al. 2021, App. B).
        """
        t_from = torch.as_tensor(t_from, dtype=torch.float64)
        t_to = torch.as_tensor(t_to, dtype=torch.float64)
        alpha_from, std_from = self.marginal_coefficients(t_from)
        alpha_to, std_to = self.marginal_coefficients(t_to)
        a = alpha_to / alpha_from
        return a, (std_to * std_to - a * a * std_from * std_from).clamp_min(0.0)

    def discretize(
        self, x: torch.Tensor, t: float | torch.Tensor, t_prev: float | torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_i, G_i) of the forward step t_prev -> t: x_t = x_{t_prev} + f_i + G_i z, f_i = (a - 1) x, G_i = sqrt v.

        The exact Gaussian transition (`transition_coefficients`) over the step, so a sampler's discretisation follows
        its own time grid; t_prev defaults to t - T / N (score_sde's fixed 1/N step). f_i is evaluated at the x given
        (the reverse-diffusion predictor evaluates it at the later state, Song et al. 2021, App. E). G_i has shape (N,).
        """
        t = time_vector(t, x)
        t_prev = (t - self.T / self.N).clamp(min=0.0) if t_prev is None else time_vector(t_prev, x)
        a, v = self.transition_coefficients(t_prev, t)
        return bcast(a - 1.0, x) * x, torch.sqrt(v).to(x.dtype)

    def langevin_alpha(self, t: float | torch.Tensor, t_prev: float | torch.Tensor) -> torch.Tensor:
        """alpha_i = a^2 of the step from t_prev to t, scaling the corrector's step (Song et al. 2021, Alg. 4/5).

        1 - beta_i for VP (as in the reference) and, with the same drift, for sub-VP (whose alpha_i the reference code
        lacks); 1 for VE. Float64, the shape of t.
        """
        a, _ = self.transition_coefficients(t_prev, t)
        return a * a

    # ---- reverse time ---------------------------------------------------------------------------------------
    def reverse(self, score_fn: ScoreFn, probability_flow: bool = False, stochasticity: float = 1.0) -> "ReverseSDE":
        """The reverse-time SDE dx = [f - g^2 s] dt + g dw_bar, or the PF-ODE dx/dt = f - g^2 s / 2; `stochasticity`
        lam picks another member of the family with the same marginals (see ReverseSDE)."""
        return ReverseSDE(self, score_fn, probability_flow, stochasticity)

    def config(self) -> dict:
        """Parameters that recreate this SDE with `sde_from_config`."""
        return {"name": self.name, "N": self.N}


def check_stochasticity(lam: float) -> float:
    """lam as a float, or a ValueError unless it is a finite number >= 0."""
    lam = float(lam)
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"stochasticity must be a finite number >= 0, got {lam}")
    return lam


class ReverseSDE:
    """The family of reverse-time processes sharing the marginals p_t of a forward SDE (Song et al. 2021, Eq. 6 and
    13; App. D.1): dx = [f - (1 + lam^2) / 2 g^2 s] dt + lam g dw_bar. lam = 1 is the reverse SDE, lam = 0 the
    probability-flow ODE (probability_flow=True), lam > 1 more stochastic than the reverse SDE (EDM's churn and
    DDIM's eta are the same idea)."""

    def __init__(self, forward: SDE, score_fn: ScoreFn, probability_flow: bool, stochasticity: float = 1.0):
        self.forward = forward
        self.score_fn = score_fn
        self.probability_flow = probability_flow
        self.stochasticity = 0.0 if probability_flow else check_stochasticity(stochasticity)
        self.T = forward.T
        self.N = forward.N

    def _score_scale(self) -> float:
        """(1 + lam^2) / 2: 1 for the reverse SDE, 1/2 for the PF-ODE (both exact in floating point)."""
        return 0.5 * (1.0 + self.stochasticity * self.stochasticity)

    def _noise_scale(self, g: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(g) if self.stochasticity == 0 else g * self.stochasticity

    def sde(self, x: torch.Tensor, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(drift, diffusion) in forward-time convention: integrate backwards from T to 0."""
        t = time_vector(t, x)
        f, g = self.forward.sde(x, t)
        score = self.score_fn(x, t)
        drift = f - bcast(g * g, x) * score * self._score_scale()
        return drift, self._noise_scale(g)

    def discretize(
        self, x: torch.Tensor, t: float | torch.Tensor, t_prev: float | torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_i - (1 + lam^2) / 2 G_i^2 s, lam G_i) undoing the forward step from t_prev to t: x_{t_prev} = x - rev_f
        + lam G_i z (the 'reverse diffusion' predictor, Song et al. 2021, App. E, at lam = 1; the PF-ODE at 0)."""
        t = time_vector(t, x)
        f, G = self.forward.discretize(x, t, t_prev)
        score = self.score_fn(x, t)
        rev_f = f - bcast(G * G, x) * score * self._score_scale()
        return rev_f, self._noise_scale(G)


class VPSDE(SDE):
    """Variance preserving: beta(t) = b0 + t (b1 - b0), f = -beta x / 2, g = sqrt(beta) (DDPM in continuous time)."""

    name = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000):
        super().__init__(N)
        self.beta_0 = beta_min
        self.beta_1 = beta_max

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_0 + t * (self.beta_1 - self.beta_0)

    def log_alpha(self, t: torch.Tensor) -> torch.Tensor:
        """log alpha(t) = -t^2 (b1 - b0) / 4 - t b0 / 2."""
        return -0.25 * t * t * (self.beta_1 - self.beta_0) - 0.5 * t * self.beta_0

    def drift_coefficient(self, t):
        return -0.5 * self.beta(t)

    def diffusion(self, t):
        return torch.sqrt(self.beta(t))

    def marginal_coefficients(self, t):
        la = self.log_alpha(t)
        return torch.exp(la), torch.sqrt(-torch.expm1(2 * la))

    def _t_of_log_alpha(self, log_alpha: torch.Tensor) -> torch.Tensor:
        """Solve (b1 - b0) t^2 / 4 + b0 t / 2 + log_alpha = 0 for t >= 0."""
        a = 0.25 * (self.beta_1 - self.beta_0)
        b = 0.5 * self.beta_0
        if a == 0:
            return -log_alpha / b
        return (-b + torch.sqrt(b * b - 4 * a * log_alpha)) / (2 * a)

    def t_of_sigma_edm(self, sigma):
        sigma = torch.as_tensor(sigma)
        return self._t_of_log_alpha(-0.5 * torch.log1p(sigma * sigma))

    def config(self):
        return {"name": self.name, "N": self.N, "beta_min": self.beta_0, "beta_max": self.beta_1}


class SubVPSDE(VPSDE):
    """sub-VP: the VP drift with g^2 = beta(t) (1 - exp(-2 b0 t - (b1 - b0) t^2)); std = 1 - alpha^2 (Song et al. 2021, Eq. 29)."""

    name = "subvp"

    def diffusion(self, t):
        return torch.sqrt(self.beta(t) * -torch.expm1(4 * self.log_alpha(t)))

    def marginal_coefficients(self, t):
        la = self.log_alpha(t)
        return torch.exp(la), -torch.expm1(2 * la)

    def t_of_sigma_edm(self, sigma):
        """sigma_edm = (1 - alpha^2) / alpha, so alpha = (sqrt(sigma^2 + 4) - sigma) / 2."""
        sigma = torch.as_tensor(sigma)
        alpha = 0.5 * (torch.sqrt(sigma * sigma + 4) - sigma)
        return self._t_of_log_alpha(torch.log(alpha))


class VESDE(SDE):
    """Variance exploding: sigma(t) = s_min (s_max / s_min)^t, f = 0, g = sigma(t) sqrt(2 ln(s_max / s_min)) (SMLD)."""

    name = "ve"
    sampling_eps = 1e-5

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, N: int = 1000):
        super().__init__(N)
        if not (0 < sigma_min < sigma_max):
            raise ValueError(f"VE needs 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def drift_coefficient(self, t):
        return torch.zeros_like(torch.as_tensor(t))

    def drift(self, x, t):
        return torch.zeros_like(x)  # constant in x: the likelihood's autograd divergence skips it

    def diffusion(self, t):
        return self.sigma(t) * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))

    def marginal_coefficients(self, t):
        t = torch.as_tensor(t)
        return torch.ones_like(t), self.sigma(t)

    def t_of_sigma_edm(self, sigma):
        sigma = torch.as_tensor(sigma)
        return torch.log(sigma / self.sigma_min) / math.log(self.sigma_max / self.sigma_min)

    @property
    def prior_std(self) -> float:
        return self.sigma_max

    def config(self):
        return {"name": self.name, "N": self.N, "sigma_min": self.sigma_min, "sigma_max": self.sigma_max}


class RFSDE(SDE):
    """Rectified flow (Liu et al. 2023; the straight Gaussian path of Lipman et al. 2023): x_t = (1 - t) x0 + t eps.

    As an SDE (a = 1 - t, b = t in f = a'/a, g^2 = d(b^2)/dt - 2 (a'/a) b^2): f(x, t) = -x / (1 - t),
    g(t)^2 = 2t / (1 - t); the path velocity is a' x0 + b' eps = eps - x0, and the PF-ODE drift f x - g^2 s / 2 is the
    flow-matching velocity field E[eps - x0 | x_t]. At t = 1 the marginal is the prior N(0, I) exactly, but f and g
    blow up there (and the score-to-velocity conversion divides by 1 - t), so the process runs on [0, T] with
    T = T_MAX = 1 - 1e-3: samplers start from N(0, I) at T (the true marginal there is N(1e-3 x0, 0.999^2 I): a
    prior mismatch ~7x smaller than VP's alpha(1) = 0.0067), training draws t <= T and the likelihood integrates to
    T. They stop at sampling_eps = 1e-2, where sigma_edm = t / (1 - t) = 0.0101 is the noise level at which VP
    (t = 1e-3) and VE (t = 1e-5) stop, so samplers, their final denoise and the likelihood's default start see the
    same noise level under every SDE (likelihoods start at likelihood_eps = 1e-5, as for every SDE: there the data
    are scaled by 1 - 1e-5 and blurred by 1e-5). marginal_coefficients, sigma_edm and t_of_sigma_edm are exact on
    [0, 1].

    Discrete form (reverse diffusion, the corrector's alpha_i): the exact Gaussian transition of `SDE.discretize`
    between grid points s < t, x_t = r x_s + sqrt(t^2 - r^2 s^2) z with r = (1 - t) / (1 - s); alpha_i = r^2.
    """

    name = "rf"
    T = 1.0 - 1e-3
    sampling_eps = 1e-2

    def drift_coefficient(self, t):
        return -1.0 / (1.0 - torch.as_tensor(t))

    def diffusion(self, t):
        t = torch.as_tensor(t)
        return torch.sqrt(2 * t / (1.0 - t))

    def marginal_coefficients(self, t):
        t = torch.as_tensor(t)
        return 1.0 - t, t.clone()

    def marginal_derivatives(self, t):
        t = torch.as_tensor(t)
        return torch.full_like(t, -1.0), torch.ones_like(t)

    def velocity_coefficients(self, t):
        """v = eps - x0 = (eps - x_t) / (1 - t): k_x = -1 / (1 - t), k_eps = 1 / (1 - t)."""
        k = 1.0 / (1.0 - torch.as_tensor(t))
        return -k, k

    def t_of_sigma_edm(self, sigma):
        """sigma_edm = t / (1 - t), so t = 1 / (1 + 1 / sigma) (0 at sigma = 0, 1 at sigma = inf)."""
        return 1.0 / (1.0 + 1.0 / torch.as_tensor(sigma))


SDE_CLASSES: dict[str, type[SDE]] = {"vp": VPSDE, "subvp": SubVPSDE, "ve": VESDE, "rf": RFSDE}
SDE_PARAMETERS = ("beta_min", "beta_max", "sigma_min", "sigma_max", "N")
"""Keyword parameters some SDE takes; `make_sde` passes each SDE the ones it has."""


def sde_from_config(cfg: dict) -> SDE:
    """Recreate an SDE from `SDE.config()`."""
    cfg = dict(cfg)
    name = cfg.pop("name")
    if name not in SDE_CLASSES:
        raise ValueError(f"unknown SDE {name!r}; choose one of {sorted(SDE_CLASSES)}")
    return SDE_CLASSES[name](**cfg)


def make_sde(name: str, sigma_max: float | None = None, **kwargs) -> SDE:
    """Build an SDE by name: 'vp' / 'subvp' (beta_min, beta_max), 've' (sigma_min, sigma_max), 'rf' (none).

    Parameters of SDE_PARAMETERS that the chosen SDE lacks are ignored (one set of settings serves every SDE);
    sigma_max None keeps VE's default. Any other keyword is an error."""
    if name not in SDE_CLASSES:
        raise ValueError(f"unknown SDE {name!r}; choose one of {sorted(SDE_CLASSES)}")
    cls = SDE_CLASSES[name]
    if sigma_max is not None:
        kwargs["sigma_max"] = sigma_max
    unknown = set(kwargs) - set(SDE_PARAMETERS)
    if unknown:
        raise TypeError(f"make_sde got unknown parameters {sorted(unknown)}")
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})
