"""The Qt GUI. Calls playground.core; core never imports this package.

`run(argv)` opens the main window (`diffusion-playground`, `python -m playground`).
"""

from __future__ import annotations

import os
import sys


def configure_torch_threads(threads: int = 1) -> None:
    """One intra-op torch thread per Python thread. The app runs its own threads (UI, trainer, samplers); an
    intra-op pool per call on top of them oversubscribes a 2-core machine, and a parallel region then waits for
    whichever pool thread the OS descheduled (UI stalls of ~1 s seen on a loaded 2-core box; 1 thread: ~0.1 s)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already ran
        pass


def make_application(argv: list[str] | None = None):
    """The QApplication (created once): high-DPI pass-through scaling, Fusion style, app names for QSettings,
    one torch thread per Python thread."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        return app
    configure_torch_threads(1)
    # hand the GIL over every 1 ms (Python's default: 5 ms): the trainer thread re-takes it after each torch op, and
    # waiting up to 5 ms behind the UI's Python each time costs it a third of its speed (bench ui: in-app/headless
    # it/s 0.5 -> 0.65 on a loaded 2-core box)
    sys.setswitchinterval(float(os.environ.get("PLAYGROUND_SWITCH_INTERVAL", "0.001")))
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

    argv: optional `[target]` (a preset name or a target file, as `playground.data.targets.spec.load_target` reads it).
    Window layout and settings persist in the user's QSettings, or in the INI file $PLAYGROUND_SETTINGS names.
    Returns 2 after one line on stderr when Qt's X11 plugin would fail for missing system libraries."""
    args = list(argv if argv is not None else sys.argv[1:])
    from playground.app.platform_check import missing_libraries_message, missing_xcb_libraries, uses_xcb

    if uses_xcb() and (missing := missing_xcb_libraries()):
        print(missing_libraries_message(missing), file=sys.stderr)
        return 2
    app = make_application([sys.argv[0] if sys.argv else "diffusion-playground"])
    from PySide6.QtCore import QSettings

    from playground.app.window.main_window import MainWindow

    ini = os.environ.get("PLAYGROUND_SETTINGS")  # another settings file (a profile, or tests)
    win = MainWindow(store=QSettings(ini, QSettings.Format.IniFormat) if ini else None)
    positional = [a for a in args if not a.startswith("-")]
    if positional:
        win.import_target(positional[0])
    win.show()
    rc = int(app.exec())
    from playground.app.workers.threads import wait_for_workers

    wait_for_workers()
    return rc


__all__ = ["configure_torch_threads", "make_application", "run"]
