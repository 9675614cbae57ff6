"""The Qt-free drawing model: brush, eraser, clear, diffs, and raster -> target geometry."""

import numpy as np
import pytest

from playground.app.widgets.drawing import DrawingModel, brush_profile, resample
from playground.data.targets.raster import raster_target
from playground.data.targets.target import DataError


def value_at(m: DrawingModel, x: float, y: float) -> float:
    col, row = m.world_to_pixel(x, y)
    return float(m.canvas[int(row), int(col)])


def test_geometry_row0_is_top_and_roundtrip():
    m = DrawingModel(64, 4.0)
    assert m.world_to_pixel(-4.0, 4.0) == (0.0, 0.0)  # top-left corner
    assert m.world_to_pixel(4.0, -4.0) == (64.0, 64.0)
    for x, y in [(0.3, -1.7), (-3.9, 3.2)]:
        assert np.allclose(m.pixel_to_world(*m.world_to_pixel(x, y)), (x, y))
    X, Y = m.pixel_centers()
    assert Y[0, 0] > 3.9 and Y[-1, 0] < -3.9 and X[0, 0] < -3.9 and X[0, -1] > 3.9


def test_stroke_paints_along_segment_only():
    m = DrawingModel(128)
    assert m.is_empty()
    diff = m.paint_stroke([(-2.0, 1.0), (2.0, 1.0)], size=0.3, strength=1.0)
    assert not diff.empty and not m.is_empty()
    for x in (-2.0, -1.0, 0.0, 1.3, 2.0):  # on the stroke, between the event points too
        assert value_at(m, x, 1.0) > 0.9
    for x, y in [(0.0, -1.0), (0.0, 2.0), (-3.0, 1.0), (3.0, 1.0), (0.0, 0.5)]:  # away from it
        assert value_at(m, x, y) == 0.0
    # the diff covers exactly what changed
    before = np.zeros_like(m.canvas)
    assert np.array_equal(diff.before, before[diff.r0 : diff.r1, diff.c0 : diff.c1])
    assert np.array_equal(diff.after, m.canvas[diff.r0 : diff.r1, diff.c0 : diff.c1])


def test_strength_and_buildup_within_one_stroke_is_speed_independent():
    a, b = DrawingModel(96), DrawingModel(96)
    a.paint_stroke([(-2, 0), (2, 0)], size=0.4, strength=0.5)
    b.paint_stroke([(x, 0.0) for x in np.linspace(-2, 2, 57)], size=0.4, strength=0.5)  # many events, same path
    assert np.allclose(a.canvas, b.canvas, atol=1e-6)
    assert a.canvas.max() == pytest.approx(0.5, abs=1e-6)
    a.paint_stroke([(-2, 0), (2, 0)], size=0.4, strength=0.5)  # a second stroke builds up: 0.5 + 0.5 * 0.5
    assert a.canvas.max() == pytest.approx(0.75, abs=1e-6)


def test_eraser_removes_and_diff_undo_redo():
    m = DrawingModel(96)
    m.paint_stroke([(-1, -1), (1, 1)], size=0.5, strength=1.0)
    painted = m.raster()
    diff = m.paint_stroke([(-1, -1), (1, 1)], size=1.2, strength=1.0, erase=True)  # hard core 0.6 > 0.5
    assert m.is_empty()
    m.apply_diff(diff, forward=False)
    assert np.array_equal(m.canvas, painted)
    m.apply_diff(diff, forward=True)
    assert m.is_empty()
    # a partial eraser only thins
    m.apply_diff(diff, forward=False)
    m.paint_stroke([(0, 0)], size=0.2, strength=0.5, erase=True)
    assert value_at(m, 0, 0) == pytest.approx(0.5, abs=1e-6)
    assert value_at(m, 0.7, 0.7) == pytest.approx(1.0)


def test_clear_and_cancel():
    m = DrawingModel(64)
    m.paint_stroke([(0, 0), (1, 0)], size=0.5)
    snap = m.raster()
    diff = m.clear()
    assert m.is_empty() and not diff.empty
    assert m.clear().empty  # already blank
    m.apply_diff(diff, forward=False)
    assert np.array_equal(m.canvas, snap)
    m.begin_stroke(-3, -3, size=0.5)
    m.stroke_to(-2, -3)
    assert value_at(m, -2.5, -3) > 0
    m.cancel_stroke()
    assert np.array_equal(m.canvas, snap)


def test_set_raster_resamples_and_normalises():
    m = DrawingModel(64)
    img = np.zeros((256, 256))
    img[:64, :64] = 5.0  # top-left quarter of the image
    m.set_raster(img)
    assert m.canvas.max() == pytest.approx(1.0)
    assert value_at(m, -3.5, 3.5) == pytest.approx(1.0) and value_at(m, 3.5, -3.5) == 0.0
    assert resample(np.ones((7, 5)), (3, 11)).shape == (3, 11)
    assert brush_profile(np.array([0.0, 0.5, 1.0, 2.0]), 1.0).tolist()[0] == 1.0
    with pytest.raises(ValueError):
        m.set_raster(np.zeros(5))


def test_painted_raster_becomes_a_target_where_painted():
    m = DrawingModel(128)
    m.paint_stroke([(-2.5, 2.5), (-1.5, 2.5)], size=0.4)  # top-left
    t = raster_target(m.raster(), 4.0, name="drawing")
    x = t.sample(5000, seed=1)
    assert (x[:, 1] > 1.9).all() and (x[:, 1] < 3.1).all()  # top of the canvas = +y
    assert (x[:, 0] > -3.1).all() and (x[:, 0] < -0.9).all()
    assert np.isfinite(t.log_density(np.array([[-2.0, 2.5]]))).all()
    assert np.isneginf(t.log_density(np.array([[2.0, -2.5]]))).all()
    with pytest.raises(DataError):
        raster_target(DrawingModel(32).raster(), 4.0)  # empty drawing
