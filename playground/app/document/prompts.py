"""The document's questions to the user: save unsaved changes? recover a crashed session's autosave? Without a
display (the offscreen / minimal Qt platforms) nobody can answer a modal question, so they do not block: closing
discards, recovery is left for a later start."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

HEADLESS_PLATFORMS = ("offscreen", "minimal")


def headless() -> bool:
    """True on Qt platforms without a user to answer a dialog (tests, CI)."""
    return QGuiApplication.platformName() in HEADLESS_PLATFORMS


def ask_save_changes(parent: QWidget, name: str) -> str:
    """'save' | 'discard' | 'cancel' for the unsaved changes to the document `name`."""
    if headless():
        return "discard"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"Save the changes to {name}?")
    box.setInformativeText("Your changes (target, settings, trained model) are lost if you don't save them.")
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                           | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    clicked = box.exec()
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(clicked), "cancel")


def ask_recover_autosave(parent: QWidget, found) -> bool | None:
    """True: recover the autosave `found` (a RecoverableAutosave), False: discard it, None: not now (keep it)."""
    if headless():
        return None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(found.saved_at))
    what = f"“{Path(found.document).name}”" if found.document else "an unsaved workspace"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved work?")
    box.setText(f"Diffusion Playground did not close properly. Recover the autosave of {what} from {when}?")
    box.setInformativeText("Recover opens it as an unsaved document; Discard deletes the autosave.")
    rec = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Discard)
    later = box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if box.clickedButton() is later:
        return None
    return box.clickedButton() is rec
