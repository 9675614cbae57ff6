"""The image side of `train`, `sample` and `eval`: image datasets (digits, shapes, mnist:PATH, folder:PATH) and
models whose config has an image_shape."""

from __future__ import annotations

import json
import time

import numpy as np

from playground.cli.common import (
    CLIError,
    check_model_sde_args,
    check_output_path,
    likelihood_eps,
    sampler_options,
)

IMAGE_SUFFIXES = (".png", ".npy")


def cmd_train_images(args, run=None) -> int:
    """Train a UNet on an image dataset and write the model file (run: this rank's DistributedRun under torchrun)."""
    from playground.cli.training_run import limits_text, run_overrides, run_training, say, where
    from playground.core.training.image_training import image_train_config, image_trainer
    from playground.data.images.spec import load_image_dataset

    sde = args.sde or "vp"
    if args.sigma_max is not None and sde != "ve":
        raise CLIError("--sigma-max applies only to --sde ve")
    out = check_output_path(args.out, (".safetensors",), "--out")
    seed = args.seed or 0
    dataset = load_image_dataset(args.data, size=args.size, rgb=args.rgb, seed=seed)
    steps = args.steps if args.steps is not None else (None if args.seconds is not None else 5000)
    kw = {"sde": sde, "sigma_max": args.sigma_max, "objective": args.objective or "dsm", "steps": steps,
          "seconds": args.seconds, "seed": seed, "device": args.device, "threads": args.threads}
    kw.update({k: getattr(args, k) for k in ("weighting", "output", "batch", "lr", "base_channels", "label_dropout")
               if getattr(args, k) is not None})
    kw.update(run_overrides(args, run))
    cfg = image_train_config(**kw)
    trainer = image_trainer(dataset, cfg, classes=args.classes, distributed=run)
    trainer.info["data"] = args.data
    c, h, w = dataset.shape
    cond = f"class-conditional ({dataset.num_classes} classes, label dropout {cfg.label_dropout:g})" if args.classes \
        else "unconditional"
    params = sum(p.numel() for p in trainer.model.parameters())
    say(run, f"training on {dataset.name}: {len(dataset)} images {c}x{h}x{w}, {cond}; {cfg.sde} SDE, {cfg.output} "
        f"output, UNet {cfg.base_channels} channels ({params:,} parameters), batch {cfg.batch}, lr {cfg.lr:g}, "
        f"{where(trainer)}; until {limits_text(cfg)}")
    return run_training(trainer, out, args.data, args, run)


def load_training_images(spec: str, image_shape, seed: int):
    """The dataset a resumed image model trained on: `spec` at the file's (C, H, W)."""
    from playground.data.images.spec import load_image_dataset

    if not image_shape:
        raise CLIError(f"{spec} is an image dataset but the resumed file is not an image model")
    c, h, _ = image_shape
    return load_image_dataset(spec, size=h, rgb=c == 3, seed=seed)


def class_label(args, model) -> int | None:
    """--class as a class index (an index or one of the model's class names); None without --class."""
    if args.class_label is None:
        if args.guidance != 0:
            raise CLIError("--guidance needs --class")
        return None
    if not model.num_classes:
        raise CLIError("--class needs a class-conditional model (train with --classes)")
    text = str(args.class_label)
    if text in model.class_names:
        return model.class_names.index(text)
    try:
        index = int(text)
    except ValueError:
        raise CLIError(f"--class {text!r}: not a class of this model ({', '.join(model.class_names)})") from None
    if not 0 <= index < model.num_classes:
        raise CLIError(f"--class {index}: the model has classes 0..{model.num_classes - 1}")
    return index


def sample_images(args, model, label: int | None):
    """(SampleResult with x (n, C, H, W) in [0, 1], steps) for the sampler flags."""
    from playground.core.sampling.samplers import DEFAULT_STEPS

    check_model_sde_args(args, model)
    options = sampler_options(args)
    steps = args.steps if args.steps is not None else DEFAULT_STEPS[args.sampler]
    stride = getattr(args, "trajectory_stride", 0) if getattr(args, "trajectory", None) else 0
    result = model.sample(args.n, sampler=args.sampler, steps=steps, seed=args.seed, class_labels=label,
                          guidance=args.guidance, return_result=True, trajectory_stride=stride, **options)
    return result, steps


def describe_images(args, model, label: int | None, steps: int) -> str:
    c, h, w = model.image_shape
    cls = "" if label is None else f", class {label} ({model.class_names[label]}), guidance {args.guidance:g}"
    return f"{args.n} images {c}x{h}x{w}: {args.sampler}, {steps} steps, {model.sde.name} SDE{cls}"


def cmd_sample_images(args, model) -> int:
    """Sample an image model; write a PNG grid or a .npy (n, C, H, W) array."""
    from playground.core.io.image_grid import save_image_grid

    out = check_output_path(args.out, IMAGE_SUFFIXES, "--out")
    traj = check_output_path(args.trajectory, (".npy",), "--trajectory") if args.trajectory else None
    label = class_label(args, model)
    result, steps = sample_images(args, model, label)
    x = result.x.numpy().astype(np.float32)
    print(f"sampled {describe_images(args, model, label, steps)}")
    print(f"NFE {result.nfe}")
    if out.suffix.lower() == ".png":
        save_image_grid(out, x)
    else:
        np.save(out, x)
    print(f"wrote {out} ({' x '.join(map(str, x.shape))})")
    if traj is not None:
        frames = result.trajectory.numpy().astype(np.float32)
        np.save(traj, frames)
        print(f"wrote {traj} ({' x '.join(map(str, frames.shape))})")
    return 0


def cmd_eval_images(args, model) -> int:
    """Sample an image model and compare with its dataset (classifier, nearest images, SWD); --nll: bits/dim."""
    from playground.core.evaluation.image_likelihood import bits_per_dim
    from playground.core.evaluation.image_quality import image_sample_report
    from playground.data.images.spec import is_image_spec, load_image_dataset

    if not args.data or not is_image_spec(args.data):
        raise CLIError("eval of an image model needs --data SPEC, an image dataset (e.g. the one it was trained on)")
    c, h, _ = model.image_shape
    dataset = load_image_dataset(args.data, size=h, rgb=c == 3)
    label = class_label(args, model)
    start = time.perf_counter()
    result, steps = sample_images(args, model, label)
    seconds = time.perf_counter() - start
    samples = result.x.numpy().astype(np.float32)
    print(f"sampled {describe_images(args, model, label, steps)}; NFE {result.nfe}, {seconds:.1f} s")
    report = image_sample_report(samples, dataset, asked=label, seed=args.seed)
    print(f"nearest dataset image: samples {report['nn_samples']:.4f}, dataset images (leave-one-out) "
          f"{report['nn_data']:.4f}; SWD {report['swd']:.4f} (floor {report['swd_floor']:.4f})")
    if report.get("confident") is not None:
        asked = "" if label is None else f", of the asked class {report['on_class']:.1%}"
        print(f"classifier (test accuracy {report['classifier_accuracy']:.1%} on real images): confident "
              f"{report['confident']:.1%} of samples (real test images {report['confident_real']:.1%}){asked}")
    summary = dict(report, sampler=args.sampler, steps=steps, nfe=result.nfe, sde=model.sde.name, n=args.n,
                   data=dataset.name, model=str(args.model), model_steps=model.config.get("steps_done"),
                   class_label=label, guidance=args.guidance)
    if args.nll or args.elbo:
        summary.update(image_likelihood_metrics(args, model, dataset))
    print(json.dumps(summary))
    return 0


def image_likelihood_metrics(args, model, dataset) -> dict:
    """--nll: PF-ODE bits/dim of dequantised dataset images; --elbo: the ELBO's bound in bits/dim (same images)."""
    from playground.core.evaluation.image_likelihood import bits_per_dim, dequantize
    from playground.core.sampling.likelihood_bound import likelihood_bound

    rng = np.random.default_rng(args.seed + 7_000_003)
    images = dataset.images[rng.choice(len(dataset), size=min(args.nll_n, len(dataset)), replace=False)]
    eps = likelihood_eps(args, model.sde)
    out: dict = {"nll_n": len(images), "nll_eps": eps}
    if args.nll:
        bpd = bits_per_dim(model, images, eps=eps, tol=args.nll_tol, seed=args.seed, probe=args.probe or "rademacher")
        trained = "trained on dequantised pixels" if bpd["dequantized_training"] else \
            "trained on bare 8-bit levels: a valid but loose bound"
        print(f"bits/dim {bpd['bpd']:.4f} +- {bpd['bpd_sem']:.4f} ({bpd['n']} dataset images, uniformly dequantised, "
              f"{trained}; PF-ODE from t = {eps:g}, Hutchinson {bpd['probe']} probes, NFE {bpd['nfe']})")
        out.update(bpd=bpd["bpd"], bpd_sem=bpd["bpd_sem"], nll_nfe=bpd["nfe"], nll_probe=bpd["probe"],
                   dequantized_training=bpd["dequantized_training"])
    if args.elbo:
        import torch

        y = model.to_norm(torch.as_tensor(dequantize(images, args.seed)).reshape(len(images), -1).float())
        res = likelihood_bound(model.score_norm, model.sde, y.to(model.device), eps=eps, n_times=args.elbo_times,
                               seed=args.seed, log_det_jacobian=model.normalization.log_det_jacobian, batch_size=256)
        b = res.bits_per_dim().double()
        sem = float(b.std() / len(b) ** 0.5) if len(b) > 1 else float("nan")
        print(f"ELBO bound {float(b.mean()):.4f} +- {sem:.4f} bits/dim (reverse SDE's bits/dim <= this; "
              f"{args.elbo_times} times x 2 per image)")
        out.update(bpd_elbo=float(b.mean()), bpd_elbo_sem=sem, elbo_times=args.elbo_times, elbo_nfe=res.nfe)
    return out
