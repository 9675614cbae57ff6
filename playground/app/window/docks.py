"""The window's docks: one QDockWidget per panel, the default layout for the window's size and its proportions, and
the dock used last.

Each panel sits in a frameless scroll area with the panel's own minimum size, so a dock smaller than its content
scrolls as a whole instead of squeezing or cutting it, and the window shrinks gracefully (1024 x 700 and below).

Default layout, large windows (WIDE: 1500 x 900 and up): left, Target over Settings; right, Forward | Score |
Training on top, Sampling below (Density and the Target canvas in tabs behind Score, Classes / imputation behind
Sampling). Laptop screens (below WIDE: 1280 x 720, 1366 x 768, 1024 x 700): left, Target and Settings as tabs over
Training; right, Forward | Score on top, Sampling below, so every plot keeps a useful size. The image docks take those
places in image mode: Dataset tabbed with Target, the image forward and sampling views beside the 2D ones, Inpainting
beside the score field (`ModeSwitch` shows one mode's docks). The optional 2D docks (Compare, Sampler race) start closed and out of
the layout (a hidden tabbed dock would keep its tab); View opens them in front of a tab partner (`open_optional`). A
panel with `dock_closed()` hears when its dock is closed, one with `dock_on_screen(bool)` when its dock's tab is
selected or tabbed away (QDockWidget.visibilityChanged).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

# (key, dock title, object name)
DOCKS = (
    ("target", "Target", "dock_target"),
    ("forward", "Forward diffusion", "dock_forward"),
    ("canvas", "Target canvas", "dock_canvas"),
    ("score", "Score field", "dock_score"),
    ("density", "Density", "dock_density"),
    ("sampling", "Sampling (SDE | ODE)", "dock_sampling"),
    ("classes", "Classes / imputation", "dock_classes"),
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
DOCKS_2D = ("forward", "score", "density", "sampling", "classes", "canvas")  # hidden in image mode
# 2D docks that start closed (View opens them), each tabbed with a default dock: (key, title, object name, tab partner)
OPTIONAL_DOCKS = (("compare", "Compare (DSM | FM)", "dock_compare", "sampling"),
                  ("race", "Sampler race", "dock_race", "sampling"))
OPTIONAL_PARTNERS = {key: partner for key, _title, _name, partner in OPTIONAL_DOCKS}
WIDE = (1500, 900)  # a window at least this large gets the wide default layout, a smaller one the compact one
# what each panel needs before its dock scrolls (width, height): plots stay readable, control rows fit
PANEL_MINIMUM = {
    "target": (280, 300), "settings": (270, 220), "training": (260, 200), "forward": (260, 220), "score": (260, 220),
    "sampling": (440, 300), "image_dataset": (260, 200), "image_forward": (260, 220), "image_sampling": (440, 300),
    "inpaint": (360, 300), "compare": (440, 300), "race": (440, 300), "density": (260, 220), "classes": (440, 300), "canvas": (260, 220),
}


def tabify(window: QMainWindow, first: QDockWidget, second: QDockWidget) -> None:
    """Tab `second` behind `first` and apply the layout at once: Qt 6 (6.11) gives a new tab group a second, stray
    QTabBar when another tab group was made since the layout was last applied; the stray one stays drawn over the
    docks that come to lie under it until the event loop deletes it."""
    window.tabifyDockWidget(first, second)
    window.layout().activate()


class DockScroll(QScrollArea):
    """A dock's frameless scroll area: the panel fills the dock, never smaller than its minimum size (a smaller dock
    scrolls). Unlike `widgetResizable`, a panel whose layout has a height for its width (a wrapping control row) gets
    the dock's height, not its preferred one."""

    def __init__(self, panel: QWidget):
        super().__init__()
        self.setWidget(panel)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumSize(120, 90)
        panel.installEventFilter(self)

    def fit(self) -> None:
        panel = self.widget()
        need = panel.minimumSize().expandedTo(panel.minimumSizeHint())
        view = self.viewport().size()
        panel.resize(max(view.width(), need.width()), max(view.height(), need.height()))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.LayoutRequest and obj is self.widget():
            self.fit()
        return False


class DockLayout(QObject):
    """The docks of one window: `docks` (the 2D and shared ones, DOCKS), `image_docks` (IMAGE_DOCKS),
    `optional_docks` (OPTIONAL_DOCKS), the default layout (`layout_default`, `size_docks`) and `last`, the key of the
    dock that had the focus last."""

    def __init__(self, window: QMainWindow, panels: dict[str, QWidget]):
        super().__init__(window)
        self.window = window
        self.last = "sampling"
        self.docks: dict[str, QDockWidget] = {}
        self.image_docks: dict[str, QDockWidget] = {}
        self.optional_docks: dict[str, QDockWidget] = {}
        groups = [(DOCKS, self.docks), (IMAGE_DOCKS, self.image_docks),
                  ([o[:3] for o in OPTIONAL_DOCKS], self.optional_docks)]
        for specs, group in groups:
            for key, title, name in specs:
                group[key] = self._make_dock(key, title, name, panels[key])
        self.open_actions: dict[str, QAction] = {}  # View's actions for the optional docks (see open_optional)
        for key, title, _name, _partner in OPTIONAL_DOCKS:
            d = self.optional_docks[key]
            a = QAction(title, self)
            a.setCheckable(True)
            a.setToolTip(f"Show or hide the {title} panel.")
            a.triggered.connect(lambda on, k=key: self.open_optional(k) if on else self.optional_docks[k].close())
            d.toggleViewAction().toggled.connect(a.setChecked)
            self.open_actions[key] = a

    def close_optional(self) -> None:
        """Every optional dock closed and out of the layout, now (a hidden dock left in a tab group keeps its tab):
        before the default layout is restored (View > Reset layout)."""
        for d in self.optional_docks.values():
            d.close()  # first, so that its tab group drops the tab (and its panel hears `dock_closed`)
            self.window.removeDockWidget(d)
        self.window.layout().activate()

    def open_optional(self, key: str) -> None:
        """Open an optional dock in front of its tab group; one that had left the layout (closed while hidden,
        see `ModeSwitch`) rejoins its tab partner, or the right side when the partner is closed."""
        w, d = self.window, self.optional_docks[key]
        partner = self.all_docks()[OPTIONAL_PARTNERS[key]]
        if w.dockWidgetArea(d) == Qt.DockWidgetArea.NoDockWidgetArea and not d.isFloating():
            if w.dockWidgetArea(partner) != Qt.DockWidgetArea.NoDockWidgetArea and not partner.isHidden():
                tabify(w, partner, d)
            else:
                w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d)
        d.show()
        d.raise_()

    def _make_dock(self, key: str, title: str, name: str, panel: QWidget) -> QDockWidget:
        d = QDockWidget(title, self.window)
        d.setObjectName(name)
        d.setWidget(DockScroll(panel))
        d.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        d.toggleViewAction().setToolTip(f"Show or hide the {title} panel.")
        panel.setMinimumSize(*PANEL_MINIMUM[key])
        if hasattr(panel, "dock_closed"):
            d.installEventFilter(self)
        if hasattr(panel, "dock_on_screen"):  # its tab selected or tabbed away (a hidden tab is still isVisible())
            d.visibilityChanged.connect(panel.dock_on_screen)
        return d

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        """A dock closed (its close button, View): tell its panel (`dock_closed`)."""
        if event.type() == QEvent.Type.Close and isinstance(obj, QDockWidget):
            obj.widget().widget().dock_closed()  # the dock holds the panel's DockScroll
        return False

    def all_docks(self) -> dict[str, QDockWidget]:
        """Every dock by key: the 2D and shared ones, the image-mode ones, then the optional ones."""
        return {**self.docks, **self.image_docks, **self.optional_docks}

    def take_out(self) -> None:
        """Every dock out of the layout (hidden), its tab groups gone, before `layout_default` lays them out again:
        QMainWindow.splitDockWidget of a dock in a tab group tabs the new dock instead (and leaves a stray tab bar).
        The docks are hidden, not closed (a panel hears no `dock_closed`)."""
        for dock in self.all_docks().values():
            self.window.removeDockWidget(dock)
        self.window.layout().activate()

    def compact(self) -> bool:
        """True when the window is smaller than WIDE: the laptop layout."""
        return self.window.width() < WIDE[0] or self.window.height() < WIDE[1]

    def layout_default(self) -> None:
        """Every dock in its default place for the window's size (see the module docstring); `size_docks` gives them
        their proportions."""
        self.take_out()  # from an empty layout
        w, d = self.window, self.all_docks()
        for key, dock in d.items():
            if key in self.optional_docks:
                continue  # out of the layout until View opens them (`close_optional` takes an open one out)
            dock.setFloating(False)
            dock.show()
        compact = self.compact()
        w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["target"])
        w.splitDockWidget(d["target"], d["forward"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["forward"], d["sampling"], Qt.Orientation.Vertical)
        w.splitDockWidget(d["forward"], d["score"], Qt.Orientation.Horizontal)
        if compact:
            w.splitDockWidget(d["target"], d["training"], Qt.Orientation.Vertical)
            tabify(w, d["target"], d["settings"])
        else:
            w.splitDockWidget(d["score"], d["training"], Qt.Orientation.Horizontal)
            w.splitDockWidget(d["target"], d["settings"], Qt.Orientation.Vertical)
        for place, key in (("forward", "image_forward"), ("score", "inpaint"), ("sampling", "image_sampling")):
            w.splitDockWidget(d[place], d[key], Qt.Orientation.Horizontal)
        tabify(w, d["target"], d["image_dataset"])
        tabify(w, d["score"], d["density"])
        # the large editing view, the size of the forward view and beside it (a new target diffuses next to the pen)
        tabify(w, d["score"], d["canvas"])
        tabify(w, d["sampling"], d["classes"])
        d["score"].raise_()
        d["sampling"].raise_()

    def size_docks(self, images: bool) -> None:
        """Proportions of the default layout for the current window size (of the docks the mode shows; images: the
        image docks are shown)."""
        d = self.all_docks()
        w, h = self.window.width(), self.window.height()
        forward, middle, sampling = ("image_forward", "inpaint", "image_sampling") if images else \
            ("forward", "score", "sampling")
        # image mode: Inpainting (canvas, inputs, results and two rows of controls) gets the widest column
        if self.compact():
            left = max(300, int(w * 0.27))
            col = max(200, (w - left) // 2)
            shares = (0.8, 1.2) if images else (1.0, 1.0)
            self.window.resizeDocks([d["target"], d[forward], d[middle]], [left] + [int(col * f) for f in shares],
                                    Qt.Orientation.Horizontal)
            self.window.resizeDocks([d["target"], d["training"]], [int(h * 0.6), int(h * 0.4)],
                                    Qt.Orientation.Vertical)
        else:
            left = max(260, int(w * 0.24))
            col = max(160, (w - left) // 3)
            shares = (0.85, 1.3, 0.85) if images else (1.0, 1.0, 1.0)
            self.window.resizeDocks([d["target"], d[forward], d[middle], d["training"]],
                                    [left] + [int(col * f) for f in shares], Qt.Orientation.Horizontal)
            self.window.resizeDocks([d["target"], d["settings"]], [int(h * 0.45), int(h * 0.55)],
                                    Qt.Orientation.Vertical)
        self.window.resizeDocks([d[forward], d[sampling]], [int(h * 0.42), int(h * 0.58)], Qt.Orientation.Vertical)

    def on_focus(self, _old, new) -> None:
        """QApplication.focusChanged: remember the dock the focused widget sits in (`last`; File > Export's default)."""
        w = new
        while w is not None:
            for key, d in self.docks.items():
                if w is d:
                    self.last = key
                    return
            w = w.parentWidget()
