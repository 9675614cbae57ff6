"""The Target panel's Gaussians tab: the GMM editor, whose every edit becomes an undoable command whose target is the
exact mixture (`components_target`); no components left keeps the current target."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from playground.app.panels.target.command import TargetCommand, TargetHost
from playground.app.panels.target.previews import EXTENT
from playground.app.widgets.gmm_editor import GmmEditor
from playground.data.targets.gmm_components import components_target


class GaussiansPage(QWidget):
    """The editor over a hint line and a Use mixture button."""

    def __init__(self, host: TargetHost, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.editor = GmmEditor(self, EXTENT)
        self.editor.apply_directly = False
        self.editor.plot.setAcceptDrops(False)
        self.editor.editRequested.connect(self._edit)
        self.use_button = QPushButton("Use mixture")
        self.use_button.setToolTip("Make these Gaussians the target again (after picking another target)")
        self.use_button.clicked.connect(self.use_mixture)
        row = QHBoxLayout()
        hint = QLabel("click: add · drag: move · wheel: width · Del: remove")
        hint.setToolTip(self.editor.plot.toolTip())
        row.addWidget(hint, 1)
        row.addWidget(self.use_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.editor, 1)
        lay.addLayout(row)

    def _edit(self, before: list, after: list, text: str, merge_key) -> None:
        comps = list(after)
        self.host.undo_stack.push(
            TargetCommand(
                self.host,
                text,
                self.host.state.target,
                build=(lambda: components_target(comps)) if comps else (lambda: None),
                gmm_before=list(before),
                gmm_after=comps,
                merge_key=merge_key,
                empty_message="No Gaussians left: click in the view to add one. The current target is kept.",
            )
        )

    def use_mixture(self) -> None:
        """Make the editor's components the target (undoable)."""
        comps = self.editor.components
        if not comps:
            self.host.show_message("No Gaussians yet: click in the view to add one.")
            return
        self.host.undo_stack.push(
            TargetCommand(self.host, "Use mixture", self.host.state.target, target_after=components_target(comps))
        )


__all__ = ["GaussiansPage"]
