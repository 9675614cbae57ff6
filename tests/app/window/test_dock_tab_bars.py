"""The tab bars of tabbed docks: one per tab group, at the group's lower edge, over nothing else: as the window is
first shown (before the event loop has run: Qt deletes orphaned tab bars only then), once settled, after a Reset
layout at a laptop size and in a restored layout. Qt 6 made stray copies, drawn over the Settings and Forward docks."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QRect, QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTabBar  # noqa: E402

from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.window.docks import tabify  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402
from tests.app.window_helpers import make_window  # noqa: E402


def on_window(w, widget) -> QRect:
    """The widget's rectangle in the window's coordinates."""
    return QRect(widget.mapTo(w, QPoint(0, 0)), widget.size())


def tab_groups(w) -> list[list[QDockWidget]]:
    """The window's tab groups: the open docks tabbed together (the one in front first), each group once."""
    groups, seen = [], set()
    for d in w.findChildren(QDockWidget):
        if d.isHidden() or d in seen:
            continue
        group = [d, *(p for p in w.tabifiedDockWidgets(d) if not p.isHidden())]
        if len(group) > 1:  # the one in front lies on the window, Qt parks the others off it
            front = [g for g in group if not on_window(w, g).intersected(w.rect()).isEmpty()]
            assert len(front) == 1, [g.objectName() for g in group]
            groups.append(front + [g for g in group if g is not front[0]])
            seen.update(group)
    return groups


def assert_tab_bars_in_place(w, qtbot, settle: bool = True) -> None:
    """Every tab bar drawn on the window belongs to one tab group, lies along the lower edge of the group's front
    dock, and overlaps no other tab bar and no dock; every tab group has exactly one. settle: after the deferred
    layout steps (default layout, proportions) have run."""
    if settle:
        qtbot.wait(50)
    w.layout().activate()
    bars = [tb for tb in w.findChildren(QTabBar) if tb.parentWidget() is w and tb.isVisible()
            and not on_window(w, tb).intersected(w.rect()).isEmpty()]  # Qt parks unused ones off the window
    docks = [d for d in w.findChildren(QDockWidget) if d.isVisible()
             and not on_window(w, d).intersected(w.rect()).isEmpty()]
    groups = tab_groups(w)
    assert len(bars) == len(groups), [[tb.tabText(i) for i in range(tb.count())] for tb in bars]
    for group in groups:
        titles = sorted(d.windowTitle() for d in group)
        mine = [tb for tb in bars if sorted(tb.tabText(i) for i in range(tb.count())) == titles]
        assert len(mine) == 1, titles
        bar, front = on_window(w, mine[0]), on_window(w, group[0])
        assert bar.top() == front.bottom() + 1, (titles, bar, front)
        assert front.left() <= bar.left() and bar.right() <= front.right(), (titles, bar, front)
    for i, tb in enumerate(bars):
        r = on_window(w, tb)
        for other in bars[i + 1:]:
            assert not r.intersects(on_window(w, other)), (tb.tabText(0), other.tabText(0))
        for d in docks:
            assert not r.intersects(on_window(w, d)), (tb.tabText(0), d.objectName(), r, on_window(w, d))


def test_tab_bars_sit_under_their_groups_after_show_and_reset(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, size=(1600, 1000))
    try:
        assert_tab_bars_in_place(w, qtbot)
        w.resize(1280, 720)  # the laptop layout: Target and Settings tabbed too
        w.reset_layout()
        assert_tab_bars_in_place(w, qtbot)
    finally:
        w.close()


def test_tab_bars_sit_under_their_groups_in_a_restored_layout(qtbot, tmp_path):
    first = make_window(qtbot, tmp_path, size=(1600, 1000))
    qtbot.wait(50)  # its default layout for the large window (Settings under Target), not the laptop one
    first.close()  # saves the layout; the next window is built with the laptop layout, then restores it
    w = make_window(qtbot, tmp_path, size=(1600, 1000), restore=True)
    try:
        assert w._restored_layout and not w.tabifiedDockWidgets(w.docks["settings"])
        assert_tab_bars_in_place(w, qtbot)
    finally:
        w.close()


def test_tabify_makes_one_tab_bar_per_group():
    """Two tab groups made one after the other: Qt's plain tabifyDockWidget gives the second one two tab bars."""
    w = QMainWindow()
    d = {k: QDockWidget(k, w) for k in "abxy"}
    for k, dock in d.items():
        dock.setObjectName(k)
        dock.setWidget(QLabel(k))
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["a"])
    w.splitDockWidget(d["a"], d["b"], Qt.Orientation.Horizontal)
    tabify(w, d["a"], d["x"])
    tabify(w, d["b"], d["y"])
    shown = [tb for tb in w.findChildren(QTabBar) if not tb.isHidden()]
    bars = sorted(tuple(tb.tabText(i) for i in range(tb.count())) for tb in shown)
    assert bars == [("a", "x"), ("b", "y")]
    w.deleteLater()


def test_tab_bars_sit_under_their_groups_as_the_window_is_first_shown(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(state=AppState(make_preset("checkerboard"), Settings()), store=store, restore=False,
                   autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(w)
    try:
        w.resize(1600, 1000)
        w.show()
        assert_tab_bars_in_place(w, qtbot, settle=False)  # no event loop ran since the window was built
    finally:
        w.close()
