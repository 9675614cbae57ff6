"""The window's docks: one QDockWidget per panel, the default layout and its proportions, and the dock used last.

Left: Target over Settings. Right: Forward | Score | Training on top (the Target canvas tabbed with Score),
Sampling (SDE | ODE) below. The image docks take
those places in image mode: Dataset tabbed with Target, the image forward and sampling views beside the 2D ones,
Inpainting beside the score field (`ModeSwitch` shows one mode's docks). The optional 2D docks (Compare) start
closed and out of the layout (a hidden tabbed dock would keep its tab); View opens them in front of a tab partner
(`open_optional`). A panel with `dock_closed()` hears when its dock is closed.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

# (key, dock title, object name)
DOCKS = (
    ("target", "Target", "dock_target"),
    ("forward", "Forward diffusion", "dock_forward"),
    ("canvas", "Target canvas", "dock_canvas"),
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
DOCKS_2D = ("forward", "score", "sampling", "canvas")  # hidden in image mode
# 2D docks that start closed (View opens them), each tabbed with a default dock: (key, title, object name, tab partner)
OPTIONAL_DOCKS = (("compare", "Compare (DSM | FM)", "dock_compare", "sampling"),)
OPTIONAL_PARTNERS = {key: partner for key, _title, _name, partner in OPTIONAL_DOCKS}


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
                group[key] = self._make_dock(title, name, panels[key])
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
                w.tabifyDockWidget(partner, d)
            else:
                w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d)
        d.show()
        d.raise_()

    def _make_dock(self, title: str, name: str, panel: QWidget) -> QDockWidget:
        d = QDockWidget(title, self.window)
        d.setObjectName(name)
        d.setWidget(panel)
        d.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        d.toggleViewAction().setToolTip(f"Show or hide the {title} panel.")
        # an explicit minimum lets the window shrink (to 800 x 800 and below) whatever the panels' layouts ask
        panel.setMinimumSize(160, 120)
        if hasattr(panel, "dock_closed"):
            d.installEventFilter(self)
        return d

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        """A dock closed (its close button, View): tell its panel (`dock_closed`)."""
        if event.type() == QEvent.Type.Close and isinstance(obj, QDockWidget):
            obj.widget().dock_closed()
        return False

    def all_docks(self) -> dict[str, QDockWidget]:
        """Every dock by key: the 2D and shared ones, the image-mode ones, then the optional ones."""
        return {**self.docks, **self.image_docks, **self.optional_docks}

    def layout_default(self) -> None:
        """Every dock in its default place (see the module docstring); `size_docks` gives them their proportions."""
        w, d = self.window, self.all_docks()
        for key, dock in d.items():
            dock.setFloating(False)
            dock.setVisible(key not in self.optional_docks)  # those stay out of the layout until View opens them
        w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["target"])
        w.splitDockWidget(d["target"], d["forward"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["forward"], d["sampling"], Qt.Orientation.Vertical)
        w.splitDockWidget(d["forward"], d["score"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["score"], d["training"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["target"], d["settings"], Qt.Orientation.Vertical)
        for place, key in (("forward", "image_forward"), ("score", "inpaint"), ("sampling", "image_sampling")):
            w.splitDockWidget(d[place], d[key], Qt.Orientation.Horizontal)
        w.tabifyDockWidget(d["target"], d["image_dataset"])
        # the large editing view, the size of the forward view and beside it (a new target diffuses next to the pen)
        w.tabifyDockWidget(d["score"], d["canvas"])
        d["score"].raise_()

    def size_docks(self, images: bool) -> None:
        """Proportions of the default layout for the current window size (of the docks the mode shows; images: the
        image docks are shown)."""
        d = self.all_docks()
        w, h = self.window.width(), self.window.height()
        left = max(260, int(w * 0.24))
        col = max(160, (w - left) // 3)
        forward, middle, sampling = ("image_forward", "inpaint", "image_sampling") if images else \
            ("forward", "score", "sampling")
        # image mode: Inpainting (canvas, inputs, results and two rows of controls) gets the widest column
        shares = (0.85, 1.3, 0.85) if images else (1.0, 1.0, 1.0)
        self.window.resizeDocks([d["target"], d[forward], d[middle], d["training"]],
                                [left] + [int(col * f) for f in shares], Qt.Orientation.Horizontal)
        self.window.resizeDocks([d["target"], d["settings"]], [int(h * 0.45), int(h * 0.55)], Qt.Orientation.Vertical)
        self.window.resizeDocks([d[forward], d[sampling]], [int(h * 0.45), int(h * 0.55)], Qt.Orientation.Vertical)

    def on_focus(self, _old, new) -> None:
        """QApplication.focusChanged: remember the dock the focused widget sits in (`last`; File > Export's default)."""
        w = new
        while w is not None:
            for key, d in self.docks.items():
                if w is d:
                    self.last = key
                    return
            w = w.parentWidget()
