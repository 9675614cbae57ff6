"""What a training run records: `StepStats` (one step's report) and `TrainHistory` (per-step lists and the running
per-time-bin loss)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StepStats:
    """What one step reports. bin_loss: running mean loss per time bin (edges `Trainer.bin_edges`), a copy."""

    step: int
    loss: float
    lr: float
    seconds: float  # training wall time so far (excluding pauses)
    grad_norm: float | None = None
    bin_loss: np.ndarray | None = None


@dataclass
class TrainHistory:
    """Per-step records (plain lists, append-only) and the running per-time-bin loss."""

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    bin_edges: np.ndarray = field(default_factory=lambda: np.linspace(0, 1, 11))
    bin_loss: np.ndarray = field(default_factory=lambda: np.full(10, np.nan))

    def truncate(self, n: int) -> None:
        for name in ("step", "loss", "lr", "seconds"):
            del getattr(self, name)[n:]

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "step": np.asarray(self.step, dtype=np.int64),
            "loss": np.asarray(self.loss, dtype=np.float64),
            "lr": np.asarray(self.lr, dtype=np.float64),
            "seconds": np.asarray(self.seconds, dtype=np.float64),
        }
