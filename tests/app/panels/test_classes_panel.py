"""Classes panel: exact class-conditional samples land in their component (at the SWD floor), exact classifier
guidance equals exact CFG, class colours, a conditional model trained from the app's recipe, and the imputation
tool against the exact 1D conditional."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from playground.app.panels.classes_panel import ALL_CLASSES, EXACT_CFG, EXACT_CG, LEARNED, ClassesPanel  # noqa: E402
from playground.app.state import AppState, Settings  # noqa: E402
from playground.data.targets.gaussian_mixture import GaussianMixture  # noqa: E402
from playground.data.targets.target import Target  # noqa: E402

MEANS = np.array([[-2.0, -0.5], [2.0, -0.5], [0.0, 2.0]])
COVS = np.array([[[0.5, 0.2], [0.2, 0.4]], [[0.4, -0.15], [-0.15, 0.5]], [[0.6, 0.0], [0.0, 0.25]]])
WEIGHTS = np.array([0.4, 0.35, 0.25])


def three_classes() -> Target:
    gmm = GaussianMixture(WEIGHTS, MEANS, COVS)
    return Target("three", lambda n, rng: gmm.sample(n, torch.Generator().manual_seed(int(rng.integers(2**31))))
                  .numpy(), gmm=gmm)


def make_state(**settings) -> AppState:
    base = {"target_samples": 4000, "n_particles": 2000, "sample_steps": 100, "seed": 3}
    return AppState(three_classes(), Settings(**{**base, **settings}))


def responsibility(x: np.ndarray, k: int) -> float:
    """The mean exact posterior p(c = k | x) of the mixture over the samples x."""
    logs = []
    for w, mu, cov in zip(WEIGHTS, MEANS, COVS):
        d = x - mu
        q = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
        logs.append(np.log(w) - 0.5 * q - 0.5 * np.log(np.linalg.det(2 * math.pi * cov)))
    logs = np.stack(logs, 1)
    post = np.exp(logs - logs.max(1, keepdims=True))
    return float((post[:, k] / post.sum(1)).mean())


def pick(combo, data) -> None:
    combo.setCurrentIndex(combo.findData(data))


def run_sample(qtbot, panel) -> None:
    panel._resample.stop()
    assert panel.sample()
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    panel._resample.stop()
    assert panel.class_outcome is not None and panel.class_outcome.error is None


def test_exact_class_samples_land_in_their_component_and_cg_equals_cfg(qtbot, keep):
    st = make_state()
    panel = keep(ClassesPanel(st))
    assert not panel.method.model().item(0).isEnabled()  # no conditional model: learned CFG is greyed out
    pick(panel.method, EXACT_CFG)
    pick(panel.class_picker, 1)
    run_sample(qtbot, panel)
    out = panel.class_outcome
    assert (out.labels == 1).all() and out.x.shape == (2000, 2)
    swd, floor = out.swd[1]
    assert swd < 1.5 * floor  # w = 0: the exact conditional p(x | c = 1), component 1 itself
    np.testing.assert_allclose(out.x.mean(0), MEANS[1], atol=0.08)
    np.testing.assert_allclose(np.cov(out.x.T), COVS[1], atol=0.08)
    assert panel.clouds[1].count == 2000 and all(c.count == 0 for k, c in enumerate(panel.clouds) if k != 1)
    assert "class 1: SWD" in panel.info.text()
    # exact classifier guidance at scale 1 + w is exact CFG at weight w: the same samples from the same seed
    panel.guidance.setValue(30)  # w = 3
    assert panel.weight() == pytest.approx(3.0)
    run_sample(qtbot, panel)
    cfg = panel.class_outcome.x
    pick(panel.method, EXACT_CG)
    run_sample(qtbot, panel)
    np.testing.assert_allclose(panel.class_outcome.x, cfg, atol=1e-6)
    # guidance sharpens the class: the exact posterior p(c = 1 | x) of the samples rises towards 1
    plain = responsibility(out.x, 1)
    assert responsibility(cfg, 1) > plain + 0.5 * (1 - plain)


def test_all_classes_are_coloured_in_proportion_to_their_weights(qtbot, keep):
    st = make_state()
    panel = keep(ClassesPanel(st))
    pick(panel.method, EXACT_CFG)
    pick(panel.class_picker, ALL_CLASSES)
    run_sample(qtbot, panel)
    counts = np.array([c.count for c in panel.clouds])
    assert counts.sum() == 2000
    np.testing.assert_allclose(counts / 2000, WEIGHTS, atol=0.04)
    for k, (swd, floor) in panel.class_outcome.swd.items():
        assert swd < 1.6 * floor, k


def test_conditional_model_from_the_app_recipe_samples_its_class(qtbot, keep):
    from playground.app.workers.training_setup import build_trainer, training_recipe

    st = make_state()
    panel = keep(ClassesPanel(st))
    with qtbot.waitSignal(panel.changeRequested) as sig:
        panel.train_classes.setChecked(True)
    assert sig.args == [{"classes_2d": True}]
    st.update_settings(classes_2d=True, steps=400, hidden=64, depth=2)
    config, points, labels, names, _info = training_recipe(st)
    assert config.label_dropout > 0 and names == ("0", "1", "2") and len(labels) == len(points)
    torch.manual_seed(0)
    trainer = build_trainer(config, points, labels, names)
    trainer.run()
    st.set_model(trainer.snapshot())
    assert panel.train_classes.isChecked() and panel.method.model().item(0).isEnabled()
    pick(panel.method, LEARNED)
    pick(panel.class_picker, 2)
    panel.guidance.setValue(20)
    run_sample(qtbot, panel)
    x = panel.class_outcome.x
    nearest = np.argmin(((x[:, None, :] - MEANS[None]) ** 2).sum(-1), 1)
    assert (nearest == 2).mean() > 0.9  # a briefly trained model with w = 2 puts its samples in class 2


def test_imputation_tool_click_and_exact_conditional(qtbot, keep, tmp_path):
    st = make_state()
    panel = keep(ClassesPanel(st))
    panel.resize(900, 520)
    panel.show()
    qtbot.waitExposed(panel)
    pick(panel.method, EXACT_CFG)
    panel.imputation.tool.setChecked(True)
    # a click on the plot at x1 = 0.5 imputes along the vertical line there
    vb = panel.plot.getPlotItem().getViewBox()
    from PySide6.QtCore import QPointF, Qt

    scene = vb.mapViewToScene(QPointF(0.5, 0.0))
    widget_pos = panel.plot.mapFromScene(scene)
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_pos)
    qtbot.waitUntil(lambda: panel.imputation.outcome is not None, timeout=60000)
    out = panel.imputation.outcome
    assert out.error is None and out.axis == "x1" and out.value == pytest.approx(0.5, abs=0.05)
    assert panel.imputation.line.value() == pytest.approx(out.value)
    assert (out.replacement[:, 0] == out.value).all() and (out.exact[:, 0] == out.value).all()
    # the exact conditional p(x2 | x1 = c) of the mixture, computed here independently
    c = out.value
    logw = np.log(WEIGHTS) - 0.5 * (c - MEANS[:, 0]) ** 2 / COVS[:, 0, 0] - 0.5 * np.log(2 * math.pi * COVS[:, 0, 0])
    w = np.exp(logw - logw.max())
    w /= w.sum()
    mu = MEANS[:, 1] + COVS[:, 1, 0] / COVS[:, 0, 0] * (c - MEANS[:, 0])
    var = COVS[:, 1, 1] - COVS[:, 1, 0] ** 2 / COVS[:, 0, 0]
    mean = float(w @ mu)
    assert out.conditional.mean == pytest.approx(mean, abs=1e-12)
    assert out.conditional.variance == pytest.approx(float(w @ (var + mu**2)) - mean**2, abs=1e-12)
    assert out.exact[:, 1].mean() == pytest.approx(mean, abs=0.1)
    # the panel's replacement samples are the core's (same score, steps and seed); between two components the
    # method is visibly biased (Song et al. App. I.2 is approximate), which the W1 beside the histogram shows
    from playground.core.sampling.imputation import impute_replacement

    again, _ = impute_replacement(st.normalization.gmm_to_norm(st.target.gmm).score_fn(st.sde()), st.sde(), "x1",
                                  out.value, len(out.replacement), normalization=st.normalization, steps=100, seed=3)
    np.testing.assert_array_equal(out.replacement, again)
    assert out.w1_exact < 0.1 and out.w1 > 3 * out.w1_exact
    tool = panel.imputation
    assert f"W1 {out.w1:.3f}" in tool.info.text() and tool.histogram.replacement_density is not None
    # a horizontal line: x2 = c
    pick(panel.imputation.axis, "x2")
    assert panel.imputation.impute_at(0.0, 1.0)
    qtbot.waitUntil(lambda: panel.imputation.outcome.axis == "x2" and not panel.running, timeout=60000)
    assert (panel.imputation.outcome.replacement[:, 1] == 1.0).all() and panel.imputation.line.angle == 0
    pick(panel.class_picker, ALL_CLASSES)
    run_sample(qtbot, panel)
    panel.grab().save(str(tmp_path / "classes.png"))


def test_no_mixture_no_classes(qtbot, keep):
    pts = np.random.default_rng(0).normal(size=(200, 2))
    st = AppState(Target("points", lambda n, rng: pts[rng.integers(0, 200, n)], points=pts), Settings())
    panel = keep(ClassesPanel(st))
    assert not panel.sample() and not panel.sample_btn.isEnabled() and "Gaussian mixture" in panel.message.text
    assert not panel.imputation.button.isEnabled()  # no model and no exact conditional
