"""Command line: `python -m playground` (no arguments: the app) and headless subcommands.

    python -m playground                      open the app (also: `diffusion-playground`, `python -m playground app`)
    python -m playground train --data SPEC --out M.safetensors   train a score model (progress on stderr)
    python -m playground sample --model M ... sample a trained model (or --exact: the target's exact score)
    python -m playground sample --exact ...   sample a 2D target with its exact score, write .npy/.csv
    python -m playground eval --exact ...     SWD of exact-score samples against the target (+ PF-ODE NLL)
    python -m playground export --model M --format onnx|torch-export --out FILE   export a model, check it
    python -m playground download mnist|fashion   fetch MNIST / Fashion-MNIST IDX files into a cache (checked)
    python -m playground bench NAME ...       run playground.bench.NAME.main(argv)

Headless commands never import Qt: the app is imported only by the `app` path.

Extending (train, export, `--model`): write `add_<name>_command(subparsers)` that registers a subparser with
`set_defaults(func=...)` and append it to COMMANDS; a new score source adds its flag to the group that
`add_score_source_args` returns and a branch to `resolve_score_source`. Raise CLIError (or any ValueError, e.g.
DataError) for bad input: `main` prints one line `error: ...` to stderr and returns 2.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

SDE_NAMES = ("vp", "subvp", "ve")
POINT_SUFFIXES = (".npy", ".csv")


class CLIError(ValueError):
    """Bad command-line input: reported as one line on stderr, exit code 2."""


# ---- entry points -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """`python -m playground [COMMAND ...]`; no arguments opens the app."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return run_app([])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as e:  # DataError, CLIError, bad options, unwritable output
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main_app() -> int:
    """The `diffusion-playground` console script: the app, with an optional target (preset or file) argument."""
    argv = sys.argv[1:]
    if any(a in ("-h", "--help") for a in argv):
        print("usage: diffusion-playground [TARGET]\n\nOpen the Diffusion Playground app; TARGET is a preset name or a "
              "target file (.png/.jpg/.csv/.npy/.json).\nHeadless commands: python -m playground --help")
        return 0
    return run_app(argv)


def run_app(argv: list[str]) -> int:
    """Open the Qt app (imported only here, so headless commands never load Qt)."""
    try:
        from playground.app import run
    except ImportError as e:
        print(f"error: the app needs PySide6 and pyqtgraph ({_one_line(e)})", file=sys.stderr)
        return 2
    return int(run(list(argv)) or 0)


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return " ".join(text.split())


# ---- parser -----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m playground",
        description="Diffusion Playground: score-based diffusion in 2D (Song et al. 2021). "
        "Without arguments, opens the app.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


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


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="SPEC", help="preset name, .png/.jpg image, .csv/.npy points or GMM .json; or "
                   "an image dataset: digits | shapes | shapes28 | mnist:PATH | fashion:PATH | folder:PATH")
    g.add_argument("--extent", type=positive_float, default=4.0, metavar="L",
                   help="an image covers [-L, L] on its longer side (default 4)")
    g.add_argument("--noise", type=float, default=None, metavar="X", help="a preset's noise parameter")


def add_sde_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SDE")
    g.add_argument("--sde", choices=SDE_NAMES, default="vp", help="forward SDE (default vp)")
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
    ("--snr", "snr", positive_float, "pc: Langevin corrector signal-to-noise ratio r (default 0.16)"),
    ("--n-corrector", "n_corrector", int, "pc: corrector steps per predictor step (default 1)"),
    ("--predictor", "predictor", str, "pc: reverse_diffusion or em"),
    ("--eta", "eta", float, "ddim: 0 deterministic, 1 ~ ancestral (default 0)"),
    ("--rtol", "rtol", positive_float, "ode_rk45: relative tolerance (default 1e-5)"),
    ("--atol", "atol", positive_float, "ode_rk45: absolute tolerance (default 1e-5)"),
    ("--churn", "S_churn", float, "edm_heun: S_churn (default 0)"),
    ("--step-size", "step_size", positive_float, "langevin: step size in squared data units"),
    ("--levels", "levels", positive_int, "annealed_langevin: number of noise levels (default 10)"),
]


def add_sampler_args(p: argparse.ArgumentParser, n_default: int, image_n_default: int | None = None) -> None:
    """Sampler flags; with image_n_default, --n left unset means n_default points or image_n_default images
    (`fill_count_defaults`)."""
    from playground.core.samplers import DEFAULT_STEPS, SAMPLERS

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
    g = p.add_argument_group("class-conditional image models")
    g.add_argument("--class", dest="class_label", metavar="C", default=None,
                   help="generate this class (index or name; a model trained with --classes)")
    g.add_argument("--guidance", type=float, default=0.0, metavar="W",
                   help="classifier-free guidance weight with --class: 0 plain conditional, 1-3 sharper (default 0)")


def fill_count_defaults(args, image: bool, nll_n_points: int = 1000, nll_n_images: int = 100) -> None:
    """Set --n (and --nll-n) left unset to the defaults for points or for images."""
    if getattr(args, "n", 0) is None:
        args.n = args.n_default_images if image else args.n_default_points
    if getattr(args, "nll_n", 0) is None:
        args.nll_n = nll_n_images if image else nll_n_points


def load_image_model(args):
    """The --model file's ScoreModel when it is an image model, else None (2D models take the points path)."""
    if not getattr(args, "model", None):
        return None
    from playground.core.model_file import load_model

    model = load_model(args.model)
    return model if model.image_shape is not None else None


def check_model_sde_args(args, model) -> None:
    """--sde / --sigma-max cannot change a model's SDE."""
    if args.sigma_max is not None:
        raise CLIError("--sigma-max does not apply with --model: the model file fixes its SDE")
    if args.sde != "vp" and args.sde != model.sde.name:
        raise CLIError(f"--sde {args.sde}: the model was trained with the {model.sde.name} SDE")


# ---- shared pieces ----------------------------------------------------------------------------------------------
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


def load_data(args) -> Any:
    """The Target named by --data (DataError for anything wrong with it)."""
    from playground.data.spec import load_target

    if not args.data:
        raise CLIError("--data SPEC is required (a preset name or a .png/.jpg/.csv/.npy/.json file)")
    return load_target(args.data, extent=args.extent, noise=args.noise)


def make_sde_for(args, target) -> Any:
    """--sde with VE's sigma_max from --sigma-max or suggested from 2000 target samples."""
    import torch

    from playground.core.sde import make_sde, suggest_sigma_max

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
    target = load_data(args)
    sde = make_sde_for(args, target)
    score_fn = target.exact_score_fn(sde)
    if target.gmm is not None:
        gmm = target.gmm
        label = f"exact GMM score ({gmm.n_components} components)"
        div = lambda x, t: gmm.divergence(x, t, sde)  # noqa: E731
    elif target.points is not None:
        label, div = f"ideal denoiser of the {len(target.points)} target points", None
    else:
        label, div = "ideal denoiser of 4000 fixed target samples", None
    return ScoreSource(score_fn, sde, target, label, div)


def model_score_source(args) -> ScoreSource:
    """A trained model file (ModelFileError, a ValueError, for a bad file); --data is optional (needed by eval)."""
    from playground.core.model_file import load_model

    model = load_model(args.model)
    check_model_sde_args(args, model)
    target = load_data(args) if args.data else None
    cfg = model.config
    steps = cfg.get("steps_done")
    label = f"model {args.model} ({model.output} output, {steps if steps is not None else '?'} training steps)"
    info = {"model": str(args.model), "model_steps": steps, "model_output": model.output,
            "model_data": (cfg.get("info") or {}).get("data")}
    return ScoreSource(model.score_norm, model.sde, target, label, None, info, to_data=model.to_data,
                       to_norm=model.to_norm, log_det_jacobian=model.normalization.log_det_jacobian)


def sampler_options(args) -> dict:
    """The sampler keyword options given on the command line; CLIError for one the sampler does not take."""
    from playground.core.samplers import SAMPLERS

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
    from playground.core.samplers import DEFAULT_STEPS, sample

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


def reject_class_args(args) -> None:
    """--class / --guidance apply to class-conditional image models only."""
    if args.class_label is not None or args.guidance != 0:
        raise CLIError("--class and --guidance apply to class-conditional image models (train --classes)")


def check_output_path(path: str, suffixes: tuple[str, ...], flag: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise CLIError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise CLIError(f"{flag} {path}: directory {out.parent} does not exist")
    return out


def write_points(path: Path, x) -> None:
    """(N, D) samples as float32 .npy, or as CSV with a header `x,y` (D = 2) / `x0,x1,...`."""
    import numpy as np

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


# ---- commands ---------------------------------------------------------------------------------------------------
def add_app_command(sub) -> None:
    p = sub.add_parser("app", help="open the app (the default without arguments)")
    p.add_argument("target", nargs="?", help="a preset name or target file to open")
    p.set_defaults(func=lambda args: run_app([args.target] if args.target else []))


def add_sample_command(sub) -> None:
    p = sub.add_parser("sample", help="draw samples and write them to .npy or .csv",
                       description="Draw samples with a score and write them to .npy or .csv; prints the NFE used.")
    add_score_source_args(p)
    add_data_args(p)
    add_sde_args(p)
    add_sampler_args(p, n_default=2000, image_n_default=64)
    add_class_args(p)
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
        from playground.cli_images import cmd_sample_images

        return cmd_sample_images(args, image_model)
    reject_class_args(args)
    out = check_output_path(args.out, POINT_SUFFIXES, "--out")
    traj = check_output_path(args.trajectory, (".npy",), "--trajectory") if args.trajectory else None
    source = resolve_score_source(args)
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


def add_eval_command(sub) -> None:
    p = sub.add_parser("eval", help="sample and compare with the target (SWD, optional NLL); last line JSON",
                       description="Sample with a score and report the sliced Wasserstein distance to the target "
                       "against the floor of two independent target sets; with --nll also the mean PF-ODE NLL of "
                       "fresh target samples. The last line of stdout is one JSON object.")
    add_score_source_args(p)
    add_data_args(p)
    add_sde_args(p)
    add_sampler_args(p, n_default=5000, image_n_default=500)
    add_class_args(p)
    g = p.add_argument_group("likelihood")
    g.add_argument("--nll", action="store_true",
                   help="mean NLL (nats) of fresh target samples by the PF-ODE (exact divergence, dopri5); for an "
                   "image model bits/dim of dataset images (Hutchinson divergence)")
    g.add_argument("--nll-n", type=positive_int, default=None, metavar="N",
                   help="target samples for --nll (default 1000; 100 images for an image model)")
    g.add_argument("--nll-eps", type=positive_float, default=None, metavar="T",
                   help="time where the ODE starts (default: the SDE's sampling_eps, 1e-3 VP/sub-VP, 1e-5 VE)")
    g.add_argument("--nll-tol", type=positive_float, default=1e-5, metavar="TOL", help="dopri5 rtol = atol (default 1e-5)")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from playground.core.metrics import swd_report

    image_model = load_image_model(args)
    fill_count_defaults(args, image_model is not None)
    if image_model is not None:
        from playground.cli_images import cmd_eval_images

        return cmd_eval_images(args, image_model)
    reject_class_args(args)
    source = resolve_score_source(args)
    if source.target is None:
        raise CLIError("eval needs a target: give --data SPEC")
    target = source.target
    result, steps = run_sampler(args, source)
    report = swd_report(result.x.detach().cpu().numpy(), lambda n, seed: target.sample(n, seed), seed=args.seed)
    summary: dict[str, Any] = dict(report.as_dict())
    summary.update(sampler=args.sampler, steps=steps, nfe=result.nfe, sde=source.sde.name, n=args.n, data=target.name)
    if getattr(args, "model", None):
        summary.update(model=source.info["model"], model_steps=source.info["model_steps"])
    print(f"sampled {args.n} points: {describe_run(args, source, steps)}; NFE {result.nfe}")
    print(f"SWD {report.swd:.4f}  floor {report.swd_floor:.4f}  ratio {report.swd_ratio:.3f}")
    if args.nll:
        summary.update(nll_metrics(args, source))
        entropy = summary["entropy"]
        print(f"NLL {summary['nll']:.4f} nats (t = {summary['nll_eps']:g}, {args.nll_n} target samples, "
              f"NFE {summary['nll_nfe']}); entropy {'unknown' if entropy is None else f'{entropy:.4f}'}")
        if source.divergence_fn is None and getattr(args, "exact", False):
            print("note: the exact score of a point set is that of its points smoothed to t = eps; its NLL measures "
                  "memorisation, not the target's density")
    print(json.dumps(summary))
    return 0


def nll_metrics(args, source: ScoreSource) -> dict:
    """Mean PF-ODE NLL of fresh target samples, and the target's entropy where known."""
    import torch

    from playground.core.likelihood import log_likelihood

    target, sde = source.target, source.sde
    x = torch.as_tensor(target.sample(args.nll_n, seed=args.seed + 7_000_003), dtype=torch.float64)
    if source.to_norm is not None:  # a model: its density lives in normalised space (+ log_det_jacobian)
        x = source.to_norm(x)
    eps = args.nll_eps if args.nll_eps is not None else sde.sampling_eps
    if eps >= sde.T:
        raise CLIError(f"--nll-eps must be < {sde.T}")
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


def add_train_command(sub) -> None:
    p = sub.add_parser("train", help="train a score model on a target; write a .safetensors model file",
                       description="Train a score network on samples of a target (preset, image, points or GMM) and "
                       "write one .safetensors model file (EMA and raw weights, config, optimizer state). Progress "
                       "goes to stderr: one updating line on a terminal, plain lines otherwise. Stops on --steps, "
                       "--seconds or both (default 5000 steps); Ctrl-C stops early and still saves.")
    add_data_args(p)
    g = p.add_argument_group("model")
    g.add_argument("--sde", choices=SDE_NAMES, default="vp", help="forward SDE (default vp)")
    g.add_argument("--sigma-max", type=positive_float, default=None, metavar="S",
                   help="VE sigma_max in normalised units (data / scale; default: the largest pairwise distance of "
                   "the normalised data)")
    g.add_argument("--objective", choices=("dsm", "ssm"), default="dsm",
                   help="denoising or sliced score matching (default dsm)")
    g.add_argument("--weighting", choices=("song", "likelihood", "edm"), default=None,
                   help="song: sigma^2, likelihood: g^2 (importance-sampled t), edm: EDM weight and noise levels "
                   "(default song; image datasets edm)")
    g.add_argument("--output", choices=("eps", "score", "x0", "edm"), default=None,
                   help="what the network predicts (default eps, image datasets edm; edm with --weighting edm trains "
                   "fastest)")
    g.add_argument("--hidden", type=positive_int, default=None, metavar="H", help="MLP width (default 128)")
    g.add_argument("--depth", type=positive_int, default=None, metavar="L", help="hidden layers (default 3)")
    g = p.add_argument_group("image datasets (a UNet)")
    g.add_argument("--size", type=positive_int, default=None, metavar="S",
                   help="resize images to S x S (default: the dataset's own size)")
    g.add_argument("--rgb", action="store_true", help="three colour channels (default grayscale)")
    g.add_argument("--classes", action="store_true",
                   help="class-conditional with the dataset's labels (for --class / --guidance when sampling)")
    g.add_argument("--label-dropout", type=float, default=None, metavar="P",
                   help="with --classes: probability a label is dropped to the null class (default 0.15)")
    g.add_argument("--base-channels", type=positive_int, default=None, metavar="C",
                   help="UNet width at full resolution (default 16)")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="optimisation steps (default 5000, or no step limit when only --seconds is given)")
    g.add_argument("--seconds", type=positive_float, default=None, metavar="S", help="training wall time limit")
    g.add_argument("--batch", type=positive_int, default=None, metavar="B",
                   help="batch size (default 512; image datasets 64)")
    g.add_argument("--lr", type=positive_float, default=None, metavar="LR",
                   help="peak learning rate (default 6e-3; image datasets 3e-3)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="auto: cuda, then mps, then cpu")
    g.add_argument("--threads", type=positive_int, default=None, metavar="K", help="torch CPU threads (default <= 4)")
    g.add_argument("--pool", type=positive_int, default=None, metavar="N",
                   help="training points drawn from the target (default 65536)")
    g = p.add_argument_group("output")
    g.add_argument("--out", required=True, metavar="MODEL.safetensors", help="the model file to write")
    p.set_defaults(func=cmd_train)


IMAGE_TRAIN_FLAGS = (("--size", "size"), ("--rgb", "rgb"), ("--classes", "classes"),
                     ("--label-dropout", "label_dropout"), ("--base-channels", "base_channels"))


def cmd_train(args) -> int:
    from playground.core.trainer import TrainConfig, Trainer
    from playground.data.images import is_image_spec

    if args.data and is_image_spec(args.data):
        from playground.cli_images import cmd_train_images

        return cmd_train_images(args)
    for flag, key in IMAGE_TRAIN_FLAGS:
        if getattr(args, key) not in (None, False):
            raise CLIError(f"{flag} applies to image datasets (digits, shapes, mnist:PATH, folder:PATH)")
    out = check_output_path(args.out, (".safetensors",), "--out")
    target = load_data(args)
    if args.sigma_max is not None and args.sde != "ve":
        raise CLIError("--sigma-max applies only to --sde ve")
    steps = args.steps if args.steps is not None else (None if args.seconds is not None else TrainConfig.steps)
    kw = dict(sde=args.sde, sigma_max=args.sigma_max, objective=args.objective, steps=steps, seconds=args.seconds,
              seed=args.seed, device=args.device, threads=args.threads)
    kw.update({k: getattr(args, k) for k in ("weighting", "output", "hidden", "depth", "batch", "lr", "pool")
               if getattr(args, k) is not None})
    cfg = TrainConfig(**kw)
    trainer = Trainer(cfg, lambda n, seed: target.sample(n, seed))
    trainer.info["data"] = args.data
    limits = " and ".join(x for x in (f"{cfg.steps} steps" if cfg.steps else "", f"{cfg.seconds:g} s" if cfg.seconds else "") if x)
    print(f"training on {target.name}: {cfg.sde} SDE, {cfg.objective} ({cfg.weighting} weighting), {cfg.output} output, "
          f"MLP {cfg.hidden} x {cfg.depth}, batch {cfg.batch}, lr {cfg.lr:g}, {trainer.device} with {trainer.threads} "
          f"threads; until {limits}", flush=True)
    return run_training(trainer, out, args.data)


def run_training(trainer, out: Path, data: str) -> int:
    """Run `trainer` to its config's limits with console progress, save `out` and print the summary (last line
    JSON); Ctrl-C saves what was trained (exit 130), a divergence writes nothing (CLIError)."""
    from playground.core.trainer import ConsoleProgress, TrainingDiverged

    cfg = trainer.config
    progress = ConsoleProgress(cfg.steps, cfg.seconds)
    code = 0
    try:
        trainer.run(callback=progress)
    except TrainingDiverged as e:
        progress.close()
        raise CLIError(f"{e} Nothing was written.") from None
    except KeyboardInterrupt:
        code = 130
        print(f"\ninterrupted at step {trainer.step_count}; saving what was trained", file=sys.stderr)
    if trainer.last_stats is not None:
        progress.close(trainer.last_stats)
    trainer.save(out)
    info = trainer.training_info()
    loss = info["loss"]
    print(f"wrote {out}: {trainer.step_count} steps in {trainer.train_seconds:.1f} s, loss {loss if loss is None else f'{loss:.4f}'}")
    print(json.dumps({"model": str(out), "data": data, "steps": trainer.step_count,
                      "seconds": round(trainer.train_seconds, 3), "loss": loss}))
    return code


def add_export_command(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to ONNX or a torch.export program (.pt2)",
                       description="Export a trained model (.safetensors) for use without this package: ONNX or a "
                       "torch.export program with inputs x (N, 2) in data space and t (N,) in [0, 1], outputs the "
                       "score and the denoiser in data space. The file is checked against the PyTorch model on "
                       "random inputs and the max abs difference is printed (last line: JSON).")
    p.add_argument("--model", required=True, metavar="M.safetensors", help="the trained model file")
    p.add_argument("--format", choices=("onnx", "torch-export"), default=None,
                   help="onnx or torch-export (default: from the --out suffix, .onnx or .pt2)")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (.onnx or .pt2)")
    p.add_argument("--check", type=positive_int, default=256, metavar="N",
                   help="random inputs the export is checked on (default 256)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from playground.core.export import EXPORT_FORMATS, ExportDependencyError, export_model
    from playground.core.model_file import load_model

    fmt = args.format
    if fmt is None:
        fmt = {v: k for k, v in EXPORT_FORMATS.items()}.get(Path(args.out).suffix.lower())
        if fmt is None:
            raise CLIError(f"--out {args.out}: end the name in .onnx or .pt2, or give --format onnx|torch-export")
    out = check_output_path(args.out, (EXPORT_FORMATS[fmt],), "--out")
    model = load_model(args.model)  # ModelFileError (a ValueError) for a bad file: one line, exit 2
    try:
        report = export_model(model, out, fmt, n_check=args.check)
    except ExportDependencyError as e:
        raise CLIError(str(e)) from None
    diff = report.max_abs_diff
    check = (f"max abs difference vs PyTorch {diff:.3g} on {args.check} random inputs ({report.checked_with})"
             if diff is not None else "not checked: no ONNX runtime installed (pip install onnxruntime)")
    print(f"wrote {out} ({fmt}, {out.stat().st_size:,} bytes, {report.seconds:.1f} s); {check}")
    print(json.dumps({"out": str(out), "format": fmt, "max_abs_diff": diff, "checked_with": report.checked_with}))
    return 0


def add_download_command(sub) -> None:
    p = sub.add_parser("download", help="download MNIST or Fashion-MNIST (IDX files, SHA-256 checked) into a cache",
                       description="Fetch the official gzipped IDX files of MNIST or Fashion-MNIST into a cache folder "
                       "($DIFFUSION_PLAYGROUND_CACHE, else ~/.cache/diffusion-playground), with progress and a SHA-256 "
                       "check; files already there and intact are kept. Prints the --data spec to train on (last "
                       "line: JSON). The only command that uses the network.")
    p.add_argument("kind", choices=("mnist", "fashion"), help="mnist or fashion (Fashion-MNIST)")
    p.add_argument("--cache", default=None, metavar="DIR", help="cache folder (default: see above)")
    p.add_argument("--splits", nargs="+", choices=("train", "test"), default=["train", "test"],
                   help="which files to fetch (default: train and test)")
    p.add_argument("--timeout", type=positive_float, default=60.0, metavar="S", help="network timeout (default 60 s)")
    p.set_defaults(func=lambda args: importlib.import_module("playground.cli_images").cmd_download(args))


def add_bench_command(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark: playground.bench.NAME.main(argv)", add_help=False,
                       description="Run playground.bench.NAME with the remaining arguments.")
    p.add_argument("name", metavar="NAME", nargs="?", help="benchmark module, e.g. samplers")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    p.set_defaults(func=cmd_bench)


def available_benchmarks() -> list[str]:
    import pkgutil

    try:
        package = importlib.import_module("playground.bench")
    except ModuleNotFoundError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def cmd_bench(args) -> int:
    names = available_benchmarks()
    listing = ", ".join(names) if names else "none installed"
    if not args.name or args.name in ("-h", "--help"):
        print(f"usage: python -m playground bench NAME [ARGS ...]\nbenchmarks: {listing}")
        return 0
    if not args.name.isidentifier() or args.name not in names:
        raise CLIError(f"unknown benchmark {args.name!r}; available: {listing}")
    module = importlib.import_module(f"playground.bench.{args.name}")
    return int(module.main(list(args.bench_args)) or 0)


COMMANDS: list[Callable[[Any], None]] = [
    add_app_command, add_train_command, add_sample_command, add_eval_command, add_export_command,
    add_download_command, add_bench_command,
]
"""Subcommand registrars, in help order; append to add a command."""
