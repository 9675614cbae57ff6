"""A main window for the app tests: small settings (fast training and sampling), its own QSettings file, shown."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from playground.app.state import AppState, Settings
from playground.app.window.main_window import MainWindow
from playground.data.targets.presets import make_preset

SMALL = dict(
    hidden=32, depth=2, batch=128, steps=300, n_particles=1000, n_forward=1000, target_samples=4000,
    sample_steps=40, n_trajectories=8,
)


def make_window(qtbot, tmp_path, *, size: tuple[int, int] = (1400, 900), restore: bool = False,
                autosave: bool = False, **settings) -> MainWindow:
    """Two moons, SMALL settings under `settings`; autosave: into tmp_path/autosave (else the window's default)."""
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(make_preset("moons"), Settings(**{**SMALL, **settings}))
    extra = {"autosave_dir": tmp_path / "autosave"} if autosave else {}
    w = MainWindow(state=state, store=store, restore=restore, **extra)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w
