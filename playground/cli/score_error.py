"""`eval --score-error`: a model's normalised score error per time bin against its target's exact score, beside the
DSM loss and its floor; a table, then one JSON line."""

from __future__ import annotations

import json

from playground.cli.common import CLIError, load_data


def add_score_error_args(p) -> None:
    g = p.add_argument_group("score error")
    g.add_argument("--score-error", action="store_true",
                   help="instead of sampling: the model's E|s - grad log p_t|^2 std(t)^2 per time bin against the "
                   "target's exact score (a GMM's closed form, a raster's or the checkerboard's, or a point set's), beside the DSM loss and its floor; "
                   "needs --model and --data")
    g.add_argument("--time-bins", type=int, default=10, metavar="K", help="time bins for --score-error (default 10)")


def cmd_score_error(args) -> int:
    from playground.core.evaluation.score_error import model_score_error
    from playground.core.training.model_file import load_model

    if not getattr(args, "model", None):
        raise CLIError("--score-error compares a trained model with the exact score: give --model FILE")
    if not args.data:
        raise CLIError("--score-error needs the model's target: give --data SPEC")
    if args.time_bins < 1:
        raise CLIError(f"--time-bins must be >= 1, got {args.time_bins}")
    model = load_model(args.model)
    if model.image_shape is not None:
        raise CLIError("--score-error applies to 2D models (an image dataset has no exact score)")
    target = load_data(args)
    table = model_score_error(model, target, n=args.n, bins=args.time_bins, seed=args.seed)
    print(f"score error of {args.model} on {target.name} ({model.sde.name} SDE, {args.n} target samples per bin; "
          "error = E|s - grad log p_t|^2 std^2, 0 for the exact score; DSM floor = the exact score's DSM loss)")
    print(f"{'t from':>8} {'t to':>8} {'score_error':>12} {'dsm_loss':>10} {'dsm_floor':>10}")
    for k in range(len(table.t)):
        print(f"{table.edges[k]:>8.3f} {table.edges[k + 1]:>8.3f} {table.score_error[k]:>12.5f} "
              f"{table.dsm_loss[k]:>10.5f} {table.dsm_floor[k]:>10.5f}")
    print(f"mean score error {table.mean_error:.5f}")
    print(json.dumps({**table.as_dict(), "mean_score_error": table.mean_error, "model": str(args.model),
                      "data": target.name}))  # fmt: skip
    return 0
