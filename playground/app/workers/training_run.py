"""A trained model as the app holds it, handed out and back whole: the trainer (weights, EMA, Adam state, RNG, step,
its history), the model snapshot the views show and the controller's loss curve, time-bin losses and counters.

An action that would discard a trained model (a new target, another SDE or network, image mode, Train > Reset) is
an undoable command that takes the run out of the controller (`take_run`) before it changes anything and puts the
other side's run back (`put_run`) afterwards: undo brings the model back exactly, optimiser state and loss curve
included, and training continues from it. Only the `KEPT_RUNS` most recently taken runs keep their trainer and
model (`RunKeeper`): an older one is released, so a long undo history cannot hold unbounded memory (an image run
holds its network, EMA, optimiser state and dataset batches). Qt-free apart from the controller it acts on.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from playground.app.workers.training_progress import TrainProgress


@dataclass
class TrainingRun:
    """Everything trained, detached from the controller (it owns the trainer object now)."""

    trainer: object | None
    model: object | None
    step: int
    elapsed: float
    its: float
    loss_steps: np.ndarray
    loss_values: np.ndarray
    last_loss: float
    bin_losses: np.ndarray | None
    preview: object = None  # the training panel's last model samples
    released: bool = False  # the trainer and model were dropped to bound memory (`RunKeeper`)

    def describe(self) -> str:
        """'the model trained for 420 steps (3.1 s)'."""
        return f"the model trained for {self.step:,} steps ({self.elapsed:.1f} s)"

    def release(self) -> None:
        """Drop the trainer, model and preview (what holds memory); the run then restores as untrained."""
        self.trainer = self.model = self.preview = None
        self.released = True


KEPT_RUNS = 10
"""Taken runs that keep their trainer and model for undo; older ones are released (`RunKeeper`)."""


class RunKeeper:
    """The runs that undo commands hold, oldest first: beyond `limit` the oldest is released. Runs are held weakly
    (a command dropped from the undo history frees its run by itself)."""

    def __init__(self, limit: int = KEPT_RUNS):
        self.limit = limit
        self._runs: list[weakref.ref] = []

    def keep(self, run: TrainingRun) -> None:
        """`run` was just taken out of the controller into an undo command."""
        self.forget(run)
        self._runs.append(weakref.ref(run))
        while len(self._runs) > self.limit:
            oldest = self._runs.pop(0)()
            if oldest is not None:
                oldest.release()

    def forget(self, run: TrainingRun) -> None:
        """`run` went back into the controller (or was dropped): it no longer counts."""
        self._runs = [r for r in self._runs if r() is not None and r() is not run]

    def __len__(self) -> int:
        return sum(r() is not None for r in self._runs)


def take_run(controller) -> TrainingRun | None:
    """Pause training and take everything trained out of `controller`, which is left reset (model None, no
    trainer, empty history; resetDone emitted). None (and a plain reset) when nothing was trained yet."""
    c = controller
    if c.running:
        c.pause()
    if not c.has_progress and c.state.model is None:
        if c.trainer is not None or c.running:
            c.reset()
        return None
    steps, losses = c.losses()
    run = TrainingRun(c.trainer, c.state.model, int(c.step), float(c.elapsed_before), float(c.its),
                      np.array(steps, copy=True), np.array(losses, copy=True), float(c.last_loss), c.bins.means(),
                      c.last_preview)
    c.trainer = None  # the run owns it now: reset() must not touch it
    c.reset()
    return run


def put_run(controller, run: TrainingRun | None) -> None:
    """Make `run` the controller's (after a reset; None: stay reset): the trainer continues from it, the training
    panel shows its loss curve again and every view its model."""
    c = controller
    c.reset()
    if run is None or run.released:
        return
    c.trainer = run.trainer
    c.step, c.elapsed_before, c.its, c.last_loss = run.step, run.elapsed, run.its, run.last_loss
    if len(run.loss_values):
        c.loss_steps, c.loss_values = [np.array(run.loss_steps, copy=True)], [np.array(run.loss_values, copy=True)]
    c.bins.latest = None if run.bin_losses is None else np.array(run.bin_losses, copy=True)
    c.progressed.emit(TrainProgress(c.step, np.zeros(0, np.int64), np.zeros(0), c.bins.means(), c.its, c.elapsed_before))
    c.state.set_model(run.model)
    if run.preview is not None:
        c.last_preview = run.preview
        c.previewReady.emit(run.preview)


__all__ = ["KEPT_RUNS", "RunKeeper", "TrainingRun", "put_run", "take_run"]
