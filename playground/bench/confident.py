"""Time to confident images: `python -m playground bench confident [--data shapes28|mnist:PATH] [--device cuda]`.

A reference classifier (`ImageClassifier`, with its outlier class) is trained on 80% of --data (28x28 by default)
and scored on the held-out 20%. Then the default image UNet (`IMAGE_TRAIN_DEFAULTS`, the speed settings 'auto'
picks on --device, or --precision / --channels-last) trains on the 80% split; every --every seconds of training
wall time the EMA model draws --n samples (--sampler, --sample-steps) and the classifier scores them. The table has
one row per evaluation: training seconds, steps, steps/s and the confident fraction (one class p >= 0.9); the last
line says when the fraction first reached --target (issue 16: >= 90% with MNIST-format 28x28 data on a GPU).
Sampling time is not counted as training time. The device has no network: the procedural shapes28 set stands in for
MNIST unless an MNIST-format file is given (mnist:PATH).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from playground.core.evaluation.reference_classifier import classifier_scores, train_classifier
from playground.core.training.image_training import image_train_config, image_trainer
from playground.data.images.spec import load_image_dataset


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench confident", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="shapes28", help="labelled image set (default shapes28; mnist:PATH, fashion:PATH)")
    p.add_argument("--size", type=int, default=28, help="image size (default 28)")
    p.add_argument("--images", type=int, default=10000, help="images drawn from the set (default 10000)")
    p.add_argument("--device", default="cpu", help="training and sampling device: cpu | cuda (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--seconds", type=float, default=600.0, help="training wall-time limit (default 600)")
    p.add_argument("--every", type=float, default=30.0, help="training seconds between evaluations (default 30)")
    p.add_argument("--target", type=float, default=0.9, help="confident fraction to reach (default 0.9)")
    p.add_argument("--n", type=int, default=500, help="samples per evaluation (default 500)")
    p.add_argument("--sampler", default="edm_heun", help="sampler (default edm_heun)")
    p.add_argument("--sample-steps", type=int, default=50, help="sampler steps (default 50)")
    p.add_argument("--batch", type=int, default=None, help="training batch (default: the image default)")
    p.add_argument("--base-channels", type=int, default=None, help="UNet width (default: the image default)")
    p.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16 (default auto)")
    p.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--classifier-seconds", type=float, default=30.0, help="reference classifier limit (default 30)")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; the last line is JSON."""
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_image_dataset(args.data, size=args.size, n=args.images)
    if data.labels is None:
        raise SystemExit(f"--data {args.data}: needs class labels for the reference classifier")
    train, test = data.split(0.2, args.seed)
    start = time.perf_counter()
    clf = train_classifier(train.images, train.labels, data.num_classes, seconds=args.classifier_seconds,
                           seed=args.seed)
    real = classifier_scores(clf, test.images, test.labels)
    overrides = {k: v for k, v in (("batch", args.batch), ("base_channels", args.base_channels)) if v is not None}
    channels_last = {"auto": None, "on": True, "off": False}[args.channels_last]
    cfg = image_train_config(steps=None, seconds=args.seconds, seed=args.seed, device=args.device,
                             threads=args.threads, precision=args.precision, channels_last=channels_last, **overrides)
    trainer = image_trainer(train, cfg)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"bench confident: {data.name} {data.channels}x{args.size}x{args.size}, {len(train)} train / {len(test)} "
          f"test; device {args.device} ({device}), torch {torch.__version__}; UNet {cfg.base_channels} ch, batch "
          f"{cfg.batch}, {trainer.speed.describe()}; {args.sampler} {args.sample_steps} steps, n {args.n}", flush=True)
    print(f"reference classifier: accuracy {real.on_class:.1%}, confident {real.confident:.1%} on the real test "
          f"images ({time.perf_counter() - start:.1f} s)", flush=True)
    print(f"{'train s':>8} {'steps':>7} {'steps/s':>8} {'confident':>9}", flush=True)
    reached = None
    rows = []
    while trainer.train_seconds < args.seconds - 1e-9:
        trainer.run(max_seconds=min(args.every, args.seconds - trainer.train_seconds))
        x = trainer.snapshot().sample(args.n, sampler=args.sampler, steps=args.sample_steps, seed=args.seed + 1)
        confident = classifier_scores(clf, x).confident
        rows.append({"seconds": round(trainer.train_seconds, 1), "steps": trainer.step_count,
                     "confident": round(confident, 4)})
        print(f"{trainer.train_seconds:8.1f} {trainer.step_count:7d} {trainer.step_count / trainer.train_seconds:8.1f}"
              f" {confident:9.1%}", flush=True)
        if confident >= args.target:
            reached = rows[-1]
            break
    print(f"reached {args.target:.0%} confident: " + (f"after {reached['seconds']} s of training ({reached['steps']} "
          f"steps)" if reached else f"not within {args.seconds:g} s"))
    print(json.dumps({"data": data.name, "device": args.device, "speed": trainer.speed.describe(),
                      "real_confident": round(real.confident, 4), "reached": reached, "rows": rows}))
    return 0
