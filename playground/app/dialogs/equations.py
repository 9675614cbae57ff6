"""Help > The equations: the forward SDE, reverse SDE, PF-ODE and training loss for the CURRENT settings.

`equations_html(settings, sigma_max=..., normalization=..., images=...)` is plain text work (no Qt) so it is easy to
test; the dialog shows it in a QTextBrowser and re-renders whenever a setting, the target or the image dataset changes.
In image mode (`images` given) the network is the U-Net and the coordinates are pixels, y = 2x − 1.
"""

from __future__ import annotations

import html
import math

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from playground.app.samplers import describe_options, sampler_steps, sampler_title, side_choice
from playground.app.state import SDE_NAMES, AppState, Settings
from playground.core.diffusion.objectives import EDM_P_MEAN, EDM_P_STD
from playground.core.training.config import TrainConfig

_CSS = """
<style>
 body { font-size: 11pt; }
 h2 { margin-bottom: 2px; }
 h3 { margin-top: 14px; margin-bottom: 2px; }
 .eq { font-family: 'DejaVu Serif', 'Cambria Math', 'STIX Two Math', serif; font-size: 12.5pt;
       margin: 4px 0 4px 18px; }
 .note { font-style: italic; }
 td { padding-right: 14px; }
</style>
"""


EDM_NOISE_LAW = (f"ln σ ~ N({EDM_P_MEAN + math.log(TrainConfig.sigma_data / 0.5):.2f}, {EDM_P_STD:g}²) (EDM's "
                 f"{EDM_P_MEAN:g} for data of std 0.5, shifted by ln(σ<sub>d</sub> / 0.5), σ<sub>d</sub> = "
                 f"{TrainConfig.sigma_data:g})").replace("-", "−")
"""The law of the EDM noise levels the trainer draws (`objectives.Objective.p_mean` for the app's sigma_data)."""


def _g(v: float) -> str:
    return f"{v:g}"


def _sde_parts(s: Settings, sigma_max: float | None) -> dict[str, str]:
    """f(x, t), g(t), g(t)^2, the marginal and the definitions, as Unicode math, for the SDE in `s`."""
    b0, b1 = _g(s.beta_min), _g(s.beta_max)
    if s.sde == "ve":
        smin = _g(s.sigma_min)
        smax = "σ<sub>max</sub>" if sigma_max is None else _g(round(sigma_max, 4))
        return {
            "title": f"VE SDE (variance exploding, SMLD / NCSN): σ<sub>min</sub> = {smin}, σ<sub>max</sub> = {smax}",
            "defs": f"σ(t) = {smin} · ({smax} / {smin})<sup>t</sup>",
            "f": "0",
            "g": f"σ(t) √(2 ln({smax} / {smin}))",
            "g2": f"2 σ(t)² ln({smax} / {smin})",
            "forward": f"dx = σ(t) √(2 ln({smax} / {smin})) dw",
            "marginal": "x<sub>t</sub> | x<sub>0</sub> ~ N(x<sub>0</sub>, σ(t)² I)",
            "alpha": "1",
            "std": "σ(t)",
            "prior": f"N(0, {smax}² I)",
            "eps": "10<sup>−5</sup>",
            "T": "1",
        }
    if s.sde == "rf":
        return {
            "title": "Rectified flow (Liu et al. 2023): the straight Gaussian path of flow matching (Lipman et al. 2023)",
            "defs": "x<sub>t</sub> = (1 − t) x<sub>0</sub> + t ε, ε ~ N(0, I): α(t) = 1 − t, σ(t) = t; as an SDE "
                    "f = α′/α, g² = d(σ²)/dt − 2 (α′/α) σ²; the path is singular at t = 1, so it runs to T = 0.999",
            "f": "−x / (1 − t)",
            "g": "√(2t / (1 − t))",
            "g2": "2t / (1 − t)",
            "half_g2": "t / (1 − t)",
            "forward": "dx = −x / (1 − t) dt + √(2t / (1 − t)) dw",
            "marginal": "x<sub>t</sub> | x<sub>0</sub> ~ N((1 − t) x<sub>0</sub>, t² I)",
            "alpha": "1 − t",
            "std": "t",
            "prior": "N(0, I)",
            "eps": "10<sup>−2</sup>",
            "T": "0.999",
        }
    beta = f"β(t) = {b0} + t ({b1} − {b0})"
    log_alpha = f"log α(t) = −¼ t² ({b1} − {b0}) − ½ t · {b0}"
    if s.sde == "subvp":
        return {
            "title": f"sub-VP SDE: β<sub>0</sub> = {b0}, β<sub>1</sub> = {b1}",
            "defs": f"{beta},&nbsp;&nbsp; {log_alpha}",
            "f": "−½ β(t) x",
            "g": f"√(β(t) (1 − e<sup>−2·{b0} t − ({b1} − {b0}) t²</sup>))",
            "g2": f"β(t) (1 − e<sup>−2·{b0} t − ({b1} − {b0}) t²</sup>)",
            "forward": f"dx = −½ β(t) x dt + √(β(t) (1 − e<sup>−2·{b0} t − ({b1} − {b0}) t²</sup>)) dw",
            "marginal": "x<sub>t</sub> | x<sub>0</sub> ~ N(α(t) x<sub>0</sub>, (1 − α(t)²)² I)",
            "alpha": "α(t)",
            "std": "1 − α(t)²",
            "prior": "N(0, I)",
            "eps": "10<sup>−3</sup>",
            "T": "1",
        }
    return {
        "title": f"VP SDE (variance preserving, DDPM): β<sub>0</sub> = {b0}, β<sub>1</sub> = {b1}",
        "defs": f"{beta},&nbsp;&nbsp; {log_alpha}",
        "f": "−½ β(t) x",
        "g": "√β(t)",
        "g2": "β(t)",
        "forward": "dx = −½ β(t) x dt + √β(t) dw",
        "marginal": "x<sub>t</sub> | x<sub>0</sub> ~ N(α(t) x<sub>0</sub>, (1 − α(t)²) I)",
        "alpha": "α(t)",
        "std": "√(1 − α(t)²)",
        "prior": "N(0, I)",
        "eps": "10<sup>−3</sup>",
        "T": "1",
    }


def _half(parts: dict[str, str]) -> str:
    """½ g(t)², simplified where the SDE's parts say how."""
    return parts.get("half_g2", f"½ {parts['g2']}")


def _side_note(s: Settings, side: str) -> str:
    """One side of the Sampling panel: its sampler, options and how it spends the 'sampling steps' setting."""
    key, options = side_choice(s, side)
    n = sampler_steps(key, s.sample_steps)
    text = describe_options(key, options)
    name = sampler_title(key) + (f" ({text})" if text else "")
    if key == "ode_rk45":
        return f"{name}: adaptive step size (dopri5), {n} output times"
    if key in ("ode_heun", "edm_heun"):
        return f"{name}: {n} steps of 2 evaluations each (about the other side's NFE)"
    return f"{name}: {n} steps from t = 1 down to t = ε"


def _output_line(s: Settings) -> str:
    σ = "σ<sub>t</sub>"
    if s.output == "eps":
        return f"The network predicts the noise: s<sub>θ</sub>(x, t) = −ε<sub>θ</sub>(x, t) / {σ}"
    if s.output == "score":
        return "The network predicts the score directly: s<sub>θ</sub>(x, t) = F<sub>θ</sub>(x, t)"
    if s.output == "v":
        path = " (rectified flow: ε − x<sub>0</sub> on each path)" if s.sde == "rf" else ""
        return (
            "The network predicts the velocity (flow matching): v<sub>θ</sub>(x, t) ≈ E[α′<sub>t</sub> x<sub>0</sub> + "
            f"σ′<sub>t</sub> ε | x<sub>t</sub> = x]{path};<br>"
            "s<sub>θ</sub>(x, t) = 2 (f(x, t) − v<sub>θ</sub>(x, t)) / g(t)², the PF-ODE drift f − ½ g² s solved for s"
        )
    if s.output == "x0":
        return (
            f"The network predicts the clean data D<sub>θ</sub>(x, t) ≈ E[x<sub>0</sub> | x<sub>t</sub> = x]: "
            f"s<sub>θ</sub>(x, t) = (α<sub>t</sub> D<sub>θ</sub>(x, t) − x) / {σ}²"
        )
    return (
        "EDM-preconditioned denoiser (Karras et al. 2022, σ<sub>d</sub> = 0.5), in σ-space y = x / α<sub>t</sub>, "
        "σ = σ<sub>t</sub> / α<sub>t</sub>:<br>D<sub>θ</sub> = c<sub>skip</sub> y + c<sub>out</sub> "
        "F<sub>θ</sub>(c<sub>in</sub> y, c<sub>noise</sub>), c<sub>skip</sub> = σ<sub>d</sub>² / (σ² + σ<sub>d</sub>²), "
        "c<sub>out</sub> = σ σ<sub>d</sub> / √(σ² + σ<sub>d</sub>²), c<sub>in</sub> = 1 / √(σ² + σ<sub>d</sub>²), "
        "c<sub>noise</sub> = ¼ ln σ;<br>"
        f"s<sub>θ</sub>(x, t) = (α<sub>t</sub> D<sub>θ</sub> − x) / {σ}²"
    )


def _loss_lines(s: Settings, parts: dict[str, str]) -> list[str]:
    if s.objective == "ssm":
        return [
            "Sliced score matching (Song et al. 2019), v ~ N(0, I):",
            "L(θ) = E<sub>t, x<sub>t</sub>, v</sub> [ ½ ‖s<sub>θ</sub>(x<sub>t</sub>, t)‖² + "
            "vᵀ ∇<sub>x</sub>(vᵀ s<sub>θ</sub>(x<sub>t</sub>, t)) ]",
        ]
    if s.objective == "fm":
        return _flow_matching_lines(s, parts)
    σ = "σ<sub>t</sub>"
    core = f"‖s<sub>θ</sub>(α<sub>t</sub> x<sub>0</sub> + {σ} ε, t) + ε / {σ}‖²"
    t_law = f"t ~ U(10<sup>−5</sup>, {parts['T']}), x<sub>0</sub> ~ data, ε ~ N(0, I)"
    if s.weighting == "likelihood":
        lam = f"λ(t) = g(t)² = {parts['g2']}  (likelihood weighting: the loss bounds −log p)"
    elif s.weighting == "edm":
        lam = (
            f"λ(σ) = (σ² + σ<sub>d</sub>²) / (σ σ<sub>d</sub>)², with {EDM_NOISE_LAW} "
            "(EDM weighting and noise levels)"
        )
        t_law = f"σ = σ<sub>t</sub>/α<sub>t</sub> with {EDM_NOISE_LAW}, x<sub>0</sub> ~ data, ε ~ N(0, I)"
    else:
        lam = f"λ(t) = {σ}²  (Song's default): L = E ‖{σ} s<sub>θ</sub> + ε‖²"
        if s.output == "eps":
            lam += " = E ‖ε<sub>θ</sub>(x<sub>t</sub>, t) − ε‖²"
    return [
        "Denoising score matching (Vincent 2011):",
        f"L(θ) = E<sub>t, x<sub>0</sub>, ε</sub> [ λ(t) {core} ],&nbsp;&nbsp; {t_law}",
        lam,
    ]


def _flow_matching_lines(s: Settings, parts: dict[str, str]) -> list[str]:
    """The conditional flow-matching loss (Lipman et al. 2023, Eq. 9 on the Gaussian path of Eq. 10)."""
    target = "ε − x<sub>0</sub>" if s.sde == "rf" else "α′<sub>t</sub> x<sub>0</sub> + σ′<sub>t</sub> ε"
    if s.weighting == "edm":
        t_law = (f"t from EDM's noise levels σ = σ<sub>t</sub>/α<sub>t</sub>, {EDM_NOISE_LAW}"
                 + (", a logit-normal t (Esser et al. 2024)" if s.sde == "rf" else ""))
    else:
        t_law = f"t ~ U(10<sup>−5</sup>, {parts['T']})"
    name = "Rectified flow (Liu et al. 2023): conditional flow matching" if s.sde == "rf" else \
        "Conditional flow matching (Lipman et al. 2023)"
    return [
        f"{name} on the velocity, unit weight:",
        f"L(θ) = E<sub>t, x<sub>0</sub>, ε</sub> ‖v<sub>θ</sub>(α<sub>t</sub> x<sub>0</sub> + σ<sub>t</sub> ε, t) − "
        f"({target})‖²,&nbsp;&nbsp; {t_law}, x<sub>0</sub> ~ data, ε ~ N(0, I)",
        "Its minimiser is the marginal velocity E[α′<sub>t</sub> x<sub>0</sub> + σ′<sub>t</sub> ε | x<sub>t</sub> = x] = "
        f"{parts['f']} − {_half(parts)} ∇<sub>x</sub> log p<sub>t</sub>(x): the probability-flow ODE's drift",
    ]


def equations_html(
    settings: Settings,
    sigma_max: float | None = None,
    normalization=None,
    images=None,
) -> str:
    """An HTML page with the equations for `settings`. `sigma_max`: the VE sigma_max in use (when the settings say
    'auto'); `normalization`: the data normalisation y = (x - m) / s the SDE runs on; `images`: the ImageDataset in
    image mode (a U-Net on its pixels), else None."""
    s = settings
    if s.sde not in SDE_NAMES:
        raise ValueError(f"unknown SDE {s.sde!r}")
    p = _sde_parts(s, s.sigma_max if s.sigma_max is not None else sigma_max)
    f, g2 = p["f"], p["g2"]
    sθ = "s<sub>θ</sub>(x, t)"
    rows = [
        "<html><head>" + _CSS + "</head><body>",
        f"<h2>{p['title']}</h2>",
        f"<div class='eq'>{p['defs']}</div>",
        f"<h3>Forward SDE (data → noise, t from 0 to T = {p['T']})</h3>",
        f"<div class='eq'>{p['forward']}</div>",
        f"<div class='eq'>{p['marginal']},&nbsp;&nbsp; prior p<sub>T</sub> ≈ {p['prior']}</div>",
        "<h3>Reverse-time SDE (noise → data; Anderson 1982)</h3>",
        f"<div class='eq'>dx = [ {f} − {g2} · {sθ} ] dt + {p['g']} dw̄</div>",
        f"<div class='note'>Left sampling view: {html.escape(_side_note(s, 'sde'))}.</div>",
        "<h3>Probability-flow ODE (same marginals, deterministic)</h3>",
        f"<div class='eq'>dx/dt = {f} − {_half(p)} · {sθ} = v<sub>θ</sub>(x, t)</div>",
        "<div class='note'>Its right side is the model's velocity field v<sub>θ</sub> (what flow matching learns "
        "directly; the Score field panel shows it under 'Velocity').</div>",
        f"<div class='note'>Right sampling view: {html.escape(_side_note(s, 'ode'))}.</div>",
        "<h3>Score model</h3>",
        f"<div class='eq'>{_output_line(s)}</div>",
        f"<div class='note'>where α<sub>t</sub> = {p['alpha']} and σ<sub>t</sub> = {p['std']}; "
        f"network: {_network_text(s, images)}.</div>",
        "<h3>Training loss</h3>",
    ]
    rows += [f"<div class='eq'>{line}</div>" for line in _loss_lines(s, p)]
    rows.append(
        f"<div class='note'>Optimiser: Adam, learning rate {_g(s.lr)}, batch {s.batch}, "
        f"{s.steps} steps" + (f" or {_g(s.seconds)} s" if s.seconds else "") + f", seed {s.seed}.</div>"
    )
    if images is not None:
        c, h, w = images.shape
        rows.append(
            "<h3>Coordinates</h3><div class='note'>Each image is one point x in [0, 1]<sup>D</sup>, "
            f"D = {c}·{h}·{w} = {images.dim}; the SDE acts on y = 2x − 1 in [−1, 1]<sup>D</sup> (Ho et al. 2020), so "
            "∇<sub>x</sub> log p<sub>t</sub>(x) = 2 ∇<sub>y</sub> log p<sub>t</sub>(y) and log p(x) = log p(y) + D ln 2 "
            "(the Jacobian of y = 2x − 1; bits/dim are those of [0, 1] pixels).</div>"
        )
    elif normalization is not None:
        mean = ", ".join(f"{m:.3g}" for m in normalization.mean)
        rows.append(
            "<h3>Coordinates</h3><div class='note'>The SDE acts on normalised data y = (x − m) / s with "
            f"m = ({mean}), s = {normalization.scale:.3g}; in data space x<sub>t</sub> = m + s y<sub>t</sub> and "
            "∇<sub>x</sub> log p<sub>t</sub>(x) = ∇<sub>y</sub> log p<sub>t</sub>(y) / s, v<sub>x</sub> = s v<sub>y</sub>."
            "</div>"
        )
    rows.append("</body></html>")
    return "\n".join(rows)


def _network_text(s: Settings, images) -> str:
    """The score network in words: the U-Net in image mode, else the MLP."""
    if images is None:
        return f"MLP, {s.depth} hidden layers × {s.hidden} units, with a Fourier embedding of t"
    c, h, w = images.shape
    text = (f"U-Net on {c}×{h}×{w} images, {s.base_channels} base channels, residual blocks with the noise level "
            "c<sub>noise</sub> = ¼ ln(σ<sub>t</sub>/α<sub>t</sub>) added in every block")
    if s.image_classes and images.labels is not None:
        text += (f"; class-conditional on {images.num_classes} classes y plus a null class ∅ (label dropout 0.15), "
                 "so classifier-free guidance s = (1 + w) s<sub>θ</sub>(x, t, y) − w s<sub>θ</sub>(x, t, ∅) "
                 "(Ho &amp; Salimans 2022)")
    return text


def state_equations_html(state: AppState) -> str:
    """equations_html for the app's current settings, with the VE sigma_max actually in use."""
    sigma_max = None
    if state.settings.sde == "ve":
        try:
            sigma_max = float(state.sde().sigma_max)
        except Exception:  # noqa: BLE001 - the page still renders with the symbol
            sigma_max = None
    return equations_html(state.settings, sigma_max=sigma_max, normalization=state.normalization, images=state.images)


class EquationsDialog(QDialog):
    """Non-modal window with the equations; follows every settings or target change while open."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("The equations")
        self.resize(760, 720)
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        lay.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        state.settingsChanged.connect(lambda _names: self.refresh())
        state.targetChanged.connect(self.refresh)
        state.imagesChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.browser.setHtml(state_equations_html(self.state))

    def text(self) -> str:
        return self.browser.toPlainText()
