"""`race`: every sampler at a ladder of NFE budgets against the target (SWD ratio over the iid floor); a CSV table or
the PNG chart, and a last stdout line of JSON with each sampler's smallest NFE at ratio <= 1.2."""

from __future__ import annotations

import csv
import io
import json

from playground.cli.common import (
    CLIError,
    add_data_args,
    add_score_source_args,
    add_sde_args,
    check_output_path,
    positive_int,
    resolve_score_source,
)

CSV_FIELDS = ("sampler", "steps", "nfe", "seconds", "swd_ratio")


def _name_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _int_list(text: str) -> list[int]:
    try:
        return [int(p) for p in _name_list(text)]
    except ValueError:
        raise CLIError(f"--nfe {text!r}: expected whole numbers separated by commas, e.g. 10,20,40") from None


def add_race_command(sub) -> None:
    from playground.core.evaluation.sampler_race import GOOD_RATIO, NFE_LADDER, RACE_SAMPLERS

    p = sub.add_parser("race", help="every sampler at a ladder of NFE budgets: quality vs cost (CSV or PNG)",
                       description="Run every sampler at a ladder of NFE budgets (score evaluations), cheapest "
                       "first, and compare each run's samples with fresh target samples by the sliced Wasserstein "
                       "distance over the iid floor of two target sets (ratio 1 = as close as the target to itself). "
                       f"The last line of stdout is JSON: per sampler the smallest NFE with ratio <= {GOOD_RATIO} "
                       "(null if none).")
    add_score_source_args(p)
    add_data_args(p)
    add_sde_args(p)
    g = p.add_argument_group("race")
    g.add_argument("--samplers", type=_name_list, default=list(RACE_SAMPLERS), metavar="A,B,..",
                   help=f"samplers to race (default {','.join(RACE_SAMPLERS)})")
    g.add_argument("--nfe", default=",".join(map(str, NFE_LADDER)), metavar="N1,N2,..",
                   help=f"the NFE rungs (default {','.join(map(str, NFE_LADDER))}); each sampler takes the most steps "
                   "within each rung")
    g.add_argument("--n", type=positive_int, default=4000, metavar="N", help="samples per run (default 4000)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--out", required=True, metavar="FILE", help="race.csv (one row per run) or race.png (the chart)")
    p.set_defaults(func=cmd_race)


def cmd_race(args) -> int:
    from playground.core.evaluation.sampler_race import race_plan, run_race, smallest_good_nfe
    from playground.core.io.atomic import atomic_write
    from playground.core.io.race_chart import write_race_chart

    out = check_output_path(args.out, (".csv", ".png"), "--out")
    args.nfe = _int_list(args.nfe)
    race_plan(args.samplers, args.nfe)  # bad names or rungs fail before the data loads
    source = resolve_score_source(args)
    if source.target is None:
        raise CLIError("race needs a target: give --data SPEC")
    target = source.target
    print(f"racing {', '.join(args.samplers)} at NFE {', '.join(map(str, sorted(args.nfe)))} on {target.name} "
          f"({source.sde.name} SDE, {source.label}, {args.n} samples per run)")
    print(f"{'sampler':<18} {'steps':>6} {'nfe':>6} {'seconds':>8} {'swd_ratio':>9}")

    def show(e) -> None:
        print(f"{e.sampler:<18} {e.steps:>6} {e.nfe:>6} {e.seconds:>8.2f} {e.swd_ratio:>9.3f}", flush=True)

    entries = run_race(source.score_fn, source.sde, lambda n, seed: target.sample(n, seed), samplers=args.samplers,
                       ladder=args.nfe, n=args.n, seed=args.seed, to_data=source.to_data, callback=show)
    rows = [{k: getattr(e, k) for k in CSV_FIELDS} for e in entries]
    if out.suffix.lower() == ".png":
        write_race_chart(out, rows, title=f"{target.name}, {source.sde.name}, {source.label}")
    else:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(out, text.getvalue())
    print(f"wrote {out} ({len(rows)} runs)")
    print(json.dumps(smallest_good_nfe(entries)))
    return 0
