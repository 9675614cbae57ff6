"""What defines a training run: `TrainConfig` (stored in model files; names match the app's Settings), the network
kinds, and `TrainingDiverged`, the error a run that blows up raises (the trainer then holds the last good weights)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

NETWORK_KINDS = ("mlp", "unet")


class TrainingDiverged(RuntimeError):
    """Training produced a NaN/inf or exploding loss; the trainer holds the last good weights again."""

    def __init__(self, message: str, step: int, loss: float, good_step: int):
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.good_step = good_step


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in model files; names match the app's Settings)."""

    sde: str = "vp"  # vp | subvp | ve | rf (rectified flow)
    beta_min: float = 0.1
    beta_max: float = 20.0
    sigma_min: float = 0.01
    sigma_max: float | None = None  # VE only; None: suggested from the normalised data
    output: str = "eps"  # eps | score | x0 | edm | v
    objective: str = "dsm"  # dsm | ssm | fm (flow matching: weighting song = uniform t, edm = log-normal noise levels)
    weighting: str = "song"  # song | likelihood | edm
    hidden: int = 128
    depth: int = 3
    n_freqs: int = 8
    # Fourier features of the input coordinates, 0.25 .. x_freq_max cycles per unit; None: 8 for the 'x0', 'edm' and 'v'
    # outputs, 0 for 'eps' and 'score' (there, -eps/sigma amplifies their small-t wiggles: poor likelihoods; for 'v'
    # on rf, 3000 steps on checkerboard: NLL - H 0.14 with them, 0.30 without)
    x_freqs: int | None = None
    x_freq_max: float = 4.0
    activation: str = "silu"
    time_cond: str = "add"  # add: the noise embedding enters the first layer and shifts every later one; concat: first only
    batch: int = 512
    lr: float = 6e-3
    lr_schedule: str = "cosine"  # cosine | constant
    warmup: int = 100
    min_lr_ratio: float = 0.02
    ema_decay: float = 0.999
    grad_clip: float | None = 1.0
    steps: int | None = 5000
    seconds: float | None = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    threads: int | None = None
    pool: int = 65536  # points drawn when data is a callable
    time_bins: int = 10
    sigma_data: float | None = 1.0  # std of the normalised data (EDM's sigma_data, the input scale); None: measured
    # uniform dequantisation of [0, 1] pixels, redrawn every batch: (255 x + u) / 256 with x rounded to 8-bit levels
    # (Theis et al. 2016; Ho et al. 2020): the density whose bits/dim (offset 8) bound the 8-bit images'
    dequantize: bool = False
    edm_p_mean: float | None = None  # EDM noise levels: ln sigma ~ N(p_mean, p_std^2); None: -1.2 + ln(sigma_data / 0.5)
    edm_p_std: float = 1.2
    network: str = "mlp"  # mlp | unet (images, kept flat (N, C*H*W); normalised y = 2x - 1 unless given)
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) for 'unet'; None: from (N, C, H, W) data
    base_channels: int = 32  # unet options (default_unet_config's for the rest)
    channel_mults: tuple[int, ...] | None = None  # None: default_unet_config's choice for the image size
    num_res_blocks: int = 1
    attention: bool = False
    dropout: float = 0.0
    num_classes: int = 0  # > 0: class-conditional network (the Trainer needs labels); 0 with labels: inferred
    label_dropout: float = 0.0  # probability a label becomes the null class (classifier-free guidance: 0.1-0.2)
    # speed (`speed.resolve_speed`): autocast dtype of the forward (auto: bf16 for a UNet on bf16 hardware, else
    # fp32), NHWC activations (None: on for a UNet on CUDA with bf16/fp16) and torch.compile (off: no CPU gain)
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    channels_last: bool | None = None
    compile: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def resolved_x_freqs(self) -> int:
        """x_freqs with None resolved by the output kind (see the field)."""
        if self.x_freqs is not None:
            return int(self.x_freqs)
        return 8 if self.output in ("x0", "edm", "v") else 0

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def validate(self) -> None:
        from playground.core.diffusion.objectives import OBJECTIVES, WEIGHTINGS
        from playground.core.diffusion.parameterization import OUTPUT_KINDS
        from playground.core.diffusion.sde import SDE_CLASSES
        from playground.core.training.speed import PRECISIONS

        checks = [
            (self.sde in SDE_CLASSES, f"sde must be one of {tuple(SDE_CLASSES)}, got {self.sde!r}"),
            (self.output in OUTPUT_KINDS, f"output must be one of {OUTPUT_KINDS}, got {self.output!r}"),
            (self.objective in OBJECTIVES, f"objective must be one of {OBJECTIVES}, got {self.objective!r}"),
            (self.weighting in WEIGHTINGS, f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}"),
            (self.objective != "fm" or self.weighting != "likelihood",
             "objective fm takes weighting song (uniform t) or edm (log-normal noise levels), not likelihood"),
            (self.lr_schedule in ("cosine", "constant"), f"lr_schedule must be cosine or constant, got {self.lr_schedule!r}"),
            (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"), f"bad device {self.device!r}"),
            (self.batch >= 1 and self.hidden >= 1 and self.depth >= 1, "batch, hidden and depth must be >= 1"),
            (self.lr > 0 and math.isfinite(self.lr), f"lr must be positive, got {self.lr}"),
            (0 <= self.ema_decay < 1, f"ema_decay must lie in [0, 1), got {self.ema_decay}"),
            (self.steps is None or self.steps >= 0, f"steps must be >= 0, got {self.steps}"),
            (self.seconds is None or self.seconds >= 0, f"seconds must be >= 0, got {self.seconds}"),
            (self.network in NETWORK_KINDS, f"network must be one of {NETWORK_KINDS}, got {self.network!r}"),
            (self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}"),
            (0 <= self.label_dropout < 1, f"label_dropout must lie in [0, 1), got {self.label_dropout}"),
            (self.sigma_data is None or (self.sigma_data > 0 and math.isfinite(self.sigma_data)),
             f"sigma_data must be a positive number or None (measured from the data), got {self.sigma_data}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

