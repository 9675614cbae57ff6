"""The window's docks: one QDockWidget per panel, the default layout and its proportions, and the dock used last.

Left: Target over Settings. Right: Forward | Score (Density in a tab behind it) | Training on top, Sampling (SDE |
ODE) below (Classes & imputation in a tab behind it). The image docks take
those places in image mode: Dataset tabbed with Target, the image forward and sampling views beside the 2D ones,
Inpainting beside the score field (`ModeSwitch` shows one mode's docks).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

# (key, dock title, object name)
DOCKS = (
    ("target", "Target", "dock_target"),
    ("forward", "Forward diffusion", "dock_forward"),
    ("score", "Score field", "dock_score"),
    ("density", "Density", "dock_density"),
    ("sampling", "Sampling (SDE | ODE)", "dock_sampling"),
    ("classes", "Classes & imputation", "dock_classes"),
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
DOCKS_2D = ("forward", "score", "density", "sampling", "classes")  # hidden in image mode


class DockLayout(QObject):
    """The docks of one window: `docks` (the 2D and shared ones, DOCKS), `image_docks` (IMAGE_DOCKS), the default
    layout (`layout_default`, `size_docks`) and `last`, the key of the dock that had the focus last."""

    def __init__(self, window: QMainWindow, panels: dict[str, QWidget]):
        super().__init__(window)
        self.window = window
        self.last = "sampling"
        self.docks: dict[str, QDockWidget] = {}
        self.image_docks: dict[str, QDockWidget] = {}
        for key, title, name in DOCKS + IMAGE_DOCKS:
            d = QDockWidget(title, window)
            d.setObjectName(name)
            d.setWidget(panels[key])
            d.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            d.toggleViewAction().setToolTip(f"Show or hide the {title} panel.")
            # an explicit minimum lets the window shrink (to 800 x 800 and below) whatever the panels' layouts ask
            panels[key].setMinimumSize(160, 120)
            (self.image_docks if (key, title, name) in IMAGE_DOCKS else self.docks)[key] = d

    def all_docks(self) -> dict[str, QDockWidget]:
        """Every dock by key: the 2D and shared ones, then the image-mode ones."""
        return {**self.docks, **self.image_docks}

    def layout_default(self) -> None:
        """Every dock in its default place (see the module docstring); `size_docks` gives them their proportions."""
        w, d = self.window, self.all_docks()
        for dock in d.values():
            dock.setFloating(False)
            dock.show()
        w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["target"])
        w.splitDockWidget(d["target"], d["forward"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["forward"], d["sampling"], Qt.Orientation.Vertical)
        w.splitDockWidget(d["forward"], d["score"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["score"], d["training"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["target"], d["settings"], Qt.Orientation.Vertical)
        for place, key in (("forward", "image_forward"), ("score", "inpaint"), ("sampling", "image_sampling")):
            w.splitDockWidget(d[place], d[key], Qt.Orientation.Horizontal)
        w.tabifyDockWidget(d["target"], d["image_dataset"])
        w.tabifyDockWidget(d["score"], d["density"])
        w.tabifyDockWidget(d["sampling"], d["classes"])
        d["score"].raise_()
        d["sampling"].raise_()

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
