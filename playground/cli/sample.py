"""`sample` and `eval`: draw samples with an exact or learned score, write them, compare them with the target."""

from __future__ import annotations

import json
from typing import Any

from playground.cli.common import (
    POINT_SUFFIXES,
    CLIError,
    ScoreSource,
    add_class_args,
    add_data_args,
    add_sampler_args,
    add_score_source_args,
    add_sde_args,
    check_output_path,
    describe_run,
    fill_count_defaults,
    likelihood_eps,
    load_image_model,
    positive_float,
    positive_int,
    resolve_score_source,
    run_sampler,
    write_points,
)
from playground.cli.conditional import (
    add_impute_args,
    class_reference,
    conditional_source,
    imputation_report,
    run_imputation,
)
from playground.cli.images import cmd_eval_images, cmd_sample_images
from playground.cli.score_error import add_score_error_args, cmd_score_error


def add_sample_command(sub) -> None:
    p = sub.add_parser("sample", help="draw samples and write them to .npy or .csv",
                       description="Draw samples with a score and write them to .npy or .csv; prints the NFE used.")
    add_score_source_args(p)
    add_data_args(p)
    add_sde_args(p)
    add_sampler_args(p, n_default=2000, image_n_default=64)
    add_class_args(p)
    add_impute_args(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", required=True, metavar="FILE",
                   help="samples: FILE.npy (float32 N x 2) or FILE.csv; for an image model FILE.png (a grid) or "
                   "FILE.npy (float32 N x C x H x W in [0, 1])")
    g.add_argument("--trajectory", metavar="FILE.npy", help="also write the trajectory (K, N, 2) from x_T to the end")
    g.add_argument("--trajectory-stride", type=positive_int, default=1, metavar="K",
                   help="keep every K-th step in --trajectory (default 1)")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args) -> int:
    image_model = load_image_model(args)
    fill_count_defaults(args, image_model is not None)
    if image_model is not None:
        if args.impute is not None:
            raise CLIError("--impute applies to 2D data; for images use the inpainting of the app")
        return cmd_sample_images(args, image_model)
    out = check_output_path(args.out, POINT_SUFFIXES, "--out")
    traj = check_output_path(args.trajectory, (".npy",), "--trajectory") if args.trajectory else None
    source = resolve_score_source(args)
    if args.impute is not None:
        return cmd_impute(args, source, out, traj)
    if args.class_label is not None or args.guidance != 0:
        source, _ = conditional_source(args, source)
    result, steps = run_sampler(args, source, trajectory_stride=args.trajectory_stride if traj else 0)
    print(f"sampled {args.n} points: {describe_run(args, source, steps)}")
    print(f"NFE {result.nfe}")
    write_points(out, result.x.detach().cpu().numpy())
    print(f"wrote {out} ({args.n} x {result.x[0].numel()})")
    if traj is not None:
        import numpy as np

        frames = result.trajectory.detach().cpu().numpy().astype(np.float32)
        np.save(traj, frames)
        t = result.times
        print(f"wrote {traj} ({' x '.join(map(str, frames.shape))}, t from {float(t[0]):.4g} to {float(t[-1]):.4g})")
    return 0


def cmd_impute(args, source: ScoreSource, out, traj) -> int:
    """sample --impute: n x 2 samples with the conditioned coordinate set exactly; W1 against the exact conditional
    where the target is a Gaussian mixture (last line JSON)."""
    if traj is not None:
        raise CLIError("--trajectory does not apply with --impute")
    x, nfe, what = run_imputation(args, source)
    print(f"imputed {args.n} points given {args.impute}: {what}; {source.label}")
    print(f"NFE {nfe}")
    write_points(out, x)
    print(f"wrote {out} ({args.n} x 2)")
    summary = {"impute": args.impute, "method": args.impute_method, "n": args.n, "nfe": nfe}
    report = imputation_report(args, source, x)
    if report is not None:
        print(f"imputed coordinate: mean {report['mean']:.4f}, variance {report['variance']:.4f} (exact "
              f"{report['exact_mean']:.4f}, {report['exact_variance']:.4f}); W1 to the exact conditional "
              f"{report['w1']:.4f}, floor {report['w1_floor']:.4f}")
        summary.update(report)
    print(json.dumps(summary))
    return 0


def add_eval_command(sub) -> None:
    p = sub.add_parser("eval", help="sample and compare with the target (SWD, optional NLL); last line JSON",
                       description="Sample with a score and report the sliced Wasserstein distance to the target "
                       "against the floor of two independent target sets; for an ODE sampler (ode_*, ddim at eta 0, "
                       "edm_heun without churn) also the straightness of its paths (Liu et al. 2023); with --nll the "
                       "mean PF-ODE NLL of fresh target samples, with --elbo the ELBO's bound on the reverse SDE's. "
                       "The last line of stdout is one JSON object.")
    add_score_source_args(p)
    add_data_args(p)
    add_sde_args(p)
    add_sampler_args(p, n_default=5000, image_n_default=500)
    add_class_args(p)
    g = p.add_argument_group("likelihood")
    g.add_argument("--nll", action="store_true",
                   help="mean NLL (nats) of fresh target samples by the PF-ODE (exact divergence, dopri5); for an "
                   "image model bits/dim of dequantised dataset images (Hutchinson divergence)")
    g.add_argument("--elbo", action="store_true",
                   help="the continuous-time ELBO (Song, Durkan, Murray & Ermon 2021, Thm 3) of the same samples: a "
                   "bound on the reverse SDE's NLL, next to the PF-ODE's exact NLL")
    g.add_argument("--nll-n", type=positive_int, default=None, metavar="N",
                   help="target samples for --nll / --elbo (default 1000; 100 images for an image model)")
    g.add_argument("--nll-eps", type=positive_float, default=None, metavar="T",
                   help="time the likelihood starts from (default 1e-5, the reference likelihood eps; the samplers "
                   "stop at 1e-3 on VP / sub-VP)")
    g.add_argument("--nll-tol", type=positive_float, default=1e-5, metavar="TOL", help="dopri5 rtol = atol (default 1e-5)")
    g.add_argument("--probe", default=None, metavar="KIND",
                   help="Hutchinson probes for image bits/dim: rademacher (default) or gaussian")
    g.add_argument("--elbo-times", type=positive_int, default=64, metavar="K",
                   help="stratified times per sample for --elbo, even (default 64; 2 score calls each)")
    add_score_error_args(p)
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from playground.core.evaluation.metrics import swd_report

    if args.score_error:
        fill_count_defaults(args, False)
        return cmd_score_error(args)
    image_model = load_image_model(args)
    fill_count_defaults(args, image_model is not None)
    check_likelihood_args(args, image_model is not None)
    if image_model is not None:
        return cmd_eval_images(args, image_model)
    source = resolve_score_source(args)
    if source.target is None:
        raise CLIError("eval needs a target: give --data SPEC")
    target = source.target
    reference = lambda n, seed: target.sample(n, seed)  # noqa: E731
    label = None
    if args.class_label is not None or args.guidance != 0:
        if args.nll:
            raise CLIError("--nll measures the unconditional density; leave out --class / --guidance")
        source, label = conditional_source(args, source)
        reference = class_reference(source, label)
        if reference is None:
            raise CLIError("eval --class compares with the class's exact samples: give --data a Gaussian-mixture "
                           "target")
        if args.guidance != 0:
            print(f"note: the reference is component {label} itself (w = 0); guidance w > 0 sharpens away from it")
    deterministic = is_deterministic(args)
    result, steps = run_sampler(args, source, trajectory_stride=1 if deterministic else 0)
    report = swd_report(result.x.detach().cpu().numpy(), reference, seed=args.seed)
    summary: dict[str, Any] = dict(report.as_dict())
    summary.update(sampler=args.sampler, steps=steps, nfe=result.nfe, sde=source.sde.name, n=args.n, data=target.name)
    if label is not None:
        summary.update(class_label=label, guidance=args.guidance)
    if getattr(args, "model", None):
        summary.update(model=source.info["model"], model_steps=source.info["model_steps"])
    print(f"sampled {args.n} points: {describe_run(args, source, steps)}; NFE {result.nfe}")
    print(f"SWD {report.swd:.4f}  floor {report.swd_floor:.4f}  ratio {report.swd_ratio:.3f}")
    if deterministic:
        from playground.core.evaluation.straightness import straightness

        summary["straightness"] = straightness(result.trajectory, result.times)
        print(f"straightness {summary['straightness']:.4f} (Liu et al.: mean int ||(x_0 - x_T) - dx/du||^2 du over the "
              f"{len(result.times)}-frame ODE paths, data units^2; 0 = straight)")
    if args.nll:
        summary.update(nll_metrics(args, source))
        entropy = summary["entropy"]
        print(f"NLL {summary['nll']:.4f} nats (PF-ODE from t = {summary['nll_eps']:g}, {args.nll_n} target samples, "
              f"NFE {summary['nll_nfe']}); entropy {'unknown' if entropy is None else f'{entropy:.4f}'}")
        if source.divergence_fn is None and getattr(args, "exact", False):
            print("note: the exact score of a point set is that of its points smoothed to t = eps; its NLL measures "
                  "memorisation, not the target's density")
    if args.elbo:
        summary.update(elbo_metrics(args, source))
        print(f"ELBO bound {summary['elbo_nll']:.4f} +- {summary['elbo_sem']:.4f} nats (reverse SDE's NLL <= this; "
              f"t = {summary['nll_eps']:g}, {args.elbo_times} times x 2 per sample, {args.nll_n} target samples)")
    print(json.dumps(summary))
    return 0


def is_deterministic(args) -> bool:
    """True for a sampler that integrates the PF-ODE (the ode_* samplers, ddim at eta 0, edm_heun without churn):
    its trajectory is a flow's path, whose straightness eval reports."""
    if args.sampler in ("ode_euler", "ode_heun", "ode_rk45"):
        return True
    if args.sampler == "ddim":
        return not args.eta
    return args.sampler == "edm_heun" and not args.S_churn


def check_likelihood_args(args, image: bool) -> None:
    """--probe and --elbo-times are valid, and --probe only where Hutchinson's estimator runs (image models)."""
    from playground.core.sampling.likelihood import PROBES

    if args.probe is not None:
        if not image:
            raise CLIError("--probe applies to image models' bits/dim (2D likelihoods use the exact divergence)")
        if args.probe not in PROBES:
            raise CLIError(f"--probe {args.probe!r}: choose one of {', '.join(PROBES)}")
        if not args.nll:
            raise CLIError("--probe needs --nll")
    if args.elbo_times % 2:
        raise CLIError(f"--elbo-times must be even (adjacent strata give the standard error), got {args.elbo_times}")


def likelihood_samples(args, source: ScoreSource):
    """--nll-n fresh target samples (float64), in the model's normalised space for a model."""
    import torch

    x = torch.as_tensor(source.target.sample(args.nll_n, seed=args.seed + 7_000_003), dtype=torch.float64)
    return source.to_norm(x) if source.to_norm is not None else x


def elbo_metrics(args, source: ScoreSource) -> dict:
    """Mean continuous-time ELBO (a bound on the NLL) of the same fresh target samples as --nll."""
    from playground.core.sampling.likelihood_bound import likelihood_bound

    eps = likelihood_eps(args, source.sde)
    res = likelihood_bound(source.score_fn, source.sde, likelihood_samples(args, source), eps=eps,
                           n_times=args.elbo_times, seed=args.seed, log_det_jacobian=source.log_det_jacobian)
    sem = float(res.nll_bound.std() / len(res.nll_bound) ** 0.5) if len(res.nll_bound) > 1 else float("nan")
    return {"elbo_nll": res.mean_nll_bound, "elbo_sem": sem, "elbo_times": args.elbo_times, "elbo_nfe": res.nfe,
            "nll_eps": eps}


def nll_metrics(args, source: ScoreSource) -> dict:
    """Mean PF-ODE NLL of fresh target samples, and the target's entropy where known."""
    from playground.core.sampling.likelihood import log_likelihood

    target, sde = source.target, source.sde
    x = likelihood_samples(args, source)
    eps = likelihood_eps(args, sde)
    res = log_likelihood(source.score_fn, sde, x, eps=eps, divergence="exact", divergence_fn=source.divergence_fn,
                         rtol=args.nll_tol, atol=args.nll_tol, log_det_jacobian=source.log_det_jacobian)
    entropy = target.entropy
    if entropy is None and target.gmm is not None:
        entropy = target.gmm.entropy()
    out = {"nll": res.mean_nll, "entropy": None if entropy is None else float(entropy), "nll_eps": eps,
           "nll_nfe": res.nfe, "nll_n": args.nll_n}
    if source.to_norm is not None:
        out["nll_model"] = res.mean_nll
    return out
