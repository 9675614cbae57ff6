"""Forward diffusion panel: target particles carried forward by the SDE as t moves, over the marginal p_t.

Each particle keeps ONE fixed noise draw eps, so x_t = data(alpha(t) y0 + sigma(t) eps) with y0 the normalised
sample moves smoothly with t (the exact marginal of the forward SDE at every t, coupled across t).
The heatmap is p_t itself: exact for Gaussian-mixture targets (closed form per component, mapped to data space with
the normalisation's Jacobian) and point-set targets (EmpiricalScore.log_prob), a particle histogram otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from playground.app.geometry import (
    Rect,
    SdeCache,
    grid_centres,
    hist_bins,
    prior_rect,
    sample_bounds,
    square_rect,
    union_rect,
)
from playground.app.widgets.flow_layout import wrapping_row
from playground.app.widgets.particle_density import ParticleDensity
from playground.app.widgets.plot_items import (
    CentredMessage,
    Coalescer,
    DensityImage,
    DotCloud,
    plot_widget,
    set_view,
    visible_rect,
)
from playground.core.diffusion.exact_score import EmpiricalScore
from playground.data.targets.gaussian_mixture import GaussianMixture

EXACT_RES = 128  # grid of the exact GMM heatmap
POINTS_BUDGET = 2e7  # grid cells x set size for the exact point-set heatmap
POINTS_T_FLOOR = 1e-3  # p_t of a finite set is a sum of deltas at t = 0


def gmm_log_prob_grid(gmm: GaussianMixture, y: np.ndarray, alpha: float, sigma: float) -> np.ndarray:
    """log p_t(y) of a GMM under x_t = alpha x0 + sigma eps, for many points at ONE t (closed form, float64).

    Same value as GaussianMixture.log_prob(y, t, sde) but one 2x2 inverse per component instead of one per point."""
    w = gmm.weights.numpy()
    mu = gmm.means.numpy() * alpha
    cov = alpha**2 * gmm.covariances.numpy() + sigma**2 * np.eye(gmm.dim)
    prec = np.linalg.inv(cov)
    _, logdet = np.linalg.slogdet(cov)
    if gmm.dim == 2:  # the quadratic form spelled out: ~10x faster than a 3-operand einsum
        dx = y[:, 0, None] - mu[None, :, 0]
        dy = y[:, 1, None] - mu[None, :, 1]
        maha = prec[:, 0, 0] * dx * dx + (prec[:, 0, 1] + prec[:, 1, 0]) * dx * dy + prec[:, 1, 1] * dy * dy
    else:
        d = y[:, None, :] - mu[None]  # (N, K, D)
        maha = np.einsum("nki,kij,nkj->nk", d, prec, d)
    logn = -0.5 * (maha + logdet[None] + gmm.dim * math.log(2 * math.pi)) + np.log(w)[None]
    m = logn.max(1, keepdims=True)
    return (m[:, 0] + np.log(np.exp(logn - m).sum(1)))


class ForwardPanel(QWidget):
    """Particles x_t over the heatmap p_t; follows state.t, the target and the SDE settings."""

    def __init__(self, state, parent=None, dots_max: int = 10000):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Forward diffusion")
        self.plot = plot_widget("Forward diffusion  x₀ → x_t")
        self.plot.setToolTip(
            "Samples of the target pushed forward by the SDE: x_t = α(t) x₀ + σ(t) ε, one fixed ε per particle,\n"
            "over the marginal density p_t (exact for Gaussian-mixture and point-set targets)."
        )
        pi = self.plot.getPlotItem()
        self.density = DensityImage(pi, bins=256, colormap="inferno")
        self.dots = DotCloud(pi, color=(120, 230, 255, 190), width=2.0, max_points=dots_max)
        self.particle_density = ParticleDensity(pi, color=(120, 230, 255))
        self.message = CentredMessage(pi)

        self.info = QLabel()
        self.info.setToolTip("Current time t and the forward marginal's coefficients: x_t | x₀ ~ N(α x₀, σ² I)\n"
                             "(in normalised coordinates; data = mean + scale · normalised).")
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.show_density = QCheckBox("Density p_t")
        self.show_density.setChecked(True)
        self.show_density.setToolTip("Show the marginal density p_t(x) as a heatmap under the particles.")
        self.show_dots = QCheckBox("Particles")
        self.show_dots.setChecked(True)
        self.show_dots.setToolTip("Show the particles x_t (drawn as dots or as a density, see the list beside).")
        self.particle_style = QComboBox()
        self.particle_style.addItem("dots", "dots")
        self.particle_style.addItem("density", "density")
        self.particle_style.setToolTip(
            f"How the particles are drawn: dots (the first {dots_max:,}, one dot each) or a density image of ALL of\n"
            "them (a histogram at the view's pixel size, opacity growing with the count; fast for a million).")
        self.particle_style.currentIndexChanged.connect(self._request)
        self.follow = QCheckBox("Zoom with t")
        self.follow.setToolTip("Fit the view to the current marginal (α·target ± 3σ) instead of the fixed box that\n"
                               "holds both the target and the prior. On by default for VE, whose prior is much wider.")
        for cb in (self.show_density, self.show_dots, self.follow):
            cb.toggled.connect(self._request)
        self.fit_btn = QToolButton()
        self.fit_btn.setText("Fit")
        self.fit_btn.setToolTip("Fit the axes to the particles shown now and the target (0.5–99.5 % quantiles);\n"
                                "'Zoom with t' goes off so the view stays while t moves.")
        self.fit_btn.clicked.connect(self.fit)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.info)
        lay.addWidget(self.plot, 1)
        lay.addWidget(wrapping_row((self.show_density, self.show_dots, self.particle_style, self.follow, self.fit_btn)))

        self._y0 = np.zeros((0, 2), np.float32)
        self._eps = np.zeros((0, 2), np.float32)
        self._x: np.ndarray | None = np.zeros((0, 2), np.float32)  # None: not computed at _x_t yet (particles())
        self._x_t = 0.0
        self._target_rect: Rect | None = None
        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.density_kind = "histogram"
        self._exact_cache: tuple | None = None
        self._grid_cache: tuple | None = None
        self._sde_cache = SdeCache()
        self.redraws = 0
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        state.targetChanged.connect(self._on_target)
        state.settingsChanged.connect(self._on_settings)
        state.timeChanged.connect(self._request)
        state.imagesChanged.connect(self._on_images)
        self._default_zoom()
        self._rebuild()
        self._redraw.flush()

    def _default_zoom(self) -> None:
        """VE's prior (sigma_max of the data's spread) dwarfs the target: follow p_t there; fixed box otherwise."""
        self.follow.blockSignals(True)
        self.follow.setChecked(self.state.settings.sde == "ve")
        self.follow.blockSignals(False)

    # ---- state ------------------------------------------------------------------------------------------------
    def _on_target(self) -> None:
        self._rebuild()
        self._request()

    def _on_images(self) -> None:
        if not self.state.image_mode:  # back from image mode: the target (and its normalisation) may have changed
            self._rebuild()
            self._request()

    def _on_settings(self, names: set) -> None:
        if "sde" in names:
            self._default_zoom()
        if names & {"n_forward", "seed", "sde", "beta_min", "beta_max", "sigma_min", "sigma_max", "target_samples"}:
            self._rebuild()
        self._request()

    def _request(self, *_) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()  # a redraw requested while hidden (closed or tabbed-away dock) runs now

    def _rebuild(self) -> None:
        """New particles y0 (normalised) with their fixed noise, and the fixed view rectangle. Not in image mode (the
        state's normalisation and SDE are the images' then): leaving image mode rebuilds."""
        st = self.state
        if st.image_mode:
            return
        n = int(st.settings.n_forward)
        samples = st.target_samples
        if n <= len(samples):
            x0 = samples[:n]
        else:
            x0 = st.target.sample(n, st.settings.seed)
        x0 = np.asarray(x0, np.float32).reshape(-1, 2)
        norm = st.normalization
        if len(x0):
            self._y0 = np.ascontiguousarray(norm.to_norm(torch.as_tensor(x0)).numpy(), dtype=np.float32)
        else:
            self._y0 = np.zeros((0, 2), np.float32)
        rng = np.random.default_rng(int(st.settings.seed) + 7919)
        self._eps = rng.standard_normal(self._y0.shape).astype(np.float32)
        self._exact_cache = None
        self._grid_cache = None
        self._target_rect = sample_bounds(samples)
        self.view_rect = self._fixed_rect()

    def _fixed_rect(self) -> Rect:
        st = self.state
        try:
            prior = prior_rect(st.normalization, self.sde())
        except Exception:  # an SDE that cannot be built yet (e.g. an empty target under VE)
            prior = None
        r = union_rect(self._target_rect, prior)
        return square_rect(r) if r is not None else (-1.0, 1.0, -1.0, 1.0)

    def _current_rect(self, alpha: float, sigma: float) -> Rect:
        if not self.follow.isChecked() or self._target_rect is None:
            return self.view_rect
        norm = self.state.normalization
        mx, my = norm.mean
        t = self._target_rect
        shrink = (mx + alpha * (t[0] - mx), mx + alpha * (t[1] - mx),
                  my + alpha * (t[2] - my), my + alpha * (t[3] - my))
        h = 3 * norm.scale * sigma
        return square_rect(union_rect(shrink, (mx - h, mx + h, my - h, my + h)))

    def fit(self) -> None:
        """Fit the axes to the particles shown now and the target (robust quantiles); 'Zoom with t' off."""
        r = union_rect(self._target_rect, sample_bounds(self.particles(), margin=0.05))
        if r is None:
            return
        self.view_rect = square_rect(r)
        self.follow.blockSignals(True)
        self.follow.setChecked(False)
        self.follow.blockSignals(False)
        self._request()

    # ---- drawing ----------------------------------------------------------------------------------------------
    def sde(self):
        """The state's SDE (normalised space), memoised."""
        return self._sde_cache.get(self.state)

    def coefficients(self, t: float) -> tuple[float, float]:
        alpha, sigma = self.sde().marginal_coefficients(torch.tensor([float(t)], dtype=torch.float64))
        return float(alpha[0]), float(sigma[0])

    def particles(self) -> np.ndarray:
        """Data-space particles x_t at the last redraw (n, 2) float32 (computed on first use: the dots need only the
        first `dots.max_points` of them)."""
        if self._x is None:
            self._x = self.compute_particles(self._x_t)
        return self._x

    def compute_particles(self, t: float, n: int | None = None) -> np.ndarray:
        """x_t = alpha(t) y0 + sigma(t) eps in data space, of all particles or of the first n."""
        alpha, sigma = self.coefficients(t)
        norm = self.state.normalization
        y0, eps = (self._y0, self._eps) if n is None else (self._y0[:n], self._eps[:n])
        x = y0 * np.float32(alpha * norm.scale)
        x += eps * np.float32(sigma * norm.scale)
        x += np.asarray(norm.mean, np.float32)
        return x

    def redraw(self) -> None:
        st = self.state
        if st.image_mode:  # this 2D view is hidden then; it redraws on leaving image mode
            return
        self.redraws += 1
        if len(self._y0) == 0:
            self._x = np.zeros((0, 2), np.float32)
            self.density.clear()
            self.dots.clear()
            self.particle_density.clear()
            self.info.setText("The target is empty: pick a preset, draw or import a density.")
            set_view(self.plot, self.view_rect)
            self.message.show("Empty target")
            return
        self.message.hide()
        t = float(st.t)
        try:
            alpha, sigma = self.coefficients(t)
        except Exception as e:  # a bad SDE setting: say so, keep the window alive
            self.info.setText(f"Cannot evaluate the SDE: {e}")
            return
        set_view(self.plot, self._current_rect(alpha, sigma))
        rect = visible_rect(self.plot)  # the density fills the whole plot, not only the rect asked for
        self._x, self._x_t = None, t
        self._draw_particles(rect)
        self.density.set_visible(self.show_density.isChecked())
        if self.show_density.isChecked():
            self._draw_density(t, alpha, sigma, rect)
        self.info.setText(
            f"t = {t:.3f}    α(t) = {alpha:.3f}    σ(t) = {sigma:.3f}    ({st.settings.sde.upper()}, "
            f"{len(self._y0):,} particles)    p_t: {self.density_kind}"
        )

    def _draw_particles(self, rect: Rect) -> None:
        """The particles as dots (a subset) or as a density image of all of them (`particle_style`)."""
        on = self.show_dots.isChecked()
        as_density = self.particle_style.currentData() == "density"
        self.dots.set_visible(on and not as_density)
        self.particle_density.set_visible(on and as_density)
        if on and as_density:
            self.particle_density.set_points(self.particles(), rect)
        elif on:
            all_needed = self.show_density.isChecked() and not self._exact_density_shown()  # its histogram takes all
            n = None if all_needed else self.dots.max_points or None
            self.dots.set_points(self.particles() if n is None else self.compute_particles(self._x_t, n))

    def _exact_density_shown(self) -> bool:
        """Whether p_t is drawn from the target's closed form (a Gaussian mixture, a point set), not the particles."""
        return self.state.target.gmm is not None or self.state.target.points is not None

    def _draw_density(self, t: float, alpha: float, sigma: float, rect: Rect) -> None:
        st = self.state
        target = st.target
        if self._exact_density_shown():
            key = (t, rect, id(target), st.settings.sde, st.settings.beta_min, st.settings.beta_max,
                   st.settings.sigma_min, st.settings.sigma_max)
            if self._exact_cache is not None and self._exact_cache[0] == key:
                dens, res = self._exact_cache[1], self._exact_cache[2]
            else:
                dens, res = self._exact_density(t, alpha, sigma, rect)
                self._exact_cache = (key, dens, res)
            self.density.set_grid(dens.reshape(res, res), rect, levels=(0.0, max(float(dens.max()), 1e-30)),
                                  gamma=0.5)
        else:
            self.density_kind = "histogram of the particles"
            self.density.bins = hist_bins(len(self._y0))
            self.density.set_rect(rect)
            self.density.set_points(self.particles())

    def _exact_density(self, t: float, alpha: float, sigma: float, rect: Rect) -> tuple[np.ndarray, int]:
        """Data-space density p_t on a res x res grid of cell centres: p_data = p_norm * |dy/dx|."""
        st = self.state
        norm = st.normalization
        mean = np.asarray(norm.mean, np.float64)
        if st.target.gmm is not None:
            res = EXACT_RES
            key = (rect, id(st.target.gmm), norm)
            if self._grid_cache is None or self._grid_cache[0] != key:
                _, _, pts = grid_centres(rect, res)
                self._grid_cache = (key, (pts - mean) / norm.scale, norm.gmm_to_norm(st.target.gmm))
            _, y, gmm_norm = self._grid_cache
            logp = gmm_log_prob_grid(gmm_norm, y, alpha, sigma)
            self.density_kind = "exact (Gaussian mixture)"
        else:
            m = len(st.target.points)
            res = int(np.clip(math.sqrt(POINTS_BUDGET / max(m, 1)), 48, EXACT_RES))
            _, _, pts = grid_centres(rect, res)
            y = torch.as_tensor((pts - mean) / norm.scale)
            emp = EmpiricalScore(norm.to_norm(torch.as_tensor(np.asarray(st.target.points, np.float64))))
            logp = emp.log_prob(y, max(t, POINTS_T_FLOOR), self.sde()).numpy()
            floor = f", t ≥ {POINTS_T_FLOOR:g}" if t < POINTS_T_FLOOR else ""
            self.density_kind = f"exact (point set of {m:,}){floor}"
        dens = np.exp(logp + norm.log_det_jacobian)
        dens[~np.isfinite(dens)] = 0.0
        return dens, res

    def exact_cell_area(self) -> float:
        """Area of one cell of the last exact heatmap (for integrating it)."""
        r = self.density.rect
        n = self.density.data.shape[0]
        return (r[1] - r[0]) * (r[3] - r[2]) / (n * n)

    def shutdown(self) -> None:
        self._redraw.stop()
