"""The target canvas (pytest-qt, offscreen): painting, erasing and placing / dragging Gaussians on the large view,
with mouse events, as the same undoable edits as in the Target dock."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtTest import QTest

from playground.app.panels.target.panel import TargetPanel
from playground.app.panels.target_canvas import TargetCanvasPanel
from playground.app.state import AppState, Settings
from playground.data.targets.presets import make_preset
from tests.app.mouse_helpers import mouse_click, mouse_drag


@pytest.fixture
def canvas(qtbot):
    state = AppState(make_preset("moons"), Settings(target_samples=3000))
    target = TargetPanel(state, QUndoStack())
    c = TargetCanvasPanel(target)
    for w, size in ((target, (300, 560)), (c, (720, 720))):
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
    return c


def test_a_stroke_on_the_canvas_makes_the_target_and_undo_restores_it(canvas, tmp_path):
    state, stack, draw = canvas.state, canvas.target.undo_stack, canvas.draw_page
    moons = state.target
    canvas.set_tool("brush")
    assert canvas.target.mode() == "Draw" and canvas.views.currentWidget() is canvas.draw_plot
    mouse_drag(canvas.draw_plot, canvas.draw_view, [(-2.0, 2.0), (0.0, 3.0), (2.0, 2.0)])
    assert state.target.name == "drawing" and stack.count() == 1
    x = state.target_samples
    assert (x[:, 1] > 1.2).all() and (x[:, 0] > -2.9).all() and (x[:, 0] < 2.9).all()
    painted = draw.drawing.raster()
    # the large view shows the dock's drawing (row 0 of the raster is its top)
    assert np.array_equal(canvas.drawing_image.image, painted[::-1])
    assert np.array_equal(draw.canvas_image.image, painted[::-1])
    canvas.grab().save(str(tmp_path / "canvas.png"))
    # the eraser, on the canvas too: one more undo step, density gone where it passed
    canvas.set_tool("eraser")
    assert draw.erasing
    mouse_drag(canvas.draw_plot, canvas.draw_view, [(-0.5, 2.9), (0.5, 2.9)])
    col, row = (int(v) for v in draw.drawing.world_to_pixel(0.0, 2.9))
    assert stack.count() == 2 and draw.drawing.canvas[row, col] < 0.5 * painted[row, col]
    stack.undo()
    assert np.array_equal(draw.drawing.raster(), painted)
    stack.undo()
    assert state.target is moons and draw.drawing.is_empty()
    assert np.array_equal(canvas.drawing_image.image, np.zeros_like(painted))
    stack.redo()
    assert state.target.name == "drawing" and np.array_equal(draw.drawing.raster(), painted)


def test_gaussians_are_placed_dragged_and_removed_on_the_canvas(canvas, qtbot):
    state, stack, editor = canvas.state, canvas.target.undo_stack, canvas.editor
    canvas.set_tool("gaussians")
    assert canvas.target.mode() == "Gaussians" and canvas.views.currentWidget() is canvas.gmm_plot
    plot = canvas.gmm_plot
    mouse_click(plot, plot.view, -1.5, 0.0)
    mouse_click(plot, plot.view, 1.5, 1.0)
    g = state.target.gmm
    assert g is not None and g.n_components == 2
    assert np.allclose(g.means.numpy(), [[-1.5, 0.0], [1.5, 1.0]], atol=0.03)
    n_before = stack.count()
    # a drag on the large view moves the component under the pointer, as one undo step
    mouse_drag(plot, plot.view, [(1.5, 1.0), (1.0, 0.0), (0.5, -2.0)], qtbot=qtbot, wait_ms=90)
    assert np.allclose(state.target.gmm.means.numpy(), [[-1.5, 0.0], [0.5, -2.0]], atol=0.03)
    assert stack.count() == n_before + 1
    # the dock's editor shows the same components
    assert [(round(c.x, 6), round(c.y, 6)) for c in editor.components] == \
        [(round(float(m[0]), 6), round(float(m[1]), 6)) for m in state.target.gmm.means.numpy()]
    stack.undo()
    assert np.allclose(state.target.gmm.means.numpy(), [[-1.5, 0.0], [1.5, 1.0]], atol=0.03)
    # the Delete key on the canvas removes the selected one
    editor.select(0)
    plot.setFocus()
    QTest.keyClick(plot, Qt.Key.Key_Delete)
    assert state.target.gmm.n_components == 1
    stack.undo()
    assert state.target.gmm.n_components == 2


def test_hit_tests_measure_in_the_canvas_pixels(canvas):
    """A click 14 canvas pixels from a centre adds a Gaussian (hits are within 10 pixels), though it is within 10
    pixels of the dock's smaller view; one 6 canvas pixels away selects it."""
    canvas.set_tool("gaussians")
    plot, editor = canvas.gmm_plot, canvas.editor
    editor.add_component(0.0, 0.0, sigma=0.02)
    px, dock_px = plot.view.viewPixelSize()[0], editor.plot.view.viewPixelSize()[0]
    assert 14 * px < 10 * dock_px  # the canvas is the larger view
    mouse_click(plot, plot.view, 6 * px, 0.0)
    assert len(editor.components) == 1 and editor.selected == 0
    mouse_click(plot, plot.view, 14 * px, 0.0)
    assert len(editor.components) == 2


def test_the_canvas_follows_the_dock_and_mirrors_the_brush(canvas):
    target, draw = canvas.target, canvas.draw_page
    target.set_mode("Gaussians")
    assert canvas.tool() == "gaussians"
    target.set_mode("Draw")
    draw.eraser_button.click()
    assert canvas.tool() == "eraser"
    target.set_mode("Presets")  # a page that edits nothing here: the canvas keeps its tool
    assert canvas.tool() == "eraser"
    canvas.size_spin.setValue(0.8)
    assert draw.size_spin.value() == pytest.approx(0.8)
    draw.strength_spin.setValue(0.25)
    assert canvas.strength_spin.value() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown tool"):
        canvas.set_tool("lasso")
