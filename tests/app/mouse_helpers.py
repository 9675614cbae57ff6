"""Synthesized mouse input on pyqtgraph plots, in data coordinates (pytest-qt tests of editing views)."""

import time

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def _send(widget, kind, pos: QPoint, button, buttons):
    ev = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def _viewport_pos(plot, viewbox, x, y) -> QPoint:
    return plot.mapFromScene(viewbox.mapViewToScene(QPointF(x, y)))


def mouse_drag(plot, viewbox, points, qtbot=None, wait_ms=0):
    """Press at points[0], move through the rest with the left button held, release at the last one."""
    vp = plot.viewport()
    L, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    _send(vp, QMouseEvent.Type.MouseButtonPress, _viewport_pos(plot, viewbox, *points[0]), L, L)
    for x, y in points[1:]:
        _send(vp, QMouseEvent.Type.MouseMove, _viewport_pos(plot, viewbox, x, y), none, L)
        if qtbot is not None and wait_ms:
            qtbot.wait(wait_ms)
        else:
            time.sleep(0.012)  # pyqtgraph drops mouse moves closer than 10 ms apart (mouseRateLimit)
    _send(vp, QMouseEvent.Type.MouseButtonRelease, _viewport_pos(plot, viewbox, *points[-1]), L, none)


def mouse_click(plot, viewbox, x, y):
    vp = plot.viewport()
    L, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    p = _viewport_pos(plot, viewbox, x, y)
    _send(vp, QMouseEvent.Type.MouseButtonPress, p, L, L)
    _send(vp, QMouseEvent.Type.MouseButtonRelease, p, L, none)
