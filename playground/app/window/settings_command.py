"""Undoable changes of the window's training state: a settings change (`SettingsCommand`) and Train > Reset
(`ResetCommand`). A change that discards the trained model keeps it: redo and undo each swap the controller's run
with the one the command holds (`RunSwapper.swap_run`, which `TrainingControl` implements), so the model, its
optimiser state and its loss curve come back with Edit > Undo. Consecutive changes of the same settings that keep
the model merge into one step (a spin box stepped by its arrows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from playground.app.workers.training_run import TrainingRun


class RunSwapper(Protocol):
    """What the commands need of the window's training control (`TrainingControl`)."""

    def apply_settings(self, changes: dict) -> None: ...

    def swap_run(self, stored: TrainingRun | None, change: Callable[[], None]) -> TrainingRun | None: ...


class SettingsCommand(QUndoCommand):
    """Settings `before` -> `after` (name -> value); `discards`: the change invalidates a trained model."""

    MERGE_ID = 0x5E77

    def __init__(self, control: RunSwapper, before: dict, after: dict, discards: bool, text: str):
        super().__init__(text)
        self.control = control
        self.before, self.after = dict(before), dict(after)
        self.discards = discards
        self.other_run: TrainingRun | None = None  # the run of the state not shown now (taken by the last swap)

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)

    def _apply(self, values: dict) -> None:
        if self.discards:
            self.other_run = self.control.swap_run(self.other_run, lambda: self.control.apply_settings(values))
        else:
            self.control.apply_settings(values)

    def id(self) -> int:
        return -1 if self.discards else self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not isinstance(other, SettingsCommand) or other.discards or set(other.after) != set(self.after):
            return False
        self.after = dict(other.after)
        self.setText(other.text())
        return True


class ResetCommand(QUndoCommand):
    """Train > Reset: a fresh random network; undo brings the trained one back (and redo discards it again)."""

    def __init__(self, control: RunSwapper):
        super().__init__("Reset training")
        self.control = control
        self.other_run: TrainingRun | None = None

    def redo(self) -> None:
        self.other_run = self.control.swap_run(self.other_run, lambda: None)

    def undo(self) -> None:
        self.other_run = self.control.swap_run(self.other_run, lambda: None)


__all__ = ["ResetCommand", "SettingsCommand"]
