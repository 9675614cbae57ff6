"""Time-to-quality of the trainer: `python -m playground bench quality [--threads 2] [--datasets ...] [--quick]`.

For each dataset (default moons, 8gaussians, checkerboard) and each training budget (default 2, 5, 10 s of
*training* wall time: the sum of the optimisation steps' times; data set-up, sampling and evaluation excluded) a run
trains from scratch with the default TrainConfig plus BENCH_CONFIG (EDM output and weighting; `--set KEY=VALUE`
overrides any field; BENCH_CONFIG also sets batch 768) and `seconds` = the budget, so its lr schedule ends with the budget
(what `python -m playground train --seconds S` does). `--mode anytime` instead trains one run (horizon `--seconds`)
and evaluates snapshots at the budgets, which is what watching the app's training looks like.

Metric: the SWD ratio of `--n` = 10k generated samples (PF-ODE Heun, its default 50 steps) vs the target, over the
iid floor of two target sets of the same size (`metrics.swd_report`, 4 chunks). Even two iid target sets give a
ratio of 1.0 +- 0.15 (8gaussians up to 1.5, from the mode-weight noise of 10k points), so the figure printed is the
mean over `--repeats` (default 4) independent sample sets and evaluation seeds, with their standard deviation.

After a `--seconds` (default 60) run: the PF-ODE NLL (exact divergence, dopri5 at rtol = atol = 1e-5, from
t = 1e-5) of `--nll-n` fresh target points minus the true entropy (nats; checkerboard ln 32, 8gaussians from its
GMM; moons has no closed form and shows the NLL alone), with its standard error.
Targets (issue 3, 2 CPU threads): SWD ratio <= 1.5 by 5 s; NLL - H <= 0.05 after 60 s.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from playground.core.evaluation import method_comparison
from playground.core.evaluation.method_comparison import TUNED_DSM, evaluate_nll, evaluate_swd

DATASETS = ("moons", "8gaussians", "checkerboard")
BENCH_CONFIG = TUNED_DSM
"""TrainConfig fields the benchmark sets on top of the defaults (EDM preconditioning and noise levels train fastest;
`--set output=eps weighting=song` measures Song et al.'s textbook setting; `--set objective=fm sde=rf` rectified flow,
with the velocity output and, from here, EDM's log-normal noise levels: `weighting=song` for uniform t)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench quality", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help="presets or data specs")
    p.add_argument("--checkpoints", type=float, nargs="+", default=[2.0, 5.0, 10.0], help="training seconds")
    p.add_argument("--seconds", type=float, default=60.0, help="training seconds before the NLL (and lr horizon)")
    p.add_argument("--n", type=int, default=10000, help="samples for the SWD")
    p.add_argument("--nll-n", type=int, default=4000, help="points for the NLL")
    p.add_argument("--sampler", default="ode_heun")
    p.add_argument("--sample-steps", type=int, default=None, help="default: the sampler's default")
    p.add_argument("--repeats", type=int, default=4, help="independent sample sets averaged per SWD figure")
    p.add_argument("--mode", choices=("budget", "anytime"), default="budget",
                   help="budget: one run per budget (default); anytime: snapshots of one run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="a fast smoke run: checkpoints 1, 2 s; NLL after 4 s")
    p.add_argument("--no-nll", action="store_true", help="skip the final NLL")
    p.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="TrainConfig overrides, e.g. --set hidden=256 lr=3e-3"
    )
    return p


def parse_overrides(items: list[str]) -> dict:
    """TrainConfig fields from KEY=VALUE strings (typed by the field; 'none' is None)."""
    from dataclasses import fields

    from playground.core.training.config import TrainConfig

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
        if t.startswith("bool"):
            out[k] = v.lower() in ("1", "true", "yes")
        else:
            out[k] = int(v) if t.startswith("int") else float(v) if t.startswith("float") else v
    return out


def bench_overrides(items: list[str], base: dict | None = None) -> dict:
    """`base` (default BENCH_CONFIG) updated by the KEY=VALUE items; objective=fm without an output trains the
    velocity ('v'), as `train --objective fm` does."""
    user = parse_overrides(items)
    out = {**(BENCH_CONFIG if base is None else base), **user}
    if user.get("objective") == "fm" and "output" not in user:
        out["output"] = "v"
    return out


def budget_trainer(target, args, overrides: dict, seconds: float):
    """A Trainer for `seconds` of training (its lr schedule's horizon) on a fresh pool of target samples."""
    return method_comparison.budget_trainer(target.sample, overrides, seconds, seed=args.seed, device=args.device,
                                            threads=args.threads)


def run_dataset(name: str, args, overrides: dict) -> dict:
    from playground.data.targets.spec import load_target

    target = load_target(name)
    row: dict = {"dataset": name, "checkpoints": []}
    evaluate = lambda tr: evaluate_swd(
        tr.snapshot(), target, args.n, args.sampler, args.sample_steps, args.seed + 1, args.repeats
    )
    trainer = budget_trainer(target, args, overrides, args.seconds) if args.mode == "anytime" else None
    for c in sorted(args.checkpoints):
        if args.mode == "budget":
            trainer = budget_trainer(target, args, overrides, c)
            trainer.run()
        else:
            trainer.run(max_seconds=max(0.0, c - trainer.train_seconds))
        mean, sd, st = evaluate(trainer)
        row["checkpoints"].append(
            {"seconds": c, "trained_s": trainer.train_seconds, "steps": trainer.step_count, "swd_ratio": mean,
             "swd_sd": sd, "sample_s": st}
        )
    if not args.no_nll:
        if args.mode == "budget":
            trainer = budget_trainer(target, args, overrides, args.seconds)
            trainer.run()
        else:
            trainer.run(max_seconds=max(0.0, args.seconds - trainer.train_seconds))
        t0 = time.perf_counter()
        row.update(evaluate_nll(trainer.snapshot(), target, args.nll_n, args.seed))
        row.update(nll_steps=trainer.step_count, nll_eval_s=time.perf_counter() - t0, entropy=target.entropy)
    return row


def format_table(rows: list[dict], checkpoints: list[float], nll_seconds: float | None) -> str:
    head = ["dataset"]
    for c in checkpoints:
        head += [f"steps@{c:g}s", f"SWD ratio@{c:g}s"]
    if nll_seconds is not None:
        head += [f"steps@{nll_seconds:g}s", "NLL (nats)", "entropy", "NLL - H", "+-se", "KL (paired)"]
    lines = []
    for r in rows:
        cells = [r["dataset"]]
        for cp in r["checkpoints"]:
            cells += [str(cp["steps"]), f"{cp['swd_ratio']:.2f} +- {cp['swd_sd']:.2f}"]
        if nll_seconds is not None:
            h = r.get("entropy")
            cells += [
                str(r.get("nll_steps", "")),
                f"{r['nll']:.4f}" if "nll" in r else "-",
                f"{h:.4f}" if h is not None else "-",
                f"{r['nll'] - h:+.4f}" if (h is not None and "nll" in r) else "-",
                f"{r['nll_se']:.4f}" if "nll_se" in r else "-",
                f"{r['kl']:+.4f} +- {r['kl_se']:.4f}" if "kl" in r else "-",
            ]
        lines.append(cells)
    widths = [max(len(head[i]), *(len(c[i]) for c in lines)) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
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
        args.repeats = min(args.repeats, 2)
    overrides = bench_overrides(args.set)
    torch.set_num_threads(args.threads)
    print(
        f"bench quality: torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} threads, device {args.device}; mode {args.mode}; SWD ratio of {args.n} samples "
        f"({args.sampler}), mean of {args.repeats}; NLL of {args.nll_n} points after {args.seconds:g} s; "
        f"overrides {overrides or 'none'}",
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
