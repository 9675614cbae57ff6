"""One undoable edit of what the app trains on: a brush stroke, clear, each Gaussian edit (consecutive drag moves /
wheel ticks / weight spins merge into one step), choosing a preset or its noise, an import (`TargetCommand`), and
loading an image dataset (`ImagesCommand`).

A command keeps the target before and after (plus the canvas diff or the Gaussian components, and the image dataset a
2D target replaced), so undo puts back exactly what was there — also when the previous target came from another
mode. A change of target discards the model trained on the old one: the command keeps that model (the host's
`swap_run` takes it out and puts the other side's back), so undo restores it with its optimiser state and loss
curve, and redo the model trained on the new target since. It acts on a `TargetHost` (the Target panel), which the
pages use too.
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

    def request_settings(self, changes: dict) -> None:
        """Ask for settings changes (the main window applies them, undoably)."""

    def swap_run(self, stored, change: Callable[[], None]):
        """Take the trained run out, call `change()`, put `stored` in; returns the run taken (or None)."""


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
        state = host.state
        self.images_before = (state.images, state.image_spec) if state.images is not None else None
        self.changed = False  # the redo changed the target (an empty drawing keeps it)
        self.other_run = None  # the trained run of the side not shown now (the model on the other target)

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, TargetCommand) or other.merge_key is None or other.merge_key != self.merge_key:
            return False
        if self.diff is not None or other.diff is not None or other.other_run is not None:
            return False  # a stroke is one step; a model trained between two edits must stay undoable
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
        self.changed = True
        self.other_run = h.swap_run(self.other_run, lambda: h.apply_target(self.target_after))

    def undo(self) -> None:
        h = self.host
        if self.diff is not None:
            h.apply_canvas_diff(self.diff, False)
        if self.gmm_before is not None:
            h.show_components(self.gmm_before)
        if self.changed:
            self.other_run = h.swap_run(self.other_run, self._restore_before)

    def _restore_before(self) -> None:
        self.host.apply_target(self.target_before)
        if self.images_before is not None:
            self.host.state.set_images(*self.images_before)


class ImagesCommand(QUndoCommand):
    """Entering image mode, or another image dataset: `after` and `before` are (dataset, spec) or None (2D)."""

    def __init__(self, host: TargetHost, text: str, before: tuple | None, after: tuple):
        super().__init__(text)
        self.host = host
        self.before, self.after = before, after
        self.other_run = None

    def redo(self) -> None:
        self.other_run = self.host.swap_run(self.other_run, lambda: self._set(self.after))

    def undo(self) -> None:
        self.other_run = self.host.swap_run(self.other_run, lambda: self._set(self.before))

    def _set(self, images: tuple | None) -> None:
        self.host.state.set_images(*(images if images is not None else (None,)))


__all__ = ["ImagesCommand", "TargetCommand", "TargetHost"]
