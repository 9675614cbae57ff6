"""Help for a newcomer: the first-run hint of the three first steps (a slim bar above the docks until dismissed; the
choice is kept in the settings store, Help > First steps brings it back) and Help > Getting started (the guide,
`GuideDialog`)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar

from playground.app.dialogs.guide import GuideDialog
from playground.app.widgets.first_run_hint import FirstRunHint

HINT_DISMISSED = "hints/first_steps_dismissed"


class HelpControl(QObject):
    """`act_guide` (Help > Getting started, Shift+F1), `act_first_steps`, the hint bar (`bar`, `hint`)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.guide: GuideDialog | None = None
        self.hint = FirstRunHint()
        self.hint.guideRequested.connect(self.show_guide)
        self.hint.dismissed.connect(self.dismiss)
        self.bar = QToolBar("First steps", window)
        self.bar.setObjectName("toolbar_first_steps")
        self.bar.setMovable(False)
        self.bar.addWidget(self.hint)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)
        self.act_guide = QAction("&Getting started", window)
        self.act_guide.setShortcut(QKeySequence("Shift+F1"))
        self.act_guide.setToolTip("An illustrated guide: training, the SDE and ODE samplers, the time bar, exact "
                                  "scores, export.")
        self.act_guide.triggered.connect(self.show_guide)
        self.act_first_steps = QAction("&First steps", window)
        self.act_first_steps.setToolTip("Show the bar with the three first steps again.")
        self.act_first_steps.triggered.connect(self.show_first_steps)
        self.sync()

    @property
    def dismissed(self) -> bool:
        return str(self.window.store.value(HINT_DISMISSED, "false")).lower() == "true"

    def sync(self) -> None:
        """The bar shows unless the user dismissed it (after a restored layout, which may say otherwise)."""
        self.bar.setVisible(not self.dismissed)

    def dismiss(self) -> None:
        self.window.store.setValue(HINT_DISMISSED, True)
        self.bar.hide()

    def show_first_steps(self) -> None:
        self.window.store.setValue(HINT_DISMISSED, False)
        self.bar.show()

    def show_guide(self) -> GuideDialog:
        if self.guide is None:
            self.guide = GuideDialog(self.window)
        self.guide.show()
        self.guide.raise_()
        return self.guide

    def close(self) -> None:
        if self.guide is not None:
            self.guide.close()


__all__ = ["HINT_DISMISSED", "HelpControl"]
