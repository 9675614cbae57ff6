"""Score matching against flow matching, same presets, same seconds: `python -m playground bench compare [--quick]`.

Two methods train from scratch on each dataset (default moons, 8gaussians, checkerboard) for each budget (default 2, 5,
10 s of training wall time, a fresh run per budget whose lr schedule ends with it, as `bench quality --mode budget`):

  DSM  the tuned default of `bench quality`: VP SDE, denoising score matching, EDM output and weighting, batch 768
  FM   rectified flow (Liu et al. 2023): rf SDE, conditional flow matching on the velocity (Lipman et al. 2023),
       output v, t ~ U(eps, T), batch 768
(`--dsm` / `--fm KEY=VALUE ...` override TrainConfig fields of either; the recipes and the checks below are
`core.evaluation.method_comparison`'s, which the app's Compare dock runs too.) Printed side by side, per dataset:

  SWD ratio@Bs  the SWD ratio (to the iid floor) of --n samples by the PF-ODE (ode_heun, its default 50 steps), mean
                of --repeats sample sets, after B seconds (`bench quality`'s metric)
and, for the model of the largest budget:
  NLL - H       PF-ODE NLL (exact divergence, dopri5 at 1e-5, from t = 1e-5) of --nll-n target points minus the
                target's entropy (moons has none: the NLL alone)
  straightness  Liu et al.'s S of the PF-ODE paths (`core.evaluation.straightness`), in data units^2, from 2000
                paths of a 100-step Heun solve (fine enough to measure the flow, not the sampler)
  Euler NFE     the fewest network evaluations of Euler on the PF-ODE (ode_euler, NFE = steps + 1 with the final
                denoise) over the step ladder --ladder whose SWD ratio (mean of --repeats) is <= --threshold (1.2)
                x the floor; '>N' when none is

The SWD ratio of two iid target sets is itself 1.0 +- ~0.15 at n = 10k, so ratios below ~1.2 are ties. Run it on a
quiet machine: the budgets are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from playground.bench.quality import DATASETS, bench_overrides, budget_trainer
from playground.core.evaluation.method_comparison import (
    EULER_LADDER,
    METHODS,
    euler_nfe,
    evaluate_nll,
    evaluate_swd,
    path_straightness,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench compare", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help="presets or data specs")
    p.add_argument("--checkpoints", type=float, nargs="+", default=[2.0, 5.0, 10.0], help="training seconds")
    p.add_argument("--n", type=int, default=10000, help="samples per SWD")
    p.add_argument("--repeats", type=int, default=2, help="sample sets averaged per SWD figure")
    p.add_argument("--nll-n", type=int, default=2000, help="points for the NLL")
    p.add_argument("--ladder", type=int, nargs="+", default=list(EULER_LADDER), help="Euler step counts tried")
    p.add_argument("--threshold", type=float, default=1.2, help="SWD ratio the Euler NFE must reach")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="a smoke run: budgets 1, 2 s, 4000 samples, 500 NLL points")
    p.add_argument("--dsm", nargs="*", default=[], metavar="KEY=VALUE", help="TrainConfig overrides for DSM")
    p.add_argument("--fm", nargs="*", default=[], metavar="KEY=VALUE", help="TrainConfig overrides for FM")
    return p


def run_method(target, args, overrides: dict) -> dict:
    """SWD ratio after each budget; NLL, straightness and Euler NFE of the largest budget's model."""
    row: dict = {"swd": [], "steps": []}
    for seconds in sorted(args.checkpoints):
        trainer = budget_trainer(target, args, overrides, seconds)
        trainer.run()
        mean, _, _ = evaluate_swd(trainer.snapshot(), target, args.n, "ode_heun", None, args.seed + 1, args.repeats)
        row["swd"].append(mean)
        row["steps"].append(trainer.step_count)
    model = trainer.snapshot()
    row.update(evaluate_nll(model, target, args.nll_n, args.seed))
    row["entropy"] = target.entropy
    row["straightness"] = path_straightness(model, args.seed + 2)
    row["nfe"], row["nfe_ratio"] = euler_nfe(model, target, args.ladder, args.threshold, args.n, args.repeats,
                                             args.seed + 3)
    return row


def format_table(rows: list[dict], checkpoints: list[float], ladder_max: int) -> str:
    head = ["dataset", "method", *(f"SWD ratio@{c:g}s" for c in checkpoints), "steps", "NLL - H", "straightness",
            "Euler NFE"]
    lines = []
    for r in rows:
        h = r.get("entropy")
        gap = f"{r['nll'] - h:+.4f}" if h is not None else f"NLL {r['nll']:.4f}"
        nfe = str(r["nfe"]) if r["nfe"] is not None else f">{ladder_max + 1} ({r['nfe_ratio']:.2f})"
        lines.append([r["dataset"], r["method"], *(f"{v:.2f}" for v in r["swd"]), str(r["steps"][-1]), gap,
                      f"{r['straightness']:.3f}", nfe])
    widths = [max(len(head[i]), *(len(c[i]) for c in lines)) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *(fmt(c) for c in lines)])


def main(argv: list[str] | None = None) -> int:
    from playground.data.targets.spec import load_target

    args = build_parser().parse_args(argv)
    if args.quick:
        args.checkpoints, args.n, args.nll_n, args.repeats = [1.0, 2.0], min(args.n, 4000), min(args.nll_n, 500), 1
    methods = {"DSM": bench_overrides(args.dsm, METHODS["DSM"]), "FM": bench_overrides(args.fm, METHODS["FM"])}
    torch.set_num_threads(args.threads)
    print(f"bench compare: torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} "
          f"threads, device {args.device}; budgets {', '.join(f'{c:g}' for c in sorted(args.checkpoints))} s; SWD of "
          f"{args.n} samples (ode_heun), mean of {args.repeats}; NLL of {args.nll_n} points; Euler NFE for SWD ratio "
          f"<= {args.threshold:g}", flush=True)
    for name, cfg in methods.items():
        print(f"  {name}: {cfg}", flush=True)
    rows = []
    t0 = time.perf_counter()
    for dataset in args.datasets:
        target = load_target(dataset)
        for name, overrides in methods.items():
            row = {"dataset": dataset, "method": name, **run_method(target, args, overrides)}
            rows.append(row)
            print(f"  {dataset} {name}: SWD {', '.join(f'{v:.2f}' for v in row['swd'])}; NLL {row['nll']:.4f}; "
                  f"straightness {row['straightness']:.3f}; Euler NFE {row['nfe']}", flush=True)
    print()
    print(format_table(rows, sorted(args.checkpoints), max(args.ladder)))
    print(f"\n(total {time.perf_counter() - t0:.0f} s; iid SWD ratios scatter 1.0 +- ~0.15: below ~1.2 is a tie)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
