"""The app's undo stacks with a bounded history: `bounded_undo_stack(parent)` is a QUndoStack whose undo limit is
`UNDO_LIMIT` commands, so a long session's undo history (target edits, masks, and whole trained runs kept by the
model-undo commands) cannot grow memory without bound; the oldest command is dropped first (Qt's undoLimit)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoStack

UNDO_LIMIT = 200
"""Undo steps kept per stack: far more than a user walks back, few enough that the commands' memory stays bounded."""


def bounded_undo_stack(parent: QObject | None = None, limit: int = UNDO_LIMIT) -> QUndoStack:
    """A QUndoStack that keeps at most `limit` commands (the limit must be set while the stack is empty)."""
    stack = QUndoStack(parent)
    stack.setUndoLimit(limit)
    return stack
