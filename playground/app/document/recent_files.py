"""File > Open recent: the recently saved or opened files, newest first, kept in QSettings (`files/recent`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

RECENT_KEY = "files/recent"
RECENT_SHOWN = 10
RECENT_KEPT = 20


class RecentFiles(QObject):
    """The recent-files list of one window; `open_file(path)` opens a chosen entry (True when it did)."""

    changed = Signal()

    def __init__(self, store: QSettings, open_file: Callable[[str], bool], parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self.open_file = open_file

    def paths(self, existing: bool = True) -> list[str]:
        """The recent files, newest first (the RECENT_SHOWN newest that still exist)."""
        raw = self.store.value(RECENT_KEY, "[]")
        try:
            items = json.loads(str(raw)) if raw else []
        except ValueError:
            items = []
        items = [str(p) for p in items if isinstance(p, str)] if isinstance(items, list) else []
        if existing:
            items = [p for p in items if Path(p).is_file()][:RECENT_SHOWN]
        return items

    def add(self, path) -> None:
        p = str(Path(path).resolve())
        items = [q for q in self.paths(existing=False) if q != p]
        self.store.setValue(RECENT_KEY, json.dumps([p, *items][:RECENT_KEPT]))
        self.changed.emit()

    def clear(self) -> None:
        self.store.setValue(RECENT_KEY, "[]")
        self.changed.emit()

    def fill_menu(self, menu: QMenu) -> list[QAction]:
        """(Re)build File > Open Recent."""
        menu.clear()
        acts = []
        for i, p in enumerate(self.paths()):
            label = f"&{i + 1 if i < 9 else 0}  {Path(p).name}"
            a = menu.addAction(label)
            a.setData(p)
            a.setToolTip(p)
            a.setStatusTip(p)
            a.triggered.connect(lambda _c=False, q=p: self.open_file(q))
            acts.append(a)
        if not acts:
            a = menu.addAction("No recent files")
            a.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear recent files")
        clear.setToolTip("Forget the list (the files stay).")
        clear.triggered.connect(self.clear)
        clear.setEnabled(bool(acts))
        return acts
