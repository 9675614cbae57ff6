"""How `train` runs a Trainer headless: one process or one torchrun rank, console progress, periodic checkpoints and
sample grids, a clean stop on Ctrl-C / SIGTERM, resuming from a model file.

Distributed (`start_distributed`): under torchrun (WORLD_SIZE > 1) every rank builds the same trainer with a
DistributedRun; rank 0 alone prints, writes checkpoints, sample grids and the model file (atomically). Input errors
are reported by rank 0 only (every rank sees the same flags and data); a rank that dies makes the others' next
all-reduce fail: rank 0 then says so in one line and writes nothing.

Stopping: the first Ctrl-C (or a SIGTERM, e.g. from a scheduler or from torchrun when another rank failed) asks the
trainer to stop after the current step; every rank agrees through the step's all-reduce, and rank 0 saves what was
trained. In one process a second Ctrl-C aborts at once (the model file is then left as it was).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import numpy as np

from playground.cli.common import CLIError, positive_int

RESUMABLE_OVERRIDES = ("steps", "seconds", "batch", "lr", "device", "threads")
"""TrainConfig fields `train --resume` may change (with the speed flags); the flags that shape the model are fixed
by the file."""


def add_run_args(p) -> None:
    """`train`'s flags for long runs, distributed runs and speed."""
    g = p.add_argument_group("long runs")
    g.add_argument("--resume", metavar="MODEL.safetensors",
                   help="continue the run saved in this file (weights, EMA, optimizer, step, schedule); --steps / "
                   "--seconds are totals counted from the file's step 0; --data defaults to the file's")
    g.add_argument("--checkpoint-every", type=positive_int, default=None, metavar="K",
                   help="write --out (atomically, resumable) every K steps")
    g.add_argument("--sample-every", type=positive_int, default=None, metavar="K",
                   help="image datasets: write a grid of 64 EMA samples every K steps (PF-ODE, fixed noise)")
    g.add_argument("--sample-dir", default=None, metavar="DIR",
                   help="folder for --sample-every grids, step_0001000.png ... (default: OUT's name + _samples)")
    g = p.add_argument_group("distributed and speed")
    g.add_argument("--batch-per-rank", type=positive_int, default=None, metavar="B",
                   help="under torchrun: B per process (the global batch is B x processes); by default --batch is "
                   "the global batch, split over the processes")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default=None,
                   help="autocast dtype of the network (default auto: bf16 for image networks on 16x16+ images on CPUs with "
                   "bf16 units, else fp32 (bf16 measured slower on CUDA for these small nets); fp16 uses loss scaling)")
    g.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the network (no gain measured on CPUs; falls back to eager if it fails)")
    g.add_argument("--channels-last", choices=("auto", "on", "off"), default=None,
                   help="NHWC activations for image networks (auto: off; no gain measured on a CPU or a GPU for "
                   "these nets)")


def run_overrides(args, run) -> dict:
    """TrainConfig fields set by the long-run / speed flags (only the ones given)."""
    kw = {}
    if args.precision is not None:
        kw["precision"] = args.precision
    if args.compile:
        kw["compile"] = True
    if args.channels_last is not None:
        kw["channels_last"] = {"auto": None, "on": True, "off": False}[args.channels_last]
    if args.batch_per_rank is not None:
        if args.batch is not None:
            raise CLIError("give --batch (global) or --batch-per-rank, not both")
        kw["batch"] = args.batch_per_rank * (run.world_size if run is not None else 1)
    return kw


def start_distributed(args):
    """This process's DistributedRun under torchrun, else None."""
    from playground.core.training.distributed import DistributedRun, torchrun_environment

    if torchrun_environment() is None:
        return None
    run = DistributedRun.start(args.device, seed=args.seed or 0)
    if run.note:
        say(run, f"note: {run.note}", file=sys.stderr)
    return run


def say(run, *parts, **kw) -> None:
    """print, on rank 0 only."""
    if run is None or run.is_main:
        print(*parts, **kw, flush=True)


def limits_text(cfg) -> str:
    return " and ".join(x for x in (f"{cfg.steps} steps" if cfg.steps else "",
                                    f"{cfg.seconds:g} s" if cfg.seconds else "") if x)


def where(trainer) -> str:
    """'cpu with 2 threads, fp32, ...' or '2 processes (gloo), cpu with 1 thread each, ...' for the header line."""
    threads = f"{trainer.threads} thread{'s' if trainer.threads != 1 else ''}"
    run = trainer.distributed
    if run is None:
        return f"{trainer.device} with {threads}; {trainer.speed.describe()}"
    low, high = trainer.config.batch // run.world_size, -(-trainer.config.batch // run.world_size)
    share = f"{low}" if low == high else f"{low}-{high}"
    return (f"{run.world_size} processes ({run.backend}), {trainer.device.type} with {threads} each, batch {share} "
            f"per process; {trainer.speed.describe()}")


def check_resume_flags(args, fixed: list[tuple[str, str]]) -> None:
    """CLIError for a model-shaping flag given with --resume (the file fixes the model)."""
    for flag, key in fixed:
        if getattr(args, key, None) not in (None, False):
            raise CLIError(f"{flag} cannot change a resumed run (the file fixes the model); leave it out")


def resume_overrides(args, run, meta_training: dict) -> dict:
    """The TrainConfig fields a resumed run changes: the limits (totals from step 0) and the run flags."""
    kw = {k: getattr(args, k) for k in RESUMABLE_OVERRIDES if getattr(args, k, None) is not None}
    kw.update(run_overrides(args, run))
    if args.steps is not None or args.seconds is not None:
        kw.setdefault("steps", None)
        kw.setdefault("seconds", None)
    done = meta_training.get("steps_done") or 0
    steps = kw.get("steps", meta_training.get("steps"))
    seconds = kw.get("seconds", meta_training.get("seconds"))
    if steps is not None and steps <= done and seconds is None:
        raise CLIError(f"the file has trained {done} steps already: give --steps above {done} (a total) or --seconds")
    return kw


def sample_grid_writer(args, out: Path, run):
    """A callable (trainer, step) writing DIR/step_NNNNNNN.png (None without --sample-every)."""
    if not args.sample_every:
        if args.sample_dir:
            raise CLIError("--sample-dir needs --sample-every")
        return None
    folder = Path(args.sample_dir) if args.sample_dir else out.with_name(out.stem + "_samples")
    if run is None or run.is_main:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CLIError(f"--sample-dir {folder}: cannot create it ({e.strerror})") from None

    def write(trainer, step: int) -> None:
        from playground.core.io.atomic import atomic_open
        from playground.core.io.image_grid import save_image_grid
        from playground.core.sampling.samplers import DEFAULT_STEPS

        model = trainer.snapshot()
        labels = None if not model.num_classes else [k % model.num_classes for k in range(64)]
        x = model.sample(64, sampler="ode_heun", steps=DEFAULT_STEPS["ode_heun"], seed=0, class_labels=labels)
        with atomic_open(folder / f"step_{step:07d}.png", "wb") as f:
            save_image_grid(f, np.asarray(x))

    return write


class StopSignals:
    """While active, SIGINT and SIGTERM ask for a stop instead of killing the process (see the module docstring)."""

    def __init__(self, run):
        self.run = run
        self.requested: str | None = None
        self._old: dict = {}

    def __enter__(self) -> "StopSignals":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.requested is not None and self.run is None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C in one process: abort now
        self.requested = self.requested or signal.Signals(signum).name
        if self.run is not None:
            self.run.request_stop()

    def should_stop(self) -> bool:
        return self.run.stop_agreed if self.run is not None else self.requested is not None


def run_training(trainer, out: Path, data: str, args=None, run=None) -> int:
    """Run `trainer` to its config's limits with console progress (rank 0), checkpoints and sample grids every K
    steps, save `out` and print the summary (last line JSON). A stop request saves what was trained (exit 130); a
    divergence writes nothing (CLIError); so does a lost rank."""
    from playground.core.training.config import TrainingDiverged
    from playground.core.training.console import ConsoleProgress
    from playground.core.training.distributed import RankLost

    cfg = trainer.config
    main = run is None or run.is_main
    progress = ConsoleProgress(cfg.steps, cfg.seconds) if main else None
    every = getattr(args, "checkpoint_every", None)
    grids = sample_grid_writer(args, out, run) if args is not None else None
    sample_every = getattr(args, "sample_every", None)
    checkpointed: list[int] = []

    def callback(stats) -> None:
        if not main:
            return
        progress(stats)
        if every and stats.step % every == 0:
            trainer.save(out)
            checkpointed.append(stats.step)
        if grids is not None and stats.step % sample_every == 0:
            grids(trainer, stats.step)

    code = 0
    with StopSignals(run) as stop:
        try:
            trainer.run(callback=callback, should_stop=stop.should_stop)
        except TrainingDiverged as e:
            if progress is not None:
                progress.close()
            raise CLIError(f"{e} {what_was_kept(out, checkpointed).capitalize()}.") from None
        except RankLost as e:
            if progress is not None:
                progress.close()
            raise CLIError(f"{e}; {what_was_kept(out, checkpointed)}") from None
        if main and trainer.last_stats is not None:
            progress.close(trainer.last_stats)
        if stop.requested or (run is not None and run.stop_agreed):
            code = 130
            say(run, f"stopped at step {trainer.step_count} ({stop.requested or 'another rank stopped'}); saving what "
                "was trained", file=sys.stderr)
        if not main:
            return code
        trainer.save(out)
    info = trainer.training_info()
    loss = info["loss"]
    print(f"wrote {out}: {trainer.step_count} steps in {trainer.train_seconds:.1f} s, loss {loss if loss is None else f'{loss:.4f}'}")
    print(json.dumps({"model": str(out), "data": data, "steps": trainer.step_count,
                      "seconds": round(trainer.train_seconds, 3), "loss": loss, **run_summary(trainer)}))
    return code


def what_was_kept(out: Path, checkpointed: list[int]) -> str:
    """The end of a failed run's message: the last checkpoint still on disk, or that nothing was written."""
    if checkpointed and out.exists():
        return f"the last checkpoint (step {checkpointed[-1]}) is in {out}"
    return "nothing was written"


def run_summary(trainer) -> dict:
    """What the summary adds about where the run trained: the speed settings and, under torchrun, the ranks."""
    extra = {"speed": trainer.speed.describe()}
    if trainer.distributed is not None:
        extra["distributed"] = trainer.distributed.describe()
    return extra
