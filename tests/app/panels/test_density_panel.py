"""Density panel: the exact map equals the analytic diffused mixture, the learned map fills in coarse to fine and
equals the core's map, the fit line, cancellation on close, and no recomputation while training runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from playground.app.panels.density_panel import SHOW_DIFFERENCE, SHOW_LEARNED, SHOW_TRUE, DensityPanel  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.data.targets.gaussian_mixture import GaussianMixture  # noqa: E402
from playground.data.targets.target import Target  # noqa: E402

MEANS = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]])
COVS = np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.5]], [[0.4, -0.15], [-0.15, 0.3]]])
WEIGHTS = np.array([0.5, 0.3, 0.2])


def three_gaussians() -> Target:
    gmm = GaussianMixture(WEIGHTS, MEANS, COVS)
    return Target("three", lambda n, rng: gmm.sample(n, torch.Generator().manual_seed(int(rng.integers(2**31))))
                  .numpy(), gmm=gmm)


def make_state(**settings) -> AppState:
    return AppState(three_gaussians(), Settings(**{"target_samples": 4000, **settings}))


def analytic_log_density(points: np.ndarray, state: AppState, t: float) -> np.ndarray:
    """log p_t in data space for the VP SDE acting on normalised data y = (x - m) / s: x_t = m (1 - a) + a x_0 +
    s std eps, so p_t = sum_k w_k N(m (1 - a) + a mu_k, a^2 Sigma_k + s^2 std^2 I), by scipy-free numpy."""
    sde, norm = state.sde(), state.normalization
    a, std = (float(v) for v in sde.marginal_coefficients(torch.tensor(t, dtype=torch.float64)))
    m, s = np.asarray(norm.mean, np.float64), float(norm.scale)
    out = np.zeros(len(points))
    for w, mu, cov in zip(WEIGHTS / WEIGHTS.sum(), MEANS, COVS):
        c = a * a * cov + (s * std) ** 2 * np.eye(2)
        d = points - (m * (1 - a) + a * mu)
        q = np.einsum("ni,ij,nj->n", d, np.linalg.inv(c), d)
        out += w * np.exp(-0.5 * q) / (2 * math.pi * math.sqrt(np.linalg.det(c)))
    return np.log(out)


def grid_points(extent, g) -> np.ndarray:
    xmin, xmax, ymin, ymax = extent
    xs = xmin + (np.arange(g) + 0.5) * (xmax - xmin) / g
    ys = ymin + (np.arange(g) + 0.5) * (ymax - ymin) / g
    xx, yy = np.meshgrid(xs, ys)  # row i is y = ys[i]
    return np.stack([xx.ravel(), yy.ravel()], 1)


def wait_done(qtbot, panel, timeout=60000) -> None:
    qtbot.waitUntil(lambda: panel.outcome is not None and not panel.running, timeout=timeout)


@pytest.fixture(scope="module")
def model():
    """A small MLP trained briefly on the three Gaussians (~4 s): a rough but non-trivial density."""
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    torch.manual_seed(0)
    tr = Trainer(TrainConfig(steps=300, hidden=32, depth=2, device="cpu", threads=1), data=make_state().target_samples)
    tr.run()
    return tr.snapshot()


def test_exact_map_of_a_gmm_equals_the_analytic_log_density(qtbot, keep):
    st = make_state()
    st.set_time(0.4)
    panel = keep(DensityPanel(st))
    panel.refresh()
    wait_done(qtbot, panel)
    f = panel.frame
    g = panel.resolution.currentData()
    expected = analytic_log_density(grid_points(f.extent, g), st, 0.4).reshape(g, g)
    assert f.learned is None and f.true_t == pytest.approx(0.4)
    np.testing.assert_allclose(f.true, expected, rtol=0, atol=1e-9)
    panel._redraw.flush()  # no model: the heatmap shows the exact map whatever the combo says
    assert panel.shown_values is f.true
    np.testing.assert_allclose(panel.heat.data, expected.astype(np.float32), atol=1e-5)
    assert "train a model" in panel.fit.text()


def test_learned_map_fills_in_coarse_to_fine_and_equals_the_core_map(qtbot, keep, tmp_path, model):
    from playground.core.sampling.density_grid import GridSpec, log_density_grid
    from playground.core.sampling.pf_ode_density import model_density_field

    st = make_state()
    st.set_time(0.0)
    panel = keep(DensityPanel(st))
    panel.resolution.setCurrentIndex(0)  # 64 x 64
    strides = []
    received = panel._on_frame

    def record(frame):
        if frame.learned is not None:
            strides.append(frame.stride)
        received(frame)

    panel._on_frame = record
    st.set_model(model)
    panel.refresh()
    wait_done(qtbot, panel)
    f = panel.frame
    assert f.done and f.fraction == 1.0 and strides[0] > 1 and strides[-1] == 1 and strides == sorted(strides)[::-1]
    expected = log_density_grid(model_density_field(model), GridSpec(f.extent, 64), 0.0)
    np.testing.assert_array_equal(f.learned, expected.log_density)
    assert f.steps == expected.steps and f.nfe == expected.nfe
    # the fit line: NLL, the entropy of the exact mixture and the KL between them, all finite
    r = panel.outcome.report
    assert r is not None and r.entropy is not None and math.isfinite(r.kl) and r.nll == pytest.approx(r.entropy + r.kl,
                                                                                                       abs=5 * r.kl_sem)
    assert "KL" in panel.fit.text() and "NLL" in panel.fit.text()
    # the three views
    panel.show_combo.setCurrentIndex(panel.show_combo.findData(SHOW_LEARNED))
    panel._redraw.flush()
    assert panel.shown_values is f.learned
    panel.show_combo.setCurrentIndex(panel.show_combo.findData(SHOW_DIFFERENCE))
    panel._redraw.flush()
    diff = panel.shown_values
    relevant = np.isfinite(diff)
    assert relevant.any() and (~relevant).any()  # far tails are left out
    np.testing.assert_allclose(diff[relevant], (f.learned - f.true)[relevant])
    assert np.all(f.true[relevant] > np.max(f.true) - 8)
    panel.show_combo.setCurrentIndex(panel.show_combo.findData(SHOW_TRUE))
    panel._redraw.flush()
    assert panel.shown_values is f.true
    panel.resize(520, 560)
    panel.show()
    panel.show_combo.setCurrentIndex(panel.show_combo.findData(SHOW_LEARNED))
    panel._redraw.flush()
    panel.grab().save(str(tmp_path / "density.png"))


def test_close_cancels_the_map_at_once(qtbot, keep, model):
    st = make_state()
    st.set_model(model)
    panel = keep(DensityPanel(st))
    panel.resolution.setCurrentIndex(2)  # 128 x 128: seconds of work
    panel.refresh()
    thread = panel._current
    qtbot.waitUntil(lambda: panel.frames_received >= 1, timeout=20000)
    panel.shutdown()
    assert thread.wait(3000), "the density worker did not stop after shutdown"
    assert thread.outcome.cancelled


def test_training_marks_the_map_stale_until_it_pauses(qtbot, keep, model):
    st = make_state()
    panel = keep(DensityPanel(st))
    panel.refresh()
    wait_done(qtbot, panel)
    generation = panel.generation
    st.set_training(True)
    st.set_model(model)
    st.set_time(0.2)
    qtbot.wait(2 * 300 + 100)
    assert panel.generation == generation and panel.stale and not panel.running  # training keeps the CPU
    st.set_training(False)
    qtbot.waitUntil(lambda: panel.generation > generation, timeout=3000)
    wait_done(qtbot, panel)
    assert panel.frame.learned is not None and panel.frame.t == pytest.approx(0.2) and not panel.stale


def test_a_tabbed_away_panel_waits_until_shown(qtbot, keep):
    from PySide6.QtWidgets import QLabel, QTabWidget

    st = make_state()
    tabs = keep(QTabWidget())
    tabs.addTab(QLabel("front"), "front")
    panel = DensityPanel(st)
    tabs.addTab(panel, "density")
    tabs.show()
    st.set_time(0.3)
    qtbot.wait(400)
    assert panel.generation == 0 and panel.stale  # hidden behind the first tab: nothing computed
    tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.outcome is not None, timeout=5000)
    assert panel.frame.t == pytest.approx(0.3) and panel.frame.true is not None
    panel.shutdown()


def test_a_dock_tabbed_away_in_the_window_computes_nothing_until_its_tab_is_selected(qtbot, tmp_path):
    """In the window the Density dock is tabbed behind the score field; a tabbed-away dock's widgets stay
    isVisible() to Qt, so the panel computed a map at every t while the time bar played (bench ui: a density thread
    beside the UI and the trainer). Its dock's visibilityChanged now tells it (`dock_on_screen`)."""
    from playground.data.targets.presets import make_preset
    from tests.app.window_helpers import make_window

    w = make_window(qtbot, tmp_path)
    panel, dock = w.panels["density"], w.docks["density"]
    w.state.set_target(make_preset("8gaussians"))  # an exact density: a map is computed without a model
    assert w.tabifiedDockWidgets(dock) and panel.visibleRegion().isEmpty()  # behind the score field's tab
    for t in (0.2, 0.4, 0.6):
        w.state.set_time(t)
        qtbot.wait(150)
    qtbot.wait(400)
    assert panel.generation == 0 and not panel.running and panel.stale
    dock.raise_()
    qtbot.waitUntil(lambda: panel.outcome is not None, timeout=20_000)
    assert panel.frame.t == pytest.approx(0.6)
    w.docks["score"].raise_()  # tabbed away again: a new t starts nothing
    qtbot.wait(100)
    before = panel.generation
    w.state.set_time(0.3)
    qtbot.wait(600)
    assert panel.generation == before and not panel.running
