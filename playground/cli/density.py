"""`density`: log p_t on a G x G grid through the PF-ODE (exact divergence), as .npy or a heatmap PNG."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from playground.cli.common import (
    CLIError,
    add_class_args,
    add_score_source_args,
    add_sde_args,
    check_output_path,
    positive_float,
    positive_int,
    resolve_score_source,
)
from playground.cli.conditional import target_class

MAP_SUFFIXES = (".npy", ".png")


def add_density_command(sub) -> None:
    p = sub.add_parser(
        "density", help="log p_t on a grid through the PF-ODE; write .npy or a heatmap .png; last line JSON",
        description="Compute log p_t(x) (nats, data space) on a G x G grid by integrating the probability-flow ODE "
        "from t to T with the exact 2D divergence (fixed-step Runge-Kutta, steps chosen by a Richardson error "
        "estimate). Writes a (G, G) float64 array (row 0 the lowest y, column 0 the lowest x; cell centres of the "
        "extent) or a heatmap PNG. The last line of stdout is one JSON object.",
    )  # fmt: skip
    add_score_source_args(p)
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC", help="preset name, .png/.jpg image, .csv/.npy points or GMM .json")
    g.add_argument("--image-extent", dest="extent", type=positive_float, default=4.0, metavar="L",
                   help="an image target covers [-L, L] on its longer side (default 4)")
    g.add_argument("--noise", type=float, default=None, metavar="X", help="a preset's noise parameter")
    add_sde_args(p)
    add_class_args(p)
    g = p.add_argument_group("map")
    g.add_argument("--t", type=float, default=0.0, metavar="T",
                   help="time of the density, in [0, T]; below the SDE's eps the ODE starts at eps (default 0)")
    g.add_argument("--grid", type=positive_int, default=128, metavar="G", help="grid points per side (default 128)")
    g.add_argument("--extent", dest="view", type=float, nargs=4, default=None, metavar=("XMIN", "XMAX", "YMIN", "YMAX"),
                   help="the map's rectangle (default: the target's bounds)")
    g.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="fixed solver steps (default: chosen so the error estimate is below --tol)")
    g.add_argument("--tol", type=positive_float, default=None, metavar="NATS",
                   help="error target of the step choice in nats (default 0.01)")
    g.add_argument("--method", choices=("rk3", "heun", "rk4"), default="rk3", help="Runge-Kutta method (default rk3)")
    g.add_argument("--true-out", metavar="FILE", default=None,
                   help="also write the target's exact log p_t (.npy or .png) where it is known (GMM, raster, "
                   "checkerboard)")
    g.add_argument("--range", dest="png_range", type=positive_float, default=12.0, metavar="NATS",
                   help="a PNG shows [max - NATS, max] (default 12)")
    g.add_argument("--out", required=True, metavar="FILE", help="FILE.npy (float64 G x G) or FILE.png (heatmap)")
    g = p.add_argument_group("fit")
    g.add_argument("--nll", action="store_true",
                   help="also the NLL of --nll-n target samples at t, the target's entropy and the KL between them")
    g.add_argument("--nll-n", type=positive_int, default=2000, metavar="N", help="samples for --nll (default 2000)")
    g.add_argument("--seed", type=int, default=0, help="seed of the --nll samples (default 0)")
    p.set_defaults(func=cmd_density)


def density_field(args, source):
    """The DensityField of --exact (a GMM target) or --model, with --class / --guidance."""
    from playground.core.sampling.pf_ode_density import gmm_class_density_field, gmm_density_field, model_density_field

    if args.guidance != 0 and args.class_label is None:
        raise CLIError("--guidance needs --class")
    if source.model is not None:
        if source.model.image_shape is not None:
            raise CLIError("density maps are for 2D models; this is an image model")
        label = None
        if args.class_label is not None:
            from playground.cli.images import class_label

            label = class_label(args, source.model)
        return model_density_field(source.model, label, args.guidance)
    target = source.target
    if target.gmm is None:
        raise CLIError(f"--exact needs a Gaussian-mixture target for its exact density ODE; {target.name} is not one "
                       "(train a model, or see --true-out for a known density)")
    if args.class_label is not None:
        return gmm_class_density_field(target.gmm, source.sde, target_class(args, target), args.guidance)
    return gmm_density_field(target.gmm, source.sde)


def cmd_density(args) -> int:
    from playground.core.sampling.density_grid import GridSpec, log_density_grid

    out = check_output_path(args.out, MAP_SUFFIXES, "--out")
    true_out = check_output_path(args.true_out, MAP_SUFFIXES, "--true-out") if args.true_out else None
    if args.exact and not args.data:
        raise CLIError("--exact needs --data SPEC")
    source = resolve_score_source(args)
    field = density_field(args, source)
    sde = field.sde
    if not (math.isfinite(args.t) and 0 <= args.t <= sde.T):
        raise CLIError(f"--t must lie in [0, {sde.T:g}], got {args.t:g}")
    if args.view is None:
        if source.target is None:
            raise CLIError("give --extent XMIN XMAX YMIN YMAX (or --data SPEC for the target's bounds)")
        args.view = source.target.bounds()
    try:
        grid = GridSpec(tuple(args.view), args.grid)
    except ValueError as e:
        raise CLIError(f"--extent / --grid: {e}") from None
    options = {"steps": args.steps, "method": args.method}
    if args.tol is not None:
        options["tol"] = args.tol
    result = log_density_grid(field, grid, args.t, **options)
    xmin, xmax, ymin, ymax = grid.extent
    error = "unknown" if result.error_estimate is None else f"{result.error_estimate:.2g} nats"
    print(f"log p_t at t = {result.t:g} ({field.label}, {sde.name} SDE) on a {args.grid} x {args.grid} grid: "
          f"{args.method}, {result.steps} steps, error estimate {error}, {result.seconds:.2f} s")
    print(f"extent {xmin:g} {xmax:g} {ymin:g} {ymax:g}")
    print(f"NFE {result.nfe} per point ({result.score_calls} batched score evaluations)")
    write_map(out, result.log_density, args.png_range)
    finite = result.log_density[np.isfinite(result.log_density)]
    print(f"wrote {out} (log p from {finite.min():.3g} to {finite.max():.3g} nats)")
    summary = {"extent": [xmin, xmax, ymin, ymax], "grid": args.grid, "nfe": result.nfe,
               "seconds": round(result.seconds, 3), "t": result.t, "steps": result.steps,
               "error_estimate": result.error_estimate}
    if true_out is not None:
        summary.update(write_true_map(args, source, field, grid, result, true_out))
    if args.nll:
        summary.update(fit_report(args, source, field, result.t))
    print(json.dumps(summary))
    return 0


def write_map(path: Path, values: np.ndarray, png_range: float) -> None:
    from playground.core.io.heatmap import save_heatmap_png

    if path.suffix.lower() == ".npy":
        np.save(path, values.astype(np.float64))
        return
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if len(finite) else 0.0
    save_heatmap_png(path, values, top - png_range, top, zoom=max(1, 512 // values.shape[0]))


def write_true_map(args, source, field, grid, result, path: Path) -> dict:
    """Write the exact log p_t of the target beside the map; the largest difference where log p > max - 8."""
    from playground.core.diffusion.exact_density import marginal_log_density_grid

    if source.target is None:
        raise CLIError("--true-out needs --data SPEC")
    if args.class_label is not None:
        raise CLIError("--true-out writes the unconditional density; leave out --class")
    t_true = 0.0 if args.t <= field.sde.sampling_eps else result.t
    true = marginal_log_density_grid(source.target, field.sde, t_true, grid.xs, grid.ys, field.normalization)
    if true is None:
        raise CLIError(f"--true-out: the exact log p_t of {source.target.name} is not known")
    write_map(path, true, args.png_range)
    finite = np.isfinite(true)
    relevant = finite & (true > true[finite].max() - 8)
    gap = float(np.abs(result.log_density - true)[relevant].max()) if relevant.any() else None
    print(f"wrote {path} (exact log p at t = {t_true:g}); largest |difference| where log p > max - 8: "
          f"{'n/a' if gap is None else f'{gap:.4g}'} nats")
    return {"true_t": t_true, "max_abs_difference": gap}


def fit_report(args, source, field, t: float) -> dict:
    from playground.core.evaluation.density_report import density_report

    if source.target is None:
        raise CLIError("--nll needs --data SPEC (the target whose samples are scored)")
    report = density_report(field, source.target, 0.0 if args.t <= field.sde.sampling_eps else t, n=args.nll_n,
                            seed=args.seed)
    fmt = lambda v, s: "unknown" if v is None else f"{v:.4f} +- {s:.4f}"  # noqa: E731
    print(f"at t = {report.t:g}: NLL {fmt(report.nll, report.nll_sem)} nats, target entropy "
          f"{fmt(report.entropy, report.entropy_sem)}, KL {fmt(report.kl, report.kl_sem)} ({report.n} samples)")
    return {"nll": report.nll, "nll_sem": report.nll_sem, "entropy": report.entropy, "kl": report.kl,
            "kl_sem": report.kl_sem, "nll_n": report.n}
