"""Time-to-quality of the trainer: `python -m playground bench quality [--threads 2] [--datasets ...] [--quick]`.

For each dataset one run trains from scratch with the default TrainConfig (its lr schedule spans the whole run,
`--seconds`, default 60) and is stopped at each checkpoint (default 2, 5, 10 s of *training* wall time: the sum of
the optimisation steps' times; sampling and evaluation are excluded). At each checkpoint the EMA snapshot draws
`--n` samples (default 10k, EM with the sampler's default steps) and we print the SWD ratio: the SWD of generated vs
target samples over the iid floor of two target sets of the same size (`metrics.swd_report`, 4 chunks). At the end
the PF-ODE NLL (exact divergence, dopri5) of `--nll-n` fresh target points minus the target's true entropy (nats;
checkerboard ln 32, 8gaussians from its GMM; moons has no closed form and shows the NLL alone), with its standard
error. Targets (issue 3, 2 CPU threads): SWD ratio <= 1.5 by 5 s; NLL - H <= 0.05 after 60 s.
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np
import torch

DATASETS = ("moons", "8gaussians", "checkerboard")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench quality", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help="presets or data specs")
    p.add_argument("--checkpoints", type=float, nargs="+", default=[2.0, 5.0, 10.0], help="training seconds")
    p.add_argument("--seconds", type=float, default=60.0, help="training seconds before the NLL (and lr horizon)")
    p.add_argument("--n", type=int, default=10000, help="samples for the SWD")
    p.add_argument("--nll-n", type=int, default=4000, help="points for the NLL")
    p.add_argument("--sampler", default="em")
    p.add_argument("--sample-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="a fast smoke run: checkpoints 1, 2 s; NLL after 4 s")
    p.add_argument("--no-nll", action="store_true", help="skip the final NLL")
    p.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="TrainConfig overrides, e.g. --set hidden=256 lr=3e-3"
    )
    return p


def _parse_overrides(items: list[str]) -> dict:
    from dataclasses import fields

    from playground.core.trainer import TrainConfig

    types = {f.name: f.type for f in fields(TrainConfig)}
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        if k not in types:
            raise SystemExit(f"--set: unknown TrainConfig field {k!r}")
        if v.lower() == "none":
            out[k] = None
            continue
        t = str(types[k])
        out[k] = int(v) if t.startswith("int") else float(v) if t.startswith("float") else v
    return out


def evaluate_swd(model, target, n: int, sampler: str, steps: int | None, seed: int) -> tuple[float, float]:
    """(SWD ratio over the iid floor, seconds spent sampling)."""
    from playground.core.metrics import swd_report

    t0 = time.perf_counter()
    x = model.sample(n, sampler=sampler, steps=steps, seed=seed)
    dt = time.perf_counter() - t0
    rep = swd_report(x, lambda m, s: target.sample(m, s), seed=seed)
    return rep.swd_ratio, dt


def evaluate_nll(model, target, n: int, seed: int) -> tuple[float, float]:
    """(mean NLL in nats, its standard error) of n fresh target points under the model (PF-ODE, exact divergence)."""
    x = target.sample(n, seed + 777)
    logp = model.log_prob(x.astype(np.float64), batch_size=1000)
    nll = -logp
    return float(nll.mean()), float(nll.std(ddof=1) / math.sqrt(len(nll)))


def run_dataset(name: str, args, overrides: dict) -> dict:
    from playground.core.trainer import TrainConfig, Trainer
    from playground.data.spec import load_target

    target = load_target(name)
    cfg = TrainConfig(
        **{"steps": None, "seconds": args.seconds, "seed": args.seed, "device": args.device, "threads": args.threads,
           **overrides}
    )
    data = target.sample(cfg.pool, args.seed)
    trainer = Trainer(cfg, data)
    row: dict = {"dataset": name, "checkpoints": []}
    for c in sorted(args.checkpoints):
        trainer.run(max_seconds=max(0.0, c - trainer.train_seconds))
        ratio, st = evaluate_swd(trainer.snapshot(), target, args.n, args.sampler, args.sample_steps, args.seed + 1)
        row["checkpoints"].append({"seconds": c, "steps": trainer.step_count, "swd_ratio": ratio, "sample_s": st})
    if not args.no_nll:
        trainer.run(max_seconds=max(0.0, args.seconds - trainer.train_seconds))
        model = trainer.snapshot()
        t0 = time.perf_counter()
        nll, se = evaluate_nll(model, target, args.nll_n, args.seed)
        row.update(nll=nll, nll_se=se, nll_steps=trainer.step_count, nll_eval_s=time.perf_counter() - t0)
        row["entropy"] = target.entropy
    return row


def format_table(rows: list[dict], checkpoints: list[float], nll_seconds: float | None) -> str:
    head = ["dataset"]
    for c in checkpoints:
        head += [f"steps@{c:g}s", f"SWD ratio@{c:g}s"]
    if nll_seconds is not None:
        head += [f"steps@{nll_seconds:g}s", "NLL (nats)", "entropy", "NLL - H", "+-se"]
    lines = []
    for r in rows:
        cells = [r["dataset"]]
        for cp in r["checkpoints"]:
            cells += [str(cp["steps"]), f"{cp['swd_ratio']:.3f}"]
        if nll_seconds is not None:
            h = r.get("entropy")
            cells += [
                str(r.get("nll_steps", "")),
                f"{r['nll']:.4f}" if "nll" in r else "-",
                f"{h:.4f}" if h is not None else "-",
                f"{r['nll'] - h:+.4f}" if (h is not None and "nll" in r) else "-",
                f"{r['nll_se']:.4f}" if "nll_se" in r else "-",
            ]
        lines.append(cells)
    widths = [max(len(head[i]), *(len(c[i]) for c in lines)) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    out = [fmt(head), "  ".join("-" * w for w in widths)]
    out += [fmt(c) for c in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.checkpoints = [1.0, 2.0]
        args.seconds = 4.0
        args.n = min(args.n, 4000)
        args.nll_n = min(args.nll_n, 500)
    overrides = _parse_overrides(args.set)
    torch.set_num_threads(args.threads)
    print(
        f"bench quality: torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} threads, device {args.device}; SWD of {args.n} samples ({args.sampler}), "
        f"NLL of {args.nll_n} points after {args.seconds:g} s; overrides {overrides or 'none'}",
        flush=True,
    )
    rows = []
    t0 = time.perf_counter()
    for name in args.datasets:
        row = run_dataset(name, args, overrides)
        rows.append(row)
        cps = ", ".join(f"{c['seconds']:g}s: {c['swd_ratio']:.3f} ({c['steps']} steps)" for c in row["checkpoints"])
        extra = ""
        if "nll" in row:
            h = row["entropy"]
            gap = f", NLL - H = {row['nll'] - h:+.4f} +- {row['nll_se']:.4f}" if h is not None else ""
            extra = f"; NLL {row['nll']:.4f} after {row['nll_steps']} steps{gap}"
        print(f"  {name}: SWD ratio {cps}{extra}", flush=True)
    print()
    print(format_table(rows, sorted(args.checkpoints), None if args.no_nll else args.seconds))
    print(f"\n(total {time.perf_counter() - t0:.0f} s; targets: SWD ratio <= 1.5 at 5 s, NLL - H <= 0.05 at 60 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
