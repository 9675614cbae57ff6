"""Image benchmark: `python -m playground bench images [--seconds 60] [--threads 2] [--data28 shapes28|mnist:PATH]`.

8x8 digits (scikit-learn's 1,797, split 80/20 with --seed): a reference classifier (`ImageClassifier`, a small MLP
with an outlier class learnt from synthetic non-images) is trained on the real training digits and scored on the
held-out test digits, on uniform noise and on blends of two test digits (references: no generator should beat the
real digits, and non-digits should not count as confident). Then two UNets train for --seconds (or --steps)
of training wall time each on the training digits, with `IMAGE_TRAIN_DEFAULTS` (EDM output and weighting, as
`bench quality`; --set overrides them), and sample with EDM's stochastic Heun sampler (--sampler, --sample-steps,
--churn):
  unconditional    --n samples; the fraction the classifier labels confidently (a digit class p >= 0.9), next to
                   that of the real test digits; memorisation: the mean distance of each sample to its nearest
                   training digit, next to the same for the test digits (copies would sit far closer); the
                   confident fraction of the same model's PF-ODE samples (Heun, 50 steps) for comparison.
  conditional      label dropout, --n samples asked for classes 0..9 in turn with classifier-free guidance
                   --guidance; the fraction where the classifier sees the asked class.
28x28 (--data28) and 32x32 RGB (the coloured shapes, `shapes32 --rgb`): seconds per 1k training steps of the default
UNet at the default batch (from --steps28 timed steps after a warm-up) with the speed settings 'auto' picks, on the CPU
and, when one is available, on the GPU (`bench training` times each speed option on and off).
Targets (issue 5, 2 CPU threads): >= 90% confident; >= 90% of the asked class with guidance.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import fields

import numpy as np
import torch

from playground.core.evaluation.image_quality import nearest_distance
from playground.core.evaluation.reference_classifier import classifier_scores, train_classifier
from playground.core.training.image_training import IMAGE_TRAIN_DEFAULTS, image_train_config, image_trainer
from playground.core.training.config import TrainConfig
from playground.data.images.spec import load_image_dataset

TARGET = 0.9
PF_ODE = ("ode_heun", 50)  # the deterministic sampler reported next to the bench's sampler


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench images", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="training seconds per digits model (default 60)")
    p.add_argument("--steps", type=int, default=None,
                   help="train each digits model for this many steps instead of --seconds (a budget that does not "
                   "depend on the machine's load)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--n", type=int, default=500, help="generated digits per model (default 500)")
    p.add_argument("--sampler", default="edm_heun", help="sampler for the generated digits (default edm_heun)")
    p.add_argument("--sample-steps", type=int, default=100, help="sampler steps (default 100)")
    p.add_argument("--churn", type=float, default=100.0,
                   help="edm_heun's S_churn (default 100: the most churn, sqrt(2) - 1, at every step; 0 is the PF-ODE)")
    p.add_argument("--guidance", type=float, default=2.0, help="classifier-free guidance weight (default 2)")
    p.add_argument("--classifier-seconds", type=float, default=10.0,
                   help="reference classifier training limit (default 10; it stops after 100 epochs)")
    p.add_argument("--data28", default="shapes28", help="28x28 set for the speed row (shapes28 or mnist:PATH)")
    p.add_argument("--steps28", type=int, default=20, help="timed 28x28 steps (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", nargs="*", default=[], choices=("unconditional", "conditional", "28x28", "32x32rgb"),
                   help="parts to leave out")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="TrainConfig overrides for the digits models, e.g. --set base_channels=16 batch=64")
    return p


def parse_overrides(items: list[str]) -> dict:
    """KEY=VALUE pairs typed like the TrainConfig field's default (tuples as comma lists)."""
    defaults = {f.name: getattr(TrainConfig(), f.name) for f in fields(TrainConfig)}
    defaults.update(IMAGE_TRAIN_DEFAULTS)
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in defaults:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE with KEY a TrainConfig field")
        ref = defaults[key]
        if key in ("channel_mults", "image_shape"):
            out[key] = tuple(int(v) for v in text.split(","))
        elif isinstance(ref, bool):
            out[key] = text.lower() in ("1", "true", "yes")
        elif isinstance(ref, int):
            out[key] = int(text)
        elif isinstance(ref, float) or ref is None:
            out[key] = float(text)
        else:
            out[key] = text
    return out


def train_digits(train, args, overrides: dict, classes: bool):
    """(EMA model, steps done) after --seconds (or --steps) of training on the training digits."""
    seconds, steps = (None, args.steps) if args.steps else (args.seconds, None)
    cfg = image_train_config(seconds=seconds, steps=steps, seed=args.seed, device="cpu", threads=args.threads,
                             **overrides)
    trainer = image_trainer(train, cfg, classes=classes)
    trainer.run()
    return trainer.snapshot(), trainer.step_count


def generate(model, args, labels=None, guidance: float = 0.0, sampler: tuple[str, int] | None = None
             ) -> tuple[np.ndarray, float]:
    """(--n samples (n, 1, 8, 8), seconds) with the bench's sampler, or `sampler` (name, steps)."""
    name, steps = sampler or (args.sampler, args.sample_steps)
    options = {"S_churn": args.churn} if name == "edm_heun" else {}
    start = time.perf_counter()
    x = model.sample(args.n, sampler=name, steps=steps, seed=args.seed + 1, class_labels=labels,
                     guidance=guidance, **options)
    return x, time.perf_counter() - start


def non_digits(test, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(uniform noise, blends (a + b) / 2 of test digits of different classes), as many as the test digits."""
    rng = np.random.default_rng(seed + 2)
    noise = rng.random(test.images.shape, dtype=np.float32)
    a, b = rng.integers(0, len(test), (2, 4 * len(test)))
    keep = test.labels[a] != test.labels[b]
    a, b = a[keep][: len(test)], b[keep][: len(test)]
    return noise, (test.images[a] + test.images[b]) / 2


def seconds_per_1k_steps(spec: str, device: str, args, size: int = 28, rgb: bool = False) -> tuple[float, str]:
    """Training seconds per 1000 steps of the default UNet on a size x size set, and a description of the run."""
    data = load_image_dataset(spec, size=size, rgb=rgb, n=2000)
    cfg = image_train_config(steps=1000, seed=args.seed, device=device, threads=args.threads)
    trainer = image_trainer(data, cfg, classes=data.labels is not None)
    trainer.check_every = 1
    trainer.run(max_steps=3)
    start = trainer.train_seconds
    trainer.run(max_steps=args.steps28)
    per_step = (trainer.train_seconds - start) / args.steps28
    params = sum(p.numel() for p in trainer.model.parameters())
    c = data.channels
    return 1000 * per_step, (f"{data.name} {c}x{size}x{size}, batch {cfg.batch}, UNet {cfg.base_channels} ch "
                             f"({params:,} params), {trainer.speed.describe()}")


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table."""
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set)
    digits = load_image_dataset("digits")
    train, test = digits.split(0.2, args.seed)
    settings = {**IMAGE_TRAIN_DEFAULTS, **overrides}
    churn = f", S_churn {args.churn:g}" if args.sampler == "edm_heun" else ""
    print(f"bench images: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} "
          f"threads; digits {len(train)} train / {len(test)} test; "
          f"{f'{args.steps} steps' if args.steps else f'{args.seconds:g} s'} per model; sampler "
          f"{args.sampler} ({args.sample_steps} steps{churn}); settings {settings}", flush=True)
    rows: list[tuple[str, str, str]] = []

    start = time.perf_counter()
    clf = train_classifier(train.images, train.labels, 10, seconds=args.classifier_seconds, seed=args.seed)
    real = classifier_scores(clf, test.images, test.labels)
    rows.append(("classifier accuracy, real test digits", f"{real.on_class:.1%}",
                 f"MLP, {time.perf_counter() - start:.1f} s training"))
    rows.append(("confident (p >= 0.9), real test digits", f"{real.confident:.1%}", "reference"))
    noise, blends = non_digits(test, args.seed)
    rows.append(("confident, uniform noise", f"{classifier_scores(clf, noise).confident:.1%}",
                 "reference: a plain softmax MLP says ~80% (hence its outlier class)"))
    rows.append(("confident, blends of two test digits", f"{classifier_scores(clf, blends).confident:.1%}",
                 "reference: (a + b) / 2 of digits of different classes, never trained on"))
    nn_test = float(nearest_distance(test.images, train.images).mean())

    if "unconditional" not in args.skip:
        model, steps = train_digits(train, args, overrides, classes=False)
        x, secs = generate(model, args)
        scores = classifier_scores(clf, x)
        nn_gen = float(nearest_distance(x, train.images).mean())
        note = (f"target >= {TARGET:.0%}: {'met' if scores.confident >= TARGET else 'NOT met'}; {steps} steps, "
                f"sigma_data {model.sigma_data:.3f}, {args.n} samples in {secs:.1f} s")
        rows.append(("unconditional: confident", f"{scores.confident:.1%}", note))
        ode = classifier_scores(clf, generate(model, args, sampler=PF_ODE)[0])
        rows.append(("unconditional: confident, PF-ODE", f"{ode.confident:.1%}",
                     f"{PF_ODE[0]}, {PF_ODE[1]} steps (deterministic), same model"))
        counts = np.bincount(scores.predicted, minlength=11)
        rows.append(("unconditional: predicted classes", " ".join(map(str, counts)), "digits 0..9, then outliers"))
        rows.append(("nearest training digit: generated", f"{nn_gen:.3f}",
                     f"test digits {nn_test:.3f} (L2, pixels in [0, 1]); ratio {nn_gen / nn_test:.2f}"))

    if "conditional" not in args.skip:
        model, steps = train_digits(train, args, overrides, classes=True)
        asked = np.arange(args.n) % 10
        x, secs = generate(model, args, asked, args.guidance)
        scores = classifier_scores(clf, x, asked)
        plain = classifier_scores(clf, generate(model, args, asked, 0.0)[0], asked)
        note = (f"target >= {TARGET:.0%}: {'met' if scores.on_class >= TARGET else 'NOT met'}; confident "
                f"{scores.confident:.1%}; {steps} steps, {args.n} samples in {secs:.1f} s")
        rows.append((f"conditional w={args.guidance:g}: asked class", f"{scores.on_class:.1%}", note))
        rows.append(("conditional w=0: asked class", f"{plain.on_class:.1%}", f"confident {plain.confident:.1%}"))

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        if "28x28" not in args.skip:
            secs, what = seconds_per_1k_steps(args.data28, device, args)
            rows.append((f"28x28: seconds per 1k steps ({device})", f"{secs:.0f}", what))
        if "32x32rgb" not in args.skip:
            secs, what = seconds_per_1k_steps("shapes32", device, args, size=32, rgb=True)
            rows.append((f"32x32 RGB: seconds per 1k steps ({device})", f"{secs:.0f}", what))

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>{vwidth}}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {note}")
    return 0
