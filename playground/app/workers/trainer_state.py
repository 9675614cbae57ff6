"""A Trainer's full state as a picklable dict (weights, EMA, Adam, RNG, step, history, last-good copy), so that the
UI-side trainer and the one in the worker process can hand a run back and forth and continue exactly; and the
recipe that rebuilds a trainer's structure in the other process. Used on both sides of the pipe (no Qt)."""

from __future__ import annotations

import numpy as np
import torch

LIVE_CONFIG = ("steps", "seconds", "lr", "batch")  # TrainConfig fields that apply to a running trainer


def export_trainer_state(tr, history_from: int = 0) -> dict:
    """Everything a Trainer needs to continue exactly (CPU tensors and plain lists: picklable)."""
    tr.flush()

    def cpu(v):
        return v.detach().to("cpu", copy=True) if torch.is_tensor(v) else v

    with torch.no_grad(), tr._lock:
        flat, ema = cpu(tr.flat), cpu(tr.ema_flat)
    h = tr.history
    good = None if tr._good is None else {k: ({n: cpu(x) for n, x in v.items()} if isinstance(v, dict) else cpu(v))
                                         for k, v in tr._good.items()}
    return {
        "flat": flat, "ema": ema,
        "opt": {k: cpu(torch.as_tensor(v)) for k, v in tr._opt_tensors().items()},
        "group": {k: v for k, v in tr.optimizer.param_groups[0].items() if k != "params"},
        "rng": tr.generator.get_state(),
        "step": int(tr.step_count), "seconds": float(tr.train_seconds), "loss_ref": tr._loss_ref,
        "history_from": int(history_from),
        "hist": (list(h.step[history_from:]), list(h.loss[history_from:]), list(h.lr[history_from:]),
                 list(h.seconds[history_from:])),
        "bin_loss": None if h.bin_loss is None else np.array(h.bin_loss, copy=True),
        "bin_sum": cpu(tr._bin_sum), "bin_cnt": cpu(tr._bin_cnt),
        "good": good,
        "config": {k: getattr(tr.config, k) for k in LIVE_CONFIG},
    }


def import_trainer_state(tr, st: dict) -> None:
    """Load export_trainer_state's dict into a Trainer built from the same recipe (history from st's offset on)."""
    dev = tr.device

    def to(v):
        return v.to(dev).clone() if torch.is_tensor(v) else v

    with torch.no_grad(), tr._lock:
        tr.flat.copy_(st["flat"])
        tr.ema_flat.copy_(st["ema"])
    if st["opt"]:
        tr.optimizer.state[tr.flat_param] = {k: to(v) for k, v in st["opt"].items()}
    else:
        tr.optimizer.state.pop(tr.flat_param, None)
    tr.optimizer.param_groups[0].update(st["group"])
    tr.generator.set_state(st["rng"])
    tr.step_count, tr.train_seconds, tr._loss_ref = st["step"], st["seconds"], st["loss_ref"]
    h, k = tr.history, st["history_from"]
    for name, tail in zip(("step", "loss", "lr", "seconds"), st["hist"]):
        setattr(h, name, list(getattr(h, name)[:k]) + list(tail))
    if st["bin_loss"] is not None:
        h.bin_loss = np.array(st["bin_loss"], copy=True)
    tr._bin_sum.copy_(st["bin_sum"])
    tr._bin_cnt.copy_(st["bin_cnt"])
    if st["good"] is not None:
        tr._good = {k: ({n: to(x) for n, x in v.items()} if isinstance(v, dict) else to(v)) for k, v in st["good"].items()}
    tr._pending.clear()
    tr.flat_grad.zero_()
    for name, v in st["config"].items():
        setattr(tr.config, name, v)


def recipe_for(tr) -> tuple:
    """(Trainer arguments, pool) that rebuild `tr`'s structure in another process: the same config (VE: with its
    resolved sigma_max), normalisation, training pool (and class labels, when it has them)."""
    import copy

    cfg = copy.deepcopy(tr.config)
    if cfg.sde == "ve" and getattr(tr.sde, "sigma_max", None) is not None:
        cfg.sigma_max = float(tr.sde.sigma_max)
    pool = tr.pool.detach().to("cpu", torch.float32, copy=True)
    data = tr.normalization.to_data(pool).numpy()
    labels = getattr(tr, "labels", None)
    if labels is None:
        return (cfg, data, tr.normalization), pool
    names = tuple(getattr(tr, "class_names", ()) or ()) or None
    return (cfg, data, tr.normalization, labels.detach().cpu().numpy(), names), pool
