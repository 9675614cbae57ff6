"""Inpainting panel: mask painting (Qt-free logic and the canvas), runs that keep the known pixels exactly,
messages, cancellation and shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402

from playground.app.inpaint_mask import (  # noqa: E402
    PRESETS,
    line_cells,
    masked_errors,
    preset_mask,
    resize_mask,
    stamp,
    stamp_line,
)
from playground.app.panels.image_dataset_panel import NO_DATASET  # noqa: E402
from playground.app.panels.image_forward_panel import NO_MODEL  # noqa: E402
from playground.app.panels.inpaint_panel import EMPTY_MASK, NOTE, InpaintPanel  # noqa: E402
from playground.app.widgets.class_guidance import CLASS_NONE, CLASS_OWN  # noqa: E402
from playground.app.widgets.image_view import GRID_PAD  # noqa: E402
from playground.app.widgets.inpaint_views import masked_rgb  # noqa: E402
from playground.app.widgets.mask_canvas import MaskCanvas  # noqa: E402
from playground.app.workers.inpaint_worker import InpaintJob, run_inpaint  # noqa: E402
from playground.data.images.dataset import ImageDataset  # noqa: E402
from tests.app.image_helpers import make_state, not_blank, show  # noqa: E402

PANEL_SIZE = (800, 800)


def start(panel, steps=20, n=4, corrector=0, predictor="em") -> None:
    rs = panel.run_settings
    rs.steps.setValue(steps)
    rs.count.setValue(n)
    rs.corrector.setValue(corrector)
    rs.predictor.setCurrentIndex(rs.predictor.findData(predictor))
    assert panel.inpaint()


def wait_done(qtbot, panel, timeout=15000):
    qtbot.waitUntil(lambda: not panel.running, timeout=timeout)
    panel._redraw.flush()


# ---- mask logic (no Qt) --------------------------------------------------------------------------------------------
def test_brush_stamps_clip_and_lines_leave_no_gaps():
    m = np.zeros((8, 8), bool)
    stamp(m, (3, 3), 1, True)
    assert m.sum() == 1 and m[3, 3]
    stamp(m, (3, 3), 2, True)  # rows / columns 3..4
    assert m.sum() == 4 and m[3:5, 3:5].all()
    stamp(m, (3, 3), 3, False)  # rows / columns 2..4 erased
    assert m.sum() == 0
    stamp(m, (0, 7), 3, True)  # clipped at the corner: rows 0..1, columns 6..7
    assert m.sum() == 4 and m[0:2, 6:8].all()
    stamp(m, (-5, -5), 3, True)  # entirely outside: nothing
    assert m.sum() == 4
    assert line_cells((0, 0), (0, 0)) == [(0, 0)]
    cells = line_cells((7, 0), (2, 6))
    assert cells[0] == (7, 0) and cells[-1] == (2, 6)
    steps = np.abs(np.diff(np.array(cells), axis=0))
    assert steps.max() == 1  # 8-connected: every cell touches the next
    m = np.zeros((8, 8), bool)
    stamp_line(m, (0, 0), (7, 7), 1, True)
    assert np.array_equal(m, np.eye(8, dtype=bool))


def test_presets_resize_and_errors():
    h, w = 8, 6
    assert preset_mask("left", (h, w))[:, :3].all() and preset_mask("left", (h, w)).sum() == 24
    assert preset_mask("right", (h, w))[:, 3:].all() and preset_mask("right", (h, w)).sum() == 24
    assert preset_mask("top", (h, w))[:4].all() and preset_mask("top", (h, w)).sum() == 24
    assert preset_mask("bottom", (h, w))[4:].all() and preset_mask("bottom", (h, w)).sum() == 24
    centre = preset_mask("centre", (h, w))
    assert centre[2:6, 1:5].all() and centre.sum() == 16
    r = preset_mask("random", (64, 64), seed=3)
    assert abs(r.mean() - 0.5) < 0.03 and np.array_equal(r, preset_mask("random", (64, 64), seed=3))
    assert not np.array_equal(r, preset_mask("random", (64, 64), seed=4))
    assert set(PRESETS) == {"left", "right", "top", "bottom", "centre", "random"}
    with pytest.raises(ValueError, match="unknown mask preset"):
        preset_mask("diagonal", (h, w))
    big = resize_mask(preset_mask("left", (8, 8)), (16, 16))
    assert np.array_equal(big, preset_mask("left", (16, 16)))
    original = np.full((1, 2, 2), 0.5, np.float32)
    results = np.zeros((2, 1, 2, 2), np.float32)
    results[1, 0, 1, 1] = 0.5
    mask = np.array([[True, False], [False, True]])
    assert masked_errors(results, original, mask).tolist() == pytest.approx([np.sqrt(0.5), 0.5])


def test_worker_keeps_pixels_that_do_not_survive_the_normalisation(cond_model):
    """Pixels like 0.0173 do not round-trip y = 2x - 1 exactly in float32; the results still keep them bit for bit."""
    original = (torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.2).numpy()
    flat = torch.as_tensor(original).reshape(1, -1)
    assert not torch.equal(cond_model.to_data(cond_model.to_norm(flat)), flat)
    mask = preset_mask("top", (8, 8))
    job = InpaintJob(score_fn=cond_model.score_fn("norm"), sde=cond_model.sde, original=original, mask=mask,
                     to_norm=cond_model.to_norm, to_data=cond_model.to_data, n=3, steps=5, predictor="em",
                     corrector_steps=0, snr=0.16, seed=0, emit_interval=0.0)
    frames = []
    out = run_inpaint(job, threading.Event(), frames.append)
    assert out.error is None and out.nfe == 6 and len(frames) == 4  # live frames after steps 1 .. 4
    for pixels in [f.pixels for f in frames] + [out.results]:
        assert np.array_equal(pixels[:, :, ~mask], np.broadcast_to(original[:, ~mask], pixels[:, :, ~mask].shape))
    cancelled = threading.Event()
    cancelled.set()
    assert run_inpaint(job, cancelled, frames.append).cancelled


# ---- the canvas ----------------------------------------------------------------------------------------------------
def cell_pos(canvas: MaskCanvas, row: int, col: int) -> QPoint:
    """The canvas widget position of the centre of image pixel (row, col)."""
    scene = canvas.box.mapViewToScene(QPointF(GRID_PAD + col + 0.5, GRID_PAD + row + 0.5))
    return canvas.mapFromScene(scene)


def test_canvas_strokes_brush_erase_and_undo_redo(keep, qtbot, digits):
    canvas = show(keep, qtbot, MaskCanvas(title="mask"), size=(400, 400))
    canvas.set_image(digits.images[0])
    assert canvas.mask.shape == (8, 8) and not canvas.mask.any()
    stack = canvas.undo_stack
    canvas.brush_size = 2
    canvas.begin_stroke((1, 1), True)
    canvas.continue_stroke((1, 5))
    canvas.end_stroke()
    painted = canvas.mask.copy()
    assert painted[1:3, 1:7].all() and painted.sum() == 12 and stack.count() == 1
    canvas.brush_size = 1
    canvas.begin_stroke((1, 1), False)  # erase one pixel
    canvas.end_stroke()
    assert canvas.mask.sum() == 11 and stack.count() == 2
    canvas.begin_stroke((7, 7), False)  # erasing nothing is no undo step
    canvas.end_stroke()
    assert stack.count() == 2
    canvas.invert_mask()
    assert canvas.mask.sum() == 64 - 11
    canvas.apply_preset("top")
    assert np.array_equal(canvas.mask, preset_mask("top", (8, 8)))
    canvas.clear_mask()
    assert not canvas.mask.any() and stack.count() == 5
    for expect in (preset_mask("top", (8, 8)), None, None, painted):
        stack.undo()
        if expect is not None:
            assert np.array_equal(canvas.mask, expect)
    stack.undo()
    assert not canvas.mask.any() and not stack.canUndo()
    stack.redo()
    assert np.array_equal(canvas.mask, painted)
    # the mouse: left paints, right erases (on the view's viewport, where Qt delivers them)
    canvas.clear_mask()
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=cell_pos(canvas, 4, 2))
    assert canvas.mask.sum() == 1 and canvas.mask[4, 2]
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, pos=cell_pos(canvas, 4, 2))
    assert not canvas.mask.any()
    canvas.erasing = True
    canvas.mask[:] = True
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=cell_pos(canvas, 0, 0))
    assert canvas.mask.sum() == 63 and not canvas.mask[0, 0]


# ---- the panel -----------------------------------------------------------------------------------------------------
def test_no_dataset_and_no_model_show_their_messages(keep, qtbot, digits):
    state = make_state()
    panel = show(keep, qtbot, InpaintPanel(state), size=PANEL_SIZE)
    assert panel.canvas.message == NO_DATASET and panel.views.results.message == NO_DATASET
    assert not panel.inpaint_btn.isEnabled() and not panel.inpaint() and panel.thread is None
    assert NOTE in panel.note.text() and panel.note.isVisible()
    state.set_images(digits, "digits")
    assert panel.canvas.has_image and panel.views.results.message == NO_MODEL
    panel.canvas.apply_preset("left")  # a mask can be painted before there is a model
    assert not panel.inpaint() and panel.status.text() == NO_MODEL and panel.thread is None
    assert panel.image_info.text() == f"class: {digits.labels[0]}"


def test_empty_mask_gives_a_message_and_runs_nothing(keep, qtbot, digits, cond_model):
    panel = show(keep, qtbot, InpaintPanel(make_state(digits, cond_model)), size=PANEL_SIZE)
    assert panel.inpaint_btn.isEnabled()
    assert not panel.inpaint() and panel.thread is None and panel._threads == []
    assert panel.status.text() == EMPTY_MASK and panel.views.results.message == EMPTY_MASK


def test_inpainting_keeps_the_known_pixels_exactly(keep, qtbot, digits, cond_model):
    state = make_state(digits, cond_model)
    panel = show(keep, qtbot, InpaintPanel(state), size=PANEL_SIZE)
    panel.index.setValue(5)
    panel.canvas.apply_preset("centre")
    original, mask = panel.image().copy(), panel.canvas.mask.copy()
    known = np.broadcast_to(~mask, original.shape)
    start(panel, steps=20, n=4, corrector=1)
    wait_done(qtbot, panel)
    out = panel.outcome
    assert out is not None and out.error is None and out.results.shape == (4, 1, 8, 8) and out.nfe == 20 * 2 + 1
    for result in out.results:
        assert np.array_equal(result[known], original[known])  # bit for bit
    assert np.abs(out.results[:, ~known]).max() > 0 and not np.array_equal(out.results[0], out.results[1])
    assert np.array_equal(out.errors, masked_errors(out.results, original, mask))
    assert panel.views.results.captions == tuple(f"L2 {e:.2f}" for e in out.errors)
    assert "L2 error on the 16 generated values" in panel.views.errors.text()
    assert panel.progress.value() == 20 and "NFE 41" in panel.status.text()
    # the masked input shows the generated pixels in the mask's colour, the kept ones as they are
    masked = masked_rgb(panel.image(), panel.canvas.mask)[0]
    assert masked.shape == (3, 8, 8) and np.array_equal(masked[0][~mask], original[0][~mask])
    assert len(np.unique(masked[:, mask].T, axis=0)) == 1
    assert not_blank(panel)
    panel.grab().save("/tmp/inpaint_panel.png")
    # the PF-ODE predictor with the image's class and guidance: still exact on the known pixels
    assert panel.class_picker.currentData() == CLASS_OWN and panel.run_class() == int(digits.labels[5])
    panel.guidance.setValue(1.5)
    start(panel, steps=10, n=3, predictor="ode_euler")
    wait_done(qtbot, panel)
    assert panel.outcome.error is None and panel.outcome.nfe == 11
    for result in panel.outcome.results:
        assert np.array_equal(result[known], original[known])


def test_class_and_guidance_choose_the_score(keep, qtbot, digits, cond_model):
    panel = show(keep, qtbot, InpaintPanel(make_state(digits, cond_model)), size=PANEL_SIZE)
    panel.index.setValue(3)
    label = int(digits.labels[3])
    assert panel.class_picker.isEnabled() and panel.class_picker.currentData() == CLASS_OWN
    assert panel.class_picker.currentText() == f"its own class ({label})"
    x, t = torch.randn(4, 64), torch.full((4,), 0.3)
    assert torch.equal(panel.score_function(panel.run_class(), 4)(x, t),
                       cond_model.score_norm(x, t, torch.full((4,), label)))
    panel.class_picker.setCurrentIndex(panel.class_picker.findData(CLASS_NONE))
    assert panel.run_class() is None and not panel.guidance.isEnabled()
    assert torch.equal(panel.score_function(None, 4)(x, t), cond_model.score_norm(x, t))
    panel.class_picker.setCurrentIndex(panel.class_picker.findData(2))
    assert panel.run_class() == 2 and panel.guidance.isEnabled()


def test_few_steps_with_a_corrector_run(keep, qtbot, digits, cond_model):
    """The corrector's step follows the sampler's own grid, so 5 VP steps with a corrector are stable (issue 17)."""
    panel = show(keep, qtbot, InpaintPanel(make_state(digits, cond_model)), size=PANEL_SIZE)
    panel.canvas.apply_preset("random")
    start(panel, steps=5, n=2, corrector=1)
    wait_done(qtbot, panel)
    assert panel.outcome is not None and np.isfinite(panel.outcome.results).all()


def test_a_failing_run_fails_with_a_message(keep, qtbot, digits, cond_model, monkeypatch):
    import playground.core.sampling.inpainting as inpainting

    def refuse(*args, **kwargs):
        raise ValueError("need steps >= 1")

    monkeypatch.setattr(inpainting, "inpaint", refuse)
    panel = show(keep, qtbot, InpaintPanel(make_state(digits, cond_model)), size=PANEL_SIZE)
    panel.canvas.apply_preset("random")
    start(panel, steps=5, n=2, corrector=1)
    wait_done(qtbot, panel)
    assert panel.outcome is None and "Inpainting failed" in panel.status.text() and "steps >= 1" in panel.status.text()


def test_a_new_run_or_another_image_cancels_the_old_one(keep, qtbot, digits, cond_model):
    panel = show(keep, qtbot, InpaintPanel(make_state(digits, cond_model)), size=PANEL_SIZE)
    panel.canvas.apply_preset("bottom")
    start(panel, steps=2000, n=8, corrector=5)
    first = panel.thread
    start(panel, steps=2000, n=8, corrector=5)
    assert panel.thread is not first and first.wait(1000)
    second = panel.thread
    shown = panel.index.value()
    panel.pick_random()  # always another image
    assert panel.index.value() != shown and panel.thread is None and second.wait(1000) and panel.outcome is None
    assert panel.views.results.message == "Press Inpaint." and panel.canvas.mask.any()  # the mask is kept


def test_shutdown_during_a_run_stops_within_a_second(keep, qtbot, digits, cond_model):
    panel = show(keep, qtbot, InpaintPanel(make_state(digits, cond_model)), size=PANEL_SIZE)
    panel.canvas.apply_preset("right")
    original, known = panel.image().copy(), ~panel.canvas.mask
    start(panel, steps=2000, n=8, corrector=5)
    qtbot.waitUntil(lambda: panel.live is not None, timeout=5000)
    assert panel.live.pixels.shape == (8, 1, 8, 8) and (panel.live.pixels[:, :, known] == original[:, known]).all()
    panel._redraw.flush()
    assert "x̂₀ at t" in panel.views.results.plot.titleLabel.text and panel.progress.value() == panel.live.i
    th = panel.thread
    t0 = time.perf_counter()
    panel.shutdown()
    assert time.perf_counter() - t0 < 1.0 and not th.isRunning() and not panel.running
    panel.shutdown()  # twice is fine


def test_mask_survives_another_image_size_and_keys_undo(keep, qtbot, digits, cond_model):
    state = make_state(digits, cond_model)
    panel = show(keep, qtbot, InpaintPanel(state), size=PANEL_SIZE)
    panel.canvas.apply_preset("left")
    panel.canvas.setFocus()
    qtbot.waitUntil(panel.canvas.hasFocus, timeout=2000)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not panel.canvas.mask.any()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(panel.canvas.mask, preset_mask("left", (8, 8)))
    big = ImageDataset(np.kron(digits.images[:20], np.ones((1, 1, 2, 2), np.float32)), digits.labels[:20],
                       digits.class_names, name="digits x2")
    state.set_images(big, "digits x2")  # 16x16: the model no longer fits, the mask is resampled
    assert np.array_equal(panel.canvas.mask, preset_mask("left", (16, 16))) and not panel.canvas.undo_stack.canUndo()
    assert "train a model on this dataset" in panel.views.results.message
    assert not panel.inpaint_btn.isEnabled() and panel.index.maximum() == 19


def test_every_control_has_a_tooltip(keep, qtbot, digits, cond_model):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QScrollBar

    panel = keep(InpaintPanel(make_state(digits, cond_model)))
    controls = [w for k in (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox)
                for w in panel.findChildren(k)]
    assert len(controls) > 10
    for w in controls:
        if not isinstance(w, QScrollBar) and not isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
            assert w.toolTip(), f"{type(w).__name__} {getattr(w, 'text', str)()}"
