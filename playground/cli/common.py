"""What the subcommands share: argument groups, data and SDE set-up, score sources (exact or model), sampler runs,
output checks. Bad input raises CLIError (or any ValueError): `main` prints one line and exits 2."""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

SDE_NAMES = ("vp", "subvp", "ve", "rf")


POINT_SUFFIXES = (".npy", ".csv")


class CLIError(ValueError):
    """Bad command-line input: reported as one line on stderr, exit code 2."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC", help="preset name, .png/.jpg image, .csv/.npy points or GMM .json; or "
                   "an image dataset: digits | shapes | shapes28 | shapes32 | mnist:PATH | fashion:PATH | folder:PATH")
    g.add_argument("--extent", type=positive_float, default=4.0, metavar="L",
                   help="an image covers [-L, L] on its longer side (default 4)")
    g.add_argument("--noise", type=float, default=None, metavar="X", help="a preset's noise parameter")


def add_sde_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SDE")
    g.add_argument("--sde", choices=SDE_NAMES, default="vp", help="forward SDE (default vp; rf: rectified flow)")
    g.add_argument("--sigma-max", type=positive_float, default=None, metavar="S",
                   help="VE sigma_max (default: the target's largest pairwise distance)")


def add_score_source_args(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """The score to sample with; one of the group's flags is required. Returns the group so sources can be added."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--exact", action="store_true",
                   help="the target's exact score: closed form for a GMM, else the ideal denoiser of its point set "
                   "(or of 4000 fixed target samples)")
    g.add_argument("--model", metavar="FILE",
                   help="a trained model file (.safetensors from `train`); its SDE is fixed by the file")
    return g


# Sampler options: (flag, keyword of the sampler function, type, help). Only the ones given are passed, and only to a
# sampler that takes them.
SAMPLER_OPTIONS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--predictor", "predictor", str,
     "pc: reverse_diffusion (default), em, ancestral (VP, VE) or none (corrector only)"),
    ("--corrector", "corrector", str,
     "pc: langevin (default; step 2 alpha (snr |z| / |s|)^2), ald (annealed Langevin, 2 alpha (snr std)^2) or none"),
    ("--snr", "snr", positive_float, "pc: the corrector's signal-to-noise ratio r (default 0.16)"),
    ("--n-corrector", "n_corrector", int, "pc: corrector steps per predictor step (default 1)"),
    ("--stochasticity", "stochasticity", nonnegative_float,
     "em: lam of the reverse-process family dx = [f - (1 + lam^2)/2 g^2 s] dt + lam g dw (0 = PF-ODE, 1 = reverse "
     "SDE, the default; > 1 noisier)"),
    ("--eta", "eta", float, "ddim: 0 deterministic, 1 ~ ancestral (default 0)"),
    ("--rtol", "rtol", positive_float, "ode_rk45: relative tolerance (default 1e-5)"),
    ("--atol", "atol", positive_float, "ode_rk45: absolute tolerance (default 1e-5)"),
    ("--churn", "S_churn", float, "edm_heun: S_churn (default 0)"),
    ("--step-size", "step_size", positive_float, "langevin: step size in squared data units"),
    ("--levels", "levels", positive_int, "annealed_langevin: number of noise levels (default 30)"),
]


def add_sampler_args(p: argparse.ArgumentParser, n_default: int, image_n_default: int | None = None) -> None:
    """Sampler flags; with image_n_default, --n left unset means n_default points or image_n_default images
    (`fill_count_defaults`)."""
    from playground.core.sampling.samplers import DEFAULT_STEPS, SAMPLERS

    g = p.add_argument_group("sampler")
    g.add_argument("--sampler", default="ode_heun", metavar="NAME",
                   help=f"one of {', '.join(SAMPLERS)} (default ode_heun)")
    g.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="steps (default per sampler: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_STEPS.items()) + ")")
    if image_n_default is None:
        g.add_argument("--n", type=positive_int, default=n_default, metavar="N",
                       help=f"number of samples (default {n_default})")
    else:
        g.add_argument("--n", type=positive_int, default=None, metavar="N",
                       help=f"number of samples (default {n_default}; {image_n_default} for an image model)")
        p.set_defaults(n_default_points=n_default, n_default_images=image_n_default)
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--no-denoise", action="store_true", help="skip the final Tweedie denoise (keep the last noisy state)")
    for flag, key, typ, text in SAMPLER_OPTIONS:
        g.add_argument(flag, dest=key, type=typ, default=None, help=text)


def add_class_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("classes")
    g.add_argument("--class", dest="class_label", metavar="C", default=None,
                   help="generate this class (index or name): of a model trained with --classes, or with --exact a "
                   "component of the Gaussian-mixture target")
    g.add_argument("--guidance", type=float, default=0.0, metavar="W",
                   help="classifier-free guidance weight with --class: 0 plain conditional, 1-3 sharper (default 0)")


def fill_count_defaults(args, image: bool, nll_n_points: int = 1000, nll_n_images: int = 100) -> None:
    """Set --n (and --nll-n) left unset to the defaults for points or for images."""
    if getattr(args, "n", 0) is None:
        args.n = args.n_default_images if image else args.n_default_points
    if getattr(args, "nll_n", 0) is None:
        args.nll_n = nll_n_images if image else nll_n_points


def likelihood_eps(args, sde) -> float:
    """--nll-eps or the SDE's likelihood_eps (1e-5), checked against the SDE's T."""
    eps = args.nll_eps if args.nll_eps is not None else sde.likelihood_eps
    if eps >= sde.T:
        raise CLIError(f"--nll-eps must be < {sde.T}")
    return eps


def load_image_model(args):
    """The --model file's ScoreModel when it is an image model, else None (2D models take the points path)."""
    if not getattr(args, "model", None):
        return None
    from playground.core.training.model_file import load_model

    model = load_model(args.model)
    return model if model.image_shape is not None else None


def check_model_sde_args(args, model) -> None:
    """--sde / --sigma-max cannot change a model's SDE."""
    if args.sigma_max is not None:
        raise CLIError("--sigma-max does not apply with --model: the model file fixes its SDE")
    if args.sde != "vp" and args.sde != model.sde.name:
        raise CLIError(f"--sde {args.sde}: the model was trained with the {model.sde.name} SDE")


@dataclass
class ScoreSource:
    """A score function with the SDE it belongs to and, when known, the target it approximates."""

    score_fn: Callable
    sde: Any
    target: Any = None
    label: str = ""
    divergence_fn: Callable | None = None  # exact div of the score, for the likelihood
    info: dict = field(default_factory=dict)
    # A trained model's SDE lives in normalised space: run_sampler maps its points back with to_data, nll_metrics maps
    # target points in with to_norm and adds log_det_jacobian (-D log scale). None / 0 for data-space sources.
    to_data: Callable | None = None
    to_norm: Callable | None = None
    log_det_jacobian: float = 0.0
    model: Any = None  # the ScoreModel of a --model source


def load_data(args) -> Any:
    """The Target named by --data (DataError for anything wrong with it)."""
    from playground.data.targets.points import subset_note
    from playground.data.targets.spec import load_target

    if not args.data:
        raise CLIError("--data SPEC is required (a preset name or a .png/.jpg/.csv/.npy/.json file)")
    progress = ReadProgress(args.data) if _file_size(args.data) >= PROGRESS_BYTES else None
    try:
        target = load_target(args.data, extent=args.extent, noise=args.noise, progress=progress)
    finally:
        if progress is not None:
            progress.close()  # the line ends before an error message
    if note := subset_note(target):
        print(f"note: {note}", file=sys.stderr)
    return target


PROGRESS_BYTES = 16 << 20
"""--data files from this size on report their reading on stderr (`ReadProgress`)."""


def _file_size(spec: str) -> int:
    try:
        return Path(spec).stat().st_size
    except OSError:
        return 0  # a preset name, or a missing file (the loader says so)


class ReadProgress:
    """Reading a large --data file, on stderr: 'reading big.csv (190 MB): 10% 20% ... 100%'."""

    def __init__(self, spec: str):
        self.shown = 0
        from playground.data.targets.points import size_text

        print(f"reading {Path(spec).name} ({size_text(_file_size(spec))}):", end="", file=sys.stderr, flush=True)

    def __call__(self, done: int, total: int) -> None:
        tenths = 10 * done // max(total, 1)
        while self.shown < tenths:
            self.shown += 1
            print(f" {10 * self.shown}%", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        print(file=sys.stderr, flush=True)


def make_sde_for(args, target) -> Any:
    """--sde with VE's sigma_max from --sigma-max or suggested from 2000 target samples."""
    import torch

    from playground.core.diffusion.sde import make_sde, suggest_sigma_max

    if args.sde != "ve":
        if args.sigma_max is not None:
            raise CLIError("--sigma-max applies only to --sde ve")
        return make_sde(args.sde)
    sigma_max = args.sigma_max
    if sigma_max is None:
        sigma_max = suggest_sigma_max(torch.as_tensor(target.sample(2000, seed=0)))
    return make_sde("ve", sigma_max=sigma_max)


def resolve_score_source(args) -> ScoreSource:
    if getattr(args, "exact", False):
        return exact_score_source(args)
    if getattr(args, "model", None):
        return model_score_source(args)
    raise CLIError("choose a score source (--exact or --model FILE)")


def exact_score_source(args) -> ScoreSource:
    from playground.core.diffusion.exact_score import exact_score_label, target_score_fn

    target = load_data(args)
    sde = make_sde_for(args, target)
    score_fn = target_score_fn(target, sde)
    div = None
    if target.gmm is not None:
        gmm = target.gmm
        div = lambda x, t: gmm.divergence(x, t, sde)  # noqa: E731
    return ScoreSource(score_fn, sde, target, exact_score_label(target), div)


def model_score_source(args) -> ScoreSource:
    """A trained model file (ModelFileError, a ValueError, for a bad file); --data is optional (needed by eval)."""
    from playground.core.training.model_file import load_model

    model = load_model(args.model)
    check_model_sde_args(args, model)
    target = load_data(args) if args.data else None
    cfg = model.config
    steps = cfg.get("steps_done")
    label = f"model {args.model} ({model.output} output, {steps if steps is not None else '?'} training steps)"
    info = {"model": str(args.model), "model_steps": steps, "model_output": model.output,
            "model_data": (cfg.get("info") or {}).get("data")}
    return ScoreSource(model.score_norm, model.sde, target, label, None, info, to_data=model.to_data,
                       to_norm=model.to_norm, log_det_jacobian=model.normalization.log_det_jacobian, model=model)


def sampler_options(args) -> dict:
    """The sampler keyword options given on the command line; CLIError for one the sampler does not take."""
    from playground.core.sampling.samplers import SAMPLERS

    if args.sampler not in SAMPLERS:
        raise CLIError(f"unknown sampler {args.sampler!r}; choose one of {', '.join(SAMPLERS)}")
    accepted = inspect.signature(SAMPLERS[args.sampler]).parameters
    options = {}
    for flag, key, _, _ in SAMPLER_OPTIONS:
        value = getattr(args, key)
        if value is None:
            continue
        if key not in accepted:
            raise CLIError(f"{flag} does not apply to sampler {args.sampler}")
        options[key] = value
    if args.no_denoise:
        options["denoise_last"] = False
    return options


def run_sampler(args, source: ScoreSource, trajectory_stride: int = 0):
    """(SampleResult, steps used) for --sampler/--steps/--n/--seed and the sampler options."""
    from playground.core.sampling.samplers import DEFAULT_STEPS, sample

    options = sampler_options(args)
    steps = args.steps if args.steps is not None else DEFAULT_STEPS[args.sampler]
    result = sample(args.sampler, source.score_fn, source.sde, args.n, steps=steps, seed=args.seed,
                    trajectory_stride=trajectory_stride, **options)
    if source.to_data is not None:  # a model samples in normalised space
        result.x = source.to_data(result.x)
        if result.trajectory is not None:
            traj = result.trajectory
            result.trajectory = source.to_data(traj.reshape(-1, *traj.shape[2:])).reshape(traj.shape)
    return result, steps


def check_output_path(path: str, suffixes: tuple[str, ...], flag: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise CLIError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise CLIError(f"{flag} {path}: directory {out.parent} does not exist")
    return out


def write_points(path: Path, x) -> None:
    """(N, D) samples as float32 .npy, or as CSV with a header `x,y` (D = 2) / `x0,x1,...`."""

    x = np.asarray(x, dtype=np.float32)
    if path.suffix.lower() == ".npy":
        np.save(path, x)
        return
    flat = x.reshape(len(x), -1)
    header = "x,y" if flat.shape[1] == 2 else ",".join(f"x{i}" for i in range(flat.shape[1]))
    np.savetxt(path, flat, delimiter=",", header=header, comments="", fmt="%.7g")


def describe_run(args, source: ScoreSource, steps: int) -> str:
    sde = source.sde
    sde_text = f"{sde.name}" + (f" (sigma_max {sde.sigma_max:.4g})" if sde.name == "ve" else "")
    of = source.target.name if source.target else (source.info.get("model_data") or "?")
    return f"{args.sampler}, {steps} steps, {sde_text} SDE, {source.label} of {of}"
