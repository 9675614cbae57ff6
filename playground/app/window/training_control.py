"""The window's side of training: settings changes that invalidate a trained model ask first and reset it (training
restarts if it was running), a new target resets it, the Play action follows the run, and the end of a run is
reported (a diverged or failed run in a message, a reached limit in the status bar)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QStyle

from playground.app.state import MODEL_KEYS, TRAINER_KEYS

# settings whose change invalidates an image model (MODEL_KEYS' hidden / depth belong to the 2D MLP)
IMAGE_MODEL_KEYS: frozenset[str] = (MODEL_KEYS - {"hidden", "depth"}) | {"base_channels", "image_classes"}


def _show(v) -> str:
    """A setting's value as the reset question shows it."""
    if v is None:
        return "auto"
    return f"{v:g}" if isinstance(v, float) else str(v)


class TrainingControl(QObject):
    """Training glue for one window; the question before a reset is `window.confirm_reset(changes) -> bool`
    (`ask_reset` by default; tests replace it)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.controller = window.controller

    # ---- settings ----------------------------------------------------------------------------------------------
    def request_settings(self, changes: dict) -> bool:
        """Apply settings from the settings panel: at once, or after asking when they invalidate a trained model.
        Returns True when applied."""
        keys = set(changes)
        c = self.controller
        model_keys = IMAGE_MODEL_KEYS if self.state.image_mode else MODEL_KEYS
        if keys & model_keys and c.has_progress:
            if not self.window.confirm_reset(changes):
                self.window.settings_panel.refresh()
                return False
            was_running = c.running
            c.reset()
            self.state.update_settings(**changes)
            if was_running:
                c.play()
            return True
        self.state.update_settings(**changes)
        if keys & (model_keys | TRAINER_KEYS) and not c.has_progress and c.trainer is not None and not c.running:
            c.trainer = None  # nothing trained yet: rebuild with the new settings at the next Play
        elif keys & TRAINER_KEYS and c.has_progress:
            self._apply_trainer_keys(keys & TRAINER_KEYS)
        return True

    def _apply_trainer_keys(self, keys: set) -> None:
        """lr and batch apply to the running trainer at once; seed and device when training is reset."""
        later = sorted(keys - {"lr", "batch"})
        if later:
            self.window.statusBar().showMessage(
                f"{', '.join(later)} will apply when training is reset (Train > Reset).", 8000
            )

    def ask_reset(self, changes: dict) -> bool:
        """Ask whether to apply `changes` (key -> new value) and reset training; True: apply."""
        labels = self.window.settings_panel.labels
        what = ", ".join(f"{labels.get(k, k)} → {_show(v)}" for k, v in sorted(changes.items()))
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Reset training?")
        box.setText(f"Changing {what} makes the trained model invalid (step {self.controller.step:,}).")
        box.setInformativeText(
            "Apply the change and reset training (the current model is discarded; training restarts if it was "
            "running), or cancel and keep the model and the old setting."
        )
        apply = box.addButton("Apply and reset", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is apply

    def confirm_dataset(self, name: str) -> bool:
        """Before a loaded image dataset replaces a trained model: ask (True when nothing is trained)."""
        if not self.controller.has_progress:
            return True
        return bool(self.window.confirm_reset({"dataset": name}))

    def on_settings_changed(self, _names: set) -> None:
        """Steps, seconds, lr and batch follow the settings live."""
        self.controller.sync_limits()
        self.window.status_info.refresh()

    def on_target_changed(self) -> None:
        """A new target: the model was trained on the old one. Reset, and keep training if it was running. (In image
        mode the 2D target is only kept for later: the image model does not depend on it.)"""
        if self.state.image_mode:
            return
        c = self.controller
        was_running = c.running
        if c.has_progress or c.trainer is not None or self.state.model is not None:
            c.reset()
            if was_running:
                c.play()

    def reset_training(self) -> None:
        """Train > Reset: a fresh random network."""
        self.controller.reset()
        self.window.statusBar().showMessage("Training reset: a fresh random network.", 4000)

    # ---- the run -----------------------------------------------------------------------------------------------
    def on_running(self, running: bool) -> None:
        """A run started or stopped: Play / Pause, the status bar, and (2D) the sampling panel's final resample."""
        w = self.window
        ico = QStyle.StandardPixmap.SP_MediaPause if running else QStyle.StandardPixmap.SP_MediaPlay
        w.act_play.setIcon(w.style().standardIcon(ico))
        w.act_play.setText("&Pause" if running else "&Play")
        w.status_info.refresh()
        if not running and not w.mode_switch.images_shown():
            w.panels["sampling"].training_stopped()

    def on_ended(self, reason: str, message: str) -> None:
        """A run stopped: a diverged or failed run is a message, a reached limit a status-bar note."""
        w = self.window
        w.status_info.refresh()
        if reason == "diverged":
            w.show_message(
                "Training diverged",
                f"{message}\n\nTraining stopped; the last good model is kept. Lower the learning rate or change the "
                "weighting, then press Play (or Reset to start over).",
                QMessageBox.Icon.Warning,
            )
        elif reason == "error":
            w.show_message("Training failed", message, QMessageBox.Icon.Critical)
        elif message:
            w.statusBar().showMessage(message, 8000)
