"""Training speed options and processes: `python -m playground bench training [--threads 2] [--data shapes28]`.

1. Each speed option of `core.training.speed` against the all-off baseline (fp32, NCHW, eager, plain Adam) on the
   U-Net of --data (default shapes28, 28x28; --rgb32 adds the 32x32 RGB coloured shapes) and on the 2D MLP: seconds
   per step of the trainer, measured in alternating blocks of --block steps (so background load hits both alike);
   the gain is the median of the per-pair ratios (> 1: faster). Options: bf16 / fp16 autocast, channels_last,
   fused Adam, torch.compile (--compile: compiling takes minutes on a CPU), and the in-memory batch gather the trainer
   uses against a torch DataLoader over the same pool (batches only, no network).
2. --processes: `train` on 8x8 digits for --dist-steps steps in 1 process (--threads threads), and under torchrun in
   2 processes of --threads / 2 threads each (gloo), the same global batch; training seconds and steps/s as each
   run's summary reports them.
`resolve_speed` chooses per device from these figures; the table says what 'auto' picks here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace

import torch

from playground.core.training.config import TrainConfig
from playground.core.training.image_training import image_train_config, image_trainer
from playground.core.training.speed import make_adam, resolve_speed
from playground.core.training.trainer import Trainer
from playground.data.images.spec import load_image_dataset

BASELINE = {"precision": "fp32", "channels_last": False, "compile": False}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench training", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--data", default="shapes28", help="image set for the U-Net rows (default shapes28)")
    p.add_argument("--rgb32", action="store_true", help="also the 32x32 RGB coloured shapes (shapes32 --rgb)")
    p.add_argument("--block", type=int, default=5, help="U-Net steps per timed block (default 5; MLP: 40x)")
    p.add_argument("--repeats", type=int, default=5, help="timed block pairs (default 5)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    p.add_argument("--processes", action="store_true", help="also 1 vs 2 processes under torchrun")
    p.add_argument("--dist-steps", type=int, default=200, help="digits steps per process-count run (default 200)")
    return p


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def paired_gain(run_a, run_b, device, block: int, repeats: int) -> tuple[float, float, float]:
    """(seconds per step of a, of b, median ratio a / b) from `repeats` alternating pairs of `block` steps."""
    run_a(2)
    run_b(2)  # warm-up: allocator, kernels, (compiled graphs)
    ta, tb, ratios = [], [], []
    for i in range(repeats):
        pair = [0.0, 0.0]
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            _sync(device)
            t0 = time.perf_counter()
            (run_a, run_b)[which](block)
            _sync(device)
            pair[which] = (time.perf_counter() - t0) / block
        ta.append(pair[0])
        tb.append(pair[1])
        ratios.append(pair[0] / pair[1])
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def make_trainer(kind: str, args, speed: dict, fused: bool = True) -> Trainer:
    """A trainer on the U-Net of --data ('unet'), the 32x32 RGB shapes ('rgb32') or the 2D MLP ('mlp')."""
    common = dict(steps=None, seconds=None, lr_schedule="constant", seed=0, device=args.device, threads=args.threads,
                  **speed)
    if kind == "mlp":
        from playground.data.targets.spec import load_target

        tr = Trainer(TrainConfig(**common), load_target("checkerboard").sample(65536, 0))
    else:
        data = load_image_dataset("shapes32", rgb=True, n=2000) if kind == "rgb32" else \
            load_image_dataset(args.data, n=2000)
        tr = image_trainer(data, image_train_config(**common))
    tr.check_every = 1
    if not fused:
        tr.speed = replace(tr.speed, fused_adam=False)
        tr.optimizer = make_adam(tr.flat_param, tr.config.lr, tr.speed)
    return tr


def option_rows(kind: str, args) -> list[list[str]]:
    base = make_trainer(kind, args, BASELINE, fused=False)
    device = base.device
    variants = {"fused Adam": (BASELINE, True), "bf16 autocast": ({**BASELINE, "precision": "bf16"}, False)}
    if kind != "mlp":
        variants["channels_last"] = ({**BASELINE, "channels_last": True}, False)
        variants["bf16 + channels_last"] = ({**BASELINE, "precision": "bf16", "channels_last": True}, False)
    if device.type == "cuda":
        variants["fp16 autocast (loss scaling)"] = ({**BASELINE, "precision": "fp16"}, False)
    if args.compile:
        variants["torch.compile"] = ({**BASELINE, "compile": True}, False)
    block = args.block * (40 if kind == "mlp" else 1)
    rows = []
    for name, (speed, fused) in variants.items():
        other = make_trainer(kind, args, speed, fused)
        t_base, t_opt, ratio = paired_gain(lambda n: base.run(max_steps=n), lambda n: other.run(max_steps=n),
                                           device, block, args.repeats)
        rows.append([kind, name, f"{1000 * t_base:.1f}", f"{1000 * t_opt:.1f}", f"{ratio:.2f}x"])
    if kind != "mlp":
        rows.append([kind, "in-memory gather vs DataLoader", *batch_source_times(base, args)])
    auto = resolve_speed(replace(base.config, precision="auto", channels_last=None), device)
    rows.append([kind, "auto picks", "", "", auto.describe()])
    return rows


def batch_source_times(trainer: Trainer, args) -> list[str]:
    """ms per batch: a torch DataLoader (shuffled, the same batch size) vs the trainer's gather from its pool."""
    from torch.utils.data import DataLoader, TensorDataset

    pool, batch, n = trainer.pool, trainer.config.batch, 20 * args.block
    loader = DataLoader(TensorDataset(pool.cpu()), batch_size=batch, shuffle=True, drop_last=True)
    batches = iter(loader)
    t0 = time.perf_counter()
    for _ in range(n):
        x = next(batches, None)
        if x is None:  # a new epoch
            batches = iter(loader)
            x = next(batches)
        x = x[0].to(trainer.device)
    t_loader = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        x = pool[torch.randint(0, len(pool), (batch,), device=pool.device)]
    _sync(trainer.device)
    t_gather = (time.perf_counter() - t0) / n
    del x
    return [f"{1000 * t_loader:.2f}", f"{1000 * t_gather:.2f}", f"{t_loader / t_gather:.1f}x"]


def process_rows(args) -> list[list[str]]:
    """1 process with --threads threads vs torchrun with 2 processes of --threads / 2, `train` on digits."""
    import tempfile

    rows = []
    flags = ["--data", "digits", "--steps", str(args.dist_steps), "--precision", "fp32", "--device", "cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        for procs in (1, 2):
            threads = max(1, args.threads // procs)
            env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
            launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] \
                if procs > 1 else [sys.executable]
            cmd = [*launcher, "-m", "playground", "train", *flags, "--threads", str(threads),
                   "--out", os.path.join(tmp, f"m{procs}.safetensors")]
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
            wall = time.perf_counter() - t0
            summary = json.loads(out.strip().splitlines()[-1])
            rows.append([f"{procs} x {threads} thread{'s' if threads > 1 else ''}", f"{summary['seconds']:.1f}",
                         f"{args.dist_steps / summary['seconds']:.1f}", f"{wall:.1f}", f"{summary['loss']:.4f}"])
    return rows


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench training: torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} "
          f"threads, device {args.device}, load {load:.1f}", flush=True)
    rows = []
    for kind in ("unet", *(("rgb32",) if args.rgb32 else ()), "mlp"):
        rows += option_rows(kind, args)
        print(_table(["net", "option", "ms/step off", "ms/step on", "gain"], rows), end="\n\n", flush=True)
        rows = []
    if args.processes:
        print(_table(["processes", "train s", "steps/s", "wall s", "final loss"], process_rows(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
