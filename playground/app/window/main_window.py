"""The main window: docks around one shared time bar, menus, status bar, theme and QSettings persistence.

Docks (rearrangeable, toggled in View): Target, Forward diffusion, Score field, Sampling (SDE | ODE), Training,
Settings, and for image mode (`state.images`, entered from Target > Images) Dataset, Forward diffusion (images),
Sampling (images): SDE | ODE and Inpainting; Compare (DSM | FM) and Sampler race start closed (View opens them). The time bar (bottom
toolbar) drives `state.set_time`, which every time-dependent panel follows; training runs in `TrainingController`'s
worker.

MainWindow composes small units, one concept each, and keeps the public methods tests and scripts call:

    actions.make_actions / menus.make_menus    the QActions (`act_*`) and the menu bar
    panel_set.make_panels                      the panels (`panels`), the sampling slider linked to the time bar
    docks.DockLayout                           the docks (`docks`, `image_docks`), the default layout, the last dock
    mode_switch.ModeSwitch                     2D / image mode: which docks show, the training settings swap
    training_control.TrainingControl           settings that invalidate the model, Play / Pause, end-of-run messages
    status_bar.TrainingStatus                  the status bar's training read-out (`status_labels`, `progress`)
    theme.WindowTheme                          View > Theme
    file_import.FileImport, exports.WindowExport   File > Import target, drag and drop; File > Export
    persistence                                the QSettings: window layout, theme, settings, time
    document: WorkspaceController (`workspace`: the .dpw document, unsaved changes, recent files, autosave, crash
    recovery) and ModelFiles (`model_files`: File > Open / Save model).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QToolBar, QWidget

from playground import __version__
from playground.app.dialogs.equations import EquationsDialog
from playground.app.document.model_files import ModelFiles
from playground.app.document.workspace_controller import AUTOSAVE_INTERVAL_MS, OPEN_FILTER, WorkspaceController
from playground.app.state import AppState, Settings
from playground.app.widgets.input_guard import InputGuard
from playground.app.widgets.time_bar import TimeBar
from playground.app.widgets.undo_stack import bounded_undo_stack
from playground.app.window import persistence
from playground.app.window.actions import make_actions
from playground.app.window.docks import DockLayout
from playground.app.window.exports import WindowExport
from playground.app.window.file_import import FileImport
from playground.app.window.help_control import HelpControl
from playground.app.window.menus import make_menus
from playground.app.window.mode_switch import ModeSwitch
from playground.app.window.panel_set import link_race, link_sampling_time, make_panels
from playground.app.window.status_bar import TrainingStatus
from playground.app.window.theme import WindowTheme
from playground.app.window.training_control import TrainingControl
from playground.app.workers.training_controller import TrainingController

DEFAULT_TARGET = "moons"
DEFAULT_SIZE = (1500, 950)
NEW_VIEW = {"sampling": {"seed": 0, "use_exact": False, "show_paths": True, "follow": True}}  # File > New's views


def initial_size() -> tuple[int, int]:
    """DEFAULT_SIZE, or the screen's available area when that is smaller (a laptop gets the whole screen)."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_SIZE
    avail = screen.availableGeometry()
    return min(DEFAULT_SIZE[0], avail.width()), min(DEFAULT_SIZE[1], avail.height())


def default_target():
    """The target a new session starts with (two moons)."""
    from playground.data.targets.presets import make_preset

    return make_preset(DEFAULT_TARGET)


class MainWindow(QMainWindow):
    """The Diffusion Playground window. `store`: the QSettings to restore from and save to (tests pass their own).
    autosave_dir: where unsaved work is autosaved (default: `default_autosave_dir(store)`); an autosave left by a
    crashed session there is offered for recovery once the window is up."""

    def __init__(
        self,
        state: AppState | None = None,
        store: QSettings | None = None,
        restore: bool = True,
        parent: QWidget | None = None,
        autosave_dir=None,
        autosave_interval_ms: int = AUTOSAVE_INTERVAL_MS,
    ):
        super().__init__(parent)
        self.store = store if store is not None else persistence.default_store()
        if state is None:
            state = AppState(default_target(), persistence.load_settings(self.store) if restore else Settings())
        self.state = state
        self.undo_stack = bounded_undo_stack(self)
        self.controller = TrainingController(state, parent=self)
        self.messages: list[tuple[str, str]] = []  # (title, text) of every message shown; tests read it
        self.training = TrainingControl(self)
        self.model_files = ModelFiles(self)
        self.file_import = FileImport(self)
        self.exporter = WindowExport(self)
        self.closing = False
        self._equations: EquationsDialog | None = None
        self._shown_once = False
        self._close_accepted = False

        self.setWindowTitle("Untitled[*] — Diffusion Playground")
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        make_actions(self)
        self._make_panels()
        self.dock_layout = DockLayout(self, self.panels)
        self.docks, self.image_docks = self.dock_layout.docks, self.dock_layout.image_docks
        self.mode_switch = ModeSwitch(self, self.dock_layout)
        self._make_time_bar()
        self.theme_control = WindowTheme(self)
        self.help = HelpControl(self)
        make_menus(self)
        self.status_info = TrainingStatus(self.statusBar(), self.controller, state)
        self.status_labels, self.progress = self.status_info.labels, self.status_info.progress

        self.controller.progressed.connect(self.status_info.refresh)
        self.controller.runningChanged.connect(self.training.on_running)
        self.controller.ended.connect(self.training.on_ended)
        self.controller.resetDone.connect(self.status_info.refresh)
        state.targetChanged.connect(self.training.on_target_changed)
        state.settingsChanged.connect(self.training.on_settings_changed)
        state.imagesChanged.connect(self.mode_switch.on_images_changed)
        state.modelChanged.connect(self.mode_switch.sync)
        QApplication.instance().focusChanged.connect(self.dock_layout.on_focus)
        self.input_guard = InputGuard(self)  # the wheel over unfocused boxes, refused typed values
        self.input_guard.rejected.connect(lambda text: self.statusBar().showMessage(text, 8000))
        QApplication.instance().installEventFilter(self.input_guard)
        try:
            QGuiApplication.styleHints().colorSchemeChanged.connect(self.theme_control.on_scheme_changed)
        except AttributeError:
            pass

        self.setAcceptDrops(True)
        self.resize(*initial_size())
        self.dock_layout.layout_default()
        self.mode_switch.size_docks()
        # lay the docks out now (and again after the restore below): before its first show, a window would otherwise
        # keep a hidden tab's unlaid-out width (the Target canvas behind the score field) as its minimum and refuse
        # a smaller resize or restored geometry
        self.layout().activate()
        self._restored_layout = persistence.restore_ui(self) if restore else False
        self.help.sync()
        self.mode_switch.sync(force=True)
        self.layout().activate()
        self.theme_control.apply()
        self.status_info.refresh()
        self.workspace = WorkspaceController(self, self.store, autosave_dir, autosave_interval_ms)
        self.workspace.dirtyChanged.connect(self.setWindowModified)
        self.workspace.pathChanged.connect(self._update_title)
        self.workspace.recentChanged.connect(lambda: self.workspace.fill_recent_menu(self.recent_menu))
        self.workspace.fill_recent_menu(self.recent_menu)
        self._update_title()
        if self.workspace.recoverable is not None:
            QTimer.singleShot(0, self._offer_recovery)

    def _offer_recovery(self) -> None:
        """Once the window is up: offer the autosave a crashed session left (not while closing)."""
        if not self.closing and self.workspace.recoverable is not None:
            self.workspace.offer_recovery()

    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self.workspace.display_name()}[*] — Diffusion Playground")
        self.setWindowModified(self.workspace.dirty)

    # ---- construction ----------------------------------------------------------------------------------------
    def _make_panels(self) -> None:
        training_actions = {"play": self.act_play, "step": self.act_step, "reset": self.act_reset}
        self.panels = make_panels(self.state, self.undo_stack, self.controller, training_actions)
        self.settings_panel = self.panels["settings"]
        self.settings_panel.changeRequested.connect(self.request_settings)
        target = self.panels["target"]
        target.errorOccurred.connect(self._on_target_error)
        target.changeRequested.connect(self.request_settings)
        target.swap_run = self.training.swap_run
        target.import_page.start_dir = self.file_import.start_dir
        target.import_page.imported.connect(self.file_import.remember)
        self.panels["sampling"].changeRequested.connect(self.request_settings)
        self.panels["classes"].changeRequested.connect(self.request_settings)
        link_sampling_time(self.state, self.panels["sampling"])
        link_race(self.panels["race"], self.panels["sampling"], self.request_settings,
                  lambda: self.docks["sampling"].raise_())

    def _on_target_error(self, text: str) -> None:
        """The target panel shows its own message box; keep a record and say it in the status bar too."""
        self.messages.append(("Target", text))
        self.statusBar().showMessage(text, 8000)

    def _make_time_bar(self) -> None:
        self.time_bar = TimeBar(self.state)
        tb = QToolBar("Time", self)
        tb.setObjectName("toolbar_time")
        tb.addWidget(self.time_bar)
        tb.toggleViewAction().setToolTip("Show or hide the time bar.")
        self.time_toolbar = tb
        self.time_bar.playingChanged.connect(self.panels["score"].set_animating)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, tb)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self._restored_layout:
                QTimer.singleShot(0, self._default_layout)  # the default layout for the size the window got

    # ---- docks, theme, look ----------------------------------------------------------------------------------
    def all_docks(self) -> dict:
        """Every dock by key: the 2D and shared ones, then the image-mode ones."""
        return self.dock_layout.all_docks()

    @property
    def last_dock(self) -> str:
        """The key of the dock used last (File > Export's default panel)."""
        return self.dock_layout.last

    @last_dock.setter
    def last_dock(self, key: str) -> None:
        self.dock_layout.last = key

    def reset_layout(self) -> None:
        """View > Reset layout: every dock back in its default place for the window's size (the compact layout on
        a laptop screen), each mode's docks open (not the optional ones)."""
        if self.closing:
            return
        self.dock_layout.close_optional()
        self._default_layout()

    def _default_layout(self) -> None:
        """The default layout for the window's size; optional docks the user opened stay open."""
        if self.closing:
            return
        still_open = {k for k, d in self.dock_layout.optional_docks.items() if not d.isHidden()}
        self.dock_layout.layout_default()
        self.mode_switch.reset_open_docks()
        self.mode_switch.open_docks[False] |= still_open
        for key in still_open:  # back in front of its tab partner in the rebuilt layout
            self.removeDockWidget(self.dock_layout.optional_docks[key])
            self.dock_layout.open_optional(key)
        for d in self.docks.values():
            d.show()
        self.mode_switch.sync(force=True)
        self.time_toolbar.show()
        self.mode_switch.size_docks()
        QTimer.singleShot(0, self.mode_switch.size_docks)  # again once the rebuilt layout has settled

    @property
    def theme(self) -> str:
        return self.theme_control.name

    @property
    def theme_actions(self) -> dict:
        return self.theme_control.actions

    def set_theme(self, name: str) -> None:
        self.theme_control.set(name)

    def is_dark(self) -> bool:
        return self.theme_control.is_dark()

    def save_ui(self) -> None:
        persistence.save_ui(self)

    def show_equations(self) -> EquationsDialog:
        if self._equations is None:
            self._equations = EquationsDialog(self.state, self)
        self._equations.refresh()
        self._equations.show()
        self._equations.raise_()
        return self._equations

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About Diffusion Playground",
            f"<h3>Diffusion Playground {__version__}</h3>"
            "<p>Score-based generative modelling through SDEs (Song et al., ICLR 2021), live: pick or draw a "
            "density, train a score network s<sub>θ</sub>(x, t) ≈ ∇log p<sub>t</sub>(x), watch the forward "
            "diffusion, the score field, and the reverse SDE and probability-flow ODE carry noise back to data.</p>"
            "<p>Space: play / pause training · P: animate t · F1: the equations.</p>",
        )

    def show_message(self, title: str, text: str, icon=QMessageBox.Icon.Information) -> QMessageBox:
        """A window-modal message that does not block the caller (tests read `self.messages`)."""
        self.messages.append((title, text))
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if not self.closing:
            box.open()
        return box

    # ---- training ----------------------------------------------------------------------------------------------
    def request_settings(self, changes: dict) -> bool:
        """Apply settings: at once, or after asking when they invalidate a trained model (True when applied)."""
        return self.training.request_settings(changes)

    # ---- files -------------------------------------------------------------------------------------------------
    def new_session(self) -> bool:
        """File > New (asks to save unsaved changes first); False when the user cancelled."""
        if not self.confirm_discard("new"):
            return False
        self.time_bar.set_playing(False)
        self.controller.reset()
        self.model_path = None
        self.undo_stack.clear()
        if self.state.image_mode:
            self.state.set_images(None)
        defaults = Settings().to_dict()
        changes = {k: v for k, v in defaults.items() if getattr(self.state.settings, k) != v}
        if changes:
            self.state.update_settings(**changes)
        self.state.set_target(default_target())
        self.workspace.apply_view(NEW_VIEW)
        self.workspace.new_document()
        self.statusBar().showMessage("New session: two moons, default settings, untrained.", 4000)
        return True

    def confirm_discard(self, reason: str = "close") -> bool:
        """True when unsaved changes may go (none, saved, or the user discards them)."""
        return self.workspace.maybe_save(reason)

    def open_dialog(self) -> None:
        if not self.confirm_discard("open"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open", self._last_dir(), OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open a workspace or a model file (a workspace replaces the whole state); bad files get a message."""
        return self.workspace.open_path(path)

    def open_workspace(self, path: str) -> bool:
        return self.workspace.open_workspace(path)

    def save_workspace(self) -> bool:
        return self.workspace.save()

    def save_workspace_as(self) -> bool:
        return self.workspace.save_as()

    def save_workspace_to(self, path: str) -> bool:
        return self.workspace.save_to(path)

    @property
    def model_path(self) -> str | None:
        """The model file opened or saved last."""
        return self.model_files.path

    @model_path.setter
    def model_path(self, path: str | None) -> None:
        self.model_files.path = path

    def open_model(self, path: str) -> bool:
        """Load a model file into every panel (see `ModelFiles.open`); a bad file gets a message."""
        return self.model_files.open(path)

    def save_model_to(self, path: str) -> bool:
        return self.model_files.save_to(path)

    def import_target(self, path: str) -> bool:
        """Load a target file through the target panel (a bad file keeps the current target and says why)."""
        return self.file_import.import_target(path)

    def export_dialog(self):
        """File > Export (`ExportDialog`)."""
        return self.exporter.open_dialog()

    def export(self, path: str, panel: str | None = None) -> bool:
        """Export samples (.csv / .npy) or a picture of `panel` (.png / .svg); see `WindowExport.export`."""
        return self.exporter.export(path, panel)

    def _last_dir(self) -> str:
        """The folder file dialogs start in (the last one a file was opened from or saved to)."""
        return str(self.store.value("files/last_dir", str(Path.home())))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.file_import.accept_drag(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.file_import.drop(event)

    # ---- closing -----------------------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop training and every panel's workers (all told at once, then waited for, `timeout` each);
        True when the trainer stopped in time."""
        import time

        from PySide6.QtCore import QThread

        from playground.app.workers.threads import keep_until_finished

        self.closing = True
        t0 = time.perf_counter()
        self.time_bar.set_playing(False)
        self.controller.request_stop()  # the trainer stops after its current step while the panels shut down
        for p in self.panels.values():
            if hasattr(p, "shutdown"):
                try:
                    p.shutdown()
                except Exception:  # noqa: BLE001 - closing must finish
                    pass
        ok = self.controller.shutdown(max(0.05, timeout - (time.perf_counter() - t0)))
        # a worker thread still finishing must not be destroyed with its panel: keep it alive on its own
        for th in self.findChildren(QThread):
            if th.isRunning():
                th.setParent(None)
                keep_until_finished(th)
        if self._equations is not None:
            self._equations.close()
        self.help.close()
        return ok

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self._close_accepted:
            if not self.confirm_discard("close"):
                event.ignore()
                return
            self._close_accepted = True
            self.workspace.close()  # a clean exit: this session's autosave is removed
        self.save_ui()
        self.shutdown()
        self.exporter.close()
        QApplication.instance().removeEventFilter(self.input_guard)
        for sig, slot in ((QApplication.instance().focusChanged, self.dock_layout.on_focus),
                          (getattr(QGuiApplication.styleHints(), "colorSchemeChanged", None),
                           self.theme_control.on_scheme_changed)):
            try:
                if sig is not None:
                    sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        super().closeEvent(event)
