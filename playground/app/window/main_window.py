"""The main window: docks around one shared time bar, menus, status bar, theme and QSettings persistence.

Docks (rearrangeable, toggled in View): Target, Forward diffusion, Score field, Sampling (SDE | ODE), Training,
Settings, and for image mode (`state.images`, entered from Target > Images) Dataset, Forward diffusion (images),
Sampling (images): SDE | ODE and Inpainting. Image mode hides the three 2D views and shows the image ones (each
mode remembers which of its docks were open); leaving it brings the 2D views back. Entering image mode applies the
image training defaults (IMAGE_TRAIN_DEFAULTS' lr and batch, a one-minute stop) and leaving it restores the 2D
values (`Settings.lr_2d`, ...). The time bar (bottom toolbar) drives `state.set_time`, which every time-dependent
panel follows; training runs in `TrainingController`'s worker.
The document (a .dpw workspace: current file, unsaved changes, recent files, autosave, crash recovery) is
`WorkspaceController` (`window.workspace`); File > Export opens `ExportDialog`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QStyle,
    QToolBar,
    QWidget,
)

from playground import __version__
from playground.app.dialogs.equations import EquationsDialog
from playground.app.document.workspace_controller import AUTOSAVE_INTERVAL_MS, WorkspaceController
from playground.app.panels.settings_panel import SettingsPanel
from playground.app.panels.training_panel import TrainingPanel
from playground.app.state import MODEL_KEYS, TRAINER_KEYS, AppState, Settings
from playground.app.widgets.time_bar import TimeBar
from playground.app.workers.training_worker import TrainingController

ORGANIZATION = "DiffusionPlayground"
APPLICATION = "Diffusion Playground"
DEFAULT_TARGET = "moons"
DEFAULT_SIZE = (1500, 950)
THEMES = ("system", "light", "dark")

# (key, dock title, object name)
DOCKS = (
    ("target", "Target", "dock_target"),
    ("forward", "Forward diffusion", "dock_forward"),
    ("score", "Score field", "dock_score"),
    ("sampling", "Sampling (SDE | ODE)", "dock_sampling"),
    ("training", "Training", "dock_training"),
    ("settings", "Settings", "dock_settings"),
)
# the image-mode docks, same shape (their panels show a message while there is no dataset or model)
IMAGE_DOCKS = (
    ("image_dataset", "Dataset", "dock_image_dataset"),
    ("image_forward", "Forward diffusion (images)", "dock_image_forward"),
    ("image_sampling", "Sampling (images): SDE | ODE", "dock_image_sampling"),
    ("inpaint", "Inpainting", "dock_inpaint"),
)
DOCKS_2D = ("forward", "score", "sampling")  # hidden in image mode
# settings whose change invalidates an image model (MODEL_KEYS' hidden / depth belong to the 2D MLP)
IMAGE_MODEL_KEYS: frozenset[str] = (MODEL_KEYS - {"hidden", "depth"}) | {"base_channels", "image_classes"}
IMAGE_STOP = {"steps": 100_000, "seconds": 60.0}  # image training stops after a minute (the steps are a backstop)


def default_store() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


def load_settings(store: QSettings) -> Settings:
    """The last settings saved in `store` (defaults where missing or unreadable)."""
    raw = store.value("settings/json")
    if not raw:
        return Settings()
    try:
        d = json.loads(str(raw))
        s = Settings.from_dict(d)
        s.to_dict()  # types are checked when used; a broken entry must not keep the app from starting
        return s
    except Exception:  # noqa: BLE001
        return Settings()


def default_target():
    from playground.data.targets.presets import make_preset

    return make_preset(DEFAULT_TARGET)


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 30, 34), QColor(45, 45, 50), QColor(225, 225, 230)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: window,
        QPalette.ColorRole.ToolTipBase: QColor(60, 60, 66),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 150),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 80, 80),
        QPalette.ColorRole.Link: QColor(110, 170, 255),
        QPalette.ColorRole.Highlight: QColor(60, 120, 210),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Light: QColor(70, 70, 76),
        QPalette.ColorRole.Midlight: QColor(58, 58, 64),
        QPalette.ColorRole.Mid: QColor(40, 40, 44),
        QPalette.ColorRole.Dark: QColor(22, 22, 25),
        QPalette.ColorRole.Shadow: QColor(0, 0, 0),
    }
    for role, c in roles.items():
        p.setColor(role, c)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 128))
    return p


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    try:
        return hints.colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5
        return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


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
        self.store = store if store is not None else default_store()
        if state is None:
            state = AppState(default_target(), load_settings(self.store) if restore else Settings())
        self.state = state
        self.undo_stack = QUndoStack(self)
        self.controller = TrainingController(state, parent=self)
        self.messages: list[tuple[str, str]] = []  # (title, text) of every message shown; tests read it
        self.confirm_reset = self._ask_reset  # replaced in tests
        self.model_path: str | None = None
        self._equations: EquationsDialog | None = None
        self._last_dock = "sampling"
        self._closing = False
        self._shown_once = False
        self._close_accepted = False
        self._export_dialog = None
        self._image_mode = state.image_mode  # the mode the training settings were last set up for
        self._images_shown = False  # the image docks (not the 2D views) are shown
        self._mode_docks: dict[bool, set[str]] = {False: set(DOCKS_2D), True: {k for k, _t, _n in IMAGE_DOCKS}}
        self._sized_images = False  # the image docks got their default proportions once
        self._tab_partners: dict[str, QDockWidget] = {}  # a mode dock taken out of its tab group -> a dock to rejoin
        self.theme = "system"

        self.setWindowTitle("Untitled[*] — Diffusion Playground")
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        self._make_actions()
        self._make_panels()
        self._make_docks()
        self._make_time_bar()
        self._make_menus()
        self._make_status_bar()

        self.controller.progressed.connect(self._on_progress)
        self.controller.runningChanged.connect(self._on_running)
        self.controller.ended.connect(self._on_ended)
        self.controller.resetDone.connect(self._update_status)
        state.targetChanged.connect(self._on_target_changed)
        state.settingsChanged.connect(self._on_settings_changed)
        state.imagesChanged.connect(self._on_images_changed)
        state.modelChanged.connect(self._sync_mode_docks)
        QApplication.instance().focusChanged.connect(self._on_focus)
        try:
            QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_scheme_changed)
        except AttributeError:
            pass

        self.setAcceptDrops(True)
        self.resize(*DEFAULT_SIZE)
        self._layout_default()
        self._default_state = self.saveState()
        self._restored_layout = False
        if restore:
            self.restore_ui()
        self._sync_mode_docks(force=True)
        self._apply_theme()
        self._update_status()
        self.workspace = WorkspaceController(self, self.store, autosave_dir, autosave_interval_ms)
        self.workspace.dirtyChanged.connect(self.setWindowModified)
        self.workspace.pathChanged.connect(self._update_title)
        self.workspace.recentChanged.connect(lambda: self.workspace.fill_recent_menu(self.recent_menu))
        self.workspace.fill_recent_menu(self.recent_menu)
        self._update_title()
        if self.workspace.recoverable is not None:
            QTimer.singleShot(0, self._offer_recovery)

    def _offer_recovery(self) -> None:
        if not self._closing and self.workspace.recoverable is not None:
            self.workspace.offer_recovery()

    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self.workspace.display_name()}[*] — Diffusion Playground")
        self.setWindowModified(self.workspace.dirty)

    # ---- construction ----------------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        st = self.style()
        icon = st.standardIcon
        sp = QStyle.StandardPixmap

        def act(text, slot, shortcut=None, tip="", ico=None) -> QAction:
            a = QAction(text, self)
            if ico is not None:
                a.setIcon(icon(ico))
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setToolTip(tip)
                a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.act_new = act("&New", self.new_session, QKeySequence.StandardKey.New,
                           "Start over: the default target (two moons) and an untrained model.")
        self.act_open = act("&Open…", self.open_dialog, QKeySequence.StandardKey.Open,
                            "Open a workspace (.dpw: target, settings, model and training history) or a trained "
                            "model (.safetensors).")
        self.act_save = act("&Save", self.save_workspace, QKeySequence.StandardKey.Save,
                            "Save the whole session as a workspace (.dpw): target, settings, time, the trained "
                            "model with its optimiser state, and the loss history.")
        self.act_save_as = act("Save &as…", self.save_workspace_as, QKeySequence.StandardKey.SaveAs,
                               "Save the workspace under a new name.")
        self.act_save_model = act("Save &model as…", self.save_model_as, None,
                                  "Save only the trained model (.safetensors; with the optimiser state, so training "
                                  "resumes), loadable by playground.load_model.")
        self.act_import = act("&Import target…", self.import_target_dialog, "Ctrl+I",
                              "Load a target: an image (PNG/JPG as a density), points (CSV/NPY) or a GMM (JSON).")
        self.act_export = act("&Export…", self.export_dialog, "Ctrl+E",
                              "Export samples and trajectories (CSV / NPY), a panel (PNG / SVG), an animation (GIF) "
                              "or the model (ONNX / torch.export).")
        self.act_quit = act("&Quit", self.close, QKeySequence.StandardKey.Quit, "Close the window.")

        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(QKeySequence.StandardKey.Redo)

        self.act_play = act("&Play", self.controller.toggle, Qt.Key.Key_Space,
                            "Start or pause training (Space). Training runs in the background; the model in every "
                            "panel refreshes about once a second.", sp.SP_MediaPlay)
        self.act_play.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.act_step = act("&Step", self.controller.step_once, "Ctrl+.",
                            "Run one optimiser step: θ ← Adam(θ, ∇θ L) on one batch.", sp.SP_MediaSeekForward)
        self.act_reset = act("&Reset", self.reset_training, "Ctrl+R",
                             "Forget the model and start training from a fresh random network.",
                             sp.SP_BrowserReload)
        self.act_equations = act("The &equations", self.show_equations, QKeySequence.StandardKey.HelpContents,
                                 "The forward SDE, reverse SDE, PF-ODE and loss for the current settings.")
        self.act_about = act("&About", self.show_about, None, "About Diffusion Playground.")
        self.act_reset_layout = act("Reset &layout", self.reset_layout, None,
                                    "Put every panel back where it starts.")
        self.act_animate = act("&Animate t", lambda: self.time_bar.toggle_playing(), "P",
                               "Play the time bar: t sweeps [0, T] and every panel follows.")

    def _make_panels(self) -> None:
        from playground.app.panels.forward_panel import ForwardPanel
        from playground.app.panels.image_dataset_panel import ImageDatasetPanel
        from playground.app.panels.image_forward_panel import ImageForwardPanel
        from playground.app.panels.image_sampling_panel import ImageSamplingPanel
        from playground.app.panels.inpaint_panel import InpaintPanel
        from playground.app.panels.sampling_panel import SamplingPanel
        from playground.app.panels.score_panel import ScoreFieldPanel
        from playground.app.panels.target_panel import TargetPanel

        s = self.state
        self.panels: dict[str, QWidget] = {
            "target": TargetPanel(s, self.undo_stack),
            "forward": ForwardPanel(s),
            "score": ScoreFieldPanel(s),
            "sampling": SamplingPanel(s),
            "training": TrainingPanel(
                s, self.controller, {"play": self.act_play, "step": self.act_step, "reset": self.act_reset}
            ),
            "image_dataset": ImageDatasetPanel(s),
            "image_forward": ImageForwardPanel(s),
            "image_sampling": ImageSamplingPanel(s),
            "inpaint": InpaintPanel(s),
        }
        self.settings_panel = SettingsPanel(s)
        self.settings_panel.changeRequested.connect(self.request_settings)
        self.panels["settings"] = self.settings_panel
        self.panels["target"].errorOccurred.connect(self._on_target_error)
        self.panels["target"].changeRequested.connect(self.request_settings)
        self.panels["target"].confirm_dataset = self._confirm_dataset
        self._link_sampling_time()

    def _on_target_error(self, text: str) -> None:
        """The target panel shows its own message box; keep a record and say it in the status bar too."""
        self.messages.append(("Target", text))
        self.statusBar().showMessage(text, 8000)

    def _link_sampling_time(self) -> None:
        """The sampling panel replays its stored frames with its own slider (left t = T, right t = 0); keep that
        slider and the shared time bar in step, both ways."""
        panel = self.panels["sampling"]
        slider = getattr(panel, "slider", None)
        if slider is None or not hasattr(panel, "playback_time"):
            return
        top = slider.maximum()
        syncing = [False]

        def from_state(t: float) -> None:
            v = int(round((1.0 - t) * top))
            if slider.value() != v:
                syncing[0] = True
                try:
                    slider.setValue(v)
                finally:
                    syncing[0] = False

        def to_state(v: int) -> None:
            if not syncing[0]:
                self.state.set_time(1.0 - v / top)

        self.state.timeChanged.connect(from_state)
        slider.valueChanged.connect(to_state)

    def _make_docks(self) -> None:
        self.docks: dict[str, QDockWidget] = {}  # the 2D and shared docks (DOCKS)
        self.image_docks: dict[str, QDockWidget] = {}  # the image-mode docks (IMAGE_DOCKS)
        for key, title, name in DOCKS + IMAGE_DOCKS:
            d = QDockWidget(title, self)
            d.setObjectName(name)
            d.setWidget(self.panels[key])
            d.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            d.toggleViewAction().setToolTip(f"Show or hide the {title} panel.")
            # an explicit minimum lets the window shrink (to 800 x 800 and below) whatever the panels' layouts ask
            self.panels[key].setMinimumSize(160, 120)
            (self.image_docks if (key, title, name) in IMAGE_DOCKS else self.docks)[key] = d

    def all_docks(self) -> dict[str, QDockWidget]:
        """Every dock by key: the 2D and shared ones, then the image-mode ones."""
        return {**self.docks, **self.image_docks}

    def _layout_default(self) -> None:
        """Left: Target over Settings. Right: Forward | Score | Training on top, Sampling (SDE | ODE) below. The image
        docks take those places in image mode: Dataset tabbed with Target, the image forward and sampling views
        beside the 2D ones, Inpainting beside the score field (`_sync_mode_docks` shows one mode's docks)."""
        d = self.all_docks()
        for dock in d.values():
            dock.setFloating(False)
            dock.show()
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["target"])
        self.splitDockWidget(d["target"], d["forward"], Qt.Orientation.Horizontal)
        self.splitDockWidget(d["forward"], d["sampling"], Qt.Orientation.Vertical)
        self.splitDockWidget(d["forward"], d["score"], Qt.Orientation.Horizontal)
        self.splitDockWidget(d["score"], d["training"], Qt.Orientation.Horizontal)
        self.splitDockWidget(d["target"], d["settings"], Qt.Orientation.Vertical)
        for place, key in (("forward", "image_forward"), ("score", "inpaint"), ("sampling", "image_sampling")):
            self.splitDockWidget(d[place], d[key], Qt.Orientation.Horizontal)
        self.tabifyDockWidget(d["target"], d["image_dataset"])
        self._size_docks()

    def images_shown(self) -> bool:
        """True when the window shows image docks: in image mode, or while an image model is shown without its
        dataset (File > Open model of a model whose dataset could not be loaded)."""
        model = self.state.model
        return self.state.image_mode or (model is not None and getattr(model, "image_shape", None) is not None)

    def _mode_dock_widgets(self, images: bool) -> dict[str, QDockWidget]:
        """The docks only one mode shows: the image docks, or the 2D views (DOCKS_2D)."""
        return dict(self.image_docks) if images else {k: self.docks[k] for k in DOCKS_2D}

    def open_mode_docks(self, images: bool) -> set[str]:
        """The keys of the mode's own docks that are open (or were, when the other mode is shown)."""
        if images != self._images_shown:
            return set(self._mode_docks[images])
        return {k for k, dock in self._mode_dock_widgets(images).items() if not dock.isHidden()}

    def _sync_mode_docks(self, *_args, force: bool = False) -> None:
        """Show the docks of the current mode (those of it the user had open) and hide the other mode's; force:
        apply it even when the mode did not change (start-up, Reset layout)."""
        images = self.images_shown()
        if images == self._images_shown and not force:
            return
        if images != self._images_shown:  # remember which of the leaving mode's docks were open
            self._mode_docks[self._images_shown] = self.open_mode_docks(self._images_shown)
        self._images_shown = images
        for key, dock in self._mode_dock_widgets(not images).items():
            self._hide_mode_dock(key, dock)
        for key, dock in self._mode_dock_widgets(images).items():
            if key in self._mode_docks[images]:
                self._show_mode_dock(key, dock)
            else:
                dock.hide()
        front = self.image_docks["image_dataset"] if images else self.docks["target"]
        if not front.isHidden():
            front.raise_()
        if images and not self._sized_images and not force:  # the image docks' first appearance: default sizes
            self._sized_images = True
            QTimer.singleShot(0, self._size_docks)

    def _hide_mode_dock(self, key: str, dock: QDockWidget) -> None:
        """Hide a dock of the other mode; one in a tab group leaves the layout (a hidden tabbed dock would keep its
        tab) and remembers a partner to rejoin."""
        partners = [p for p in self.tabifiedDockWidgets(dock) if not p.isHidden()]
        if partners:
            self._tab_partners[key] = partners[0]
            self.removeDockWidget(dock)
        dock.hide()

    def _show_mode_dock(self, key: str, dock: QDockWidget) -> None:
        """Show a dock of the mode entered, back in its tab group when it had left the layout."""
        if self.dockWidgetArea(dock) == Qt.DockWidgetArea.NoDockWidgetArea and not dock.isFloating():
            partner = self._tab_partners.get(key)
            if partner is not None and self.dockWidgetArea(partner) != Qt.DockWidgetArea.NoDockWidgetArea:
                self.tabifyDockWidget(partner, dock)
            else:
                self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.show()

    def _size_docks(self) -> None:
        """Proportions of the default layout for the current window size (of the docks the mode shows)."""
        d = self.all_docks()
        w, h = self.width(), self.height()
        left = max(260, int(w * 0.24))
        col = max(160, (w - left) // 3)
        forward, middle, sampling = ("image_forward", "inpaint", "image_sampling") if self._images_shown else \
            ("forward", "score", "sampling")
        # image mode: Inpainting (canvas, inputs, results and two rows of controls) gets the widest column
        shares = (0.85, 1.3, 0.85) if self._images_shown else (1.0, 1.0, 1.0)
        self.resizeDocks([d["target"], d[forward], d[middle], d["training"]], [left] + [int(col * f) for f in shares],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([d["target"], d["settings"]], [int(h * 0.45), int(h * 0.55)], Qt.Orientation.Vertical)
        self.resizeDocks([d[forward], d[sampling]], [int(h * 0.45), int(h * 0.55)], Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self._restored_layout:
                QTimer.singleShot(0, self._size_docks)

    def _make_time_bar(self) -> None:
        self.time_bar = TimeBar(self.state)
        tb = QToolBar("Time", self)
        tb.setObjectName("toolbar_time")
        tb.addWidget(self.time_bar)
        tb.toggleViewAction().setToolTip("Show or hide the time bar.")
        self.time_toolbar = tb
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, tb)

    def _make_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.act_new)
        m.addAction(self.act_open)
        self.recent_menu = QMenu("Open &recent", m)
        self.recent_menu.setToolTipsVisible(True)
        m.addMenu(self.recent_menu)
        for a in (None, self.act_save, self.act_save_as, self.act_save_model, None, self.act_import,
                  self.act_export, None, self.act_quit):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Edit")
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        m = mb.addMenu("&View")
        for key, _title, _name in DOCKS:
            m.addAction(self.docks[key].toggleViewAction())
        m.addSeparator()
        for key, _title, _name in IMAGE_DOCKS:
            m.addAction(self.image_docks[key].toggleViewAction())
        m.addSeparator()
        m.addAction(self.time_toolbar.toggleViewAction())
        m.addSeparator()
        m.addAction(self.act_animate)
        m.addSeparator()
        theme_menu = m.addMenu("&Theme")
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            a = QAction(name.capitalize(), self, checkable=True)
            a.setToolTip({"system": "Follow the system's light or dark scheme.", "light": "Light colours.",
                          "dark": "Dark colours."}[name])
            a.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            self.theme_group.addAction(a)
            theme_menu.addAction(a)
            self.theme_actions[name] = a
        self.theme_actions["system"].setChecked(True)
        m.addSeparator()
        m.addAction(self.act_reset_layout)
        m = mb.addMenu("&Train")
        m.addAction(self.act_play)
        m.addAction(self.act_step)
        m.addAction(self.act_reset)
        m = mb.addMenu("&Help")
        m.addAction(self.act_equations)
        m.addAction(self.act_about)
        for menu in mb.findChildren(type(m)):
            menu.setToolTipsVisible(True)

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        tips = {
            "device": "Where training runs (Settings > Device).",
            "step": "Optimiser steps done.",
            "loss": "The last training loss (see the Training panel for the curve).",
            "its": "Training speed: optimiser steps per second.",
            "eta": "Time left until the step or time limit (Settings > Stop after).",
        }
        for key in ("device", "step", "loss", "its", "eta"):
            lab = QLabel()
            lab.setToolTip(tips[key])
            lab.setMinimumWidth(70)
            sb.addPermanentWidget(lab)
            self.status_labels[key] = lab
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.progress.setToolTip("Progress to the step / time limit.")
        sb.addPermanentWidget(self.progress)

    # ---- status ------------------------------------------------------------------------------------------------
    def _update_status(self) -> None:
        c = self.controller
        s = self.state.settings
        lab = self.status_labels
        dev = getattr(c.trainer, "device", None)
        lab["device"].setText(f"device: {dev if dev is not None else s.device}")
        lab["step"].setText(f"step {c.step:,} / {s.steps:,}")
        lab["loss"].setText(f"loss {c.last_loss:.4g}" if np.isfinite(c.last_loss) else "loss –")
        lab["its"].setText(f"{c.its:,.0f} it/s" if c.its > 0 else "– it/s")
        eta = c.eta_seconds()
        lab["eta"].setText(f"ETA {_fmt_seconds(eta)}" if eta is not None and (c.running or c.step) else "ETA –")
        f = c.progress_fraction()
        self.progress.setValue(int(round(1000 * f)))
        self.progress.setFormat(f"{100 * f:.0f}%")

    def _on_progress(self, _p) -> None:
        self._update_status()

    def _on_running(self, running: bool) -> None:
        ico = QStyle.StandardPixmap.SP_MediaPause if running else QStyle.StandardPixmap.SP_MediaPlay
        self.act_play.setIcon(self.style().standardIcon(ico))
        self.act_play.setText("&Pause" if running else "&Play")
        self._update_status()
        if not running and not self.images_shown():
            self.panels["sampling"].training_stopped()

    def _on_ended(self, reason: str, message: str) -> None:
        self._update_status()
        if reason == "diverged":
            self.show_message(
                "Training diverged",
                f"{message}\n\nTraining stopped; the last good model is kept. Lower the learning rate or change the "
                "weighting, then press Play (or Reset to start over).",
                QMessageBox.Icon.Warning,
            )
        elif reason == "error":
            self.show_message("Training failed", message, QMessageBox.Icon.Critical)
        elif message:
            self.statusBar().showMessage(message, 8000)

    # ---- messages ----------------------------------------------------------------------------------------------
    def show_message(self, title: str, text: str, icon=QMessageBox.Icon.Information) -> QMessageBox:
        """A window-modal message that does not block the caller (tests read `self.messages`)."""
        self.messages.append((title, text))
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if not self._closing:
            box.open()
        return box

    def _ask_reset(self, changes: dict) -> bool:
        labels = self.settings_panel.labels
        what = ", ".join(f"{labels.get(k, k)} → {_show(v)}" for k, v in sorted(changes.items()))
        box = QMessageBox(self)
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

    # ---- settings ----------------------------------------------------------------------------------------------
    def request_settings(self, changes: dict) -> bool:
        """Apply settings from the settings panel: at once, or after asking when they invalidate a trained model.
        Returns True when applied."""
        keys = set(changes)
        c = self.controller
        model_keys = IMAGE_MODEL_KEYS if self.state.image_mode else MODEL_KEYS
        if keys & model_keys and c.has_progress:
            if not self.confirm_reset(changes):
                self.settings_panel.refresh()
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
            self.statusBar().showMessage(
                f"{', '.join(later)} will apply when training is reset (Train > Reset).", 8000
            )

    def _on_settings_changed(self, names: set) -> None:
        self.controller.sync_limits()  # steps / seconds / lr / batch follow the settings live
        self._update_status()

    def _on_target_changed(self) -> None:
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

    def _on_images_changed(self) -> None:
        """Entered or left image mode, or another dataset: reset training (a new dataset keeps training if it was
        running); a switch of mode swaps the training settings (`_switch_training_settings`) and the docks."""
        st, c = self.state, self.controller
        was_running = c.running
        switched = st.image_mode != self._image_mode
        self._image_mode = st.image_mode
        if c.has_progress or c.trainer is not None or st.model is not None:
            c.reset()
        if switched and not self.workspace.loading:  # a workspace brings its own settings
            self._switch_training_settings(st.image_mode)
        self._sync_mode_docks()
        if was_running and not switched:
            c.play()
        self._update_status()

    def _switch_training_settings(self, image_mode: bool) -> None:
        """Entering image mode keeps the 2D lr / batch / steps / seconds / output / weighting (Settings.lr_2d, ...)
        and applies the image defaults (IMAGE_TRAIN_DEFAULTS' lr, batch, output and weighting, IMAGE_STOP); leaving
        it restores the kept 2D values."""
        s = self.state.settings
        if image_mode:
            from playground.core.training.image_training import IMAGE_TRAIN_DEFAULTS as D

            self.state.update_settings(lr_2d=s.lr, batch_2d=s.batch, steps_2d=s.steps, seconds_2d=s.seconds,
                                       output_2d=s.output, weighting_2d=s.weighting, lr=float(D["lr"]),
                                       batch=int(D["batch"]), output=D["output"], weighting=D["weighting"], **IMAGE_STOP)
        else:
            self.state.update_settings(lr=s.lr_2d, batch=s.batch_2d, steps=s.steps_2d, seconds=s.seconds_2d,
                                       output=s.output_2d, weighting=s.weighting_2d)

    def _confirm_dataset(self, name: str) -> bool:
        """Before a loaded image dataset replaces a trained model: ask (True when nothing is trained)."""
        if not self.controller.has_progress:
            return True
        return bool(self.confirm_reset({"dataset": name}))

    def reset_training(self) -> None:
        self.controller.reset()
        self.statusBar().showMessage("Training reset: a fresh random network.", 4000)

    # ---- file menu ---------------------------------------------------------------------------------------------
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
        self.state.set_target(default_target())
        self.workspace.new_document()
        self.statusBar().showMessage("New session: two moons, untrained.", 4000)
        return True

    def confirm_discard(self, reason: str = "close") -> bool:
        """True when unsaved changes may go (none, saved, or the user discards them)."""
        return self.workspace.maybe_save(reason)

    # workspaces (the document)
    def open_dialog(self) -> None:
        if not self.confirm_discard("open"):
            return
        from playground.app.document.workspace_controller import OPEN_FILTER

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

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._last_dir(),
                                              "Models (*.safetensors);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: str) -> bool:
        """Load a model file into every panel (and its trainer state, so Play resumes); a bad file gets a message.
        An image model enters image mode with the dataset its file names (trainer info 'data') when that loads,
        else it is shown without a dataset (sampling works, training needs the dataset) and a message says why."""
        from playground.core.training.model_file import load_model

        try:
            model = load_model(path)
        except Exception as exc:  # noqa: BLE001 - every bad file is a message, never a crash
            self.show_message("Cannot open model", f"{Path(path).name}: {exc}", QMessageBox.Icon.Warning)
            return False
        dataset, spec, note = None, None, ""
        if model.image_shape is not None:
            dataset, spec, note = self._model_dataset(model)
        trainer = None
        try:
            from playground.core.training.trainer import Trainer

            if model.image_shape is None:
                trainer = Trainer.resume(path, self.state.target_samples)
            elif dataset is not None:
                labels = dataset.labels if model.num_classes else None
                trainer = Trainer.resume(path, dataset.images, labels=labels)
        except Exception:  # noqa: BLE001 - a model without trainer state still shows; Play then starts anew
            trainer = None
        changes = _settings_from_model(model)
        self.controller.reset()
        st = self.state
        if dataset is not None:
            if dataset is not st.images:
                st.set_images(dataset, spec)
        elif st.image_mode:
            st.set_images(None)  # a 2D model, or an image model without its dataset
        if changes:
            st.update_settings(**changes)
        self.controller.adopt(trainer, model)
        if note:
            self.show_message("Model opened without its dataset", f"{Path(path).name}: {note}")
        self.model_path = path
        self.store.setValue("files/last_dir", str(Path(path).parent))
        self.statusBar().showMessage(f"Opened {Path(path).name}", 5000)
        return True

    def _model_dataset(self, model) -> tuple:
        """(ImageDataset or None, its spec, a note when there is none) for an image model: the dataset its file names,
        reused when it is the one loaded now, else loaded (a wait cursor: the small sets take well under a second)."""
        from playground.data.images.datasets import is_image_spec, load_image_dataset

        c, h, _w = model.image_shape
        info = model.config.get("info") if isinstance(model.config.get("info"), dict) else {}
        spec = info.get("data")
        st = self.state
        if not isinstance(spec, str) or not is_image_spec(spec):
            return None, None, ("the file names no image dataset, so the model is shown without one; load the dataset "
                                "it was trained on in Target > Images to train it further.")
        if st.images is not None and st.image_spec == spec and st.images.shape == tuple(model.image_shape):
            dataset = st.images
        else:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                dataset = load_image_dataset(spec, size=h, rgb=c == 3)
            except Exception as exc:  # noqa: BLE001 - a missing or broken dataset: the model is still shown
                return None, None, (f"its dataset {spec!r} could not be loaded ({' '.join(str(exc).split())}); the "
                                    "model is shown without it. Load the dataset in Target > Images to train further.")
            finally:
                QApplication.restoreOverrideCursor()
        if model.num_classes and dataset.num_classes != model.num_classes:
            return None, None, (f"the model has {model.num_classes} classes but {spec!r} has {dataset.num_classes}; "
                                "the model is shown without its dataset.")
        return dataset, spec, ""

    def save_model(self) -> bool:
        if self.model_path is None:
            return self.save_model_as()
        return self.save_model_to(self.model_path)

    def save_model_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", str(Path(self._last_dir()) / "model.safetensors"),
                                              "Models (*.safetensors)")
        if not path:
            return False
        if not path.endswith(".safetensors"):
            path += ".safetensors"
        return self.save_model_to(path)

    def save_model_to(self, path: str) -> bool:
        try:
            self.controller.save(path)
        except Exception as exc:  # noqa: BLE001
            self.show_message("Cannot save", f"{Path(path).name}: {exc}", QMessageBox.Icon.Warning)
            return False
        self.model_path = path
        self.store.setValue("files/last_dir", str(Path(path).parent))
        self.statusBar().showMessage(f"Saved {Path(path).name}", 5000)
        return True

    def import_target_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import target", self._last_dir(),
            "Targets (*.png *.jpg *.jpeg *.csv *.npy *.json);;Images (*.png *.jpg *.jpeg);;"
            "Points (*.csv *.npy);;Gaussian mixtures (*.json);;All files (*)",
        )
        if path:
            self.import_target(path)

    def import_target(self, path: str) -> bool:
        """Load a target file through the target panel (which keeps the current target and says why on a bad
        file)."""
        self.store.setValue("files/last_dir", str(Path(path).parent))
        return bool(self.panels["target"].import_file(path))

    def export_dialog(self):
        """File > Export: samples, trajectories, pictures, animations and the model (`ExportDialog`)."""
        from playground.app.dialogs.export_dialog import ExportDialog

        if self._export_dialog is None:
            self._export_dialog = ExportDialog(self)
        dlg = self._export_dialog
        dlg.refresh(self._last_dock)
        dlg.show()
        dlg.raise_()
        return dlg

    def export(self, path: str, panel: str | None = None) -> bool:
        """Export by suffix: .csv / .npy -> samples of the current model (the target's samples when untrained);
        .png / .svg -> a picture of `panel` (default: the panel used last). Atomic writes. (File > Export opens
        `ExportDialog`, which offers more.)"""
        from playground.app.dialogs.export.pictures import save_widget_picture
        from playground.core.io.sample_files import save_samples

        suffix = Path(path).suffix.lower()
        try:
            if suffix in (".png", ".svg"):
                key = panel or self._last_dock
                save_widget_picture(self.docks[key].widget(), path)  # atomic
            elif suffix in (".csv", ".npy"):
                x, what = self.export_samples()
                save_samples(path, x)  # atomic
                self.statusBar().showMessage(f"Exported {len(x):,} {what} to {Path(path).name}", 5000)
            else:
                raise ValueError("choose a file ending in .csv, .npy, .png or .svg")
        except Exception as exc:  # noqa: BLE001
            self.show_message("Cannot export", f"{Path(path).name}: {exc}", QMessageBox.Icon.Warning)
            return False
        self.store.setValue("files/last_dir", str(Path(path).parent))
        return True

    def export_samples(self) -> tuple[np.ndarray, str]:
        """(samples (n, 2), description): the model's reverse-SDE samples, or the target's when untrained."""
        s = self.state.settings
        model = self.state.model
        if model is None:
            return np.asarray(self.state.target_samples[: s.n_particles], np.float32), "target samples"
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            x = model.sample(s.n_particles, sampler=s.sde_sampler, steps=s.sample_steps, seed=s.seed)
        finally:
            QApplication.restoreOverrideCursor()
        return np.asarray(x, np.float32), f"model samples ({s.sde_sampler}, {s.sample_steps} steps)"

    def _last_dir(self) -> str:
        return str(self.store.value("files/last_dir", str(Path.home())))

    def _on_focus(self, _old, new) -> None:
        w = new
        while w is not None:
            for key, d in self.docks.items():
                if w is d:
                    self._last_dock = key
                    return
            w = w.parentWidget()

    # ---- drag and drop: a model file opens, a target file imports ---------------------------------------------
    @staticmethod
    def _dropped_file(event) -> str | None:
        md = event.mimeData()
        if not md.hasUrls():
            return None
        for url in md.urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        from playground.core.io.workspace import SUFFIX
        from playground.data.targets.spec import FILE_SUFFIXES

        path = self._dropped_file(event)
        if path and Path(path).suffix.lower() in FILE_SUFFIXES + (".safetensors", SUFFIX):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        path = self._dropped_file(event)
        if not path:
            return
        event.acceptProposedAction()
        from playground.core.io.workspace import looks_like_workspace

        if looks_like_workspace(path):
            if self.confirm_discard("open"):
                self.open_workspace(path)
        elif path.lower().endswith(".safetensors"):
            self.open_model(path)
        else:
            self.import_target(path)

    # ---- view / help -------------------------------------------------------------------------------------------
    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        self._mode_docks = {False: set(DOCKS_2D), True: set(self.image_docks)}
        for d in self.docks.values():
            d.show()
        self._sync_mode_docks(force=True)
        self.time_toolbar.show()
        self._size_docks()

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            name = "system"
        self.theme = name
        self.theme_actions[name].setChecked(True)
        self._apply_theme()

    def _on_scheme_changed(self, _scheme) -> None:
        if self.theme == "system" and not self._closing:
            self._apply_theme()

    def is_dark(self) -> bool:
        return self.theme == "dark" or (self.theme == "system" and system_is_dark())

    def _apply_theme(self) -> None:
        app = QApplication.instance()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "setColorScheme"):  # Qt >= 6.8: tell the platform too (native dialogs, title bars)
            scheme = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light,
                      "dark": Qt.ColorScheme.Dark}[self.theme]
            try:
                hints.blockSignals(True)
                hints.setColorScheme(scheme)  # Unknown = back to the system's own scheme
            finally:
                hints.blockSignals(False)
        dark = self.is_dark()
        app.setPalette(dark_palette() if dark else app.style().standardPalette())
        bg, fg = ("#1e1e22", "#d8d8dc") if dark else ("#ffffff", "#303034")
        pg.setConfigOption("background", bg)
        pg.setConfigOption("foreground", fg)
        for view in self.findChildren(pg.GraphicsView):
            view.setBackground(bg)
            scene = view.scene()
            if scene is None:
                continue
            for item in scene.items():
                if isinstance(item, pg.AxisItem):
                    item.setPen(fg)
                    item.setTextPen(fg)
                elif isinstance(item, pg.LabelItem):
                    item.setText(item.text, color=fg)

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

    # ---- persistence -------------------------------------------------------------------------------------------
    def save_ui(self) -> None:
        st = self.store
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("window/state", self.saveState())
        st.setValue("window/theme", self.theme)
        settings = self.state.settings.as_2d() if self.state.image_mode else self.state.settings  # starts in 2D
        st.setValue("settings/json", json.dumps(settings.to_dict()))
        for images, key in ((False, "window/docks_2d"), (True, "window/docks_images")):
            st.setValue(key, json.dumps(sorted(self.open_mode_docks(images))))
        st.setValue("time/t", float(self.state.t))
        st.sync()

    def restore_ui(self) -> None:
        st = self.store
        geo = st.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        state = st.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._restored_layout = bool(self.restoreState(state))
        for images, key in ((False, "window/docks_2d"), (True, "window/docks_images")):
            try:
                keys = json.loads(str(st.value(key)))
                self._mode_docks[images] = set(keys) & set(self._mode_dock_widgets(images))
            except (TypeError, ValueError):  # never saved (an older version): every dock of the mode
                pass
        self.theme = str(st.value("window/theme", "system"))
        if self.theme not in THEMES:
            self.theme = "system"
        self.theme_actions[self.theme].setChecked(True)
        try:
            self.state.set_time(float(st.value("time/t", self.state.t)))
        except (TypeError, ValueError):
            pass

    # ---- closing -----------------------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop training and every panel's workers (all told at once, then waited for, `timeout` each);
        True when the trainer stopped in time."""
        import time

        from PySide6.QtCore import QThread

        from playground.app.workers.training_worker import keep_until_finished

        self._closing = True
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
        if self._export_dialog is not None:
            self._export_dialog.shutdown()
            self._export_dialog.close()
        for sig, slot in ((QApplication.instance().focusChanged, self._on_focus),
                          (getattr(QGuiApplication.styleHints(), "colorSchemeChanged", None), self._on_scheme_changed)):
            try:
                if sig is not None:
                    sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        super().closeEvent(event)


def _settings_from_model(model) -> dict:
    """The settings a loaded model implies (SDE and its parameters, output kind, network size)."""
    out: dict = {}
    sde = getattr(model, "sde", None)
    if sde is not None:
        cfg = sde.config()
        out["sde"] = cfg.get("name", "vp")
        for k in ("beta_min", "beta_max", "sigma_min", "sigma_max"):
            if k in cfg:
                out[k] = float(cfg[k])
    if getattr(model, "output", None):
        out["output"] = model.output
    net = getattr(model, "net", None)
    arch = net.config() if net is not None and hasattr(net, "config") else {}
    for k in ("hidden", "depth", "base_channels"):
        if k in arch:
            out[k] = int(arch[k])
    if getattr(model, "image_shape", None) is not None:
        out["image_classes"] = bool(model.num_classes)
    train = dict(getattr(model, "config", {}) or {})  # the TrainConfig it was trained with
    for k, kind in (("objective", str), ("weighting", str), ("lr", float), ("batch", int), ("seed", int)):
        if train.get(k) is not None:
            out[k] = kind(train[k])
    if train.get("steps_done") and train.get("steps"):
        out["steps"] = int(max(train["steps"], train["steps_done"]))
    return out


def _show(v) -> str:
    if v is None:
        return "auto"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _fmt_seconds(s: float) -> str:
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)}:{int(s % 60):02d}"
    return f"{int(s // 3600)}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"
