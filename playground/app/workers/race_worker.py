"""The Race dock's worker: `core.evaluation.sampler_race.run_race` in a cancellable background thread (one torch
thread, so training and the UI keep their cores), one `RaceFrame` after every finished (sampler, rung) run.

Runs go cheapest NFE rung first across all samplers (`race_plan`), so the chart fills in from the left. Each frame
carries every entry so far (immutable `RaceEntry`s) and the run now going, so the panel can say which rung runs;
the outcome carries the final entries, or that the race was cancelled (cancel is checked at every sampler step).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.diffusion.sde import SDE, ScoreFn
from playground.core.evaluation.sampler_race import RaceEntry, race_plan, run_race


@dataclass
class RaceJob:
    """One race: `score_fn` in normalised space under `sde`, its samples mapped to data space by `to_data`, compared
    with fresh draws of `sample_target(n, seed)`; `samplers` at the NFE rungs of `ladder`, `n` samples per run."""

    score_fn: ScoreFn
    sde: SDE
    to_data: Callable[[torch.Tensor], torch.Tensor] | None
    sample_target: Callable[[int, int], np.ndarray]
    samplers: tuple[str, ...]
    ladder: tuple[int, ...]
    n: int
    seed: int = 0
    generation: int = 0


@dataclass(frozen=True)
class RaceFrame:
    """The race so far: the finished entries (cheapest first), the (sampler, steps) run now going (None when all
    are done) and how many runs the race has."""

    generation: int
    entries: tuple[RaceEntry, ...]
    running: tuple[str, int] | None
    total: int


@dataclass
class RaceOutcome:
    generation: int
    entries: tuple[RaceEntry, ...] = ()
    cancelled: bool = False
    error: str | None = None
    seconds: float = 0.0


def run_sampler_race(job: RaceJob, cancel: threading.Event, emit: Callable[[RaceFrame], None]) -> RaceOutcome:
    """Run `job` (module docstring); no Qt here."""
    out = RaceOutcome(job.generation)
    began = time.perf_counter()
    try:
        plan = race_plan(job.samplers, job.ladder)
        done: list[RaceEntry] = []
        emit(RaceFrame(job.generation, (), plan[0] if plan else None, len(plan)))

        def on_entry(entry: RaceEntry) -> None:
            done.append(entry)
            following = plan[len(done)] if len(done) < len(plan) else None
            emit(RaceFrame(job.generation, tuple(done), following, len(plan)))

        entries = run_race(job.score_fn, job.sde, job.sample_target, samplers=job.samplers, ladder=job.ladder,
                           n=job.n, seed=job.seed, to_data=job.to_data, callback=on_entry, cancelled=cancel.is_set)
        out.entries = tuple(entries)
        if cancel.is_set():
            raise Cancelled()
    except Exception as e:  # Cancelled, or a failure (reported to the panel)
        record_failure(out, e)
    out.seconds = time.perf_counter() - began
    return out


class RaceThread(JobThread):
    """Runs one RaceJob: `frame(RaceFrame)` after every run, `done(RaceOutcome)` at the end."""

    work = staticmethod(run_sampler_race)

    def failed(self, message: str) -> RaceOutcome:
        return RaceOutcome(self.job.generation, error=message)


__all__ = ["RaceFrame", "RaceJob", "RaceOutcome", "RaceThread", "run_sampler_race"]
