"""The window's menu bar: File (with Open recent), Edit, View (the docks, the optional Compare and Sampler race docks, the time bar,
Animate t, Theme, Reset layout), Train and Help, built from the window's actions (`actions.make_actions`)."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from playground.app.window.docks import DOCKS, IMAGE_DOCKS, OPTIONAL_DOCKS


def make_menus(window) -> None:
    """Fill `window.menuBar()`; File > Open recent is `window.recent_menu` (the workspace controller fills it)."""
    w = window
    mb = w.menuBar()
    m = mb.addMenu("&File")
    m.addAction(w.act_new)
    m.addAction(w.act_open)
    w.recent_menu = QMenu("Open &recent", m)
    w.recent_menu.setToolTipsVisible(True)
    m.addMenu(w.recent_menu)
    for a in (None, w.act_save, w.act_save_as, w.act_save_model, None, w.act_import, w.act_export, None, w.act_quit):
        m.addSeparator() if a is None else m.addAction(a)
    m = mb.addMenu("&Edit")
    m.addAction(w.act_undo)
    m.addAction(w.act_redo)
    m = mb.addMenu("&View")
    for key, _title, _name in DOCKS:
        m.addAction(w.docks[key].toggleViewAction())
    for key, *_rest in OPTIONAL_DOCKS:
        m.addAction(w.dock_layout.open_actions[key])
    m.addSeparator()
    for key, _title, _name in IMAGE_DOCKS:
        m.addAction(w.image_docks[key].toggleViewAction())
    m.addSeparator()
    m.addAction(w.time_toolbar.toggleViewAction())
    m.addSeparator()
    m.addAction(w.act_animate)
    m.addAction(w.act_smooth)
    m.addSeparator()
    theme_menu = m.addMenu("&Theme")
    for a in w.theme_control.actions.values():
        theme_menu.addAction(a)
    m.addSeparator()
    m.addAction(w.act_reset_layout)
    m = mb.addMenu("&Train")
    m.addAction(w.act_play)
    m.addAction(w.act_step)
    m.addAction(w.act_reset)
    m = mb.addMenu("&Help")
    m.addAction(w.help.act_guide)
    m.addAction(w.help.act_first_steps)
    m.addSeparator()
    m.addAction(w.act_equations)
    m.addAction(w.act_about)
    for menu in mb.findChildren(type(m)):
        menu.setToolTipsVisible(True)
