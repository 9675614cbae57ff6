"""`train`: train a score model on a 2D target or an image dataset and write its model file."""

from __future__ import annotations

import sys

from playground.cli.common import (
    SDE_NAMES,
    CLIError,
    add_data_args,
    check_output_path,
    load_data,
    positive_float,
    positive_int,
)
from playground.cli.images import cmd_train_images, load_training_images
from playground.cli.training_run import (
    add_run_args,
    check_resume_flags,
    limits_text,
    resume_overrides,
    run_overrides,
    run_training,
    say,
    start_distributed,
    where,
)

IMAGE_TRAIN_FLAGS = (("--size", "size"), ("--rgb", "rgb"), ("--base-channels", "base_channels"))
MODEL_FLAGS = (("--sde", "sde"), ("--sigma-max", "sigma_max"), ("--objective", "objective"),
               ("--weighting", "weighting"), ("--output", "output"), ("--hidden", "hidden"), ("--depth", "depth"),
               ("--pool", "pool"), ("--seed", "seed"), ("--noise", "noise"), ("--classes", "classes"),
               ("--label-dropout", "label_dropout")) + IMAGE_TRAIN_FLAGS
"""Flags that shape the model or its data: fixed by the file when resuming."""
DEFAULT_LABEL_DROPOUT = 0.15


def add_train_command(sub) -> None:
    from playground.core.diffusion.objectives import OBJECTIVES, WEIGHTINGS
    from playground.core.diffusion.parameterization import OUTPUT_KINDS

    p = sub.add_parser("train", help="train a score model on a target; write a .safetensors model file",
                       description="Train a score network on samples of a target (preset, image, points or GMM) and "
                       "write one .safetensors model file (EMA and raw weights, config, optimizer state). Progress "
                       "goes to stderr: one updating line on a terminal, plain lines otherwise. Stops on --steps, "
                       "--seconds or both (default 5000 steps); Ctrl-C stops early and still saves. Under torchrun "
                       "(torchrun --nproc_per_node=N -m playground train ...) the processes train one model together.")
    add_data_args(p)
    g = p.add_argument_group("model")
    g.add_argument("--sde", choices=SDE_NAMES, default=None,
                   help="forward SDE (default vp; rf: rectified flow x_t = (1 - t) x0 + t eps)")
    g.add_argument("--sigma-max", type=positive_float, default=None, metavar="S",
                   help="VE sigma_max in normalised units (data / scale; default: the largest pairwise distance of "
                   "the normalised data)")
    g.add_argument("--objective", choices=OBJECTIVES, default=None,
                   help="dsm: denoising score matching (default), ssm: sliced score matching, fm: conditional flow "
                   "matching on the velocity (with --sde rf: rectified flow)")
    g.add_argument("--weighting", choices=WEIGHTINGS, default=None,
                   help="song: sigma^2, likelihood: g^2 (importance-sampled t), edm: EDM weight and noise levels "
                   "(default song; image datasets edm). With fm: song = t uniform, edm = EDM's log-normal noise "
                   "levels, both unweighted; likelihood does not apply")
    g.add_argument("--output", choices=OUTPUT_KINDS, default=None,
                   help="what the network predicts: eps, score, x0, edm (EDM-preconditioned denoiser) or v (velocity); "
                   "default v with --objective fm, else eps (image datasets edm); edm with --weighting edm trains "
                   "fastest. Every kind trains with every objective (the loss converts it)")
    g.add_argument("--hidden", type=positive_int, default=None, metavar="H", help="MLP width (default 128)")
    g.add_argument("--depth", type=positive_int, default=None, metavar="L", help="hidden layers (default 3)")
    g = p.add_argument_group("classes")
    g.add_argument("--classes", action="store_true",
                   help="class-conditional with the dataset's labels, or a Gaussian mixture's components as classes "
                   "(for --class / --guidance when sampling)")
    g.add_argument("--label-dropout", type=float, default=None, metavar="P",
                   help=f"with --classes: probability a label is dropped to the null class (default "
                   f"{DEFAULT_LABEL_DROPOUT})")
    g = p.add_argument_group("image datasets (a UNet)")
    g.add_argument("--size", type=positive_int, default=None, metavar="S",
                   help="resize images to S x S (default: the dataset's own size)")
    g.add_argument("--rgb", action="store_true", help="three colour channels (default grayscale)")
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
    g.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="auto: cuda, then mps, then cpu")
    g.add_argument("--threads", type=positive_int, default=None, metavar="K", help="torch CPU threads (default <= 4)")
    g.add_argument("--pool", type=positive_int, default=None, metavar="N",
                   help="training points drawn from the target (default 65536)")
    add_run_args(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", required=True, metavar="MODEL.safetensors", help="the model file to write")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    """Train (or, with --resume, continue training) in this process, or as one rank of a torchrun job."""
    from playground.core.training.distributed import RankLost

    run = start_distributed(args)
    try:
        if args.resume:
            return resume_training(args, run)
        if args.objective == "fm" and args.output is None:
            args.output = "v"  # flow matching learns the velocity field
        if args.label_dropout is not None and not args.classes:
            raise CLIError("--label-dropout needs --classes")
        if args.label_dropout is not None and not 0 <= args.label_dropout < 1:
            raise CLIError(f"--label-dropout must lie in [0, 1), got {args.label_dropout}")
        return train_images(args, run) if is_image_data(args.data) else train_points(args, run)
    except RankLost as e:
        if run is None or run.is_main:
            raise CLIError(str(e)) from None
        return 1
    except (ValueError, OSError):
        if run is None or run.is_main:
            raise
        return 2  # every rank meets the same bad input: rank 0 reports it
    finally:
        if run is not None:
            run.close()


def is_image_data(spec: str | None) -> bool:
    from playground.data.images.spec import is_image_spec

    return bool(spec) and is_image_spec(spec)


def train_images(args, run) -> int:
    for flag, key in (("--hidden", "hidden"), ("--depth", "depth"), ("--pool", "pool"), ("--noise", "noise")):
        if getattr(args, key) is not None:
            raise CLIError(f"{flag} applies to 2D data; image datasets train a UNet (see --base-channels)")
    return cmd_train_images(args, run)


def train_points(args, run) -> int:
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    for flag, key in IMAGE_TRAIN_FLAGS:
        if getattr(args, key) not in (None, False):
            raise CLIError(f"{flag} applies to image datasets (digits, shapes, mnist:PATH, folder:PATH)")
    if args.sample_every:
        raise CLIError("--sample-every writes image grids: it applies to image datasets")
    out = check_output_path(args.out, (".safetensors",), "--out")
    target = load_data(args)
    sde = args.sde or "vp"
    if args.sigma_max is not None and sde != "ve":
        raise CLIError("--sigma-max applies only to --sde ve")
    if args.classes and target.gmm is None:
        raise CLIError(f"--classes: {target.name} has no classes (only a Gaussian mixture's components are classes)")
    steps = args.steps if args.steps is not None else (None if args.seconds is not None else TrainConfig.steps)
    kw = dict(sde=sde, sigma_max=args.sigma_max, objective=args.objective or "dsm", steps=steps,
              seconds=args.seconds, seed=args.seed or 0, device=args.device, threads=args.threads)
    kw.update({k: getattr(args, k) for k in ("weighting", "output", "hidden", "depth", "batch", "lr", "pool")
               if getattr(args, k) is not None})
    if args.classes:
        kw["label_dropout"] = DEFAULT_LABEL_DROPOUT if args.label_dropout is None else args.label_dropout
    kw.update(run_overrides(args, run))
    cfg = TrainConfig(**kw)
    if args.classes:
        from playground.data.targets.classes import class_names, sample_with_classes

        points, labels = sample_with_classes(target, cfg.pool, cfg.seed)
        trainer = Trainer(cfg, points, labels=labels, class_names=class_names(target), distributed=run)
    else:
        trainer = Trainer(cfg, lambda n, seed: target.sample(n, seed), distributed=run)
    trainer.info.update(data=args.data, extent=args.extent, noise=args.noise)
    times = {"song": "t uniform", "edm": "EDM noise levels"}.get(cfg.weighting) if cfg.objective == "fm" else None
    objective = f"fm ({times})" if times else f"{cfg.objective} ({cfg.weighting} weighting)"
    cond = f", {len(trainer.class_names)} classes (label dropout {cfg.label_dropout:g})" if args.classes else ""
    say(run, f"training on {target.name}{cond}: {cfg.sde} SDE, {objective}, {cfg.output} "
        f"output, MLP {cfg.hidden} x {cfg.depth}, batch {cfg.batch}, lr {cfg.lr:g}, {where(trainer)}; until "
        f"{limits_text(cfg)}")
    return run_training(trainer, out, args.data, args, run)


def resume_training(args, run) -> int:
    """train --resume FILE: the file's model, data spec and schedule; --steps / --seconds as new totals."""
    from playground.core.training.model_file import read_model_file
    from playground.core.training.trainer import Trainer

    check_resume_flags(args, MODEL_FLAGS)
    out = check_output_path(args.out, (".safetensors",), "--out")
    meta, _ = read_model_file(args.resume)
    if "trainer" not in meta:
        raise CLIError(f"--resume {args.resume}: the file has no trainer state (not written by `train`)")
    training = meta["config"].get("training", {})
    info = training.get("info") or {}
    spec = args.data or info.get("data")
    if not spec:
        raise CLIError(f"--resume {args.resume}: the file does not name its data; give --data SPEC")
    overrides = resume_overrides(args, run, training)
    seed = int(training.get("seed", 0))
    if is_image_data(spec):
        dataset = load_training_images(spec, meta["config"].get("image_shape"), seed)
        classes = bool(training.get("num_classes"))
        trainer = Trainer.resume(args.resume, dataset.images, dataset.labels if classes else None, run, **overrides)
    else:
        if args.sample_every:
            raise CLIError("--sample-every writes image grids: it applies to image datasets")
        if training.get("num_classes"):
            raise CLIError(f"--resume {args.resume}: resuming a class-conditional 2D model is not supported; train it "
                           "again with --classes")
        args.extent, args.noise = info.get("extent", args.extent), info.get("noise")
        args.data = spec
        target = load_data(args)
        trainer = Trainer.resume(args.resume, lambda n, s: target.sample(n, s), None, run, **overrides)
    cfg = trainer.config
    say(run, f"resuming {args.resume} at step {trainer.step_count} on {spec}: {where(trainer)}; until "
        f"{limits_text(cfg)}")
    for note in trainer.resume_notes:
        say(run, f"note: {note}", file=sys.stderr)
    return run_training(trainer, out, spec, args, run)
