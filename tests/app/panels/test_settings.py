"""Settings: the panel's controls, QSettings persistence of window/dock/settings, the equations text (offscreen)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402

from playground.app.dialogs.equations import equations_html  # noqa: E402
from playground.app.panels.settings_panel import (  # noqa: E402
    PARTICLE_COUNTS,
    SettingsPanel,
    available_devices,
)
from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.window.main_window import MainWindow  # noqa: E402
from playground.app.window.persistence import load_settings  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402

SMALL = dict(hidden=32, depth=2, batch=128, n_particles=1000, n_forward=1000, target_samples=4000, sample_steps=40)


@pytest.fixture
def state():
    return AppState(make_preset("moons"), Settings(**SMALL))


def test_panel_shows_state_and_requests_changes(qtbot, state):
    p = SettingsPanel(state)
    qtbot.addWidget(p)
    for name in p.controls:
        assert p.value(name) == getattr(state.settings, name), name
    requests = []
    p.changeRequested.connect(requests.append)
    p.changeRequested.connect(lambda ch: state.update_settings(**ch))
    p.controls["sde"].setCurrentIndex(p.controls["sde"].findData("ve"))
    assert requests[-1] == {"sde": "ve"} and state.settings.sde == "ve"
    # VE enables sigma, disables beta
    assert p.controls["sigma_min"].isEnabled() and not p.controls["beta_min"].isEnabled()
    p.controls["lr"].setValue(0.01)
    assert state.settings.lr == pytest.approx(0.01)
    p.controls["lr"].stepBy(1)  # multiplicative steps for a log-scale quantity
    assert state.settings.lr == pytest.approx(0.015)
    p.controls["sigma_max"].setValue(7.5)
    assert state.settings.sigma_max == pytest.approx(7.5)
    p.controls["sigma_max"].setValue(0.0)  # 'auto'
    assert state.settings.sigma_max is None and p.controls["sigma_max"].text() == "auto"
    p.controls["seconds"].setValue(12)
    assert state.settings.seconds == 12.0
    p.controls["seconds"].setValue(0)
    assert state.settings.seconds is None
    # particle counts: a list up to 200k, or typed
    combo = p.controls["n_particles"]
    assert 100_000 in PARTICLE_COUNTS and combo.findData(100_000) >= 0
    combo.setCurrentIndex(combo.findData(100_000))
    assert state.settings.n_particles == 100_000
    combo.setEditText("12345")
    combo.lineEdit().editingFinished.emit()
    assert state.settings.n_particles == 12345
    # a change made elsewhere shows in the panel without echoing a request
    n = len(requests)
    state.update_settings(sample_steps=321, batch=256)
    assert p.value("sample_steps") == 321 and p.value("batch") == 256 and len(requests) == n
    # the samplers are picked above the sampling views, not at the bottom of the Settings dock
    assert "sde_sampler" not in p.controls and "ode_sampler" not in p.controls


def test_devices_are_what_torch_finds():
    import torch

    d = available_devices()
    assert d[0] == "cpu"
    assert ("cuda" in d) == torch.cuda.is_available()


def test_window_geometry_docks_and_settings_persist(qtbot, tmp_path):
    path = str(tmp_path / "persist.ini")
    state = AppState(make_preset("moons"), Settings(**SMALL))
    w = MainWindow(state=state, store=QSettings(path, QSettings.Format.IniFormat), restore=True)
    qtbot.addWidget(w)
    w.resize(760, 560)
    w.show()
    qtbot.waitExposed(w)
    w.request_settings({"sde": "subvp", "n_particles": 20_000, "sample_steps": 77, "lr": 0.004})
    w.docks["score"].hide()
    w.removeDockWidget(w.docks["training"])
    w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, w.docks["training"])
    w.docks["training"].show()
    w.set_theme("dark")
    w.state.set_time(0.25)
    w.close()

    store = QSettings(path, QSettings.Format.IniFormat)
    saved = json.loads(store.value("settings/json"))
    assert saved["sde"] == "subvp" and saved["sample_steps"] == 77
    restored = load_settings(store)
    assert restored.sde == "subvp" and restored.n_particles == 20_000 and restored.lr == pytest.approx(0.004)

    w2 = MainWindow(store=store, restore=True)  # default construction: reads the settings itself
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    assert w2.state.settings.sde == "subvp" and w2.state.settings.sample_steps == 77
    assert w2.settings_panel.value("sde") == "subvp"
    assert (w2.width(), w2.height()) == (760, 560)
    assert not w2.docks["score"].isVisible() and w2.docks["training"].isVisible()
    assert w2.dockWidgetArea(w2.docks["training"]) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert w2.theme == "dark" and w2.theme_actions["dark"].isChecked()
    assert w2.state.t == pytest.approx(0.25)
    w2.set_theme("system")
    w2.close()


def test_broken_saved_settings_fall_back_to_defaults(tmp_path):
    store = QSettings(str(tmp_path / "broken.ini"), QSettings.Format.IniFormat)
    store.setValue("settings/json", "{not json")
    assert load_settings(store) == Settings()
    store.setValue("settings/json", json.dumps({"sde": "ve", "unknown_key": 1}))
    assert load_settings(store).sde == "ve"


@pytest.mark.parametrize("sde", ["vp", "subvp", "ve", "rf"])
@pytest.mark.parametrize("output", ["eps", "score", "x0", "edm", "v"])
def test_equations_cover_every_sde_and_output(sde, output):
    html = equations_html(Settings(sde=sde, output=output, beta_max=15.0, sigma_min=0.02), sigma_max=12.5)
    assert "Forward SDE" in html and "Reverse-time SDE" in html and "Probability-flow ODE" in html
    if sde == "ve":
        assert "σ<sub>max</sub> = 12.5" in html and "σ<sub>min</sub> = 0.02" in html and "β(t)" not in html
    elif sde == "rf":
        assert "Rectified flow" in html and "β(t)" not in html and "σ<sub>max</sub>" not in html
        assert "dx = −x / (1 − t) dt + √(2t / (1 − t)) dw" in html  # f = -x / (1 - t), g^2 = 2t / (1 - t)
        assert "x<sub>t</sub> | x<sub>0</sub> ~ N((1 − t) x<sub>0</sub>, t² I)" in html
        assert "dx/dt = −x / (1 − t) − t / (1 − t) · s<sub>θ</sub>(x, t)" in html and "T = 0.999" in html
    else:
        assert "β<sub>1</sub> = 15" in html and "−½ β(t) x" in html
    if sde == "subvp":
        assert "(1 − α(t)²)²" in html
    assert {"eps": "−ε<sub>θ</sub>", "score": "F<sub>θ</sub>(x, t)", "x0": "D<sub>θ</sub>(x, t)",
            "edm": "c<sub>skip</sub>", "v": "s<sub>θ</sub>(x, t) = 2 (f(x, t) − v<sub>θ</sub>(x, t)) / g(t)²"}[output] in html


def test_equations_loss_follows_objective_and_weighting():
    assert "Sliced score matching" in equations_html(Settings(objective="ssm"))
    assert "likelihood weighting" in equations_html(Settings(weighting="likelihood"))
    # the noise levels the trainer draws: EDM's P_mean -1.2 shifted by ln(sigma_data / 0.5) (sigma_data = 1)
    assert "ln σ ~ N(−0.51, 1.2²)" in equations_html(Settings(weighting="edm"))
    assert "‖ε<sub>θ</sub>(x<sub>t</sub>, t) − ε‖²" in equations_html(Settings(output="eps", weighting="song"))
    assert "RK45" in equations_html(Settings(ode_sampler="ode_rk45"))


def test_equations_show_the_flow_matching_loss():
    rf = equations_html(Settings(sde="rf", objective="fm", output="v"))
    assert "Rectified flow (Liu et al. 2023): conditional flow matching" in rf
    assert "‖v<sub>θ</sub>(α<sub>t</sub> x<sub>0</sub> + σ<sub>t</sub> ε, t) − (ε − x<sub>0</sub>)‖²" in rf
    assert "t ~ U(10<sup>−5</sup>, 0.999)" in rf and "rectified flow: ε − x<sub>0</sub> on each path" in rf
    assert "Denoising score matching" not in rf
    vp = equations_html(Settings(sde="vp", objective="fm", output="v", weighting="edm"))
    assert "Conditional flow matching (Lipman et al. 2023)" in vp
    assert "(α′<sub>t</sub> x<sub>0</sub> + σ′<sub>t</sub> ε)‖²" in vp and "ln σ ~ N(−0.51, 1.2²)" in vp
    assert "logit-normal" in equations_html(Settings(sde="rf", objective="fm", output="v", weighting="edm"))


def test_flow_matching_and_rectified_flow_choices(qtbot, state):
    p = SettingsPanel(state)
    qtbot.addWidget(p)
    for name, key, label in (("sde", "rf", "rectified flow"), ("output", "v", "v (velocity)"),
                             ("objective", "fm", "flow matching")):
        combo = p.controls[name]
        assert combo.itemText(combo.findData(key)) == label
    for name, words in (("sde", ("Rectified flow", "2t/(1 − t)")), ("output", ("v_θ", "s = 2(f x − v_θ)/g²")),
                        ("objective", ("Flow matching", "Lipman", "ε − x₀")), ("weighting", ("Flow matching",))):
        assert all(w in p.controls[name].toolTip() for w in words), name
    requests = []
    p.changeRequested.connect(requests.append)
    p.changeRequested.connect(lambda ch: state.update_settings(**ch))
    # rectified flow has no parameters; Euler-Maruyama gives way to the ancestral sampler
    p.controls["sde"].setCurrentIndex(p.controls["sde"].findData("rf"))
    assert requests[-1] == {"sde": "rf", "sde_sampler": "ancestral"}
    assert not any(p.controls[k].isEnabled() for k in ("beta_min", "beta_max", "sigma_min", "sigma_max"))
    assert state.settings.sde_sampler == "ancestral"  # the sampling view's picker shows it (issue 20)
    p.controls["sde"].setCurrentIndex(p.controls["sde"].findData("vp"))  # a chosen sampler stays
    assert requests[-1] == {"sde": "vp"} and p.controls["beta_min"].isEnabled()
    # flow matching trains the velocity, with the σ² (uniform t) or EDM weighting but no likelihood weighting
    p.controls["weighting"].setCurrentIndex(p.controls["weighting"].findData("likelihood"))
    p.controls["objective"].setCurrentIndex(p.controls["objective"].findData("fm"))
    assert requests[-1] == {"objective": "fm", "output": "v", "weighting": "song"}
    weighting = p.controls["weighting"]
    assert weighting.isEnabled() and not weighting.model().item(weighting.findData("likelihood")).isEnabled()
    weighting.setCurrentIndex(weighting.findData("edm"))
    assert state.settings.weighting == "edm"
    p.controls["objective"].setCurrentIndex(p.controls["objective"].findData("dsm"))  # back: the output stays
    assert requests[-1] == {"objective": "dsm"} and state.settings.output == "v"
    assert weighting.model().item(weighting.findData("likelihood")).isEnabled()
    p.controls["objective"].setCurrentIndex(p.controls["objective"].findData("fm"))  # output and weighting fit
    assert requests[-1] == {"objective": "fm"}
