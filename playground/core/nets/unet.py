"""A small U-Net for 8x8 - 28x28 images on a CPU (DDPM / ADM layout, Ho et al. 2020; Dhariwal & Nichol 2021).

`UNet.forward(x, c_noise, class_labels=None)` returns the *raw* network output shaped like x, the same contract as
`playground.core.nets.mlp.ScoreMLP`: what the output means (eps, score, x0, EDM F) and how the input is scaled is
decided by `playground.core.training.model.ScoreModel`. c_noise is the noise input, ln(sigma_edm(t)) / 4 by the model's
convention (about [-2, 1.5] for the default SDEs), embedded with fixed geometric Fourier frequencies like ScoreMLP's.

x may be (N, C, H, W) or flattened (N, C*H*W) when the network was built with `image_size` (so a model that keeps
data as (N, D) vectors, as the 2D pipeline does, works unchanged); the output has x's shape and dtype either way (also
under autocast). `channels_last = True` runs the activations in NHWC memory layout (for CUDA tensor cores).

Layout: conv_in -> for each level [ResBlock x num_res_blocks, Downsample] -> mid [ResBlock, (Attention), ResBlock]
-> for each level reversed [ResBlock x (num_res_blocks + 1) on concatenated skips, Upsample] -> GroupNorm, SiLU,
conv_out (zero-initialised: an untrained net outputs 0, a calm start like ScoreMLP). ResBlocks are GroupNorm + SiLU +
3x3 conv twice with the (noise + class) embedding added in between. Downsampling is a stride-2 conv (28 -> 14 -> 7,
8 -> 4); upsampling is nearest-neighbour to the skip's exact size, then a 3x3 conv, so odd sizes work too.

Class conditioning: with num_classes = K > 0 a learned embedding of K + 1 entries is added to the noise embedding;
index K (`null_class`) is the 'no class' token for classifier-free guidance (Ho & Salimans 2022). class_labels=None
means the null class. Label dropout (replacing labels by `null_class` with some probability) is the trainer's job.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _groups(channels: int, groups: int) -> int:
    """The largest divisor of channels that is <= groups (GroupNorm needs channels % groups == 0)."""
    g = max(1, min(groups, channels))
    while channels % g:
        g -= 1
    return g


class NoiseEmbedding(nn.Module):
    """[c, sin(2 pi f_k c), cos(2 pi f_k c)] with fixed geometric frequencies f_k, then a 2-layer SiLU MLP."""

    def __init__(self, out_dim: int, n_freqs: int = 16, freq_min: float = 0.25, freq_max: float = 8.0):
        super().__init__()
        freqs = torch.exp(torch.linspace(math.log(freq_min), math.log(freq_max), n_freqs)) * (2 * math.pi)
        self.register_buffer("freqs", freqs.to(torch.float32))
        self.mlp = nn.Sequential(nn.Linear(2 * n_freqs + 1, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        c = c.reshape(-1, 1).to(self.freqs.dtype)
        arg = c * self.freqs
        return self.mlp(torch.cat([c, torch.sin(arg), torch.cos(arg)], dim=1))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin, groups), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2 = nn.GroupNorm(_groups(cout, groups), cout)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-head self-attention over the H*W positions, with a residual connection."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(ch, groups), ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # (n, hw, c)
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class Downsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, size):
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class UNet(nn.Module):
    """Small U-Net; see the module docstring.

    in_channels: 1 (grayscale) or 3 (RGB); image_size: H = W (needed only for flattened input and recorded in the
    config); base_channels: width of the first level; channel_mults: width multiplier per level (len - 1
    downsamplings); num_res_blocks: ResBlocks per level on the way down; attention: self-attention in the middle
    (lowest resolution); num_classes: 0 for unconditional, else K classes plus the null class K; dropout: in
    ResBlocks; groups: GroupNorm groups; n_freqs / freq_min / freq_max: the noise embedding's Fourier features.
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int | None = None,
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        num_res_blocks: int = 1,
        attention: bool = False,
        num_classes: int = 0,
        dropout: float = 0.0,
        groups: int = 8,
        n_freqs: int = 16,
        freq_min: float = 0.25,
        freq_max: float = 8.0,
    ):
        super().__init__()
        channel_mults = tuple(int(m) for m in channel_mults)
        if in_channels < 1 or base_channels < 1 or num_res_blocks < 1 or not channel_mults or min(channel_mults) < 1:
            raise ValueError(
                f"UNet needs in_channels, base_channels, num_res_blocks >= 1 and positive channel_mults, got "
                f"{in_channels}, {base_channels}, {num_res_blocks}, {channel_mults}"
            )
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if image_size is not None and image_size < 2 ** (len(channel_mults) - 1):
            raise ValueError(f"image_size {image_size} is too small for {len(channel_mults) - 1} downsamplings")
        self.arch = {
            "type": "UNet",
            "in_channels": int(in_channels),
            "image_size": None if image_size is None else int(image_size),
            "base_channels": int(base_channels),
            "channel_mults": list(channel_mults),
            "num_res_blocks": int(num_res_blocks),
            "attention": bool(attention),
            "num_classes": int(num_classes),
            "dropout": float(dropout),
            "groups": int(groups),
            "n_freqs": int(n_freqs),
            "freq_min": float(freq_min),
            "freq_max": float(freq_max),
        }
        self.in_channels = in_channels
        self.image_size = image_size
        self.channels_last = False  # a run-time choice (not part of the config): NHWC activations (speed.py)
        self.num_classes = num_classes
        emb_dim = 4 * base_channels
        self.noise_embed = NoiseEmbedding(emb_dim, n_freqs, freq_min, freq_max)
        self.class_embed = nn.Embedding(num_classes + 1, emb_dim) if num_classes > 0 else None

        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        chans = [base_channels * m for m in channel_mults]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_ch = [base_channels]
        ch = base_channels
        for i, c in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(ch, c, emb_dim, groups, dropout))
                ch = c
                skip_ch.append(ch)
            self.down.append(blocks)
            if i < len(chans) - 1:
                self.downsample.append(Downsample(ch))
                skip_ch.append(ch)
        self.mid1 = ResBlock(ch, ch, emb_dim, groups, dropout)
        self.mid_attn = Attention(ch, groups) if attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, emb_dim, groups, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(chans))):
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                blocks.append(ResBlock(ch + skip_ch.pop(), c, emb_dim, groups, dropout))
                ch = c
            self.up.append(blocks)
            if i > 0:
                self.upsample.append(Upsample(ch))
        assert not skip_ch
        self.norm_out = nn.GroupNorm(_groups(ch, groups), ch)
        self.conv_out = nn.Conv2d(ch, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    # ---- bookkeeping -------------------------------------------------------------------------------------------
    @property
    def null_class(self) -> int | None:
        """The label meaning 'no class' (classifier-free guidance), or None for an unconditional net."""
        return self.num_classes if self.num_classes > 0 else None

    @property
    def data_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) of one image, when image_size is known."""
        return None if self.image_size is None else (self.in_channels, self.image_size, self.image_size)

    @property
    def dim(self) -> int | None:
        """C * H * W (the flattened data dimension), when image_size is known."""
        s = self.data_shape
        return None if s is None else s[0] * s[1] * s[2]

    def config(self) -> dict:
        """Arguments that rebuild this network (`UNet.from_config`; 'type' names the class for a registry)."""
        return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in self.arch.items()}

    to_config = config

    @classmethod
    def from_config(cls, cfg: dict) -> "UNet":
        cfg = dict(cfg)
        kind = cfg.pop("type", "UNet")
        if kind != "UNet":
            raise ValueError(f"not a UNet config (type {kind!r})")
        return cls(**cfg)

    # ---- forward -----------------------------------------------------------------------------------------------
    def _labels(self, class_labels, n: int, device) -> torch.Tensor | None:
        if self.class_embed is None:
            if class_labels is not None:
                raise ValueError("this UNet is unconditional (num_classes = 0) but class_labels were given")
            return None
        if class_labels is None:
            return torch.full((n,), self.num_classes, dtype=torch.long, device=device)
        y = torch.as_tensor(class_labels, device=device).long()
        if y.ndim == 0:
            y = y.expand(n)
        if y.shape != (n,):
            raise ValueError(f"class_labels must be an int or shape ({n},), got {tuple(y.shape)}")
        return y

    def forward(self, x: torch.Tensor, c_noise, class_labels=None) -> torch.Tensor:
        """Raw output shaped like x ((N, C, H, W), or (N, C*H*W) with image_size set); c_noise (N,) or a scalar;
        class_labels: None (the null class), an int, or (N,) ints in [0, num_classes] (num_classes = null)."""
        shape = x.shape
        if x.ndim == 2:
            if self.data_shape is None or shape[1] != self.dim:
                raise ValueError(f"flattened input {tuple(shape)} needs image_size set with C*H*W = {shape[1]}")
            x = x.reshape(shape[0], *self.data_shape)
        elif x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expects (N, {self.in_channels}, H, W) input, got {tuple(shape)}")
        dtype = x.dtype
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        n = x.shape[0]
        c = torch.as_tensor(c_noise, dtype=x.dtype, device=x.device)
        if c.ndim == 0:
            c = c.expand(n)
        emb = self.noise_embed(c).to(x.dtype)
        y = self._labels(class_labels, n, x.device)
        if y is not None:
            emb = emb + self.class_embed(y).to(x.dtype)

        h = self.conv_in(x)
        skips = [h]
        for i, blocks in enumerate(self.down):
            for blk in blocks:
                h = blk(h, emb)
                skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for j, blocks in enumerate(self.up):
            for blk in blocks:
                h = blk(torch.cat([h, skips.pop()], dim=1), emb)
            if j < len(self.upsample):
                h = self.upsample[j](h, skips[-1].shape[-2:])
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out.to(dtype).reshape(shape)  # x's dtype also under autocast


def default_unet_config(image_size: int, in_channels: int = 1, num_classes: int = 0, **overrides) -> dict:
    """A CPU-friendly config: one downsampling at <= 12 px (8 -> 4), two above (16 -> 8 -> 4, 28 -> 14 -> 7)."""
    cfg = {
        "type": "UNet",
        "in_channels": int(in_channels),
        "image_size": int(image_size),
        "base_channels": 32,
        "channel_mults": [1, 2] if image_size <= 12 else [1, 2, 2],
        "num_res_blocks": 1,
        "attention": False,
        "num_classes": int(num_classes),
    }
    cfg.update(overrides)
    return cfg
