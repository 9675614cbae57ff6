"""Background score error for the training dock: a model snapshot's normalised score error per time bin against the
target's exact score (`playground.core.evaluation.score_error.model_score_error`), off the UI thread.

One `ScoreErrorThread` per snapshot; it runs with one torch thread (the trainer has its own process) and checks for
cancellation before every time bin. The outcome holds the table (numpy arrays, never mutated later) and the model's
step, or why there is none.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.evaluation.score_error import ScoreErrorTable, model_score_error


@dataclass
class ScoreErrorJob:
    model: object  # a 2D ScoreModel snapshot (read only)
    target: object  # the Target it was trained on, with an exact score
    n: int = 1000  # target samples per bin
    bins: int = 10
    seed: int = 0
    step: int | None = None  # the model's optimiser step, for the plot's title
    generation: int = 0


@dataclass
class ScoreErrorOutcome:
    generation: int
    step: int | None = None
    table: ScoreErrorTable | None = None
    error: str | None = None
    cancelled: bool = False


def _run(job: ScoreErrorJob, cancelled: threading.Event, _emit) -> ScoreErrorOutcome:
    out = ScoreErrorOutcome(job.generation, job.step)

    def check(_k: int) -> None:
        if cancelled.is_set():
            raise Cancelled()

    try:
        out.table = model_score_error(job.model, job.target, n=job.n, bins=job.bins, seed=job.seed, before_bin=check)
    except Exception as e:  # Cancelled included
        return record_failure(out, e)
    return out


class ScoreErrorThread(JobThread):
    """Runs one ScoreErrorJob; `done(ScoreErrorOutcome)`."""

    work = staticmethod(_run)

    def failed(self, message: str) -> ScoreErrorOutcome:
        return ScoreErrorOutcome(self.job.generation, self.job.step, error=message)


__all__ = ["ScoreErrorJob", "ScoreErrorOutcome", "ScoreErrorThread"]
