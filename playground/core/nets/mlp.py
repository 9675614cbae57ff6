"""Score networks sized for a laptop CPU: an MLP on (x, Fourier features of the noise level).

`ScoreMLP.forward(x, c_noise)` returns the *raw* network output shaped like x; what it means (eps, score, x0 or the
EDM F) and how its input is scaled is decided by `playground.core.training.model.ScoreModel`. The noise input is
c_noise = ln(sigma_edm(t)) / 4 (EDM's convention, used for every output kind and SDE): it spans about [-2, 1.5]
for the default SDEs, so fixed geometric frequencies from `freq_min` to `freq_max` resolve it finely.

Class conditioning (`num_classes` K > 0, as the UNet): a learned embedding of K + 1 entries (index K = `null_class`,
"no class", for classifier-free guidance; class_labels=None means it) joins the noise embedding, so it enters the
first layer and the 'add' shifts. `forward_with_trace` also returns tr(d out / d x), the exact divergence by
forward-mode differentiation (the PF-ODE log-density needs it at every step).

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
        num_classes: int = 0,
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
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
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
        if num_classes:
            self.arch["num_classes"] = int(num_classes)
        self.dim = dim
        self.embed = FourierEmbedding(n_freqs, freq_min, freq_max) if time_embedding == "fourier" else LinearEmbedding()
        self.num_classes = int(num_classes)
        self.class_embed = nn.Embedding(num_classes + 1, self.embed.out_dim) if num_classes > 0 else None
        emb_dim = self.embed.out_dim * (2 if num_classes > 0 else 1)
        act = ACTIVATIONS[activation]
        self.x_embed = FourierEmbedding(x_freqs, x_freq_min, x_freq_max) if x_freqs > 0 else None
        x_dim = dim * (2 * x_freqs + 1) if x_freqs > 0 else dim
        layers: list[nn.Module] = [nn.Linear(x_dim + emb_dim, hidden), act()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), act()]
        out = nn.Linear(hidden, dim)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        layers.append(out)
        self.body = nn.Sequential(*layers)
        # 'add': the noise embedding also shifts every later hidden layer (one small matmul for all of them)
        self.cond = nn.Linear(emb_dim, hidden * (depth - 1)) if time_cond == "add" and depth > 1 else None
        self.depth = depth

    @property
    def null_class(self) -> int | None:
        """The label meaning 'no class' (classifier-free guidance), or None for an unconditional net."""
        return self.num_classes if self.num_classes > 0 else None

    def _embedding(self, c_noise, class_labels, n: int, like: torch.Tensor) -> torch.Tensor:
        """The noise embedding, joined by the class embedding for a conditional net (None -> the null class): (N, E),
        or (1, E) when one noise level (a scalar or one-element c_noise) and one class serve the whole batch."""
        c = torch.as_tensor(c_noise, dtype=like.dtype, device=like.device)
        e = self.embed(c.reshape(1) if c.numel() == 1 else c)
        if self.class_embed is None:
            if class_labels is not None:
                raise ValueError("this ScoreMLP is unconditional (num_classes = 0) but class_labels were given")
            return e
        if class_labels is None:
            y = torch.full((1,), self.num_classes, dtype=torch.long, device=like.device)
        else:
            y = torch.as_tensor(class_labels, device=like.device).long()
            y = y.reshape(1) if y.ndim == 0 else y
            if y.shape not in ((n,), (1,)) or bool(((y < 0) | (y > self.num_classes)).any()):
                raise ValueError(f"class_labels must be ints in [0, {self.num_classes}] of shape ({n},)")
        rows = max(len(e), len(y))
        return torch.cat([e.expand(rows, -1), self.class_embed(y).to(like.dtype).expand(rows, -1)], dim=1)

    def _layers(self, e: torch.Tensor, x_width: int) -> list[tuple[torch.Tensor, torch.Tensor, nn.Module | None]]:
        """(weight, bias, activation) of every layer, the output layer's activation None, with the embedding e folded
        into the biases: the first layer's weight acts on the x features alone and its bias is b + W_e e; a hidden
        layer's bias is b + its 'add' shift. Biases have e's rows: one row when the batch shares its noise level."""
        body = self.body
        first = body[0]
        layers = [(first.weight[:, :x_width], torch.addmm(first.bias, e, first.weight[:, x_width:].T), body[1])]
        shifts = self.cond(e).chunk(self.depth - 1, dim=1) if self.cond is not None else [None] * (self.depth - 1)
        for i, shift in enumerate(shifts):
            linear = body[2 * i + 2]
            layers.append((linear.weight, linear.bias if shift is None else shift + linear.bias, body[2 * i + 3]))
        layers.append((body[-1].weight, body[-1].bias, None))
        return layers

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels=None) -> torch.Tensor:
        """Raw output shaped like x; x is (N, ...) and flattened to (N, dim); c_noise is (N,), or a scalar or one
        element shared by the batch; class_labels: None (the null class of a conditional net), an int or (N,) ints."""
        shape = x.shape
        h = x.reshape(shape[0], -1)
        e = self._embedding(c_noise, class_labels, shape[0], h)
        if self.x_embed is not None:  # Fourier features of each coordinate (input-space spectral bias)
            h = _coord_features(h, self.x_embed.freqs)
        for weight, bias, act in self._layers(e, h.shape[1]):
            h = torch.addmm(bias, h, weight.T)
            if act is not None:
                h = act(h)
        return h.reshape(shape)

    def forward_with_trace(self, x: torch.Tensor, c_noise: torch.Tensor, class_labels=None):
        """(forward(x), tr(d forward / d x) per sample (N,)): forward-mode differentiation along the D input axes,
        the D tangents of a layer held as one (D, N, H) tensor and multiplied as one (D N, H) matrix (about 1 + D
        forward passes of work, no graph). A shared noise level makes the embedding's terms one row per layer."""
        shape = x.shape
        n, d = shape[0], self.dim
        h = x.reshape(n, -1)
        e = self._embedding(c_noise, class_labels, n, h)
        if self.x_embed is not None:
            feats, d_feats = _coord_features_with_tangents(h, self.x_embed.freqs)  # (N, F), (D, N, F)
        else:
            feats, d_feats = h, None
        (w_x, bias, act), *hidden, (w_out, b_out, _) = self._layers(e, feats.shape[1])
        h, slope = _activation_with_slope(act, torch.addmm(bias, feats, w_x.T))
        if d_feats is None:  # d pre / d x_j is column j of the weight, the same for every sample
            tangent = w_x.T.contiguous()[:, None, :] * slope  # (D, N, H), contiguous
        else:
            tangent = (d_feats.reshape(d * n, -1) @ w_x.T).view(d, n, -1).mul_(slope)
        for weight, bias, act in hidden:
            h, slope = _activation_with_slope(act, torch.addmm(bias, h, weight.T))
            tangent = (tangent.view(d * n, -1) @ weight.T).view(d, n, -1).mul_(slope)
        # the output layer: only the diagonal of its Jacobian, sum_j w_out[j] . tangent_j
        trace = sum(tangent[j] @ w_out[j] for j in range(d))
        return torch.addmm(b_out, h, w_out.T).reshape(shape), trace

    def config(self) -> dict:
        """Arguments that rebuild this network with `network_from_config`."""
        return dict(self.arch)


def _activation_with_slope(act: nn.Module, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(act(pre), act'(pre)): SiLU by its fused forward and backward kernels (silu_backward with a unit gradient is
    sigma(x) (1 + x (1 - sigma(x))), 7x faster on a CPU than composing it), any other elementwise activation by
    forward-mode AD."""
    if isinstance(act, nn.SiLU):
        return nn.functional.silu(pre), torch.ops.aten.silu_backward(pre.new_ones(()).expand_as(pre), pre)
    return torch.func.jvp(act, (pre,), (torch.ones_like(pre),))


def _coord_features(h: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """[x, sin(2 pi f_k x_i), cos(2 pi f_k x_i)] for every coordinate i and frequency k: (N, D (2K + 1))."""
    arg = (h[:, :, None] * freqs).reshape(h.shape[0], -1)
    return torch.cat([h, torch.sin(arg), torch.cos(arg)], dim=1)


def _coord_features_with_tangents(h: torch.Tensor, freqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`_coord_features` and its derivative along each input axis j: (N, F) and (D, N, F)."""
    n, d = h.shape
    k = len(freqs)
    arg = h[:, :, None] * freqs  # (N, D, K)
    sin, cos = torch.sin(arg), torch.cos(arg)
    feats = torch.cat([h, sin.reshape(n, -1), cos.reshape(n, -1)], dim=1)
    axis = torch.eye(d, dtype=h.dtype, device=h.device)[:, None, :, None]  # (D, 1, D, 1): d x_i / d x_j
    d_sin = (axis * (cos * freqs)[None]).reshape(d, n, d * k)
    d_cos = (axis * (-sin * freqs)[None]).reshape(d, n, d * k)
    return feats, torch.cat([torch.eye(d, dtype=h.dtype, device=h.device)[:, None, :].expand(d, n, d), d_sin, d_cos], 2)
