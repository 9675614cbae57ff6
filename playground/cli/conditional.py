"""Controllable generation for 2D `sample` / `eval` / `density`: classes (--class, --guidance) and imputation
(--impute x1=VALUE, --impute-method)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from playground.cli.common import CLIError, ScoreSource, positive_int

REPLACEMENT_PREDICTORS = ("em", "reverse_diffusion", "ode_euler")


def add_impute_args(p) -> None:
    g = p.add_argument_group("imputation (2D)")
    g.add_argument("--impute", metavar="AXIS=VALUE", default=None,
                   help="condition one coordinate and sample the other, e.g. x1=1.5 (x1 horizontal, x2 vertical)")
    g.add_argument("--impute-method", choices=("replacement", "exact"), default="replacement",
                   help="replacement: the reverse process with the known coordinate re-noised after every step (Song "
                   "et al. 2021, App. I.2; any score; --sampler em, reverse_diffusion, ode_euler or pc, the "
                   "default ode_heun meaning em; --n-corrector adds Langevin steps); exact: the 1D conditional of a "
                   "Gaussian mixture (--exact with a GMM target)")
    g.add_argument("--reference-n", type=positive_int, default=None, metavar="N",
                   help="with --impute: exact conditional samples for the floor of the 1D Wasserstein distance "
                   "(default: as many as --n)")


def parse_impute(text: str) -> tuple[str, float]:
    """'x1=1.5' -> ('x1', 1.5); CLIError for anything else."""
    from playground.core.sampling.imputation import AXES

    axis, sep, value = text.partition("=")
    axis = axis.strip()
    if not sep:
        raise CLIError(f"--impute {text!r}: expected AXIS=VALUE, e.g. x1=1.5")
    if axis not in AXES:
        raise CLIError(f"--impute {text!r}: no coordinate {axis!r}; 2D samples have {' and '.join(AXES)}")
    try:
        number = float(value)
    except ValueError:
        raise CLIError(f"--impute {text!r}: {value.strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise CLIError(f"--impute {text!r}: the value must be finite")
    return axis, number


def target_class(args, target) -> int:
    """--class for an exact score: a component of the target's Gaussian mixture."""
    from playground.data.targets.classes import parse_class

    if target is None:
        raise CLIError("--class needs a target: give --data SPEC")
    try:
        return parse_class(target, args.class_label)
    except ValueError as e:
        raise CLIError(f"--class: {e}") from None


def conditional_source(args, source: ScoreSource) -> tuple[ScoreSource, int]:
    """The score source conditioned on --class with classifier-free guidance weight --guidance: exact (the
    component's diffused Gaussian, CFG against the mixture) or a class-conditional model's CFG."""
    from playground.cli.images import class_label
    from playground.core.diffusion.guidance import classifier_free_guidance, gmm_conditional_score_fn

    if source.model is not None:
        label = class_label(args, source.model)
        score_fn = source.model.score_fn("norm", label, args.guidance)
        what = f"{source.label}, class {label}, CFG w = {args.guidance:g}"
        return replace(source, score_fn=score_fn, label=what, divergence_fn=None), label
    if args.guidance != 0 and args.class_label is None:
        raise CLIError("--guidance needs --class")
    label = target_class(args, source.target)
    conditional = gmm_conditional_score_fn(source.target.gmm, source.sde)
    score_fn = classifier_free_guidance(conditional, label, args.guidance)
    what = f"exact score of component {label}" + (f", exact CFG w = {args.guidance:g}" if args.guidance else "")
    return replace(source, score_fn=score_fn, label=what, divergence_fn=None), label


def class_reference(source: ScoreSource, label: int):
    """sample(n, seed) of component `label` of the target's mixture (None when the target has no mixture)."""
    target = source.target
    if target is None or target.gmm is None or label >= target.gmm.n_components:
        return None
    import torch

    component = target.gmm.component(label)
    return lambda n, seed: component.sample(n, torch.Generator().manual_seed(seed)).numpy()


def run_imputation(args, source: ScoreSource) -> tuple[np.ndarray, int, str]:
    """(n x 2 samples with the conditioned coordinate equal to the value, NFE, description) for --impute."""
    from playground.core.sampling.imputation import impute_exact, impute_replacement

    axis, value = parse_impute(args.impute)
    if args.class_label is not None or args.guidance != 0:
        raise CLIError("--impute cannot be combined with --class / --guidance")
    gmm = source.target.gmm if source.target is not None else None
    if args.impute_method == "exact":
        if source.model is not None or gmm is None:
            raise CLIError("--impute-method exact needs --exact with a Gaussian-mixture target (a GMM .json or "
                           "8gaussians / 25gaussians)")
        return impute_exact(gmm, axis, value, args.n, args.seed), 0, f"exact conditional p(other | {axis} = {value:g})"
    predictor, correctors = replacement_predictor(args)
    steps = args.steps if args.steps is not None else 500
    norm = source.model.normalization if source.model is not None else None
    x, nfe = impute_replacement(source.score_fn, source.sde, axis, value, args.n, normalization=norm, steps=steps,
                                predictor=predictor, corrector_steps=correctors,
                                snr=args.snr if args.snr is not None else 0.16, seed=args.seed)
    what = f"replacement method, {predictor} predictor, {correctors} corrector step(s), {steps} steps"
    return x, nfe, what


def replacement_predictor(args) -> tuple[str, int]:
    """(predictor, corrector steps) of the replacement method from --sampler / --predictor / --n-corrector."""
    sampler = "em" if args.sampler == "ode_heun" else args.sampler
    if sampler == "pc":
        predictor = args.predictor or "reverse_diffusion"
        correctors = 1 if args.n_corrector is None else args.n_corrector
    elif sampler in REPLACEMENT_PREDICTORS:
        if args.predictor is not None:
            raise CLIError("--predictor applies with --sampler pc")
        predictor, correctors = sampler, args.n_corrector or 0
    else:
        raise CLIError(f"--impute with the replacement method runs em, reverse_diffusion, ode_euler or pc, not "
                       f"{args.sampler}")
    if predictor not in REPLACEMENT_PREDICTORS:
        raise CLIError(f"--predictor {predictor}: choose one of {', '.join(REPLACEMENT_PREDICTORS)}")
    if correctors < 0:
        raise CLIError(f"--n-corrector must be >= 0, got {correctors}")
    return predictor, correctors


def imputation_report(args, source: ScoreSource, x: np.ndarray) -> dict | None:
    """W1 of the imputed coordinate against the exact conditional and its floor (independent exact samples), or
    None when the target is not a Gaussian mixture."""
    from playground.core.evaluation.metrics import wasserstein_1d
    from playground.core.sampling.imputation import axis_index, gmm_conditional

    target = source.target
    if target is None or target.gmm is None:
        return None
    axis, value = parse_impute(args.impute)
    exact = gmm_conditional(target.gmm, axis, value)
    other = x[:, 1 - axis_index(axis)]
    reference = exact.sample(args.reference_n or len(x), seed=args.seed + 7_000_003)
    return {"w1": wasserstein_1d(other, exact.cdf), "w1_floor": wasserstein_1d(reference, exact.cdf),
            "mean": float(other.mean()), "variance": float(other.var()), "exact_mean": exact.mean,
            "exact_variance": exact.variance}
