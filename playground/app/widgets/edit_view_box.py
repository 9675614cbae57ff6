"""A pyqtgraph view box for editing in data coordinates: fixed (no pan, zoom or menu; square pixels), its left-button
click and drag handed to `clicked`, `drag_started` and `dragged` as data points (the Draw canvas, the Gaussian
editor); other buttons pass on."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt


class EditViewBox(pg.ViewBox):
    """Subclasses implement the three hooks; see the module docstring."""

    def __init__(self):
        super().__init__(enableMenu=False, lockAspect=True)
        self.setMouseEnabled(x=False, y=False)

    def clicked(self, x: float, y: float) -> None:
        """A left click at data (x, y)."""

    def drag_started(self, x: float, y: float) -> None:
        """A left-button drag began at data (x, y) (the press point); `dragged` follows at once."""

    def dragged(self, x: float, y: float, finished: bool) -> None:
        """The drag is at data (x, y); finished on the release."""

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self.clicked(p.x(), p.y())

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            p0 = self.mapSceneToView(ev.buttonDownScenePos())
            self.drag_started(p0.x(), p0.y())
        self.dragged(p.x(), p.y(), ev.isFinish())


__all__ = ["EditViewBox"]
