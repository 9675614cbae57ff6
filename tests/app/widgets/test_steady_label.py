"""SteadyLabel: a read-out whose text changes many times a second does not re-lay the main window (a QLabel's new
text invalidates every layout up to it: the status bar's figures cost ~3.5 ms per animation frame); its width only
grows, so its text always fits."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QLabel, QMainWindow, QTextEdit  # noqa: E402

from playground.app.widgets.steady_label import SteadyLabel  # noqa: E402


class _LayoutRequests(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _window_with(qtbot, keep, label):
    win = keep(QMainWindow())
    win.setCentralWidget(QTextEdit())
    win.statusBar().addPermanentWidget(label)
    win.resize(500, 300)
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(20)
    spy = _LayoutRequests()
    win.installEventFilter(spy)
    return win, spy


@pytest.mark.parametrize("kind", [QLabel, SteadyLabel])
def test_changing_digits_re_lay_the_window_only_with_a_plain_label(qtbot, keep, kind):
    label = kind("step 1,000")
    win, spy = _window_with(qtbot, keep, label)
    for k in range(20):
        label.setText(f"step {1000 + 37 * k:,}")
        qtbot.wait(2)
    if kind is SteadyLabel:
        assert spy.count == 0
    else:
        assert spy.count >= 10  # what SteadyLabel is for (fails if Qt ever stops doing this)


def test_the_width_grows_to_fit_and_never_shrinks(qtbot, keep):
    label = SteadyLabel("ETA 3 s", min_width=40)
    win, spy = _window_with(qtbot, keep, label)
    w0 = label.width()
    assert w0 >= max(40, label.fontMetrics().horizontalAdvance("ETA 3 s"))
    label.setText("ETA 1:02:03 (a longer text)")
    qtbot.wait(20)
    assert label.width() >= label.fontMetrics().horizontalAdvance("ETA 1:02:03 (a longer text)") > w0
    wide = label.width()
    label.setText("ETA 2 s")
    qtbot.wait(20)
    assert label.width() == wide and label.text() == "ETA 2 s"


def test_a_style_sheet_with_padding_still_shows_the_whole_text(qtbot, keep):
    label = SteadyLabel("α(t) = 0.017   σ(t) = 1")
    win, _spy = _window_with(qtbot, keep, label)
    label.setStyleSheet("QLabel { padding: 0 12px; border: 2px solid gray; }")
    qtbot.wait(20)
    assert label.contentsRect().width() >= label.fontMetrics().horizontalAdvance(label.text())
