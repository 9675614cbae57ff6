"""Image-mode panels: the grid view, dataset, forward diffusion and sampling (SDE | ODE, guidance, bits/dim)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")


from playground.app.panels.image_dataset_panel import NO_DATASET, ImageDatasetPanel  # noqa: E402
from playground.app.panels.image_forward_panel import NO_MODEL, STRIP_TIMES, ImageForwardPanel  # noqa: E402
from playground.app.panels.image_sampling_panel import ImageSamplingPanel  # noqa: E402
from playground.app.widgets.image_view import ImageGridView  # noqa: E402
from playground.core.training.image_training import image_train_config, image_trainer  # noqa: E402
from tests.app.image_helpers import make_state, not_blank, show  # noqa: E402


@pytest.fixture(scope="module")
def uncond_model(digits):
    trainer = image_trainer(digits, image_train_config(steps=1, base_channels=8, batch=16, device="cpu", seed=0))
    trainer.run(max_steps=1)
    return trainer.snapshot()


def wait_done(qtbot, panel, timeout=15000):
    qtbot.waitUntil(lambda: not panel.running and all(s.outcome is not None for s in panel.sides.values()),
                    timeout=timeout)
    panel._redraw.flush()


# ---- the grid view ---------------------------------------------------------------------------------------------
def test_grid_view_shows_tiles_captions_labels_and_messages(keep, qtbot, digits):
    view = show(keep, qtbot, ImageGridView(title="digits"))
    view.set_images(digits.images[:6], columns=3, captions=["a", "b", "", "d", "e", "f"])
    assert view.picture.shape == (2 * 9 + 1, 3 * 9 + 1) and view.picture.dtype == np.uint8
    assert view.picture[1:9, 1:9].tolist() == np.round(digits.images[0, 0] * 255).astype(np.uint8).tolist()
    assert view.captions == ("a", "b", "", "d", "e", "f") and view.message == ""
    assert not view.box.state["mouseEnabled"][0]
    view.set_images(np.ones((4, 3, 5, 5), np.float32) * 2, column_labels=["t = 0", "t = 1"])  # RGB, clipped
    assert view.picture.shape == (13, 13, 3) and view.picture.max() == 255 and view.column_labels == ("t = 0", "t = 1")
    view.set_message("Train a model first")
    assert view.message == "Train a model first" and view.picture is None and view.captions == ()
    view.setBackground("#ffffff")  # the app's light theme: dark text
    assert view._message.color.lightness() < 100
    view.setBackground("#1e1e22")
    assert view._message.color.lightness() > 150
    with pytest.raises(ValueError):
        view.set_images(np.zeros((2, 8, 8)))


# ---- dataset -----------------------------------------------------------------------------------------------------
def test_dataset_panel_grid_filter_and_message(keep, qtbot, digits):
    state = make_state()
    panel = show(keep, qtbot, ImageDatasetPanel(state))
    assert panel.view.message == NO_DATASET and not panel.reshuffle_btn.isEnabled()
    state.set_images(digits, "digits")
    assert len(panel.indices) == 64 and "1,797 images" in panel.summary.text() and "10 classes" in panel.summary.text()
    assert not_blank(panel)
    first = panel.indices.copy()
    panel.reshuffle()
    assert not np.array_equal(first, panel.indices)
    panel.class_combo.setCurrentIndex(panel.class_combo.findData(3))
    assert (digits.labels[panel.indices] == 3).all() and set(panel.view.captions) == {"3"}
    state.set_images(None)
    assert panel.view.message == NO_DATASET


# ---- forward diffusion ---------------------------------------------------------------------------------------------
def test_forward_strip_follows_the_marginal_exactly(keep, qtbot, digits, cond_model):
    state = make_state(digits)
    panel = show(keep, qtbot, ImageForwardPanel(state))
    panel._redraw.flush()
    assert panel.x0_view.message == NO_MODEL and panel.x0_hat is None
    y = 2 * torch.as_tensor(panel.images, dtype=torch.float64).reshape(len(panel.images), -1) - 1
    eps = panel.noise
    strip = panel.strip_norm
    assert strip.shape == (len(y), len(STRIP_TIMES), 64) and STRIP_TIMES[0] == 0 and STRIP_TIMES[-1] == 1
    assert torch.allclose(strip[:, 0], y)  # VP: alpha(0) = 1, sigma(0) = 0: x_0 is the data
    alpha, sigma = state.sde().marginal_coefficients(torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(strip[:, -1], alpha * y + sigma * eps)
    assert float(sigma) == pytest.approx(state.sde().prior_std, abs=1e-3) and float(alpha) < 0.01  # the prior
    for k, t in enumerate(STRIP_TIMES):  # one eps per image: every column is on the same path
        a, s = state.sde().marginal_coefficients(torch.tensor(float(t), dtype=torch.float64))
        assert torch.allclose(strip[:, k], a * y + s * eps)
    # at the time bar's t: x_t, then the denoiser once a model exists
    state.set_time(0.25)
    panel._redraw.flush()
    a, s = state.sde().marginal_coefficients(torch.tensor(0.25, dtype=torch.float64))
    expect = ((a * y + s * eps + 1) / 2).reshape(panel.x_t.shape).numpy()
    assert np.allclose(panel.x_t, expect, atol=1e-6)
    state.set_model(cond_model)
    panel._redraw.flush()
    x0 = cond_model.denoise(panel.x_t.reshape(len(panel.x_t), -1), 0.25).reshape(panel.x_t.shape)
    assert np.allclose(panel.x0_hat, x0) and "MSE" in panel.info.text() and panel.x0_view.message == ""
    assert not_blank(panel)
    state.set_images(None)
    panel._redraw.flush()
    assert panel.strip_view.message == NO_DATASET and panel.strip_norm is None


# ---- sampling ------------------------------------------------------------------------------------------------------
def test_sampling_shows_message_without_model_or_dataset(keep, qtbot, digits):
    panel = show(keep, qtbot, ImageSamplingPanel(make_state()))
    assert all(s.view.message == NO_DATASET for s in panel.sides.values())
    panel = show(keep, qtbot, ImageSamplingPanel(make_state(digits)))
    assert all(s.view.message == NO_MODEL for s in panel.sides.values())
    assert not panel.controls.resample_btn.isEnabled() and not panel.resample() and not panel.bpd.start()


def test_sampling_sides_share_x_T_finish_with_nfe_and_scrub(keep, qtbot, digits, cond_model):
    state = make_state(digits, cond_model)
    panel = show(keep, qtbot, ImageSamplingPanel(state), size=(900, 700))
    panel.controls.count.setCurrentIndex(panel.controls.count.findData(16))  # schedules a restart with 16 images
    panel._restart_timer.stop()
    assert panel.resample()
    wait_done(qtbot, panel)
    sde, ode = panel.sides["sde"].outcome, panel.sides["ode"].outcome
    assert sde.error is None and ode.error is None
    assert np.array_equal(sde.frames[0].x, ode.frames[0].x) and sde.frames[0].t == ode.frames[0].t == 1.0
    assert sde.nfe == 11 and ode.nfe == 2 * 6 - 1  # EM: steps + 1; Heun: 2 * steps - 1 (steps = (10 + 2) // 2)
    for key, o in (("sde", sde), ("ode", ode)):
        assert f"NFE {o.nfe}" in panel.sides[key].info.text() and " s\n" in panel.sides[key].info.text()
    assert sde.samples.shape == (16, 1, 8, 8) and panel.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert not_blank(panel)
    # the time bar scrubs the stored frames: t = 1 the shared noise, t = 0 the samples
    state.set_time(1.0)
    assert panel.sides["ode"].shown_frame(panel.scrub_t) is ode.frames[0]
    state.set_time(0.0)
    assert panel.sides["sde"].shown_frame(panel.scrub_t) is sde.frames[-1]
    state.set_time(0.5)
    f = panel.sides["sde"].shown_frame(panel.scrub_t)
    assert abs(f.t - 0.5) <= 0.5 / 10 + 1e-9
    panel._redraw.flush()
    assert "(time bar 0.500)" in panel.sides["sde"].info.text()


def test_zero_guidance_is_the_plain_conditional_model(keep, qtbot, digits, cond_model):
    state = make_state(digits, cond_model)
    panel = show(keep, qtbot, ImageSamplingPanel(state))
    panel.class_picker.setCurrentIndex(panel.class_picker.findData(7))
    panel.controls.count.setCurrentIndex(panel.controls.count.findData(16))
    panel._restart_timer.stop()
    assert panel.guidance.isEnabled() and panel.guidance_weight() == 0.0
    x = torch.randn(16, 64)
    t = torch.full((16,), 0.4)
    labels = panel.class_labels(16, 0)
    assert (labels == 7).all()
    assert torch.equal(panel.score_function(labels, 0.0)(x, t), cond_model.score_norm(x, t, torch.full((16,), 7)))
    panel.resample()
    wait_done(qtbot, panel)
    expect = cond_model.sample(16, "ode_heun", steps=6, x_T=panel.x_T, class_labels=7)
    assert np.allclose(panel.sides["ode"].outcome.samples, expect, atol=1e-6)
    panel.guidance.setValue(20)  # w = 2: guided, so different samples
    assert panel.guidance_label.text() == "w = 2.0" and "(1 + w)" in panel.guidance.toolTip()
    panel._restart_timer.stop()
    panel.resample()
    wait_done(qtbot, panel)
    assert not np.allclose(panel.sides["ode"].outcome.samples, expect, atol=1e-4)


def test_unconditional_model_disables_class_controls_and_rk45_runs(keep, qtbot, digits, uncond_model):
    state = make_state(digits, uncond_model, ode_sampler="ode_rk45", sample_steps=4)
    panel = show(keep, qtbot, ImageSamplingPanel(state))
    assert not panel.class_picker.isEnabled() and not panel.guidance.isEnabled()
    assert "not class-conditional" in panel.guidance.toolTip()
    wait_done(qtbot, panel)
    ode = panel.sides["ode"].outcome
    assert ode.error is None and ode.nfe > 4 and len(ode.frames) == 4 + 1 and panel.labels is None
    assert "adaptive RK45" in panel.sides["ode"].info.text()


def test_shutdown_during_a_run_stops_within_a_second(keep, qtbot, digits, cond_model):
    state = make_state(digits, cond_model, sample_steps=250)
    panel = show(keep, qtbot, ImageSamplingPanel(state))
    qtbot.waitUntil(lambda: panel.sides["sde"].live is not None, timeout=5000)
    threads = [s.worker for s in panel.sides.values()]
    assert panel.running and all(th.isRunning() for th in threads)
    start = time.perf_counter()
    panel.shutdown()
    assert time.perf_counter() - start < 1.0
    assert not any(th.isRunning() for th in threads) and not panel.running
    panel.shutdown()  # twice is fine


def test_bits_per_dim_gives_a_finite_estimate(keep, qtbot, digits, cond_model):
    state = make_state(digits, cond_model)
    panel = show(keep, qtbot, ImageSamplingPanel(state))
    panel.cancel()
    panel.bpd.tol = 1e-2  # a coarse ODE keeps the test fast; the estimate is still a finite bits/dim
    assert panel.bpd.start() and panel.bpd.button.text() == "Cancel bits/dim"
    qtbot.waitUntil(lambda: panel.bpd.outcome is not None, timeout=30000)
    out = panel.bpd.outcome
    assert out.error is None and np.isfinite(out.bpd) and out.bpd > 0 and out.n == 64 and out.nfe > 0
    assert "bits/dim (64 images, NFE" in panel.bpd.label.text() and "estimate" in panel.bpd.label.text()
    # cancelling a second estimate stops it
    panel.bpd.start()
    th = panel.bpd.worker
    panel.bpd.cancel()
    assert th.wait(1000) and panel.bpd.button.text() == "Bits/dim"


def test_a_new_model_during_a_run_is_sampled_after_it(keep, qtbot, digits, cond_model, uncond_model):
    state = make_state(digits, cond_model, sample_steps=60)
    panel = show(keep, qtbot, ImageSamplingPanel(state))
    assert panel.running
    threads = [s.worker for s in panel.sides.values()]
    state.set_model(uncond_model)  # training's next snapshot: the run in progress finishes first
    assert [s.worker for s in panel.sides.values()] == threads
    wait_done(qtbot, panel)
    assert panel._follow_timer.isActive() and panel.sides["sde"].outcome.samples is not None
    panel._follow_timer.stop()
    panel._restart_if_usable()
    assert panel.running and panel._run_model is uncond_model
    # a Resample cancels the run in progress and starts over
    first = [s.worker for s in panel.sides.values()]
    panel.resample()
    assert all(th.wait(1000) for th in first) and panel.running


def test_every_control_has_a_tooltip(keep, qtbot, digits, cond_model):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QScrollBar

    state = make_state(digits, cond_model)
    for panel in (ImageDatasetPanel(state), ImageForwardPanel(state), ImageSamplingPanel(state)):
        keep(panel)
        controls = [w for k in (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox)
                    for w in panel.findChildren(k)]
        assert controls
        for w in controls:
            if not isinstance(w, QScrollBar) and not isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
                assert w.toolTip(), f"{type(panel).__name__}: {type(w).__name__} {getattr(w, 'text', str)()}"
