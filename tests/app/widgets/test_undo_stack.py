"""The app's undo stacks are bounded: a long session keeps at most UNDO_LIMIT commands (the oldest are dropped), so
the undo history, which holds whole trained runs for model undo, cannot grow memory without bound."""

from __future__ import annotations

import gc
import weakref

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtGui import QUndoCommand  # noqa: E402

from playground.app.widgets.mask_canvas import MaskCanvas  # noqa: E402
from playground.app.widgets.undo_stack import UNDO_LIMIT, bounded_undo_stack  # noqa: E402
from tests.app import window_helpers  # noqa: E402


class Payload:
    """Stands for what a command keeps alive (a trained run, a mask)."""


class Keep(QUndoCommand):
    def __init__(self, value: list, n: int):
        super().__init__(f"set {n}")
        self.value, self.n, self.payload = value, n, Payload()

    def redo(self) -> None:
        self.value.append(self.n)

    def undo(self) -> None:
        self.value.pop()


def test_a_bounded_stack_drops_the_oldest_commands_and_what_they_hold(qtbot):
    stack = bounded_undo_stack(limit=10)
    value: list[int] = []
    first = Keep(value, 0)
    alive = weakref.ref(first.payload)
    stack.push(first)
    del first
    for n in range(1, 25):
        stack.push(Keep(value, n))
    assert stack.count() == 10 and value == list(range(25))
    gc.collect()
    assert alive() is None  # the dropped command's payload was freed
    while stack.canUndo():
        stack.undo()
    assert value == list(range(15))  # the last 10 steps were undone; older ones are kept as they are


def test_the_windows_and_the_mask_canvas_stacks_are_bounded(qtbot, tmp_path):
    w = window_helpers.make_window(qtbot, tmp_path)
    assert w.undo_stack.undoLimit() == UNDO_LIMIT == 200
    canvas = MaskCanvas()
    qtbot.addWidget(canvas)
    assert canvas.undo_stack.undoLimit() == UNDO_LIMIT
    value: list[int] = []
    for n in range(UNDO_LIMIT + 30):
        w.undo_stack.push(Keep(value, n))
    assert w.undo_stack.count() == UNDO_LIMIT
    w.close()
