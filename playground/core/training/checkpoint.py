"""A Trainer saved to, and resumed from, one model file: EMA + raw weights, Adam state, RNG, step, loss history and
running per-time-bin losses (`save_trainer`), so that `resume_trainer` continues the run where it stopped.

The batch generator's state belongs to one device type (a CPU Mersenne Twister, a CUDA Philox counter): the file
records which (`rng_device`; files without it were written on the CPU). Resumed on another device type, the state
cannot be restored; the run then continues with a generator seeded from the config seed and the step count
(`continuation_seed`), the same on every rank, and `trainer.resume_notes` says that the continuation is not
bit-identical to an uninterrupted run on the original device."""

from __future__ import annotations

import numpy as np
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.training.config import TrainConfig
from playground.core.training.model_file import ModelFileError, read_model_file, save_model


def save_trainer(trainer, path) -> None:
    """One model file with EMA + raw weights, optimizer and trainer state (resumable with `Trainer.resume`)."""
    if trainer.distributed is not None and not trainer.distributed.is_main:
        raise RuntimeError("only rank 0 of a distributed run holds the EMA and writes the model file")
    trainer.flush()
    model = trainer.snapshot("ema")
    raw = {k: v.detach().cpu() for k, v in trainer.model.net.state_dict().items()}
    extra: dict[str, torch.Tensor] = {}
    scalar = []
    for k, v in trainer._opt_tensors().items():
        v = torch.as_tensor(v).detach().cpu()
        if v.ndim == 0:
            scalar.append(k)
            v = v.reshape(1)
        extra["opt." + k] = v
    extra["trainer.rng"] = trainer.generator.get_state().cpu()
    arr = trainer.history.as_arrays()
    extra["trainer.hist_step"] = torch.as_tensor(arr["step"])
    extra["trainer.hist_loss"] = torch.as_tensor(np.nan_to_num(arr["loss"], nan=0.0, posinf=0.0, neginf=0.0))
    extra["trainer.hist_lr"] = torch.as_tensor(arr["lr"])
    extra["trainer.hist_seconds"] = torch.as_tensor(arr["seconds"])
    bins = trainer.history.bin_loss
    extra["trainer.bin_loss"] = torch.as_tensor(np.nan_to_num(bins, nan=0.0))
    groups = [{k: v for k, v in g.items() if k != "params"} for g in trainer.optimizer.state_dict()["param_groups"]]
    meta = {
        "step": trainer.step_count,
        "seconds": trainer.train_seconds,
        "loss_ref": trainer._loss_ref,
        "rng_device": trainer.generator.device.type,
        "optimizer": "Adam",
        "param_group": groups[0],
        "opt_scalar": scalar,
        "bin_seen": [bool(v) for v in np.isfinite(bins)],
        "loss_scale": None if trainer.scaler is None else trainer.scaler.state_dict(),
    }
    save_model(path, model, raw_state=raw, extra_tensors=extra, trainer_meta=meta)


def resume_trainer(trainer_class, path, data, labels=None, distributed=None, **overrides):
    """A Trainer that continues the run saved in `path` (weights, EMA, optimizer, RNG, step, history).

    data: the same training data (array or callable) as before, and its labels for a class-conditional model;
    the file's normalisation, SDE and class names are kept; distributed: this rank's DistributedRun or None.
    overrides: TrainConfig fields to change (e.g. steps=10000 to extend the horizon, device, threads)."""
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
    tr = trainer_class(cfg, data, normalization=norm, labels=labels, class_names=mcfg.get("class_names"),
                       distributed=distributed)
    tr.info = dict(mcfg.get("training", {}).get("info", {}) or {})
    load_trainer_state(tr, path, meta, tensors)
    return tr


def load_trainer_state(trainer, path, meta: dict, tensors: dict) -> None:
    """Restore the trainer state of a model file (read by read_model_file) into `trainer`, built from its config."""
    tmeta = meta["trainer"]
    try:
        ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        raw = {k[4:]: v for k, v in tensors.items() if k.startswith("raw.")}
        with torch.no_grad():
            trainer.model.net.load_state_dict(raw)  # copies into the flat buffers (views)
            trainer.ema.load_state_dict(ema)
        state = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                name = k[4:]
                v = v.reshape(()) if name in tmeta.get("opt_scalar", []) else v
                state[name] = v.to(trainer.device).clone()
        if state:
            if state["exp_avg"].shape != trainer.flat.shape:
                raise ValueError(f"optimizer state has {state['exp_avg'].numel()} entries, "
                                 f"the network {trainer.flat.numel()}")
            trainer.optimizer.state[trainer.flat_param] = state
        trainer.optimizer.param_groups[0].update(
            {k: v for k, v in tmeta.get("param_group", {}).items() if k in trainer.optimizer.param_groups[0]}
        )
        restore_generator(trainer, tensors["trainer.rng"].to(torch.uint8), tmeta.get("rng_device", "cpu"),
                          int(tmeta["step"]))
        h = trainer.history
        h.step = tensors["trainer.hist_step"].tolist()
        h.loss = tensors["trainer.hist_loss"].tolist()
        h.lr = tensors["trainer.hist_lr"].tolist()
        h.seconds = tensors["trainer.hist_seconds"].tolist()
        bins = tensors["trainer.bin_loss"].numpy().astype(np.float64)
        seen = np.asarray(tmeta.get("bin_seen", [True] * len(bins)), dtype=bool)
        h.bin_loss = np.where(seen, bins, np.nan)
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: trainer state cannot be restored ({type(e).__name__}: {e})") from None
    trainer.step_count = int(tmeta["step"])
    trainer.train_seconds = float(tmeta["seconds"])
    trainer._loss_ref = tmeta.get("loss_ref")
    if trainer.scaler is not None and tmeta.get("loss_scale"):
        trainer.scaler.load_state_dict(tmeta["loss_scale"])
    trainer._save_good()


def continuation_seed(seed: int, step: int) -> int:
    """The seed of the batch generator of a run resumed at `step` on another device type than it was saved on."""
    return (int(seed) * 1_000_003 + int(step)) % 2**63


def restore_generator(trainer, state: torch.Tensor, saved_device: str, step: int) -> None:
    """Restore the saved generator state; when it belongs to another device type (or does not fit this generator),
    seed deterministically from the config seed and `step` and add a note to `trainer.resume_notes`."""
    here = trainer.generator.device.type
    if saved_device == here:
        try:
            trainer.generator.set_state(state)
            return
        except RuntimeError:  # e.g. a file written before rng_device was recorded, on a GPU
            saved_device = "another device type"
    seed = continuation_seed(trainer.config.seed, step)
    trainer.generator.manual_seed(seed)
    trainer.resume_notes.append(
        f"the run's random-number state was saved on {saved_device} and cannot continue on {here}: batches from "
        f"step {step} on are drawn with a new seed ({seed}, from seed {trainer.config.seed} and the step), so the "
        f"continuation is not bit-identical to an uninterrupted run on {saved_device}")
