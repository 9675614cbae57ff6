"""The Qt GUI. Calls playground.core; core never imports this package.

`run(argv)` opens the main window (`diffusion-playground`, `python -m playground`).
"""

from __future__ import annotations

import sys


def make_application(argv: list[str] | None = None):
    """The QApplication (created once): high-DPI pass-through scaling, Fusion style, app names for QSettings."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        return app
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName("DiffusionPlayground")
    QCoreApplication.setApplicationName("Diffusion Playground")
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setStyle("Fusion")
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)
    return app


def run(argv: list[str] | None = None) -> int:
    """Open the Diffusion Playground window (default target: two moons) and run the event loop.

    argv: optional `[target]` (a preset name or a target file, as `playground.data.spec.load_target` reads it)."""
    args = list(argv if argv is not None else sys.argv[1:])
    app = make_application([sys.argv[0] if sys.argv else "diffusion-playground"])
    from playground.app.main_window import MainWindow

    win = MainWindow()
    positional = [a for a in args if not a.startswith("-")]
    if positional:
        win.import_target(positional[0])
    win.show()
    rc = int(app.exec())
    from playground.app.training_worker import wait_for_workers

    wait_for_workers()
    return rc


__all__ = ["run", "make_application"]
