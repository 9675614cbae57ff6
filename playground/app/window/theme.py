"""The window's colour theme (View > Theme): System follows the platform's light / dark scheme, or Light, or Dark.
The Qt palette, the platform's scheme (Qt >= 6.8) and pyqtgraph's background, axis and label colours follow it."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow

THEMES = ("system", "light", "dark")
THEME_TIPS = {"system": "Follow the system's light or dark scheme.", "light": "Light colours.", "dark": "Dark colours."}


def dark_palette() -> QPalette:
    """The Dark theme's palette (disabled text greyed)."""
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
    """True when the platform's colour scheme is dark."""
    hints = QGuiApplication.styleHints()
    try:
        return hints.colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5
        return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


class WindowTheme(QObject):
    """The theme of one window: `name` (one of THEMES), its checkable View > Theme `actions` (one group), `set` /
    `select` (without applying), `is_dark`, `apply` (palette and plot colours)."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.name = "system"
        self.group = QActionGroup(window)
        self.actions: dict[str, QAction] = {}
        for name in THEMES:
            a = QAction(name.capitalize(), window, checkable=True)
            a.setToolTip(THEME_TIPS[name])
            a.triggered.connect(lambda _c=False, n=name: self.set(n))
            self.group.addAction(a)
            self.actions[name] = a
        self.actions["system"].setChecked(True)

    def select(self, name: str) -> None:
        """Make `name` the theme (an unknown one: "system") and check its action, without applying it yet."""
        self.name = name if name in THEMES else "system"
        self.actions[self.name].setChecked(True)

    def set(self, name: str) -> None:
        """Select the theme and apply it."""
        self.select(name)
        self.apply()

    def is_dark(self) -> bool:
        return self.name == "dark" or (self.name == "system" and system_is_dark())

    def on_scheme_changed(self, _scheme) -> None:
        """The platform's light / dark scheme changed: the System theme follows (not while the window closes)."""
        if self.name == "system" and not self.window.closing:
            self.apply()

    def apply(self) -> None:
        """Colour the application and every plot of the window for the theme."""
        app = QApplication.instance()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "setColorScheme"):  # Qt >= 6.8: tell the platform too (native dialogs, title bars)
            scheme = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light,
                      "dark": Qt.ColorScheme.Dark}[self.name]
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
        for view in self.window.findChildren(pg.GraphicsView):
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
