"""Help > Getting started: docs/getting-started.md (training, SDE vs ODE, the time bar, exact scores, export; with
pictures) shown in a QTextBrowser, links to outside pages opening in the system browser."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from playground.app.resources import guide_path

MISSING = ("<h2>Getting started</h2><p>The guide (docs/getting-started.md) is not installed with this copy of the "
           "app. In short: pick or draw a target on the left, press <b>Play</b> (Space) to train, and watch the "
           "Sampling views carry noise back to the target; the time bar moves every view through t.</p>")


class GuideDialog(QDialog):
    """A non-modal window with the guide; `browser` holds the document."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Getting started — Diffusion Playground")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        path = guide_path()
        if path is None:
            self.browser.setHtml(MISSING)
        else:
            self.browser.setSource(QUrl.fromLocalFile(str(path)), QTextDocument.ResourceType.MarkdownResource)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser, 1)
        lay.addWidget(buttons)
        self.resize(760, 640)


__all__ = ["GuideDialog"]
