"""One undoable edit of the 2D target: a brush stroke, clear, each Gaussian edit (consecutive drag moves / wheel
ticks / weight spins merge into one step), choosing a preset or its noise, an import.

A command keeps the target before and after (plus the canvas diff or the Gaussian components), so undo puts back
exactly what was there — also when the previous target came from another mode. It acts on a `TargetHost` (the
Target panel), which the pages use too.
"""

from __future__ import annotations

from typing import Callable, Protocol

from PySide6.QtGui import QUndoCommand, QUndoStack

from playground.app.state import AppState
from playground.app.widgets.drawing import RasterDiff
from playground.data.targets.gmm_components import Component
from playground.data.targets.target import Target


class TargetHost(Protocol):
    """What the commands and the pages act on: the shared state and undo stack, the target, the message line, the
    Draw canvas and the Gaussian editor."""

    state: AppState
    undo_stack: QUndoStack

    def apply_target(self, target: Target) -> None:
        """Make `target` the target (leaving image mode first)."""

    def show_message(self, text: str, error: bool = False) -> None:
        """Say `text` in the panel's message line."""

    def report_error(self, text: str) -> None:
        """Say a problem: the message line, `errorOccurred` and (in the app) a message box."""

    def apply_canvas_diff(self, diff: RasterDiff, forward: bool) -> None:
        """Apply (forward) or revert a diff of the Draw canvas."""

    def show_components(self, components: list[Component]) -> None:
        """Show `components` in the Gaussian editor."""


class TargetCommand(QUndoCommand):
    """One undoable target edit: target before/after, plus the canvas diff and/or the Gaussian components.

    `build` (called at most once, on the first redo) makes the target after the edit from the pages' models; it
    returns None when there is nothing to make a target from (an empty canvas or no components): the current target
    is then kept and the panel says why (`empty_message`).
    """

    MERGE_ID = 0x7A46  # consecutive commands with the same (non-None) merge key merge

    def __init__(
        self,
        host: TargetHost,
        text: str,
        target_before: Target,
        *,
        target_after: Target | None = None,
        build: Callable[[], Target | None] | None = None,
        diff: RasterDiff | None = None,
        gmm_before: list[Component] | None = None,
        gmm_after: list[Component] | None = None,
        merge_key=None,
        empty_message: str = "",
    ):
        super().__init__(text)
        self.host = host
        self.target_before = target_before
        self.target_after = target_after
        self.build = build
        self.diff = diff
        self.gmm_before = gmm_before
        self.gmm_after = gmm_after
        self.merge_key = merge_key
        self.empty_message = empty_message

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TargetCommand) or other.merge_key is None or other.merge_key != self.merge_key:
            return False
        if self.diff is not None or other.diff is not None:
            return False
        self.gmm_after = other.gmm_after
        self.target_after = other.target_after
        self.build = other.build
        return True

    def redo(self) -> None:
        h = self.host
        if self.diff is not None:
            h.apply_canvas_diff(self.diff, True)
        if self.gmm_after is not None:
            h.show_components(self.gmm_after)
        if self.target_after is None and self.build is not None:
            self.target_after = self.build()
            self.build = None
        if self.target_after is None:
            h.show_message(self.empty_message, error=False)
            return
        h.apply_target(self.target_after)

    def undo(self) -> None:
        h = self.host
        if self.diff is not None:
            h.apply_canvas_diff(self.diff, False)
        if self.gmm_before is not None:
            h.show_components(self.gmm_before)
        h.apply_target(self.target_before)


__all__ = ["TargetCommand", "TargetHost"]
