"""The window's side of training: settings changes are undoable commands, and those that invalidate a trained model
(like every target change and Train > Reset) keep it in the command, so Edit > Undo brings it back with its optimiser
state and loss curve (one rule: no trained model is ever lost by one click); the Play action follows the run, and the
end of a run is reported (a diverged or failed run in a message, a reached limit in the status bar)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QStyle

from playground.app.state import MODEL_KEYS, TRAINER_KEYS
from playground.app.window.settings_command import ResetCommand, SettingsCommand
from playground.app.workers.training_run import RunKeeper, TrainingRun, put_run, take_run

# settings whose change invalidates an image model (MODEL_KEYS' hidden / depth belong to the 2D MLP)
IMAGE_MODEL_KEYS: frozenset[str] = (MODEL_KEYS - {"hidden", "depth"}) | {"base_channels", "image_classes"}


def _show(v) -> str:
    """A setting's value as the reset question shows it."""
    if v is None:
        return "auto"
    return f"{v:g}" if isinstance(v, float) else str(v)


class TrainingControl(QObject):
    """Training glue for one window. Settings changes become `SettingsCommand`s on the window's undo stack; those that
    discard a trained model (and Train > Reset, and every target command of the Target panel) swap the controller's
    run with the one the command keeps (`swap_run`), so Edit > Undo brings the model back whole."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.controller = window.controller
        self.kept_runs = RunKeeper()  # the runs undo commands hold; the oldest beyond its limit are released

    # ---- settings ----------------------------------------------------------------------------------------------
    def model_keys(self) -> frozenset[str]:
        """The settings whose change discards the model in the current mode (2D: the target's sample count too,
        which re-draws the training set)."""
        return IMAGE_MODEL_KEYS if self.state.image_mode else MODEL_KEYS | {"target_samples"}

    def request_settings(self, changes: dict) -> bool:
        """Apply settings as one undoable command (see `SettingsCommand`); False when nothing changes."""
        s = self.state.settings
        after = {k: v for k, v in changes.items() if getattr(s, k) != v}
        if not after:
            self.window.settings_panel.refresh()
            return False
        before = {k: getattr(s, k) for k in after}
        labels = self.window.settings_panel.labels
        text = ", ".join(f"{labels.get(k, k)} → {_show(v)}" for k, v in sorted(after.items()))
        self.window.undo_stack.push(SettingsCommand(self, before, after, bool(set(after) & self.model_keys()),
                                                    f"Change {text}"))
        return True

    def apply_settings(self, changes: dict) -> None:
        """Apply `changes` to the state (what a SettingsCommand does; a run it discards has been taken out first)."""
        keys = set(changes)
        c = self.controller
        self.state.update_settings(**changes)
        if keys & (self.model_keys() | TRAINER_KEYS) and not c.has_progress and c.trainer is not None \
                and not c.running:
            c.trainer = None  # nothing trained yet: rebuild with the new settings at the next Play
        elif keys & TRAINER_KEYS and c.has_progress:
            self._apply_trainer_keys(keys & TRAINER_KEYS)

    def _apply_trainer_keys(self, keys: set) -> None:
        """lr and batch apply to the running trainer at once; seed and device when training is reset."""
        later = sorted(keys - {"lr", "batch"})
        if later:
            self.window.statusBar().showMessage(
                f"{', '.join(later)} will apply when training is reset (Train > Reset).", 8000
            )

    # ---- keeping trained models --------------------------------------------------------------------------------
    def swap_run(self, stored: TrainingRun | None, change) -> TrainingRun | None:
        """Take the trained run out of the controller, call `change()` (a new target, settings, image mode), put
        `stored` in (the run that belongs to the state after the change, kept by an undo command; None: untrained)
        and continue training if it was running. Returns the run taken (None when nothing was trained)."""
        c = self.controller
        was_running = c.running
        taken = take_run(c)
        try:
            change()
        finally:
            put_run(c, stored)
        if stored is not None:
            self.kept_runs.forget(stored)
        if taken is not None:
            self.kept_runs.keep(taken)
        if was_running:
            c.play()
        if stored is not None and stored.released:
            self.window.statusBar().showMessage(
                f"Training reset: {stored.describe()} of this step was let go to bound memory (only the "
                f"{self.kept_runs.limit} most recently replaced models are kept for undo).", 10000)
        elif taken is not None:
            self.window.statusBar().showMessage(
                f"Training reset: {taken.describe()} belongs to the previous settings or target — Edit > Undo "
                "brings it back.", 10000)
        return taken

    def reset_training(self) -> None:
        """Train > Reset: a fresh random network (undoable: the model comes back with Edit > Undo)."""
        if self.controller.has_progress or self.state.model is not None:
            self.window.undo_stack.push(ResetCommand(self))  # swap_run says how to get the model back
        else:
            self.controller.reset()
            self.window.statusBar().showMessage("Training reset: a fresh random network.", 4000)

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
