"""The training engine (Qt-free): one optimisation step at a time, EMA, schedule, clipping, divergence guard.

    trainer = Trainer(TrainConfig(steps=3000), data)       # data: (M, D) samples, or a callable (n, seed) -> array
    trainer.run(max_seconds=5, callback=print)              # stops on steps, seconds, should_stop() or both
    model = trainer.snapshot()                              # EMA copy on CPU, eval mode: safe from another thread
    trainer.save("moons.safetensors"); Trainer.resume("moons.safetensors", data).run()

Data. Batches are drawn (with replacement, by a seeded torch.Generator) from a fixed pool on the training device:
an array is used as the pool as is; a callable is called once, `callable(config.pool, config.seed)`, to draw it.
A pool is much faster than calling a sampler per step (a numpy sampler costs more than the network step itself), and
65k fresh points are plenty for a 2D MLP. The data are normalised (`Normalization.fit` on the pool, or the one given)
and the SDE lives in normalised space (VE: sigma_max = suggest_sigma_max(first 2000 normalised points) when unset,
exactly as `AppState.sde` does).

Schedule. lr rises linearly over `warmup` steps, then follows `lr_schedule`: 'constant', or 'cosine' from lr down to
lr * min_lr_ratio over the training horizon. The horizon is config.steps and/or config.seconds: progress =
max(step / steps, train_seconds / seconds), so a seconds-only run also anneals. EMA decay ramps up as
min(ema_decay, (1 + n) / (10 + n)) (warm start, so early snapshots are already usable).

Configuration. The defaults are Song et al.'s eps output and sigma^2 weighting (what the app teaches) on a 128 x 3
MLP. `output='edm', weighting='edm'` (EDM preconditioning and log-normal noise levels; the MLP then also gets Fourier
features of the coordinates, see `x_freqs`) learns several times faster and reaches far better likelihoods on the 2D
presets: `python -m playground bench quality` uses it (SWD ratio ~1.0-1.2 after 5 s, NLL within ~0.05 nats of the
entropy after 60 s, on 2 CPU threads); eps/sigma^2 gives SWD ~1.4-1.5 after 5 s and NLL gaps of ~0.06 (8gaussians)
and ~0.19 (checkerboard) after 60 s.

Overheads are kept below a plain loop's noise: fused Adam (when available), one-op clipping and EMA on flat
buffers, one host sync per step on CPU (loss and gradient norm together; on GPUs the check runs every
`check_every` = 50 steps and StepStats.loss is NaN in between: set `trainer.check_every = 1` for per-step losses),
per-time-bin losses folded in every `bin_every` steps. Parameters, gradients, Adam state and EMA each live in one
flat buffer (`flatten_parameters`), so zeroing, clipping, the optimizer, the EMA and the last-good copies are one
tensor op each: the trainer runs at least as fast as a plain loop over the same network.

Divergence. A non-finite loss or gradient norm, or a loss above `explode_factor` times its running mean, raises
TrainingDiverged naming the step and loss; before raising, the trainer restores the last good state (weights, EMA,
optimizer, step count), which is copied every `good_every` healthy steps. `save` refuses non-finite weights.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable

import numpy as np
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.objectives import Objective
from playground.core.diffusion.sde import make_sde, suggest_sigma_max
from playground.core.nets.mlp import ScoreMLP
from playground.core.nets.unet import UNet, default_unet_config
from playground.core.training.model import ScoreModel

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

    sde: str = "vp"
    beta_min: float = 0.1
    beta_max: float = 20.0
    sigma_min: float = 0.01
    sigma_max: float | None = None  # VE only; None: suggested from the normalised data
    output: str = "eps"  # eps | score | x0 | edm
    objective: str = "dsm"  # dsm | ssm
    weighting: str = "song"  # song | likelihood | edm
    hidden: int = 128
    depth: int = 3
    n_freqs: int = 8
    # Fourier features of the input coordinates, 0.25 .. x_freq_max cycles per unit; None: 8 for the 'x0' and 'edm'
    # outputs, 0 for 'eps' and 'score' (there, -eps/sigma amplifies their small-t wiggles: poor likelihoods)
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
    sigma_data: float = 1.0  # std of the normalised data
    edm_p_mean: float | None = None  # EDM noise levels: ln sigma ~ N(p_mean, p_std^2); None: -1.2 + ln(sigma_data / 0.5)
    edm_p_std: float = 1.2
    network: str = "mlp"  # mlp | unet (images, kept flat (N, C*H*W); normalised y = 2x - 1 unless given)
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) for 'unet'; None: from (N, C, H, W) data
    base_channels: int = 32  # unet options (default_unet_config's for the rest)
    channel_mults: tuple[int, ...] | None = None  # None: default_unet_config's choice for the image size
    num_res_blocks: int = 1
    attention: bool = False
    dropout: float = 0.0
    num_classes: int = 0  # > 0: class-conditional 'unet' (the Trainer needs labels); 0 with labels: inferred
    label_dropout: float = 0.0  # probability a label becomes the null class (classifier-free guidance: 0.1-0.2)

    def to_dict(self) -> dict:
        return asdict(self)

    def resolved_x_freqs(self) -> int:
        """x_freqs with None resolved by the output kind (see the field)."""
        if self.x_freqs is not None:
            return int(self.x_freqs)
        return 8 if self.output in ("x0", "edm") else 0

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def validate(self) -> None:
        from playground.core.diffusion.objectives import OBJECTIVES, WEIGHTINGS
        from playground.core.diffusion.parameterization import OUTPUT_KINDS

        checks = [
            (self.sde in ("vp", "subvp", "ve"), f"sde must be vp, subvp or ve, got {self.sde!r}"),
            (self.output in OUTPUT_KINDS, f"output must be one of {OUTPUT_KINDS}, got {self.output!r}"),
            (self.objective in OBJECTIVES, f"objective must be one of {OBJECTIVES}, got {self.objective!r}"),
            (self.weighting in WEIGHTINGS, f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}"),
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
            (self.network == "unet" or self.num_classes == 0, "class labels need network 'unet'"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)


@dataclass
class StepStats:
    """What one step reports. bin_loss: running mean loss per time bin (edges `Trainer.bin_edges`), a copy."""

    step: int
    loss: float
    lr: float
    seconds: float  # training wall time so far (excluding pauses)
    grad_norm: float | None = None
    bin_loss: np.ndarray | None = None


@dataclass
class TrainHistory:
    """Per-step records (plain lists, append-only) and the running per-time-bin loss."""

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    bin_edges: np.ndarray = field(default_factory=lambda: np.linspace(0, 1, 11))
    bin_loss: np.ndarray = field(default_factory=lambda: np.full(10, np.nan))

    def truncate(self, n: int) -> None:
        for name in ("step", "loss", "lr", "seconds"):
            del getattr(self, name)[n:]

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "step": np.asarray(self.step, dtype=np.int64),
            "loss": np.asarray(self.loss, dtype=np.float64),
            "lr": np.asarray(self.lr, dtype=np.float64),
            "seconds": np.asarray(self.seconds, dtype=np.float64),
        }


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> cuda, then mps, then cpu; an explicit name must be available."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' requested but MPS is not available")
    return dev


def configure_threads(threads: int | None, device: torch.device) -> int:
    """Set torch's intra-op threads: `threads` if given, else at most 4 (small MLPs gain nothing from more)."""
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    elif device.type == "cpu" and torch.get_num_threads() > 4:
        torch.set_num_threads(4)
    return torch.get_num_threads()


def _make_pool(data, cfg: TrainConfig) -> np.ndarray:
    if callable(data):
        arr = np.asarray(data(int(cfg.pool), int(cfg.seed)))
    else:
        arr = np.asarray(data)
    if arr.ndim == 1:
        raise ValueError(f"training data must be (M, D) samples, got shape {arr.shape}")
    arr = arr.reshape(len(arr), -1)
    if len(arr) < 2:
        raise ValueError(f"need at least 2 training points, got {len(arr)}")
    if not np.isfinite(arr).all():
        raise ValueError("training data contain NaN or infinity")
    return arr.astype(np.float32, copy=False)


def _image_shape(image_shape, data, dim: int) -> tuple[int, int, int]:
    """(C, H, W) for a UNet: the config's, else that of (N, C, H, W) array data; it must hold dim = C*H*W values."""
    if image_shape is None:
        shape = getattr(data, "shape", None)
        if shape is None or len(shape) != 4:
            raise ValueError("network 'unet' needs image_shape (C, H, W) in the config, or (N, C, H, W) data")
        image_shape = shape[1:]
    c, h, w = (int(v) for v in image_shape)
    if h != w or c * h * w != dim:
        raise ValueError(f"image_shape {(c, h, w)} must be square with C*H*W = {dim} (the data's dimension)")
    return c, h, w


def flatten_parameters(module: torch.nn.Module, with_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Re-seat every parameter of `module` as a view into one flat buffer (and, with_grad, its .grad as a view
    into one flat gradient buffer that autograd accumulates into). Returns (flat, flat_grad).

    One tensor instead of one per layer makes zeroing, clipping, Adam, EMA and the last-good copies one op each
    (the apex "flat master weights" trick); the module itself behaves as before (state_dict, load_state_dict)."""
    params = list(module.parameters())
    ref = params[0]
    n = sum(p.numel() for p in params)
    flat = torch.empty(n, dtype=ref.dtype, device=ref.device)
    grad = torch.zeros(n, dtype=ref.dtype, device=ref.device) if with_grad else None
    off = 0
    with torch.no_grad():
        for p in params:
            k = p.numel()
            flat[off : off + k].copy_(p.detach().reshape(-1))
            p.data = flat[off : off + k].view_as(p)
            if grad is not None:
                p.grad = grad[off : off + k].view_as(p)
            off += k
    return flat, grad


class Trainer:
    """Trains a ScoreModel on samples; see the module docstring. Drive it from one thread (step/run); `snapshot`
    may be called from any thread (it copies the EMA weights under a lock)."""

    check_every_gpu = 50
    good_every = 100
    bin_every = 10
    explode_factor = 1e4

    def __init__(self, config: TrainConfig | None = None, data=None, normalization: Normalization | None = None,
                 labels=None, class_names: tuple[str, ...] | list[str] | None = None):
        cfg = copy.deepcopy(config) if config is not None else TrainConfig()
        cfg.validate()
        if data is None:
            raise ValueError("Trainer needs data: (M, D) samples or a callable (n, seed) -> samples")
        self.config = cfg
        self.device = resolve_device(cfg.device)
        self.threads = configure_threads(cfg.threads, self.device)

        pool = _make_pool(data, cfg)
        if cfg.network == "unet":
            cfg.image_shape = _image_shape(cfg.image_shape, data, pool.shape[1])
        self.labels = self._prepare_labels(labels, len(pool), class_names)
        pixels = cfg.network == "unet" and normalization is None
        self.normalization = normalization or (Normalization.pixels(pool.shape[1]) if pixels else Normalization.fit(pool))
        pool_t = self.normalization.to_norm(torch.as_tensor(pool))
        self.dim = pool.shape[1]
        if cfg.sde == "ve":
            sigma_max = cfg.sigma_max or suggest_sigma_max(self.normalization.to_norm(torch.as_tensor(pool[:2000])))
            self.sde = make_sde("ve", sigma_min=cfg.sigma_min, sigma_max=float(sigma_max))
        else:
            self.sde = make_sde(cfg.sde, beta_min=cfg.beta_min, beta_max=cfg.beta_max)
        self.pool = pool_t.to(self.device, torch.float32).contiguous()

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            net = self._build_network()
        self._template = copy.deepcopy(net).requires_grad_(False).eval()  # CPU shell for snapshots
        net.to(self.device)
        self.ema = copy.deepcopy(net).requires_grad_(False).eval()
        self.flat, self.flat_grad = flatten_parameters(net, with_grad=True)
        self.ema_flat, _ = flatten_parameters(self.ema, with_grad=False)
        self.model = ScoreModel(net, self.sde, cfg.output, self.normalization, cfg.sigma_data, cfg.to_dict(),
                                self.class_names).train()
        self.flat_param = torch.nn.Parameter(self.flat)  # shares storage with the module's parameters
        self.flat_param.grad = self.flat_grad
        self.objective = Objective(
            self.sde, cfg.objective, cfg.weighting, sigma_data=cfg.sigma_data, p_mean=cfg.edm_p_mean,
            p_std=cfg.edm_p_std,
        )
        self.optimizer = self._make_optimizer()
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)

        self.step_count = 0
        self.train_seconds = 0.0
        nb = cfg.time_bins
        self.history = TrainHistory(bin_edges=np.linspace(0, 1, nb + 1), bin_loss=np.full(nb, np.nan))
        self._bin_sum = torch.zeros(nb, device=self.device)
        self._bin_cnt = torch.zeros(nb, device=self.device)
        self._loss_ref: float | None = None
        self._pending: list = []
        self.check_every = 1 if self.device.type == "cpu" else self.check_every_gpu
        self._lock = threading.Lock()
        self._good: dict | None = None
        self._save_good()
        self.last_stats: StepStats | None = None
        self.info: dict = {}  # extra JSON-able metadata for model files (e.g. the CLI's data spec)

    # ---- set-up helpers -----------------------------------------------------------------------------------------
    def _build_network(self) -> torch.nn.Module:
        """The config's network: ScoreMLP on (N, D), or a UNet on flat images (default_unet_config + overrides)."""
        cfg = self.config
        if cfg.network == "mlp":
            return ScoreMLP(self.dim, cfg.hidden, cfg.depth, n_freqs=cfg.n_freqs, x_freqs=cfg.resolved_x_freqs(),
                            x_freq_max=cfg.x_freq_max, activation=cfg.activation, time_cond=cfg.time_cond)
        channels, height, _ = cfg.image_shape
        overrides = {"base_channels": cfg.base_channels, "num_res_blocks": cfg.num_res_blocks,
                     "attention": cfg.attention, "dropout": cfg.dropout}
        if cfg.channel_mults is not None:
            overrides["channel_mults"] = list(cfg.channel_mults)
        return UNet.from_config(default_unet_config(height, channels, cfg.num_classes, **overrides))

    def _prepare_labels(self, labels, n: int, class_names) -> torch.Tensor | None:
        """Labels (n,) as int64 on the training device, setting config.num_classes and self.class_names."""
        cfg = self.config
        if labels is None:
            if cfg.num_classes:
                raise ValueError(f"num_classes = {cfg.num_classes} needs labels: Trainer(config, data, labels=...)")
            self.class_names: tuple[str, ...] = ()
            return None
        if cfg.network != "unet":
            raise ValueError("class labels need network 'unet' (the MLP is unconditional)")
        arr = np.asarray(labels).reshape(-1)
        if len(arr) != n:
            raise ValueError(f"{len(arr)} labels for {n} training images")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
        if not cfg.num_classes:
            cfg.num_classes = len(class_names) if class_names else int(arr.max()) + 1
        if arr.min() < 0 or arr.max() >= cfg.num_classes:
            raise ValueError(f"labels must lie in [0, {cfg.num_classes}), found {arr.min()}..{arr.max()}")
        names = tuple(str(c) for c in class_names) if class_names else tuple(str(i) for i in range(cfg.num_classes))
        if len(names) != cfg.num_classes:
            raise ValueError(f"{len(names)} class names for {cfg.num_classes} classes")
        self.class_names = names
        return torch.as_tensor(arr, dtype=torch.long).to(self.device)

    def _batch_labels(self, idx: torch.Tensor) -> torch.Tensor | None:
        """The labels of a batch, each replaced by the null class with probability config.label_dropout."""
        if self.labels is None:
            return None
        y = self.labels[idx]
        p = self.config.label_dropout
        if p > 0:
            drop = torch.rand(len(y), generator=self.generator, device=self.device) < p
            y = torch.where(drop, torch.full_like(y, self.config.num_classes), y)
        return y

    def _make_optimizer(self) -> torch.optim.Optimizer:
        if self.device.type in ("cpu", "cuda"):
            try:
                return torch.optim.Adam([self.flat_param], lr=self.config.lr, fused=True)
            except (RuntimeError, TypeError, ValueError):
                pass
        return torch.optim.Adam([self.flat_param], lr=self.config.lr)

    def lr_at(self, step: int, seconds: float | None = None) -> float:
        """The learning rate for step `step` (0-based) after `seconds` of training."""
        cfg = self.config
        lr = cfg.lr
        if cfg.warmup and step < cfg.warmup:
            lr = lr * (step + 1) / cfg.warmup
        if cfg.lr_schedule == "cosine":
            progress = 0.0
            if cfg.steps:
                progress = max(progress, step / cfg.steps)
            if cfg.seconds:
                progress = max(progress, (self.train_seconds if seconds is None else seconds) / cfg.seconds)
            if cfg.steps or cfg.seconds:
                progress = min(1.0, progress)
                floor = cfg.min_lr_ratio
                lr = lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
        return lr

    @property
    def params(self) -> list[torch.Tensor]:
        return list(self.model.net.parameters())

    # ---- one step -----------------------------------------------------------------------------------------------
    def step(self) -> StepStats:
        """One optimisation step; returns its StepStats. Raises TrainingDiverged (after restoring good weights)."""
        t0 = time.perf_counter()
        cfg = self.config
        n = self.step_count
        lr = self.lr_at(n)
        self.optimizer.param_groups[0]["lr"] = lr
        idx = torch.randint(0, len(self.pool), (cfg.batch,), generator=self.generator, device=self.device)
        per, t = self.objective(self.model, self.pool[idx], self.generator, self._batch_labels(idx))
        loss = per.mean()
        self.flat_grad.zero_()
        loss.backward()
        gnorm = torch.linalg.vector_norm(self.flat_grad)
        grad_norm = None
        if self.check_every == 1:
            # one host sync (free on CPU); check before the update so a bad step never touches the weights
            loss_f, grad_norm = torch.stack([loss.detach(), gnorm]).tolist()
            self._check(n, loss_f, grad_norm)
            if cfg.grad_clip and grad_norm > cfg.grad_clip:
                self.flat_grad.mul_(cfg.grad_clip / (grad_norm + 1e-6))
        else:
            self._pending.append(torch.stack([loss.detach(), gnorm]))
            if cfg.grad_clip:
                self.flat_grad.mul_((cfg.grad_clip / (gnorm + 1e-6)).clamp_(max=1.0))
            loss_f = float("nan")
        self.optimizer.step()
        decay = min(cfg.ema_decay, (1.0 + n) / (10.0 + n))
        with self._lock:
            self.ema_flat.lerp_(self.flat, 1.0 - decay)
        if n % self.bin_every == 0:
            self._accumulate_bins(per.detach(), t)
        self.step_count = n + 1
        self.train_seconds += time.perf_counter() - t0
        h = self.history
        if self.check_every == 1:
            h.step.append(n + 1)
            h.loss.append(loss_f)
            h.lr.append(lr)
            h.seconds.append(self.train_seconds)
            if n % self.bin_every == 0:
                self._fold_bins()
        elif len(self._pending) >= self.check_every:
            loss_f = self._flush_pending(lr)
        if self.step_count % self.good_every == 0 and not self._pending:
            self._save_good()
        stats = StepStats(self.step_count, loss_f, lr, self.train_seconds, grad_norm, h.bin_loss)
        self.last_stats = stats
        return stats

    def _check(self, n: int, loss: float, grad_norm: float) -> None:
        ref = self._loss_ref
        bad = not (math.isfinite(loss) and math.isfinite(grad_norm))
        if not bad and ref is not None and abs(loss) > self.explode_factor * max(ref, 1e-6):
            bad = True
        if bad:
            self._diverged(n + 1, loss, grad_norm)
        a = abs(loss)
        self._loss_ref = a if ref is None else 0.98 * ref + 0.02 * a

    def _flush_pending(self, lr: float) -> float:
        vals = torch.stack(self._pending).tolist()
        first = self.step_count - len(vals)
        self._pending.clear()
        h = self.history
        for i, (loss, gn) in enumerate(vals):
            self._check(first + i, loss, gn)
            h.step.append(first + i + 1)
            h.loss.append(loss)
            h.lr.append(lr)
            h.seconds.append(self.train_seconds)
        self._fold_bins()
        return vals[-1][0]

    def _accumulate_bins(self, per: torch.Tensor, t: torch.Tensor) -> None:
        nb = self.config.time_bins
        b = (t * nb).long().clamp_(0, nb - 1)
        self._bin_sum.index_add_(0, b, per.to(self._bin_sum.dtype))
        self._bin_cnt.index_add_(0, b, torch.ones_like(self._bin_sum[:1]).expand(len(b)))

    def _fold_bins(self, rate: float = 0.1) -> None:
        """Fold the accumulated per-bin sums into the running means (numpy, NaN where a bin was never seen)."""
        s, c = torch.stack([self._bin_sum, self._bin_cnt]).cpu().numpy()
        self._bin_sum.zero_()
        self._bin_cnt.zero_()
        have = c > 0
        if not have.any():
            return
        cur = self.history.bin_loss.copy()
        mean = np.where(have, s / np.maximum(c, 1), np.nan)
        first = have & np.isnan(cur)
        cur[first] = mean[first]
        upd = have & ~first
        cur[upd] += rate * (mean[upd] - cur[upd])
        self.history.bin_loss = cur

    # ---- last good state ----------------------------------------------------------------------------------------
    def _opt_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.optimizer.state.get(self.flat_param, {}))

    def _save_good(self) -> None:
        with torch.no_grad():
            self._good = {
                "step": self.step_count,
                "seconds": self.train_seconds,
                "flat": self.flat.clone(),
                "ema": self.ema_flat.clone(),
                "opt": {k: v.clone() for k, v in self._opt_tensors().items()},
                "rng": self.generator.get_state(),
                "hist": len(self.history.step),
                "ref": self._loss_ref,
            }

    def _restore_good(self) -> None:
        g = self._good
        with torch.no_grad(), self._lock:
            self.flat.copy_(g["flat"])
            self.ema_flat.copy_(g["ema"])
        state = self.optimizer.state
        if g["opt"]:
            state[self.flat_param] = {k: v.clone() for k, v in g["opt"].items()}
        else:
            state.pop(self.flat_param, None)
        self.generator.set_state(g["rng"])
        self.step_count = g["step"]
        self.train_seconds = g["seconds"]
        self.history.truncate(g["hist"])
        self._loss_ref = g["ref"]
        self._pending.clear()
        self.flat_grad.zero_()

    def _diverged(self, step: int, loss: float, grad_norm: float) -> None:
        self._restore_good()
        if not math.isfinite(loss):
            what = "not finite"
        elif not math.isfinite(grad_norm):
            what = f"gradient norm {grad_norm}"
        else:
            what = f"exploding: over {self.explode_factor:g} x its running mean"
        msg = (
            f"training diverged at step {step}: loss {loss:.4g} ({what}; lr {self.config.lr:g}). "
            f"Restored the last good weights from step {self.step_count}; try a smaller learning rate."
        )
        raise TrainingDiverged(msg, step, loss, self.step_count)

    # ---- loops --------------------------------------------------------------------------------------------------
    def run(
        self,
        max_steps: int | None = None,
        max_seconds: float | None = None,
        callback: Callable[[StepStats], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
        callback_every: int = 1,
    ) -> StepStats | None:
        """Train until `max_steps` more steps, `max_seconds` more training seconds, should_stop() or callback
        returning True, whichever comes first. Without max_steps/max_seconds the config's steps/seconds (totals,
        counted from step 0) apply. Calling run again continues (pause = return; resume = call again)."""
        cfg = self.config
        if max_steps is None and max_seconds is None:
            if cfg.steps is None and cfg.seconds is None:
                raise ValueError("run() needs max_steps or max_seconds (the config sets neither)")
            max_steps = None if cfg.steps is None else max(0, cfg.steps - self.step_count)
            max_seconds = None if cfg.seconds is None else max(0.0, cfg.seconds - self.train_seconds)
        start_step = self.step_count
        start_time = self.train_seconds
        stats = self.last_stats
        while True:
            if max_steps is not None and self.step_count - start_step >= max_steps:
                break
            if max_seconds is not None and self.train_seconds - start_time >= max_seconds:
                break
            if should_stop is not None and should_stop():
                break
            stats = self.step()
            if callback is not None and (self.step_count % callback_every == 0) and callback(stats) is True:
                break
        if self._pending:
            self._flush_pending(self.lr_at(self.step_count))
        return stats

    # ---- products -----------------------------------------------------------------------------------------------
    def training_info(self) -> dict:
        h = self.history
        recent = h.loss[-100:]
        return {
            **self.config.to_dict(),
            "steps_done": self.step_count,
            "seconds_done": round(self.train_seconds, 3),
            "loss": float(np.mean(recent)) if recent else None,
            "device_used": str(self.device),
            "info": dict(self.info),
        }

    def snapshot(self, weights: str = "ema") -> ScoreModel:
        """A ScoreModel with a copy of the EMA (or raw) weights on CPU in eval mode; safe while training goes on."""
        with torch.no_grad(), self._lock:
            flat = (self.ema_flat if weights == "ema" else self.flat).detach().to("cpu", copy=True)
        net = copy.deepcopy(self._template)  # no RNG use, unlike building a new network
        torch.nn.utils.vector_to_parameters(flat, net.parameters())
        net.requires_grad_(False)
        m = ScoreModel(net, self.sde, self.config.output, self.normalization, self.config.sigma_data, self.training_info(),
                       self.class_names)
        return m.eval()

    def save(self, path) -> None:
        """One model file with EMA + raw weights, optimizer and trainer state (resumable with `Trainer.resume`)."""
        from playground.core.training.model_file import save_model

        if self._pending:
            self._flush_pending(self.lr_at(self.step_count))
        model = self.snapshot("ema")
        raw = {k: v.detach().cpu() for k, v in self.model.net.state_dict().items()}
        extra: dict[str, torch.Tensor] = {}
        scalar = []
        for k, v in self._opt_tensors().items():
            v = torch.as_tensor(v).detach().cpu()
            if v.ndim == 0:
                scalar.append(k)
                v = v.reshape(1)
            extra["opt." + k] = v
        extra["trainer.rng"] = self.generator.get_state().cpu()
        arr = self.history.as_arrays()
        extra["trainer.hist_step"] = torch.as_tensor(arr["step"])
        extra["trainer.hist_loss"] = torch.as_tensor(np.nan_to_num(arr["loss"], nan=0.0, posinf=0.0, neginf=0.0))
        extra["trainer.hist_lr"] = torch.as_tensor(arr["lr"])
        extra["trainer.hist_seconds"] = torch.as_tensor(arr["seconds"])
        bins = self.history.bin_loss
        extra["trainer.bin_loss"] = torch.as_tensor(np.nan_to_num(bins, nan=0.0))
        groups = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.state_dict()["param_groups"]]
        meta = {
            "step": self.step_count,
            "seconds": self.train_seconds,
            "loss_ref": self._loss_ref,
            "optimizer": "Adam",
            "param_group": groups[0],
            "opt_scalar": scalar,
            "bin_seen": [bool(v) for v in np.isfinite(bins)],
        }
        save_model(path, model, raw_state=raw, extra_tensors=extra, trainer_meta=meta)

    @classmethod
    def resume(cls, path, data, labels=None, **overrides) -> "Trainer":
        """A Trainer that continues the run saved in `path` (weights, EMA, optimizer, RNG, step, history).

        data: the same training data (array or callable) as before, and its labels for a class-conditional model;
        the file's normalisation, SDE and class names are kept.
        overrides: TrainConfig fields to change (e.g. steps=10000 to extend the horizon, device, threads)."""
        from playground.core.training.model_file import ModelFileError, read_model_file

        meta, tensors = read_model_file(path)
        if "trainer" not in meta:
            raise ModelFileError(f"{path}: has no trainer state (saved by save_model, not Trainer.save); cannot resume")
        mcfg = meta["config"]
        cfg_dict = dict(mcfg.get("training", {}))
        cfg_dict.update(overrides)
        cfg = TrainConfig.from_dict(cfg_dict)
        norm = Normalization.from_dict(mcfg["normalization"])
        sde_cfg = mcfg["sde"]
        if sde_cfg.get("name") == "ve":
            cfg.sigma_max = float(sde_cfg["sigma_max"])
        tr = cls(cfg, data, normalization=norm, labels=labels, class_names=mcfg.get("class_names"))
        tr.info = dict(mcfg.get("training", {}).get("info", {}) or {})
        tr._load_state(path, meta, tensors)
        return tr

    def _load_state(self, path, meta: dict, tensors: dict) -> None:
        from playground.core.training.model_file import ModelFileError

        tmeta = meta["trainer"]
        try:
            ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
            raw = {k[4:]: v for k, v in tensors.items() if k.startswith("raw.")}
            with torch.no_grad():
                self.model.net.load_state_dict(raw)  # copies into the flat buffers (views)
                self.ema.load_state_dict(ema)
            state = {}
            for k, v in tensors.items():
                if k.startswith("opt."):
                    name = k[4:]
                    v = v.reshape(()) if name in tmeta.get("opt_scalar", []) else v
                    state[name] = v.to(self.device).clone()
            if state:
                if state["exp_avg"].shape != self.flat.shape:
                    raise ValueError(f"optimizer state has {state['exp_avg'].numel()} entries, the network {self.flat.numel()}")
                self.optimizer.state[self.flat_param] = state
            self.optimizer.param_groups[0].update(
                {k: v for k, v in tmeta.get("param_group", {}).items() if k in self.optimizer.param_groups[0]}
            )
            self.generator.set_state(tensors["trainer.rng"].to(torch.uint8))
            h = self.history
            h.step = tensors["trainer.hist_step"].tolist()
            h.loss = tensors["trainer.hist_loss"].tolist()
            h.lr = tensors["trainer.hist_lr"].tolist()
            h.seconds = tensors["trainer.hist_seconds"].tolist()
            bins = tensors["trainer.bin_loss"].numpy().astype(np.float64)
            seen = np.asarray(tmeta.get("bin_seen", [True] * len(bins)), dtype=bool)
            h.bin_loss = np.where(seen, bins, np.nan)
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise ModelFileError(f"{path}: trainer state cannot be restored ({type(e).__name__}: {e})") from None
        self.step_count = int(tmeta["step"])
        self.train_seconds = float(tmeta["seconds"])
        self._loss_ref = tmeta.get("loss_ref")
        self._save_good()


class ConsoleProgress:
    """Text progress for headless training, used as `Trainer.run(callback=...)`: on a terminal one line updated in
    place with carriage returns (at most `hz` times a second), otherwise a plain line every `every` seconds.

    Shows step (of the total), a bar, loss (mean since the last update), it/s and the ETA from whichever limit,
    steps or seconds, comes first."""

    def __init__(self, total_steps: int | None = None, total_seconds: float | None = None, stream=None,
                 tty: bool | None = None, hz: float = 10.0, every: float = 5.0, width: int = 24):
        import sys

        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.total_steps = total_steps
        self.total_seconds = total_seconds
        self.interval = 1.0 / hz if self.tty else every
        self.width = width
        self._last = time.perf_counter()
        self._last_step: int | None = None
        self._losses: list[float] = []
        self._rate = 0.0
        self._line_len = 0
        self.lines = 0

    def fraction(self, stats: StepStats) -> float | None:
        parts = []
        if self.total_steps:
            parts.append(stats.step / self.total_steps)
        if self.total_seconds:
            parts.append(stats.seconds / self.total_seconds)
        return min(1.0, max(parts)) if parts else None

    def __call__(self, stats: StepStats, force: bool = False) -> None:
        if math.isfinite(stats.loss):
            self._losses.append(stats.loss)
        now = time.perf_counter()
        if self._last_step is None:
            self._last_step = stats.step - 1
        if not force and now - self._last < self.interval:
            return
        dt = now - self._last
        if dt > 0 and stats.step > self._last_step:
            inst = (stats.step - self._last_step) / dt
            self._rate = inst if self._rate == 0 else 0.5 * self._rate + 0.5 * inst
        self._last, self._last_step = now, stats.step
        self.write(self.format(stats))

    def format(self, stats: StepStats) -> str:
        loss = float(np.mean(self._losses)) if self._losses else float("nan")
        self._losses.clear()
        frac = self.fraction(stats)
        total = f"/{self.total_steps}" if self.total_steps else ""
        bar = ""
        if frac is not None:
            filled = int(round(frac * self.width))
            bar = " [" + "#" * filled + "." * (self.width - filled) + f"] {100 * frac:3.0f}%"
        etas = []
        if self.total_steps and self._rate > 0:
            etas.append(max(self.total_steps - stats.step, 0) / self._rate)
        if self.total_seconds:
            etas.append(max(self.total_seconds - stats.seconds, 0.0))
        eta = f"  ETA {_clock(min(etas))}" if etas else ""
        return f"step {stats.step}{total}{bar}  loss {loss:.4f}  {self._rate:.0f} it/s  lr {stats.lr:.2e}{eta}"

    def write(self, line: str) -> None:
        if self.tty:
            pad = max(0, self._line_len - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._line_len = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.lines += 1

    def close(self, stats: StepStats | None = None) -> None:
        """Print the final state (and end the in-place line on a terminal)."""
        if stats is not None:
            self(stats, force=True)
        if self.tty and self._line_len:
            self.stream.write("\n")
            self.stream.flush()
            self._line_len = 0


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def train(config: TrainConfig, data, **run_kwargs) -> ScoreModel:
    """Convenience: train from scratch with `config` and return the EMA snapshot."""
    tr = Trainer(config, data)
    tr.run(**run_kwargs)
    return tr.snapshot()

