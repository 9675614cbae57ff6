"""Score networks sized for a laptop CPU: an MLP on (x, Fourier features of the noise level).

`ScoreMLP.forward(x, c_noise)` returns the *raw* network output shaped like x; what it means (eps, score, x0 or the
EDM F) and how its input is scaled is decided by `playground.core.training.model.ScoreModel`. The noise input is
c_noise = ln(sigma_edm(t)) / 4 (EDM's convention, used for every output kind and SDE): it spans about [-2, 1.5]
for the default SDEs, so fixed geometric frequencies from `freq_min` to `freq_max` resolve it finely.

Speed notes (2 CPU threads, batch 512): cost is dominated by the hidden x hidden matmuls, so steps/s scales with
1 / (batch * hidden^2 * depth). Concatenating the embedding to the input (rather than adding it to every layer) keeps
the conditioning almost free.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU, "softplus": nn.Softplus, "tanh": nn.Tanh}
TIME_EMBEDDINGS = ("fourier", "linear")
TIME_CONDITIONING = ("concat", "add")


class FourierEmbedding(nn.Module):
    """[c, sin(2 pi f_k c), cos(2 pi f_k c)] with fixed geometric frequencies f_k (k = 1..n_freqs)."""

    def __init__(self, n_freqs: int = 8, freq_min: float = 0.25, freq_max: float = 8.0):
        super().__init__()
        freqs = torch.exp(torch.linspace(math.log(freq_min), math.log(freq_max), n_freqs)) * (2 * math.pi)
        self.register_buffer("freqs", freqs.to(torch.float32))
        self.out_dim = 2 * n_freqs + 1

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        c = c.reshape(-1, 1)
        arg = c * self.freqs
        return torch.cat([c, torch.sin(arg), torch.cos(arg)], dim=1)


class LinearEmbedding(nn.Module):
    """The raw noise input as one feature (an ablation: no Fourier features)."""

    out_dim = 1

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return c.reshape(-1, 1)


class ScoreMLP(nn.Module):
    """MLP: Linear(dim + emb) -> act -> [Linear(hidden) -> act] x (depth - 1) -> Linear(dim).

    dim: data dimension (flattened); hidden, depth: width and number of hidden layers; time_embedding: 'fourier'
    (default) or 'linear'; n_freqs / freq_min / freq_max: the Fourier features of c_noise; activation: 'silu' etc.
    The last layer starts at zero, so an untrained model outputs 0 (eps = 0, or D = c_skip x for EDM): a calm start.
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        time_embedding: str = "fourier",
        n_freqs: int = 8,
        freq_min: float = 0.25,
        freq_max: float = 8.0,
        activation: str = "silu",
        x_freqs: int = 0,
        x_freq_min: float = 0.25,
        x_freq_max: float = 4.0,
        time_cond: str = "concat",
    ):
        super().__init__()
        if time_cond not in TIME_CONDITIONING:
            raise ValueError(f"unknown time_cond {time_cond!r}; choose one of {TIME_CONDITIONING}")
        if time_embedding not in TIME_EMBEDDINGS:
            raise ValueError(f"unknown time_embedding {time_embedding!r}; choose one of {TIME_EMBEDDINGS}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if depth < 1 or hidden < 1 or dim < 1:
            raise ValueError(f"ScoreMLP needs dim, hidden, depth >= 1, got {dim}, {hidden}, {depth}")
        self.arch = {
            "type": "ScoreMLP",
            "dim": int(dim),
            "hidden": int(hidden),
            "depth": int(depth),
            "time_embedding": time_embedding,
            "n_freqs": int(n_freqs),
            "freq_min": float(freq_min),
            "freq_max": float(freq_max),
            "activation": activation,
            "x_freqs": int(x_freqs),
            "x_freq_min": float(x_freq_min),
            "x_freq_max": float(x_freq_max),
            "time_cond": time_cond,
        }
        self.dim = dim
        self.embed = FourierEmbedding(n_freqs, freq_min, freq_max) if time_embedding == "fourier" else LinearEmbedding()
        act = ACTIVATIONS[activation]
        self.x_embed = FourierEmbedding(x_freqs, x_freq_min, x_freq_max) if x_freqs > 0 else None
        x_dim = dim * (2 * x_freqs + 1) if x_freqs > 0 else dim
        layers: list[nn.Module] = [nn.Linear(x_dim + self.embed.out_dim, hidden), act()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), act()]
        out = nn.Linear(hidden, dim)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        layers.append(out)
        self.body = nn.Sequential(*layers)
        # 'add': the noise embedding also shifts every later hidden layer (one small matmul for all of them)
        self.cond = nn.Linear(self.embed.out_dim, hidden * (depth - 1)) if time_cond == "add" and depth > 1 else None
        self.depth = depth

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        """Raw output shaped like x; x is (N, ...) and flattened to (N, dim); c_noise is (N,) or a scalar."""
        shape = x.shape
        h = x.reshape(shape[0], -1)
        c = torch.as_tensor(c_noise, dtype=h.dtype, device=h.device)
        if c.ndim == 0:
            c = c.expand(shape[0])
        if self.x_embed is not None:  # Fourier features of each coordinate (input-space spectral bias)
            h = _coord_features(h, self.x_embed.freqs)
        e = self.embed(c)
        h = torch.cat([h, e], dim=1)
        if self.cond is None:
            return self.body(h).reshape(shape)
        shifts = self.cond(e).chunk(self.depth - 1, dim=1)
        body = self.body
        h = body[1](body[0](h))
        for i in range(self.depth - 1):
            h = body[2 * i + 3](body[2 * i + 2](h) + shifts[i])
        return body[-1](h).reshape(shape)

    def config(self) -> dict:
        """Arguments that rebuild this network with `network_from_config`."""
        return dict(self.arch)


def _coord_features(h: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """[x, sin(2 pi f_k x_i), cos(2 pi f_k x_i)] for every coordinate i and frequency k: (N, D (2K + 1))."""
    arg = (h[:, :, None] * freqs).reshape(h.shape[0], -1)
    return torch.cat([h, torch.sin(arg), torch.cos(arg)], dim=1)
