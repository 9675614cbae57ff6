"""How a training step runs fast where it runs (Qt-free): mixed precision, channels_last activations, torch.compile
and fused Adam, each chosen per device from measurements rather than switched on everywhere.

`resolve_speed(config, device)` turns TrainConfig's requests (precision 'auto' | 'fp32' | 'bf16' | 'fp16',
channels_last None (auto) | True | False, compile True | False) into a `SpeedSettings`; `describe()` is what the CLI
prints. What 'auto' picks, and why (`python -m playground bench training`, seconds per step against the all-off
baseline, UNet 16 channels, batch 64, 28x28, torch 2.13 on an AMD EPYC Zen 4 with AVX512-BF16, 2 threads):

  precision      bf16 autocast for a UNet on images of 16x16 pixels or more on a CPU with native bf16 (AVX512-BF16
                 or AMX: 1.63x at 28x28, 2 threads); fp32 everywhere else: at 8x8 (bf16 ran 1.2x faster but
                 60 s of digits came out no better: 89.0% / 90.0% confident, seeds 0 / 1, against fp32's 91.4%,
                 seed 0, `bench images`); on a CUDA GPU (an H200, `bench training --device cuda --repeats 15
                 --block 20`: bf16 autocast ran the default 16-channel UNet at 0.76x of fp32 at 28x28 and 0.75x at
                 32x32 RGB, fp16 at 0.74x / 0.82x; these small kernels are launch-bound and the casts cost more than
                 tensor cores gain: ask for bf16 for wide nets), MLPs on 2D points (tiny matrices, no gain, and
                 likelihoods want fp32; 0.88x under bf16 on the H200), CPUs without bf16 units (emulated, slower), MPS.
                 fp16 (CUDA GPUs without bf16) is opt-in and uses dynamic loss scaling (torch.amp.GradScaler).
                 Weights, Adam, EMA and the loss stay fp32; only the network's forward runs under autocast.
  channels_last  off unless asked: NHWC activations gained nothing measurable anywhere (H200, fp32: 0.96x at 28x28,
                 0.94x at 32x32 RGB; an earlier shorter run said 1.1x, within its noise; CPU, 2 threads: 1.00x with
                 fp32, 1.66x for bf16 + NHWC against bf16's own 1.63x). `--channels-last on` is there for wide nets under bf16/fp16 on tensor cores.
  compile        off unless asked: on the CPU it gained nothing (0.33 vs 0.32 s per step) and took ~5 minutes to
                 compile. When asked, a compiler that is missing or fails falls back to eager with one warning.
  fused Adam     always where torch has it (CPU, CUDA): one kernel over the trainer's flat parameter buffer.

Data need no DataLoader or pinned memory: the trainer's pool lives on the training device and batches are gathered
there (no host-to-device copy per step).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import asdict, dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
BF16_MIN_SIDE = 16  # 'auto' keeps fp32 below this image side (8x8: no quality-per-second gain measured)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class SpeedSettings:
    """The resolved speed options of one trainer (see the module docstring)."""

    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast dtype of the network's forward)
    channels_last: bool = False
    compile: bool = False
    fused_adam: bool = True

    def describe(self) -> str:
        amp = "fp32" if self.precision == "fp32" else f"{self.precision} autocast"
        return (f"{amp}, channels_last {'on' if self.channels_last else 'off'}, torch.compile "
                f"{'on' if self.compile else 'off'}, {'fused' if self.fused_adam else 'plain'} Adam")

    def to_dict(self) -> dict:
        return asdict(self)


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 dot products natively (AVX512-BF16 or AMX), as oneDNN then runs bf16
    convolutions and matrix products about twice as fast as fp32; elsewhere bf16 is emulated."""
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            continue
    return False


def auto_precision(network: str, device: torch.device, image_shape: tuple[int, ...] | None = None) -> str:
    """'auto' precision: bf16 for a UNet on images of at least BF16_MIN_SIDE pixels a side on a CPU with bf16 units,
    fp32 otherwise (module docstring)."""
    big = image_shape is not None and min(image_shape[-2:]) >= BF16_MIN_SIDE
    return "bf16" if network == "unet" and big and device.type == "cpu" and cpu_has_native_bf16() else "fp32"


def resolve_speed(config, device: torch.device) -> SpeedSettings:
    """The SpeedSettings for TrainConfig `config` on `device` (ValueError for a precision the device lacks)."""
    precision = config.precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = auto_precision(config.network, device, config.image_shape)
    if precision != "fp32" and device.type not in ("cpu", "cuda"):
        raise ValueError(f"precision {precision} needs a CPU or CUDA device, not {device.type}")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("precision bf16: this CUDA GPU does not support bf16; use fp16 or fp32")
    channels_last = bool(config.channels_last)
    if channels_last and config.network != "unet":
        raise ValueError("channels_last applies to image networks (the UNet)")
    fused = device.type in ("cpu", "cuda")
    return SpeedSettings(precision, channels_last, bool(config.compile), fused)


def autocast(settings: SpeedSettings, device: torch.device):
    """The context the network's forward runs in: torch.autocast at the settings' dtype, or nothing for fp32."""
    if settings.precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[settings.precision])


def loss_scaler(settings: SpeedSettings, device: torch.device) -> torch.amp.GradScaler | None:
    """Dynamic loss scaling for fp16 (its small exponent range underflows gradients), else None."""
    return torch.amp.GradScaler(device.type) if settings.precision == "fp16" else None


def make_adam(param: torch.nn.Parameter, lr: float, settings: SpeedSettings) -> torch.optim.Adam:
    """Adam over the trainer's one flat parameter; fused when the settings (and this torch) allow it."""
    if settings.fused_adam:
        try:
            return torch.optim.Adam([param], lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam([param], lr=lr)


def apply_to_network(net: torch.nn.Module, settings: SpeedSettings) -> None:
    """Set the network up for training with `settings`: channels_last activations, a compiled forward."""
    if hasattr(net, "channels_last"):
        net.channels_last = settings.channels_last
    if settings.compile:
        net.forward = torch.compile(net.forward)


def revert_compile(net: torch.nn.Module, error: BaseException) -> None:
    """Put the eager forward back after torch.compile failed (no compiler, unsupported op...), with one warning."""
    net.__dict__.pop("forward", None)
    text = " ".join(str(error).split())[:300] or type(error).__name__
    warnings.warn(f"torch.compile failed ({type(error).__name__}: {text}); training without it", RuntimeWarning,
                  stacklevel=3)
