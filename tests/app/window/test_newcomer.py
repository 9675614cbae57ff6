"""A newcomer's first minutes (issue 20), each trap that made the app look broken: cut text at 1280 x 720, the wheel
over an unfocused box, a typed value refused in silence, views that show results of other settings than their labels,
the target shown as if it were model samples, no first-run hint, no guide, the import dialog in the wrong folder, a
squashed animation (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from playground.app.samplers import sampler_title  # noqa: E402
from tests.app import window_helpers  # noqa: E402
from tests.app.clipping import clipped_widgets, visit_every_page  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TRAIN_IN_PROCESS", "0")
    w = window_helpers.make_window(qtbot, tmp_path, size=(1280, 720), n_particles=600, sample_steps=30)
    yield w
    w.close()


def wait_sampled(qtbot, sp, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: not sp.running and not sp._start.isActive()
                    and all(s.outcome is not None for s in sp.sides.values()), timeout=timeout)


def wheel(widget, dy: int = 120) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, dy),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def test_no_text_is_cut_at_1280x720_on_any_page(window, qtbot):
    window.reset_layout()
    qtbot.wait(300)
    target = window.panels["target"]
    problems = []
    for mode in ("Presets", "Draw", "Gaussians", "Import"):
        target.set_mode(mode)
        problems += visit_every_page(window, clipped_widgets)
    assert problems == [], "\n".join(problems)


def test_the_wheel_over_an_unfocused_box_changes_nothing(window, qtbot):
    panel = window.settings_panel
    lr = panel.controls["lr"]
    window.docks["settings"].raise_()
    qtbot.wait(50)
    before, n = window.state.settings.lr, window.undo_stack.count()
    assert not lr.hasFocus()
    for _ in range(5):
        wheel(lr)
    assert lr.value() == pytest.approx(before) and window.state.settings.lr == pytest.approx(before)
    assert window.undo_stack.count() == n
    combo = panel.controls["sde"]
    wheel(combo, -120)
    assert window.state.settings.sde == "vp"
    lr.setFocus()  # clicked: now the wheel is the user's intent
    qtbot.waitUntil(lr.hasFocus, timeout=2000)
    wheel(lr)
    assert window.state.settings.lr > before


def test_a_refused_typed_value_says_the_range(window, qtbot):
    box = window.settings_panel.controls["sample_steps"]
    window.docks["settings"].raise_()
    seen = []
    window.input_guard.rejected.connect(seen.append)
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "99999")  # above the 5000 maximum: Qt drops the last keystroke silently
    assert seen and "between 2 and 5000" in seen[-1].replace(",", "")
    assert "between" in window.statusBar().currentMessage()


def test_no_view_shows_results_of_other_settings_than_its_label(window, qtbot):
    sp = window.panels["sampling"]
    wait_sampled(qtbot, sp)
    for changes, check in (({"ode_sampler": "ddim", "ode_sampler_options": "eta=0.5"},
                            lambda: sp.sides["ode"].outcome.sampler == "ddim"),
                           ({"sde": "ve"}, lambda: sp.plan is not None and window.state.settings.sde == "ve"),
                           ({"sde_sampler": "pc"}, lambda: sp.sides["sde"].outcome.sampler == "pc")):
        window.request_settings(changes)
        # at once: no old picture under the new label
        assert all(s.outcome is None and s.live is None for s in sp.sides.values())
        assert all(s.view.message.text for s in sp.sides.values())
        wait_sampled(qtbot, sp)
        assert check()
        for s in sp.sides.values():
            assert s.view.plot.getPlotItem().titleLabel.text == sampler_title(s.outcome.sampler)
            assert sampler_title(s.outcome.sampler).split(" — ")[-1] in s.view.info.text()
    window.panels["target"].choose_preset("8gaussians")
    assert all(s.outcome is None for s in sp.sides.values())
    wait_sampled(qtbot, sp)
    assert "GMM" in sp.plan.label and "no model yet" in sp.sides["sde"].view.info.text()


def test_views_fit_the_data_and_trajectories_are_thin_and_translucent(window, qtbot):
    sp = window.panels["sampling"]
    window.request_settings({"sde": "ve"})
    wait_sampled(qtbot, sp)
    x0, x1, y0, y1 = sp.view_rect
    data = window.state.target_samples
    assert x1 - x0 < 3 * np.ptp(data[:, 0]) and y1 - y0 < 3 * np.ptp(data[:, 1])  # not +-50 under VE
    sp.fit("paths")
    px0, px1, _, _ = sp.view_rect
    assert px1 - px0 > x1 - x0  # the trajectories come in from far outside: that fit shows them
    pen = sp.sides["sde"].view.paths.item.opts["pen"]
    assert pen.widthF() <= 1.0 and pen.color().alpha() < 160


def test_model_samples_plot_is_empty_before_training(window):
    tp = window.panels["training"]
    assert len(tp.model_dots.points) == 0 and "no model yet" in tp.sample_plot.titleLabel.text


def test_first_run_hint_is_dismissible_and_comes_back(qtbot, tmp_path):
    from playground.app.window.main_window import MainWindow

    store = QSettings(str(tmp_path / "first.ini"), QSettings.Format.IniFormat)
    w = MainWindow(store=store, autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    hint = w.help.hint
    assert w.help.bar.isVisible() and "Play" in hint.label.text()
    hint.close_btn.click()
    assert not w.help.bar.isVisible()
    w.close()
    w2 = MainWindow(store=store, autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    assert not w2.help.bar.isVisible()
    w2.help.act_first_steps.trigger()
    assert w2.help.bar.isVisible()
    w2.close()


def test_help_getting_started_shows_the_guide_with_its_pictures(window):
    from PySide6.QtGui import QTextDocument

    help_menu = [a for a in window.menuBar().actions() if a.text().replace("&", "") == "Help"][0].menu()
    assert window.help.act_guide in help_menu.actions()
    window.help.act_guide.trigger()
    browser = window.help.guide.browser
    text = browser.toPlainText()
    for words in ("Play", "ODE", "time bar", "exact score", "Export"):
        assert words.lower() in text.lower(), words
    doc = browser.document()
    images = [f for f in browser.toHtml().split('src="')[1:]]
    assert images, "the guide is illustrated"
    for src in images:
        res = doc.resource(QTextDocument.ResourceType.ImageResource, browser.source().resolved(
            __import__("PySide6.QtCore", fromlist=["QUrl"]).QUrl(src.split('"')[0])))
        assert res is not None and not res.isNull(), src
    window.help.guide.close()


def test_import_dialog_opens_in_the_bundled_examples(window, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from playground.app.resources import examples_dir

    seen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: seen.append(a[2]) or ("", "")))
    window.panels["target"].import_page.import_dialog()
    assert examples_dir() is not None and seen == [str(examples_dir())]


def test_animation_keeps_the_panels_shape(qtbot):
    from playground.app.dialogs.export.animation_options import AnimationOptions

    box = AnimationOptions()
    qtbot.addWidget(box)
    box.set_aspect(2.0)  # two square sampling views side by side
    box.width_spin.setValue(480)
    assert box.frame_size() == (480, 240)
    box.keep_aspect.setChecked(False)
    box.height_spin.setValue(480)
    assert box.frame_size() == (480, 480)
