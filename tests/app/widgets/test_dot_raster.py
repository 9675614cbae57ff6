"""DotRaster: the dots land on the pixels their data coordinates map to, in their colour; NaN / inf rows are
skipped (no warning, the finite ones still drawn); the bounding box is that of the finite points."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtWidgets import QVBoxLayout, QWidget  # noqa: E402

from playground.app.widgets.dot_raster import premultiplied_argb  # noqa: E402
from playground.app.widgets.plot_items import DotCloud, plot_widget, set_view  # noqa: E402


def _shown(qtbot, keep, points, color=(255, 0, 0, 255)):
    host = keep(QWidget())
    w = plot_widget("dots")
    QVBoxLayout(host).addWidget(w)
    host.resize(300, 300)
    host.show()
    qtbot.waitExposed(host)
    set_view(w, (-1.0, 1.0, -1.0, 1.0))
    dots = DotCloud(w.getPlotItem(), color=color, width=2.0)
    dots.set_points(points)
    qtbot.wait(20)
    return w, dots


def _pixel_at(w, x: float, y: float):
    """The grabbed widget's colour at the pixel holding data point (x, y)."""
    vb = w.getPlotItem().getViewBox()
    p = w.mapFromScene(vb.mapViewToScene(QPointF(x, y)))  # rounded to the nearest pixel corner
    image = w.grab().toImage()
    return image.pixelColor(p.x() - 1 if p.x() > 0 else 0, p.y() - 1 if p.y() > 0 else 0)


def test_dots_are_drawn_where_their_data_coordinates_map(qtbot, keep):
    pts = np.array([[0.0, 0.0], [0.5, -0.5], [-0.6, 0.4]])
    w, dots = _shown(qtbot, keep, pts)
    for x, y in pts:
        c = _pixel_at(w, x, y)
        assert (c.red(), c.green(), c.blue()) == (255, 0, 0), (x, y)
    background = _pixel_at(w, 0.25, 0.25)
    assert background.red() < 100  # no dot there
    np.testing.assert_array_equal(dots.points, pts)


def test_nan_and_inf_rows_are_skipped_and_the_rest_drawn(qtbot, keep):
    pts = np.array([[np.nan, 0.0], [0.3, np.inf], [-0.4, -0.2], [np.nan, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cast of NaN to int would warn
        w, dots = _shown(qtbot, keep, pts)
        w.grab()
    c = _pixel_at(w, -0.4, -0.2)
    assert (c.red(), c.green(), c.blue()) == (255, 0, 0)
    box = dots.item.boundingRect()
    assert box.contains(QPointF(-0.4, -0.2)) and np.isfinite([box.left(), box.right(), box.top(), box.bottom()]).all()


def test_premultiplied_colour():
    assert premultiplied_argb((255, 255, 255, 255)) == 0xFFFFFFFF
    assert premultiplied_argb((255, 0, 0, 128)) == (128 << 24) | (128 << 16)
