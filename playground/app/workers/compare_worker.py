"""The Compare dock's worker: train two methods (e.g. DSM and flow matching) one after the other on the same target
for the same training seconds, then check each the way `bench compare` does (`core.evaluation.method_comparison`).

Per method, in one cancellable background thread (one torch thread: the two methods never compete for the cores):
  training     a fresh `budget_trainer` for `seconds` of training (its lr schedule ends with the budget)
  sampling     `n_samples` PF-ODE samples with the app's ODE solver and steps, their SWD ratio to the target (the
               floor of two iid target sets = 1) and the first `n_paths` trajectories
  straightness Liu et al.'s S of STRAIGHTNESS_PATHS PF-ODE paths (a 100-step Heun solve)
  Euler NFE    the fewest Euler evaluations on LADDER with SWD ratio <= THRESHOLD (what a straight flow buys);
               skipped when the solver's own samples are above LADDER_MAX_RATIO x the floor (no rung would pass)
  NLL - H      PF-ODE NLL of NLL_POINTS fresh target points minus the target's entropy, when it has one
`run_comparison` (Qt-free) emits a `MethodProgress` at most every PROGRESS_INTERVAL s and a `MethodResult` (a new
object; its arrays never change once emitted) after every phase; it ends with a `CompareOutcome`. A method that
fails (a bad combination, a diverged run) reports its error and the other still runs; cancelling stops both within
one training step or one network evaluation.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.evaluation.method_comparison import EULER_LADDER, STRAIGHTNESS_STEPS

PROGRESS_INTERVAL = 0.2
LADDER = tuple(s for s in EULER_LADDER if s <= 64)  # up to 65 NFE: a few seconds per method on one thread
THRESHOLD = 1.2
LADDER_SAMPLES = 4000
LADDER_MAX_RATIO = 1.5
STRAIGHTNESS_PATHS = 500
NLL_POINTS = 500
NLL_CHUNK = 100
MAX_PATH_FRAMES = 100


@dataclass(frozen=True)
class CompareMethod:
    """One column: its key ('A', 'B') and the TrainConfig fields that make the method (sde, objective, output,
    weighting, batch)."""

    key: str
    config: dict


@dataclass
class CompareJob:
    methods: tuple[CompareMethod, ...]
    base: dict  # TrainConfig fields both methods share (network size, lr, SDE parameters, seed, device)
    data: np.ndarray  # the training set (the app's target samples)
    target: object  # the Target: fresh samples for the SWD and the NLL, its entropy
    seconds: float
    n_samples: int
    n_paths: int
    ode_sampler: str
    ode_steps: int
    seed: int = 0
    generation: int = 0


@dataclass(frozen=True)
class MethodProgress:
    key: str
    phase: str  # 'training', 'sampling', 'straightness', 'Euler NFE', 'NLL'
    step: int = 0
    seconds: float = 0.0  # training seconds so far
    loss: float = float("nan")


@dataclass
class MethodResult:
    """What one method reached; fields stay NaN / None until their phase has run."""

    key: str
    config: dict
    steps: int = 0
    train_seconds: float = 0.0
    loss: float = float("nan")
    samples: np.ndarray | None = None  # (n, 2) data space
    paths: np.ndarray | None = None  # (K, n_paths, 2) data space, t from T to 0
    nfe: int = 0
    swd_ratio: float = float("nan")
    straightness: float = float("nan")
    euler_nfe: int | None = None
    euler_ratio: float = float("nan")  # the SWD ratio of the rung that passed, or of the last one tried
    euler_done: bool = False
    euler_skipped: bool = False  # the solver's own samples were above LADDER_MAX_RATIO x the floor
    euler_max_nfe: int = 0  # the NFE of the ladder's top rung
    euler_threshold: float = THRESHOLD  # the SWD ratio a rung must reach
    nll: float = float("nan")
    nll_se: float = float("nan")
    entropy: float | None = None
    error: str | None = None
    done: bool = False


@dataclass
class CompareOutcome:
    generation: int
    results: dict[str, MethodResult] = field(default_factory=dict)
    cancelled: bool = False
    error: str | None = None


def run_comparison(job: CompareJob, cancel: threading.Event, emit: Callable[[object], None]) -> CompareOutcome:
    """Train and check every method of `job` in turn (see the module docstring); no Qt here."""
    out = CompareOutcome(job.generation)
    try:
        for method in job.methods:
            if cancel.is_set():
                raise Cancelled()
            out.results[method.key] = _run_method(job, method, cancel, emit)
    except Exception as e:  # Cancelled (or a failure outside one method)
        return record_failure(out, e)
    return out


def _run_method(job: CompareJob, method: CompareMethod, cancel: threading.Event, emit) -> MethodResult:
    """One method: train, then the checks; an error other than a cancel ends up in the result."""
    from playground.core.evaluation.method_comparison import budget_trainer, euler_nfe, evaluate_nll, path_straightness

    def check(_info=None) -> None:  # a sampler's callback, the NLL's check between chunks
        if cancel.is_set():
            raise Cancelled()

    config = {**job.base, **method.config}
    res = MethodResult(method.key, dict(method.config), entropy=job.target.entropy)
    try:
        emit(MethodProgress(method.key, "training"))
        trainer = budget_trainer(job.data, config, job.seconds, seed=job.seed, device=config.get("device", "cpu"),
                                 threads=1)
        last = [time.perf_counter()]

        def report(stats) -> bool:
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                emit(MethodProgress(method.key, "training", stats.step, stats.seconds, float(stats.loss)))
            return False

        trainer.run(callback=report, should_stop=cancel.is_set)
        check()
        res.steps, res.train_seconds = trainer.step_count, trainer.train_seconds
        res.loss = float(np.mean(trainer.history.loss[-50:])) if trainer.history.loss else float("nan")
        model = trainer.snapshot()

        emit(MethodProgress(method.key, "sampling", res.steps, res.train_seconds, res.loss))
        _sample(model, job, res, check)
        emit(_copy(res))
        emit(MethodProgress(method.key, "straightness", res.steps, res.train_seconds, res.loss))
        res.straightness = path_straightness(model, job.seed + 2, STRAIGHTNESS_PATHS, STRAIGHTNESS_STEPS, check)
        emit(_copy(res))
        res.euler_max_nfe, res.euler_threshold = max(LADDER) + 1, THRESHOLD
        if res.swd_ratio <= LADDER_MAX_RATIO:
            emit(MethodProgress(method.key, "Euler NFE", res.steps, res.train_seconds, res.loss))
            res.euler_nfe, res.euler_ratio = euler_nfe(model, job.target, LADDER, THRESHOLD, LADDER_SAMPLES, 1,
                                                       job.seed + 3, check)
        else:
            res.euler_skipped = True
        res.euler_done = True
        emit(_copy(res))
        if job.target.entropy is not None:
            emit(MethodProgress(method.key, "NLL", res.steps, res.train_seconds, res.loss))
            nll = evaluate_nll(model, job.target, NLL_POINTS, job.seed, chunk=NLL_CHUNK, check=check)
            res.nll, res.nll_se = nll["nll"], nll["nll_se"]
    except Cancelled:
        raise
    except Exception as e:  # a bad combination of settings, a diverged run: this method's message
        record_failure(res, e)
    res.done = True
    emit(_copy(res))
    return res


def _sample(model, job: CompareJob, res: MethodResult, check) -> None:
    """PF-ODE samples with the app's solver, their SWD ratio and the first trajectories (data space)."""
    from playground.core.evaluation.metrics import swd_report

    stride = max(1, job.ode_steps // MAX_PATH_FRAMES)
    r = model.sample(job.n_samples, sampler=job.ode_sampler, steps=job.ode_steps, seed=job.seed + 1,
                     return_result=True, trajectory_stride=stride, callback=check)
    x = r.x.numpy().astype(np.float32)
    res.samples, res.nfe = x, int(r.nfe)
    if r.trajectory is not None:
        res.paths = r.trajectory[:, : job.n_paths].numpy().astype(np.float32)
    finite = x[np.isfinite(x).all(1)]
    if len(finite) >= 100:
        res.swd_ratio = swd_report(finite, lambda m, s: job.target.sample(m, s), seed=job.seed).swd_ratio


def _copy(res: MethodResult) -> MethodResult:
    """A snapshot for the UI thread (the worker keeps filling its own)."""
    return dataclasses.replace(res, config=dict(res.config))


class CompareThread(JobThread):
    """Runs one CompareJob: `frame` carries MethodProgress and MethodResult, `done` the CompareOutcome."""

    work = staticmethod(run_comparison)

    def failed(self, message: str) -> CompareOutcome:
        return CompareOutcome(self.job.generation, error=message)


__all__ = ["CompareJob", "CompareMethod", "CompareOutcome", "CompareThread", "MethodProgress", "MethodResult",
           "run_comparison"]
