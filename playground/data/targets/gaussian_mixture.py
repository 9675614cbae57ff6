"""The Gaussian-mixture target: sum_k w_k N(mu_k, Sigma_k), with its exact density, score, divergence and component
posteriors at every time t of a linear forward SDE.

Under x_t = alpha(t) x_0 + sigma(t) eps the marginal is again a mixture, p_t = sum_k w_k N(alpha mu_k, C_k) with
C_k = alpha^2 Sigma_k + sigma^2 I (Song et al. 2021; SCIENCE.md), so every sampler can be checked against it without
training. The SDE enters only through `sde.marginal_coefficients(t)`; the SDEs themselves live in
`playground.core.diffusion.sde` (targets need nothing from the core). Computations run in float64 and return the
caller's dtype.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from playground.core.diffusion.sde import SDE, ScoreFn


class GaussianMixture:
    """sum_k w_k N(mu_k, Sigma_k) in D dimensions with full covariances; weights are normalised."""

    def __init__(self, weights, means, covariances):
        w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        mu = torch.as_tensor(means, dtype=torch.float64)
        cov = torch.as_tensor(covariances, dtype=torch.float64)
        if mu.ndim != 2 or cov.ndim != 3 or cov.shape[1:] != (mu.shape[1], mu.shape[1]) or len({len(w), len(mu), len(cov)}) != 1:
            raise ValueError(
                f"GMM shapes disagree: weights {tuple(w.shape)}, means {tuple(mu.shape)}, covariances {tuple(cov.shape)}"
            )
        if len(w) == 0:
            raise ValueError("a GMM needs at least one component")
        if not (torch.isfinite(w).all() and torch.isfinite(mu).all() and torch.isfinite(cov).all()):
            raise ValueError("GMM parameters contain NaN or infinity")
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("GMM weights must be non-negative with a positive sum")
        if not torch.allclose(cov, cov.transpose(1, 2), atol=1e-9):
            raise ValueError("GMM covariances must be symmetric")
        if torch.linalg.eigvalsh(cov).min() <= 0:
            raise ValueError("GMM covariances must be positive definite")
        self.weights = w / w.sum()
        self.means = mu
        self.covariances = cov

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return len(self.weights)

    def component(self, k: int) -> "GaussianMixture":
        """Component k alone, as a one-component mixture (the class-conditional density when components are classes)."""
        if not 0 <= k < self.n_components:
            raise ValueError(f"component {k} out of range for a {self.n_components}-component mixture")
        return GaussianMixture([1.0], self.means[k : k + 1], self.covariances[k : k + 1])

    def to_dict(self) -> dict:
        return {
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "covariances": self.covariances.tolist(),
        }

    def sample(self, n: int, generator: torch.Generator | None = None, return_labels: bool = False):
        """n exact samples (float64); with return_labels also the component of each."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        chol = torch.linalg.cholesky(self.covariances)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        x = self.means[k] + torch.einsum("nij,nj->ni", chol[k], z)
        return (x, k) if return_labels else x

    # ---- marginals p_t under a linear SDE: any object with marginal_coefficients(t) -> (alpha, std) ----------------
    def _terms(self, x: torch.Tensor, t, sde: SDE | None):
        """Per-component log(w_k N(x; alpha mu_k, C_k)) (N, K), C_k^-1 (x - alpha mu_k) (N, K, D), tr C_k^-1 (N|1, K).

        When every sample shares one t (the sampler case) the K covariances are factorised once, not N x K times.
        """
        xd = x.to(torch.float64)
        if sde is None:
            t = torch.zeros(len(xd), dtype=torch.float64)
            alpha, std = torch.ones_like(t), torch.zeros_like(t)
        else:
            t = torch.as_tensor(t, dtype=torch.float64, device=xd.device)
            t = t.expand(len(xd)) if t.ndim == 0 else t
            alpha, std = sde.marginal_coefficients(t)
        eye = torch.eye(self.dim, dtype=torch.float64)
        shared = len(t) > 0 and bool((t == t[0]).all())
        a, v = (alpha[:1], std[:1] ** 2) if shared else (alpha, std**2)
        cov = a[:, None, None, None] ** 2 * self.covariances[None] + v[:, None, None, None] * eye  # (N|1, K, D, D)
        chol = torch.linalg.cholesky(cov)
        prec = torch.cholesky_inverse(chol)
        diff = xd[:, None, :] - alpha[:, None, None] * self.means[None]
        if shared:
            sol = torch.einsum("kij,nkj->nki", prec[0], diff)
        else:
            sol = torch.einsum("nkij,nkj->nki", prec, diff)
        maha = (diff * sol).sum(-1)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        logn = -0.5 * (maha + logdet + self.dim * math.log(2 * math.pi))
        trace_prec = torch.diagonal(prec, dim1=-2, dim2=-1).sum(-1)
        return logn + torch.log(self.weights)[None], sol, trace_prec

    def log_prob(self, x: torch.Tensor, t: float | torch.Tensor = 0.0, sde: SDE | None = None) -> torch.Tensor:
        """log p_t(x); with sde None (or t = 0 of a clean mixture) the data density itself."""
        logw, _, _ = self._terms(x, t, sde)
        return torch.logsumexp(logw, 1).to(x.dtype)

    def score(self, x: torch.Tensor, t: float | torch.Tensor = 0.0, sde: SDE | None = None) -> torch.Tensor:
        """grad log p_t(x) = sum_k r_k (-C_k^-1 (x - alpha mu_k))."""
        logw, sol, _ = self._terms(x, t, sde)
        r = torch.softmax(logw, 1)
        return -(r[..., None] * sol).sum(1).to(x.dtype)

    def responsibilities(self, x: torch.Tensor, t: float | torch.Tensor = 0.0, sde: SDE | None = None) -> torch.Tensor:
        """p_t(k | x): the exact classifier when the component is the class label."""
        logw, _, _ = self._terms(x, t, sde)
        return torch.softmax(logw, 1).to(x.dtype)

    def divergence(self, x: torch.Tensor, t: float | torch.Tensor = 0.0, sde: SDE | None = None) -> torch.Tensor:
        """Exact Laplacian of log p_t: sum_k r_k (|C_k^-1 d_k|^2 - tr C_k^-1) - |s|^2."""
        return self.score_and_divergence(x, t, sde)[1]

    def score_and_divergence(self, x: torch.Tensor, t: float | torch.Tensor = 0.0, sde: SDE | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """(score, divergence) from one evaluation of the components (what the log-density ODE needs)."""
        logw, sol, trace_prec = self._terms(x, t, sde)
        r = torch.softmax(logw, 1)
        s = -(r[..., None] * sol).sum(1)
        lap = (r * ((sol * sol).sum(-1) - trace_prec)).sum(1) - (s * s).sum(1)
        return s.to(x.dtype), lap.to(x.dtype)

    def score_fn(self, sde: SDE) -> ScoreFn:
        """The exact score as a sampler-ready function (x, t) -> grad log p_t(x)."""
        return lambda x, t: self.score(x, t, sde)

    def entropy(self, n: int = 200_000, seed: int = 0) -> float:
        """Monte Carlo entropy -E log p0(x) in nats (closed form for one component)."""
        if self.n_components == 1:
            logdet = torch.logdet(self.covariances[0])
            return float(0.5 * (self.dim * (1 + math.log(2 * math.pi)) + logdet))
        g = torch.Generator().manual_seed(seed)
        return float(-self.log_prob(self.sample(n, g)).mean())
