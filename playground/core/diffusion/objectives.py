"""Training objectives: denoising score matching with three weightings, sliced score matching, flow matching.

Everything is computed in normalised space on a `ScoreModel` (see model.py). Per-sample losses are averaged over
the data dimensions, so a perfect eps-model on N(m, s^2 I) data reaches alpha^2 s^2 / (alpha^2 s^2 + sigma^2) at t.

Denoising score matching (Vincent 2011), written in eps form: with y_t = alpha y0 + sigma eps and
eps_hat = -sigma s_theta(y_t, t), lambda(t) ||s_theta - grad log p(y_t | y0)||^2 = lambda(t) / sigma^2 ||eps_hat - eps||^2.
  weighting 'song'       lambda = sigma^2                  -> w = 1                      t ~ U(eps, 1)
  weighting 'likelihood' lambda = g(t)^2 (Song et al. 2021b) -> w = g^2 / sigma^2         t ~ q(t) = w(t) / int w
                         (importance sampling: per-sample weight Z = int_eps^1 w dt / (1 - eps) is constant, so the
                         expectation equals the uniform-t objective with far less variance; `importance=False` gives
                         the plain U(eps, 1) estimator)
  weighting 'edm'        EDM weight (s^2 + sd^2) / (s sd)^2 on ||D - y0||^2 at s = sigma_edm = sigma / alpha
                         -> w = (s^2 + sd^2) / sd^2; noise ln s ~ N(P_mean, P_std^2), mapped to
                         t = sde.t_of_sigma_edm(s), clamped to [eps, 1]. P_mean defaults to EDM's -1.2 scaled to
                         the data std, -1.2 + ln(sd / 0.5); P_std = 1.2.
The network's output kind (eps, score, x0, edm, v) only changes how eps_hat is formed (ScoreModel.eps_norm).

Sliced score matching (Song et al. 2019), variance-reduced: lambda(t) [1/2 ||s||^2 + v^T grad_y (v^T s)] at
y_t ~ p_t with v ~ N(0, I) (`n_projections` probes averaged), lambda as above (sigma^2 w). It needs no knowledge of
p(y_t | y0) but a double backward pass. At the true score of N(0, I) its per-dimension value is -1/2.

Conditional flow matching (Lipman et al. 2023, Eq. 9 with the Gaussian path of Eq. 10; with the rf SDE this is
rectified flow, Liu et al. 2023): ||v_theta(y_t, t) - (alpha' y0 + sigma' eps)||^2 (per-dimension mean; for rf the
target is eps - y0), v_theta the network's velocity in any output kind (ScoreModel.predict('v'); 'v' is the natural
one). Its minimiser is the marginal velocity E[alpha' y0 + sigma' eps | y_t] = f y - g^2 s / 2, the PF-ODE drift. In
eps terms it is DSM with weight k_eps(t)^2 = (g^2 / 2 sigma)^2 on ||eps_hat - eps||^2 (rf: 1 / (1 - t)^2). Times: weighting
'song' draws t ~ U(eps, T) with unit weight (the papers' choice); 'edm' draws EDM's log-normal noise levels, for rf a
logit-normal t (ln sigma_edm = logit t; Esser et al. 2024), also with unit weight; 'likelihood' is not defined for it.
For VP the target's sigma' eps grows like 1 / sqrt(t) as t -> 0 (a noisy but valid loss); rf's stays O(1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from playground.core.diffusion.sde import SDE, bcast

OBJECTIVES = ("dsm", "ssm", "fm")
WEIGHTINGS = ("song", "likelihood", "edm")
T_EPS = 1e-5
EDM_P_MEAN = -1.2
EDM_P_STD = 1.2


@dataclass
class LossDraws:
    """The random numbers one batch of a loss uses, each with the batch as its leading dimension: times t (N,), the
    noise (N, ...) and, for SSM, the probes v (N, ...) each. Drawn for a whole batch in one fixed order
    (`Objective.draw`), so any rows of it equal what a one-process run uses for those rows: distributed ranks draw
    the global batch from one shared stream and keep their own rows (`rows`)."""

    t: torch.Tensor
    noise: torch.Tensor
    probes: tuple[torch.Tensor, ...] = ()

    def rows(self, rows: slice) -> "LossDraws":
        return LossDraws(self.t[rows], self.noise[rows], tuple(v[rows] for v in self.probes))


class Objective:
    """A training loss: `loss(model, y0, generator) -> (per-sample loss (N,), t (N,))`.

    kind: 'dsm', 'ssm' or 'fm'; weighting: 'song', 'likelihood' or 'edm'; sigma_data: std of the normalised data (EDM);
    eps: smallest training time; importance: importance-sample t for the likelihood weighting; n_projections: SSM
    probes per sample.
    """

    def __init__(
        self,
        sde: SDE,
        kind: str = "dsm",
        weighting: str = "song",
        sigma_data: float = 1.0,
        eps: float = T_EPS,
        importance: bool = True,
        n_projections: int = 1,
        p_mean: float | None = None,
        p_std: float = EDM_P_STD,
    ):
        if kind not in OBJECTIVES:
            raise ValueError(f"unknown objective {kind!r}; choose one of {OBJECTIVES}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; choose one of {WEIGHTINGS}")
        if kind == "fm" and weighting == "likelihood":
            raise ValueError("flow matching takes weighting 'song' (t ~ U(eps, T)) or 'edm' (log-normal noise levels), "
                             "not 'likelihood'")
        self.sde = sde
        self.kind = kind
        self.weighting = weighting
        self.sigma_data = float(sigma_data)
        self.eps = float(eps)
        self.importance = bool(importance) and weighting == "likelihood"
        self.n_projections = int(n_projections)
        self.p_mean = EDM_P_MEAN + math.log(self.sigma_data / 0.5) if p_mean is None else float(p_mean)
        self.p_std = float(p_std)
        self._tables: dict = {}
        if self.importance:
            self._build_importance_table()

    # ---- time sampling ------------------------------------------------------------------------------------------
    def _build_importance_table(self, k: int = 4096) -> None:
        """Inverse CDF of q(t) ~ g^2 / sigma^2 on [eps, T], tabulated on a log-t grid (float64)."""
        u = torch.linspace(math.log(self.eps), math.log(self.sde.T), k, dtype=torch.float64)
        t = torch.exp(u)
        w = self._w_likelihood(t)
        dens = w * t  # density in u = log t
        cdf = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(0.5 * (dens[1:] + dens[:-1]) * (u[1:] - u[:-1]), 0)])
        total = float(cdf[-1])
        self._Z = total / (self.sde.T - self.eps)
        self._cdf64 = cdf / total
        self._u64 = u

    def _table(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._tables:
            self._tables[key] = (self._cdf64.to(device, dtype), self._u64.to(device, dtype))
        return self._tables[key]

    def sample_t(self, n: int, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32) -> torch.Tensor:
        """Training times (n,) as the weighting prescribes."""
        if self.weighting == "edm":
            z = torch.randn(n, generator=generator, device=device, dtype=dtype)
            sigma = torch.exp(self.p_mean + self.p_std * z)
            return self.sde.t_of_sigma_edm(sigma).clamp(self.eps, self.sde.T)
        r = torch.rand(n, generator=generator, device=device, dtype=dtype)
        if self.importance:
            cdf, u = self._table(device, dtype)
            i = torch.searchsorted(cdf, r).clamp(1, len(cdf) - 1)
            c0, c1 = cdf[i - 1], cdf[i]
            frac = (r - c0) / (c1 - c0).clamp_min(1e-30)
            return torch.exp(torch.lerp(u[i - 1], u[i], frac)).clamp(self.eps, self.sde.T)
        return r * (self.sde.T - self.eps) + self.eps

    # ---- weights ------------------------------------------------------------------------------------------------
    def _w_likelihood(self, t: torch.Tensor) -> torch.Tensor:
        g = self.sde.diffusion(t)
        _, std = self.sde.marginal_coefficients(t)
        return (g * g) / (std * std)

    def eps_weight(self, t: torch.Tensor, alpha: torch.Tensor | None = None, std: torch.Tensor | None = None):
        """w(t) multiplying ||eps_hat - eps||^2 for the sampled t (None means 1)."""
        if self.weighting == "song":
            return None
        if self.weighting == "likelihood":
            if self.importance:
                return None  # constant Z, applied as a scalar
            return self._w_likelihood(t)
        if alpha is None or std is None:
            alpha, std = self.sde.marginal_coefficients(t)
        s = std / alpha
        return (s * s + self.sigma_data**2) / (self.sigma_data**2)

    def score_weight(self, t, alpha, std):
        """lambda(t) = sigma^2 w(t), the weight on the squared score error (used by SSM)."""
        w = self.eps_weight(t, alpha, std)
        lam = std * std if w is None else std * std * w
        if self.importance:
            lam = lam * self._Z
        return lam

    # ---- losses -------------------------------------------------------------------------------------------------
    def __call__(self, model, y0: torch.Tensor, generator: torch.Generator | None = None, class_labels=None,
                 draws: LossDraws | None = None):
        return self.loss(model, y0, generator, class_labels, draws)

    def draw(self, n: int, shape: tuple[int, ...], generator: torch.Generator | None = None, device="cpu",
             dtype=torch.float32) -> LossDraws:
        """The random numbers of a batch of n samples of `shape`: t, then the noise, then SSM's probes."""
        t = self.sample_t(n, generator, device, dtype)
        noise = torch.randn((n, *shape), generator=generator, device=device, dtype=dtype)
        probes = ()
        if self.kind == "ssm":
            probes = tuple(torch.randn((n, *shape), generator=generator, device=device, dtype=dtype)
                           for _ in range(self.n_projections))
        return LossDraws(t, noise, probes)

    def loss(self, model, y0: torch.Tensor, generator: torch.Generator | None = None, class_labels=None,
             draws: LossDraws | None = None):
        """(per-sample loss (N,), t (N,)) for a batch of normalised data y0 (N, ...); class_labels (N,) go to a
        class-conditional network (None: unconditional); draws: the batch's random numbers (default: drawn now)."""
        if draws is None:
            draws = self.draw(len(y0), tuple(y0.shape[1:]), generator, y0.device, y0.dtype)
        t = draws.t
        if self.kind == "dsm":
            return self.dsm(model, y0, t, noise=draws.noise, class_labels=class_labels), t
        if self.kind == "fm":
            return self.fm(model, y0, t, noise=draws.noise, class_labels=class_labels), t
        return self.ssm(model, y0, t, class_labels=class_labels, noise=draws.noise, probes=draws.probes), t

    def dsm(self, model, y0, t, generator=None, noise=None, class_labels=None) -> torch.Tensor:
        alpha, std = self.sde.marginal_coefficients(t)
        if noise is None:
            noise = torch.randn(y0.shape, generator=generator, device=y0.device, dtype=y0.dtype)
        y = torch.addcmul(bcast(alpha, y0) * y0, bcast(std, y0), noise)
        eps_hat = model.eps_norm(y, t) if class_labels is None else model.eps_norm(y, t, class_labels)
        per = (eps_hat - noise).square().reshape(len(y0), -1).mean(1)
        w = self.eps_weight(t, alpha, std)
        if w is not None:
            per = per * w
        if self.importance:
            per = per * self._Z
        return per

    def fm(self, model, y0, t, generator=None, noise=None, class_labels=None) -> torch.Tensor:
        """Conditional flow matching: per-dimension mean of ||v_theta(y_t, t) - (alpha' y0 + sigma' eps)||^2."""
        alpha, std = self.sde.marginal_coefficients(t)
        d_alpha, d_std = self.sde.marginal_derivatives(t)
        if noise is None:
            noise = torch.randn(y0.shape, generator=generator, device=y0.device, dtype=y0.dtype)
        y = torch.addcmul(bcast(alpha, y0) * y0, bcast(std, y0), noise)
        target = torch.addcmul(bcast(d_alpha, y0) * y0, bcast(d_std, y0), noise)
        v_hat = model.predict("v", y, t, class_labels)
        return (v_hat - target).square().reshape(len(y0), -1).mean(1)

    def ssm(self, model, y0, t, generator=None, class_labels=None, noise=None, probes=()) -> torch.Tensor:
        alpha, std = self.sde.marginal_coefficients(t)
        if noise is None:
            noise = torch.randn(y0.shape, generator=generator, device=y0.device, dtype=y0.dtype)
        y = (bcast(alpha, y0) * y0 + bcast(std, y0) * noise).detach().requires_grad_(True)
        score = model.predict("score", y, t, class_labels)
        d = y0[0].numel()
        n = len(y0)
        sq = 0.5 * score.reshape(n, -1).square().sum(1)
        trace = torch.zeros(n, device=y0.device, dtype=y0.dtype)
        for k in range(self.n_projections):
            v = probes[k] if probes else torch.randn(y0.shape, generator=generator, device=y0.device, dtype=y0.dtype)
            (gv,) = torch.autograd.grad((score * v).sum(), y, create_graph=True)
            trace = trace + (gv * v).reshape(n, -1).sum(1)
        per = (sq + trace / self.n_projections) / d
        return per * self.score_weight(t, alpha, std)


def make_objective(sde: SDE, objective: str = "dsm", weighting: str = "song", sigma_data: float = 1.0, **kwargs) -> Objective:
    return Objective(sde, objective, weighting, sigma_data=sigma_data, **kwargs)
