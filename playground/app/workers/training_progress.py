"""The training progress record: what a run reports to the UI (`TrainProgress`) and the per-time-bin losses kept
between reports (`BinStats`). Plain numpy copies, never views of trainer memory; no Qt, no torch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_BINS = 10  # loss by time bin: t in [0, 1] cut into N_BINS equal bins


@dataclass
class TrainProgress:
    """What the worker reports (numpy copies: never views of trainer memory)."""

    step: int  # optimiser steps done in total
    steps: np.ndarray  # the step numbers of `losses`
    losses: np.ndarray  # new raw losses since the previous report
    bin_losses: np.ndarray | None  # (N_BINS,) running mean loss per time bin (NaN where unseen)
    its: float  # optimiser steps per second, recent
    elapsed: float  # training seconds in total (summed over runs)
    lr: float | None = None
    extra: dict = field(default_factory=dict)


class BinStats:
    """The trainer's running mean loss per time bin (StepStats.bin_loss), kept as the latest copy."""

    def __init__(self):
        self.latest: np.ndarray | None = None

    def update(self, stats) -> None:
        b = getattr(stats, "bin_loss", None)
        if b is not None:
            self.latest = np.array(b, dtype=np.float64, copy=True).reshape(-1)

    def means(self) -> np.ndarray | None:
        return None if self.latest is None else self.latest.copy()

