"""What the window keeps between runs in QSettings: geometry and dock layout, which docks each mode had open, the
theme, the settings (the 2D ones: the app starts in 2D), the time slider and the Race dock's choices."""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings

from playground.app.state import Settings

ORGANIZATION = "DiffusionPlayground"
APPLICATION = "Diffusion Playground"
MODE_DOCK_KEYS = ((False, "window/docks_2d"), (True, "window/docks_images"))
RACE_KEY = "race/options"


def default_store() -> QSettings:
    """The user's settings store (the platform's native QSettings for this application)."""
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


def save_ui(window) -> None:
    """Write the window's look, settings and time to `window.store`."""
    st = window.store
    st.setValue("window/geometry", window.saveGeometry())
    st.setValue("window/state", window.saveState())
    st.setValue("window/theme", window.theme_control.name)
    state = window.state
    settings = state.settings.as_2d() if state.image_mode else state.settings  # starts in 2D
    st.setValue("settings/json", json.dumps(settings.to_dict()))
    for images, key in MODE_DOCK_KEYS:
        st.setValue(key, json.dumps(sorted(window.mode_switch.open_mode_docks(images))))
    st.setValue("time/t", float(state.t))
    st.setValue("time/smooth", bool(window.act_smooth.isChecked()))
    st.setValue(RACE_KEY, json.dumps(window.panels["race"].controls.options()))
    st.sync()


def restore_ui(window) -> bool:
    """Restore what `save_ui` wrote (the theme is selected, not applied yet); True when a dock layout was restored."""
    st = window.store
    restored = False
    geo = st.value("window/geometry")
    if isinstance(geo, QByteArray) and not geo.isEmpty():
        window.restoreGeometry(geo)
    layout = st.value("window/state")
    if isinstance(layout, QByteArray) and not layout.isEmpty():
        restored = bool(window.restoreState(layout))
        if isinstance(geo, QByteArray) and not geo.isEmpty():  # the restored docks laid out, the size again: a
            window.layout().activate()  # hidden tab (the Target canvas) must not hold the window wider than saved
            window.restoreGeometry(geo)
    for images, key in MODE_DOCK_KEYS:
        try:
            window.mode_switch.set_open_docks(images, json.loads(str(st.value(key))))
        except (TypeError, ValueError):  # never saved (an older version): every dock of the mode
            pass
    window.theme_control.select(str(st.value("window/theme", "system")))
    try:
        window.state.set_time(float(st.value("time/t", window.state.t)))
    except (TypeError, ValueError):
        pass
    window.act_smooth.setChecked(str(st.value("time/smooth", True)).lower() not in ("false", "0"))
    try:
        window.panels["race"].controls.restore_options(json.loads(str(st.value(RACE_KEY, "{}"))))
    except ValueError:  # not JSON: the defaults stay
        pass
    return restored

