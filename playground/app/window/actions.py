"""The window's commands as QActions (`window.act_new` ... `window.act_animate`): text, shortcut, tool tip, icon and
the slot each triggers. The menus (`menus.make_menus`) and the training panel's buttons show them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle

KEYS = QKeySequence.StandardKey


def make_actions(window) -> None:
    """Create the window's actions as `window.act_*` (the window's controller, undo stack and units exist)."""
    icon = window.style().standardIcon
    sp = QStyle.StandardPixmap

    def act(text, slot, shortcut=None, tip="", ico=None) -> QAction:
        a = QAction(text, window)
        if ico is not None:
            a.setIcon(icon(ico))
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    w = window
    w.act_new = act("&New", w.new_session, KEYS.New,
                    "Start over: the default target (two moons), the default settings and an untrained model.")
    w.act_open = act("&Open…", w.open_dialog, KEYS.Open,
                     "Open a workspace (.dpw: target, settings, model and training history) or a trained "
                     "model (.safetensors), or import a target file (an image, points or a GMM).")
    w.act_save = act("&Save", w.save_workspace, KEYS.Save,
                     "Save the whole session as a workspace (.dpw): target, settings, time, the trained "
                     "model with its optimiser state, and the loss history.")
    w.act_save_as = act("Save &as…", w.save_workspace_as, KEYS.SaveAs, "Save the workspace under a new name.")
    w.act_save_model = act("Save &model as…", w.model_files.save_as, None,
                           "Save only the trained model (.safetensors; with the optimiser state, so training "
                           "resumes), loadable by playground.load_model.")
    w.act_import = act("&Import target…", w.file_import.import_target_dialog, "Ctrl+I",
                       "Load a target: an image (PNG/JPG as a density), points (CSV/NPY) or a GMM (JSON).")
    w.act_export = act("&Export…", w.export_dialog, "Ctrl+E",
                       "Export samples and trajectories (CSV / NPY), a panel (PNG / SVG), an animation (GIF) "
                       "or the model (ONNX / torch.export).")
    w.act_quit = act("&Quit", w.close, KEYS.Quit, "Close the window.")

    w.act_undo = w.undo_stack.createUndoAction(w, "&Undo")
    w.act_undo.setShortcut(KEYS.Undo)
    w.act_redo = w.undo_stack.createRedoAction(w, "&Redo")
    w.act_redo.setShortcut(KEYS.Redo)

    w.act_play = act("&Play", w.controller.toggle, Qt.Key.Key_Space,
                     "Start or pause training (Space). Training runs in the background; the model in every "
                     "panel refreshes about once a second.", sp.SP_MediaPlay)
    w.act_play.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    w.act_step = act("&Step", w.controller.step_once, "Ctrl+.",
                     "Run one optimiser step: θ ← Adam(θ, ∇θ L) on one batch.", sp.SP_MediaSeekForward)
    w.act_reset = act("&Reset", w.training.reset_training, "Ctrl+R",
                      "Forget the model and start training from a fresh random network.", sp.SP_BrowserReload)
    w.act_equations = act("The &equations", w.show_equations, KEYS.HelpContents,
                          "The forward SDE, reverse SDE, PF-ODE and loss for the current settings.")
    w.act_about = act("&About", w.show_about, None, "About Diffusion Playground.")
    w.act_reset_layout = act("Reset &layout", w.reset_layout, None, "Put every panel back where it starts.")
    w.act_animate = act("&Animate t", lambda: w.time_bar.toggle_playing(), "P",
                        "Play the time bar: t sweeps [0, T] and every panel follows.")
    w.act_smooth = QAction("&Smooth animation (60 fps)", window, checkable=True, checked=True)
    tip = "Animate t at ~60 frames per second (off: ~30, half the window's CPU while it plays, for a slow or busy machine)."
    w.act_smooth.setToolTip(tip)
    w.act_smooth.setStatusTip(tip)
    w.act_smooth.toggled.connect(lambda on: w.time_bar.set_smooth(on))  # the time bar is made after the actions
