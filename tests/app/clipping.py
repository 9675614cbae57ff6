"""Finds cut text in a window: every visible single-line label, button, check box, combo box and tab title whose text
needs more width (from its font metrics and the style's margins) than the part of the widget on screen has."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QStyleOptionComboBox,
    QTabBar,
    QTabWidget,
    QToolButton,
    QWidget,
)

SLACK = 1  # px of rounding


def _visible_width(w: QWidget) -> int:
    """The width of the widget's part not hidden by a parent's edge (0 when it is scrolled or covered away)."""
    r = w.visibleRegion().boundingRect()
    return 0 if r.isEmpty() else r.width()


def _button_need(b: QAbstractButton) -> int:
    fm = b.fontMetrics()
    text = b.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    tw = max((fm.horizontalAdvance(line) for line in text.split("\n")), default=0)
    if isinstance(b, (QCheckBox, QRadioButton, QToolButton)):
        return b.sizeHint().width()  # exact for these (indicator or icon, spacing, text, menu arrow)
    opt = QStyleOptionButton()
    opt.initFrom(b)
    icon = b.iconSize().width() + 4 if not b.icon().isNull() else 0
    size = b.style().sizeFromContents(QStyle.ContentsType.CT_PushButton, opt, QSize(tw + icon, fm.height()), b)
    return size.width()


def _combo_need(c: QComboBox) -> int:
    opt = QStyleOptionComboBox()
    opt.initFrom(c)
    fm = c.fontMetrics()
    icon = c.iconSize().width() + 4 if not c.itemIcon(c.currentIndex()).isNull() else 0
    size = c.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, opt,
                                      QSize(fm.horizontalAdvance(c.currentText()) + icon, fm.height()), c)
    return size.width()


def _rich(text: str) -> bool:
    from PySide6.QtGui import Qt as GuiQt

    return bool(GuiQt.mightBeRichText(text))


def _label_need(lab: QLabel) -> int | None:
    if lab.wordWrap() or not lab.text() or lab.textFormat() == Qt.TextFormat.RichText or _rich(lab.text()):
        return None
    fm = lab.fontMetrics()
    tw = max(fm.horizontalAdvance(line) for line in lab.text().split("\n"))
    m = lab.contentsMargins()
    indent = max(lab.indent(), 0) if lab.indent() >= 0 else 0
    return tw + 2 * lab.margin() + m.left() + m.right() + indent


def clipped_widgets(root: QWidget) -> list[str]:
    """'Type "text": needs N px, has M' for every cut single-line text under `root` that is on screen."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.window() is not root.window():
            continue
        need, text = None, ""
        if isinstance(w, QLabel):
            need, text = _label_need(w), w.text()
        elif isinstance(w, (QPushButton, QCheckBox, QRadioButton, QToolButton)) and w.text():
            if isinstance(w.parent(), QTabBar):
                continue  # the tab bar's scroll buttons
            need, text = _button_need(w), w.text()
        elif isinstance(w, QComboBox) and not w.isEditable() and w.currentText():
            need, text = _combo_need(w), w.currentText()
        elif isinstance(w, QTabBar):
            out += _clipped_tabs(w)
            continue
        if need is None:
            continue
        have = _visible_width(w)
        if have == 0:
            continue  # scrolled out of view (a vertical scroll area) or covered
        have = min(have, w.width())
        if need > have + SLACK:
            out.append(f'{type(w).__name__} "{text}": needs {need} px, has {have}')
    return out


def _clipped_tabs(bar: QTabBar) -> list[str]:
    out = []
    visible = bar.visibleRegion().boundingRect()
    if visible.isEmpty():
        return out
    for i in range(bar.count()):
        r = bar.tabRect(i)
        if r.width() + SLACK < bar.tabSizeHint(i).width() or not visible.contains(r.adjusted(1, 1, -1, -1)):
            out.append(f'tab "{bar.tabText(i)}": needs {bar.tabSizeHint(i).width()} px, has {r.width()} '
                       f'(visible {r.intersected(visible).width()})')
    return out


def visit_every_page(window: QMainWindow, check) -> list[str]:
    """Call check(window) with every page of every tab widget and every tabbed dock in front; returns the union."""
    problems: list[str] = []

    def settle():
        for _ in range(3):
            QApplication.processEvents()

    settle()
    problems += check(window)
    for tabs in window.findChildren(QTabWidget):
        if not tabs.isVisible():
            continue
        current = tabs.currentIndex()
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            settle()
            problems += [f"[{tabs.tabText(i)} page] {p}" for p in check(window)]
        tabs.setCurrentIndex(current)
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible() or window.tabifiedDockWidgets(d)]
    for d in docks:
        if d.isHidden() or not window.tabifiedDockWidgets(d):
            continue
        d.raise_()
        settle()
        problems += [f"[{d.windowTitle()} dock] {p}" for p in check(window)]
    settle()
    return sorted(set(problems))


__all__ = ["clipped_widgets", "visit_every_page"]
