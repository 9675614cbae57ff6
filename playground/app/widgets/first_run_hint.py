"""FirstRunHint: the three first steps, in a slim bar above the docks until the user dismisses it.

    New here?  1 Pick or draw a target  2 Press Play (Space)  3 Watch the Sampling views   [Getting started] [×]
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

STEPS = ("<b>New here?</b>&nbsp; <b>1</b> Pick or draw a target (left) &nbsp; <b>2</b> Press <b>Play</b> (Space) "
         "to train &nbsp; <b>3</b> Watch the Sampling views carry noise to the target")


class FirstRunHint(QWidget):
    """The steps, a Getting started button (`guideRequested`) and a close button (`dismissed`)."""

    guideRequested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel(STEPS)
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.label.setToolTip("The first steps. Help > Getting started explains every panel; Help > First steps "
                              "shows this bar again.")
        self.guide_btn = QPushButton("Getting started")
        self.guide_btn.setToolTip("Open the illustrated guide (Help > Getting started).")
        self.guide_btn.clicked.connect(self.guideRequested)
        self.close_btn = QToolButton()
        self.close_btn.setText("✕")
        self.close_btn.setAutoRaise(True)
        self.close_btn.setToolTip("Hide these steps (Help > First steps shows them again).")
        self.close_btn.clicked.connect(self.dismissed)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 2, 4, 2)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.guide_btn)
        lay.addWidget(self.close_btn)


__all__ = ["FirstRunHint"]
