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
exactly as `AppState.sde` does; the value is written into the config, so a saved run resumes with the same SDE).

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

Speed (`speed`): the network's forward runs under bf16 autocast where it measured faster (UNets on CPUs with
bf16 units), channels_last activations on request, optionally torch.compile'd; `trainer.speed` says what
was chosen. Distributed (`distributed`): with a DistributedRun each torchrun rank trains its rows of the global
batch, one all-reduce of the flat gradient per step; the EMA lives on rank 0.

Overheads are kept below a plain loop's noise: fused Adam (when available), one-op clipping and EMA on flat
buffers, one host sync per step on CPU (loss and gradient norm together; on GPUs the check runs every
`check_every` = 50 steps: StepStats.loss is NaN in between, and the history and the divergence check catch up at
each check, when `run` returns, on `save`, or on `flush()`, so a loop of bare `step()` calls calls `flush()` before
reading `history`; set `trainer.check_every = 1` for per-step losses at one host sync per step), per-time-bin
losses folded in every `bin_every` steps. Parameters, gradients, Adam state and EMA each live in one
flat buffer (`flatten_parameters`), so zeroing, clipping, the optimizer, the EMA and the last-good copies are one
tensor op each: the trainer runs at least as fast as a plain loop over the same network.

Divergence. A non-finite loss or gradient norm, or a loss above `explode_factor` times its running mean, raises
TrainingDiverged naming the step and loss; before raising, the trainer restores the last good state (weights, EMA,
optimizer, step count), which is copied every `good_every` healthy steps. `save` refuses non-finite weights.

Around it: `config` (TrainConfig, TrainingDiverged), `history` (StepStats, TrainHistory), `training_data` (the pool,
image shape and labels, checked), `device`, `flat_parameters`, `checkpoint` (save / resume), `console`, `speed` and
`distributed`.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.objectives import Objective
from playground.core.diffusion.sde import make_sde, suggest_sigma_max
from playground.core.nets.mlp import ScoreMLP
from playground.core.nets.unet import UNet, default_unet_config
from playground.core.training.checkpoint import resume_trainer, save_trainer
from playground.core.training.config import TrainConfig, TrainingDiverged
from playground.core.training.device import configure_threads, resolve_device
from playground.core.training.distributed import DistributedRun
from playground.core.training.flat_parameters import flatten_parameters
from playground.core.training.history import StepStats, TrainHistory
from playground.core.training.model import ScoreModel
from playground.core.training.speed import (apply_to_network, autocast, loss_scaler, make_adam, resolve_speed,
                                            revert_compile)
from playground.core.training.training_data import make_pool, prepare_labels, resolve_image_shape


class Trainer:
    """Trains a ScoreModel on samples; see the module docstring. Drive it from one thread (step/run); `snapshot`
    may be called from any thread (it copies the EMA weights under a lock)."""

    check_every_gpu = 50
    good_every = 100
    bin_every = 10
    explode_factor = 1e4

    def __init__(self, config: TrainConfig | None = None, data=None, normalization: Normalization | None = None,
                 labels=None, class_names: tuple[str, ...] | list[str] | None = None,
                 distributed: DistributedRun | None = None):
        cfg = copy.deepcopy(config) if config is not None else TrainConfig()
        cfg.validate()
        if data is None:
            raise ValueError("Trainer needs data: (M, D) samples or a callable (n, seed) -> samples")
        self.config = cfg
        self.distributed = distributed
        self.device = distributed.device if distributed is not None else resolve_device(cfg.device)
        self.threads = configure_threads(cfg.threads, self.device)

        pool = make_pool(data, cfg)
        if cfg.network == "unet":
            cfg.image_shape = resolve_image_shape(cfg.image_shape, data, pool.shape[1])
        self.speed = resolve_speed(cfg, self.device)
        self.labels, self.class_names = prepare_labels(labels, len(pool), class_names, cfg, self.device)
        pixels = cfg.network == "unet" and normalization is None
        self.normalization = normalization or (Normalization.pixels(pool.shape[1]) if pixels else Normalization.fit(pool))
        if cfg.dequantize:
            if pool.min() < 0 or pool.max() > 1:
                raise ValueError("dequantize needs pixel data in [0, 1]")
            pool = np.round(pool * 255.0) / 256.0  # the lower edge of each 8-bit bin; step() adds U(0, 1/256)
        pool_t = self.normalization.to_norm(torch.as_tensor(pool))
        # the bin width in normalised units (0: no dequantisation)
        self.dequant_width = 1.0 / (256.0 * self.normalization.scale) if cfg.dequantize else 0.0
        if cfg.sigma_data is None:  # the std of the (dequantised) normalised data: uniform noise adds width^2 / 12
            cfg.sigma_data = float(torch.sqrt(pool_t.double().var() + self.dequant_width**2 / 12))
        self.dim = pool.shape[1]
        if cfg.sde == "ve":
            if cfg.sigma_max is None:  # recorded like sigma_data: a saved run resumes with the same SDE and config
                cfg.sigma_max = float(suggest_sigma_max(self.normalization.to_norm(torch.as_tensor(pool[:2000]))))
            self.sde = make_sde("ve", sigma_min=cfg.sigma_min, sigma_max=float(cfg.sigma_max))
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
        if distributed is not None:  # every rank starts from rank 0's weights, as DistributedDataParallel does
            distributed.broadcast_(self.flat)
            self.ema_flat.copy_(self.flat)
        apply_to_network(net, self.speed)
        self._compile_checked = not self.speed.compile
        self.model = ScoreModel(net, self.sde, cfg.output, self.normalization, cfg.sigma_data, cfg.to_dict(),
                                self.class_names).train()
        self.flat_param = torch.nn.Parameter(self.flat)  # shares storage with the module's parameters
        self.flat_param.grad = self.flat_grad
        self.objective = Objective(
            self.sde, cfg.objective, cfg.weighting, sigma_data=cfg.sigma_data, p_mean=cfg.edm_p_mean,
            p_std=cfg.edm_p_std,
        )
        self.optimizer = make_adam(self.flat_param, cfg.lr, self.speed)
        self.scaler = loss_scaler(self.speed, self.device)
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
        self.resume_notes: list[str] = []  # what `resume` could not restore exactly (see checkpoint), for the user

    # ---- set-up helpers -----------------------------------------------------------------------------------------
    def _build_network(self) -> torch.nn.Module:
        """The config's network: ScoreMLP on (N, D), or a UNet on flat images (default_unet_config + overrides)."""
        cfg = self.config
        if cfg.network == "mlp":
            return ScoreMLP(self.dim, cfg.hidden, cfg.depth, n_freqs=cfg.n_freqs, x_freqs=cfg.resolved_x_freqs(),
                            x_freq_max=cfg.x_freq_max, activation=cfg.activation, time_cond=cfg.time_cond,
                            num_classes=cfg.num_classes)
        channels, height, _ = cfg.image_shape
        overrides = {"base_channels": cfg.base_channels, "num_res_blocks": cfg.num_res_blocks,
                     "attention": cfg.attention, "dropout": cfg.dropout}
        if cfg.channel_mults is not None:
            overrides["channel_mults"] = list(cfg.channel_mults)
        return UNet.from_config(default_unet_config(height, channels, cfg.num_classes, **overrides))

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
        """One optimisation step; returns its StepStats. Raises TrainingDiverged (after restoring good weights).
        With check_every > 1 (GPUs) the step is checked and recorded in `history` at the next check or `flush()`."""
        if self._compile_checked:
            return self._step()
        rng = self.generator.get_state()
        try:
            return self._step()
        except TrainingDiverged:
            raise
        except Exception as e:  # noqa: BLE001 - the compiler is missing or failed: train eagerly instead
            revert_compile(self.model.net, e)
            self.speed = replace(self.speed, compile=False)
            self.generator.set_state(rng)
            return self._step()
        finally:
            self._compile_checked = True

    def _draw_batch(self):
        """(normalised data, labels, LossDraws) of this rank's rows of the next global batch: indices, dequantisation
        noise, label dropout and the loss's random numbers are drawn for the whole batch from the one seeded stream."""
        batch = self.config.batch
        idx = torch.randint(0, len(self.pool), (batch,), generator=self.generator, device=self.device)
        shape = tuple(self.pool.shape[1:])
        dequant = None
        if self.dequant_width:  # uniform dequantisation noise within each pixel's bin
            dequant = self.dequant_width * torch.rand((batch, *shape), generator=self.generator, device=self.device)
        labels = self._batch_labels(idx)
        draws = self.objective.draw(batch, shape, self.generator, self.device, self.pool.dtype)
        rows = slice(None) if self.distributed is None else self.distributed.rows(batch)
        x0 = self.pool[idx[rows]]
        if dequant is not None:
            x0 = x0 + dequant[rows]
        return x0, None if labels is None else labels[rows], draws if self.distributed is None else draws.rows(rows)

    def _step(self) -> StepStats:
        t0 = time.perf_counter()
        cfg = self.config
        n = self.step_count
        lr = self.lr_at(n)
        self.optimizer.param_groups[0]["lr"] = lr
        y0, labels, draws = self._draw_batch()
        with autocast(self.speed, self.device):
            per, t = self.objective(self.model, y0, self.generator, labels, draws)
        loss = per.sum() / cfg.batch  # this rank's share of the global batch mean
        self.flat_grad.zero_()
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        if self.distributed is not None:
            self.distributed.sum_gradients_(self.flat_grad)
            loss = self.distributed.sum_loss(loss, sync=self.check_every == 1)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
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
        if self.scaler is None:
            self.optimizer.step()
        else:  # skips the update when the scaled fp16 gradients overflowed, and adapts the scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        if self.distributed is None or self.distributed.is_main:
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
        # with fp16 loss scaling an overflowing gradient is a skipped step, not a divergence
        bad = not (math.isfinite(loss) and (math.isfinite(grad_norm) or self.scaler is not None))
        if not bad and ref is not None and abs(loss) > self.explode_factor * max(ref, 1e-6):
            bad = True
        if bad:
            self._diverged(n + 1, loss, grad_norm)
        a = abs(loss)
        self._loss_ref = a if ref is None else 0.98 * ref + 0.02 * a

    def flush(self) -> None:
        """Check and record the steps since the last check (check_every > 1): `history` then holds every step done.
        Raises TrainingDiverged (after restoring the last good state) when one of them diverged."""
        if self._pending:
            self._flush_pending(self.lr_at(self.step_count))

    def _flush_pending(self, lr: float) -> float:
        vals = torch.stack(self._pending).tolist()
        if self.distributed is not None:
            self.distributed.refresh_stop()
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
        self.flush()
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
            "speed": self.speed.to_dict(),
            "distributed": None if self.distributed is None else self.distributed.describe(),
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
        save_trainer(self, path)

    @classmethod
    def resume(cls, path, data, labels=None, distributed: DistributedRun | None = None, **overrides) -> "Trainer":
        """A Trainer that continues the run saved in `path` (weights, EMA, optimizer, RNG, step, history).

        data: the same training data (array or callable) as before, and its labels for a class-conditional model;
        the file's normalisation, SDE and class names are kept. distributed: this rank's DistributedRun (any number
        of ranks continues the same batch stream).
        overrides: TrainConfig fields to change (e.g. steps=10000 to extend the horizon, device, threads)."""
        return resume_trainer(cls, path, data, labels, distributed, **overrides)


def train(config: TrainConfig, data, **run_kwargs) -> ScoreModel:
    """Convenience: train from scratch with `config` and return the EMA snapshot."""
    tr = Trainer(config, data)
    tr.run(**run_kwargs)
    return tr.snapshot()

