"""DotRaster: the dots land on the pixels their data coordinates map to, in their colour; NaN / inf rows are
skipped (no warning, the finite ones still drawn); the bounding box is that of the finite points."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtWidgets import QVBoxLayout, QWidget  # noqa: E402

from playground.app.widgets.dot_raster import coverage_table, premultiplied_argb  # noqa: E402
from playground.app.widgets.plot_items import DotCloud, plot_widget, set_view  # noqa: E402


RED = (255, 0, 0)


def _shown(qtbot, keep, points, color=(255, 0, 0, 255)):
    host = keep(QWidget())
    w = plot_widget("dots")
    w.setBackground("k")  # whatever theme an earlier test left (a light theme's background is white)
    QVBoxLayout(host).addWidget(w)
    host.resize(300, 300)
    host.show()
    qtbot.waitExposed(host)
    set_view(w, (-1.0, 1.0, -1.0, 1.0))
    dots = DotCloud(w.getPlotItem(), color=color, width=2.0)
    dots.set_points(points)
    qtbot.wait(20)
    return w, dots


def _colours_near(w, x: float, y: float) -> set[tuple[int, int, int]]:
    """The grabbed widget's colours in the 3 x 3 pixels around data point (x, y)."""
    vb = w.getPlotItem().getViewBox()
    p = w.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    image = w.grab().toImage()
    out = set()
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            c = image.pixelColor(p.x() + dx, p.y() + dy)
            out.add((c.red(), c.green(), c.blue()))
    return out


def test_dots_are_drawn_where_their_data_coordinates_map(qtbot, keep):
    pts = np.array([[0.0, 0.0], [0.5, -0.5], [-0.6, 0.4]])
    w, dots = _shown(qtbot, keep, pts)
    for x, y in pts:
        assert RED in _colours_near(w, x, y), (x, y)
    assert RED not in _colours_near(w, 0.25, 0.25)  # no dot there
    np.testing.assert_array_equal(dots.points, pts)


def test_nan_and_inf_rows_are_skipped_and_the_rest_drawn(qtbot, keep):
    pts = np.array([[np.nan, 0.0], [0.3, np.inf], [-0.4, -0.2], [np.nan, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cast of NaN to int would warn
        w, dots = _shown(qtbot, keep, pts)
        w.grab()
    assert RED in _colours_near(w, -0.4, -0.2)
    box = dots.item.boundingRect()
    assert box.contains(QPointF(-0.4, -0.2)) and np.isfinite([box.left(), box.right(), box.top(), box.bottom()]).all()


def test_premultiplied_colour():
    assert premultiplied_argb((255, 255, 255, 255)) == 0xFFFFFFFF
    assert premultiplied_argb((255, 0, 0, 128)) == (128 << 24) | (128 << 16)
    table = coverage_table((255, 0, 0, 128))
    assert table[0] == 0 and table[1] == premultiplied_argb((255, 0, 0, 128)) + 0  # within rounding: exact here
    alpha = (table >> 24) & 255
    assert (np.diff(alpha.astype(int)) >= 0).all() and alpha[255] == 255  # more dots, more cover, up to opaque


def test_overlapping_translucent_dots_add_up_as_painted_layers(qtbot, keep):
    brightness = []
    for n in (1, 3):
        w, _dots = _shown(qtbot, keep, np.zeros((n, 2)), color=(255, 255, 255, 90))
        brightness.append(max(r for r, _g, _b in _colours_near(w, 0.0, 0.0)))
    one, three = brightness
    a = 90 / 255
    assert one == pytest.approx(255 * a, abs=3)  # over the black background
    assert three == pytest.approx(255 * (1 - (1 - a) ** 3), abs=3)  # three layers, source-over


def test_one_point_has_a_box_and_is_drawn_from_the_first_paint(qtbot, keep):
    w, dots = _shown(qtbot, keep, np.array([[0.3, -0.3]]))
    box = dots.item.boundingRect()
    assert box.width() > 0 and box.height() > 0 and box.contains(QPointF(0.3, -0.3))
    assert RED in _colours_near(w, 0.3, -0.3)
    dots.clear()
    assert dots.item.boundingRect().isNull()
