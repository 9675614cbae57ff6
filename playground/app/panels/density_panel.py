"""Density panel: the learned log p_t(x) as a heatmap at the time bar's t, the target's exact log p_t where it is
known, their difference, and how well they agree (the model's NLL, the target's entropy and the KL between them).

The map is computed in a `DensityThread` (PF-ODE with the exact divergence, Song et al. 2021 Sec. 4.3): the first
pass draws a coarse map at once and every later pass sharpens it, so the UI never waits. While training runs the map
is not recomputed (the worker would take CPU from the trainer): a new model marks it stale, and it is redrawn when
training pauses or on Refresh. A new t, target or resolution restarts it (at most every RESTART_MS while t is
dragged); a closed or tabbed-away dock does no work until shown.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from playground.app.geometry import Rect, sample_bounds, square_rect
from playground.app.widgets.plot_items import CentredMessage, Coalescer, DensityImage, plot_widget, set_view
from playground.app.workers.density_worker import DensityFrame, DensityJob, DensityOutcome, DensityThread
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.threads import cancel_threads
from playground.core.diffusion.exact_density import has_exact_log_density

SHOW_LEARNED, SHOW_TRUE, SHOW_DIFFERENCE = "learned", "true", "difference"
RESOLUTIONS = (64, 96, 128)
DEFAULT_RESOLUTION = 96
RANGE_NATS = 12.0  # the log-density colour scale spans [max - RANGE_NATS, max]
RELEVANT_NATS = 8.0  # the difference is shown where the true log p_t > max - RELEVANT_NATS
DIFFERENCE_CAP = 3.0  # the difference's colour scale is at most +-DIFFERENCE_CAP nats
RESTART_MS = 300
REPORT_N = 1000
DENSITY_MAP, DIFFERENCE_MAP = "viridis", "CET-D1"


class DensityPanel(QWidget):
    """log p_t heatmap (learned, exact or learned - exact) with a colour bar, the fit line and a Refresh button."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Density")
        self.plot = plot_widget("Density  log p_t(x)")
        self.plot.setToolTip("log p_t(x) in nats: the learned density from the probability-flow ODE (Song et al.\n"
                             "2021, Sec. 4.3, exact divergence), the target's exact density, or their difference.")
        pi = self.plot.getPlotItem()
        self.heat = DensityImage(pi, colormap=DENSITY_MAP)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(DENSITY_MAP), interactive=False,
                                        label="log p (nats)", width=14)
        self.colorbar.setImageItem(self.heat.item, insert_in=pi)
        self.message = CentredMessage(pi)

        self.show_combo = QComboBox()
        for key, text in ((SHOW_LEARNED, "learned log p_t"), (SHOW_TRUE, "true log p_t"),
                          (SHOW_DIFFERENCE, "learned − true")):
            self.show_combo.addItem(text, key)
        self.show_combo.setToolTip("What the heatmap shows: the model's log-density, the target's exact one (a\n"
                                   "Gaussian mixture, a drawn or image raster, the checkerboard), or learned − true\n"
                                   f"(where the true log p_t is within {RELEVANT_NATS:g} nats of its maximum).")
        self.show_combo.currentIndexChanged.connect(self._request)
        self.resolution = QComboBox()
        for g in RESOLUTIONS:
            self.resolution.addItem(f"{g} × {g}", g)
        self.resolution.setCurrentIndex(RESOLUTIONS.index(DEFAULT_RESOLUTION))
        self.resolution.setToolTip("Grid of the map (refined coarse to fine: a first map at once, then sharper).")
        self.resolution.currentIndexChanged.connect(self.refresh)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.setToolTip("Compute the map for the current model and t now (also while training runs).")
        self.refresh_btn.clicked.connect(self.refresh)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setToolTip("What the map is: its time, grid, the solver's steps and error estimate.")
        self.fit = QLabel("")
        self.fit.setWordWrap(True)
        self.fit.setToolTip("On target samples x ~ p_t: NLL = −E log q_t(x) of the model's density q_t, the\n"
                            "target's entropy H = −E log p_t(x), and KL(p_t ‖ q_t) = NLL − H (nats, ± one standard\n"
                            "error; the KL from paired differences where the exact log p_t is known).")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Show"))
        controls.addWidget(self.show_combo)
        controls.addWidget(self.resolution)
        controls.addWidget(self.refresh_btn)
        controls.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.status)
        lay.addWidget(self.plot, 1)
        lay.addLayout(controls)
        lay.addWidget(self.fit)

        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.frame: DensityFrame | None = None  # the latest map
        self.outcome: DensityOutcome | None = None  # the last finished job
        self.shown_values: np.ndarray | None = None  # what the heatmap shows now (nats), for tests and tools
        self.frames_received = 0
        self.generation = 0
        self.stale = True  # the map does not show the current model / t / target
        self._learning = False  # the current job computes a learned map
        self._threads: list = []
        self._current: DensityThread | None = None
        self._on_screen = True  # its dock's tab is the selected one (dock_on_screen)
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        self._start = Coalescer(self._start_job, interval_ms=RESTART_MS, parent=self)
        state.targetChanged.connect(self._on_inputs)
        state.settingsChanged.connect(self._on_settings)
        state.timeChanged.connect(self._on_inputs)
        state.modelChanged.connect(self._on_model)
        state.trainingChanged.connect(self._on_training)
        self._on_inputs()

    # ---- when to compute ---------------------------------------------------------------------------------------
    def _on_inputs(self, *_) -> None:
        """t, the target or the model changed: recompute (not while training runs)."""
        self.stale = True
        if not self.state.training:
            self._start.request()
        else:
            self._say_stale()

    def _on_settings(self, names: set) -> None:
        if self.state.model is None and names & {"sde", "beta_min", "beta_max", "sigma_min", "sigma_max"}:
            self._on_inputs()  # the exact map follows the settings' SDE until a model fixes it

    def _on_model(self) -> None:
        self._on_inputs()

    def _on_training(self, running: bool) -> None:
        if not running and self.stale:
            self._start.request()

    def _say_stale(self) -> None:
        if self.frame is not None:
            self.status.setText("Training: the map shows an earlier model; it updates when training pauses "
                                "(or press Refresh).")

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()
        self._resume()

    def dock_on_screen(self, on_screen: bool) -> None:
        """Its dock's tab was selected or tabbed away (QDockWidget.visibilityChanged: a tabbed-away dock's widgets
        stay 'visible' to Qt, so showEvent alone would let it compute behind another tab)."""
        self._on_screen = on_screen
        if on_screen:
            self._resume()
        elif self.running:
            self.cancel()
            self.stale = True

    def _resume(self) -> None:
        if self.stale and (not self.state.training or self.frame is None):
            self._start.request()

    def _hidden_in_window(self) -> bool:
        """Docked in a window but not on screen (a tabbed-away or closed dock): no work until shown."""
        return self.parent() is not None and (not self.isVisible() or not self._on_screen)

    def refresh(self, *_) -> None:
        """Compute the map now for the current model, t, target and grid."""
        self.stale = True
        self._start.flush()

    @property
    def running(self) -> bool:
        return self._current is not None and self._current.isRunning()

    def _job(self) -> DensityJob | None:
        st = self.state
        if st.image_mode or len(st.target_samples) == 0:
            return None
        b = sample_bounds(st.target_samples, margin=0.1)
        self.view_rect = square_rect(b) if b is not None else (-1.0, 1.0, -1.0, 1.0)
        model = st.model
        field = None
        if model is not None and getattr(model, "image_shape", None) is None:
            from playground.core.sampling.pf_ode_density import model_density_field

            field = model_density_field(model)
        sde = model.sde if field is not None else st.sde()
        norm = model.normalization if field is not None else st.normalization
        t = float(np.clip(st.t, 0.0, float(sde.T)))
        if field is None and not has_exact_log_density(st.target, 0.0 if t <= sde.sampling_eps else t):
            return None
        self.generation += 1
        return DensityJob(field, st.target, sde, norm, self.view_rect, int(self.resolution.currentData()), t,
                          report_n=REPORT_N, seed=int(st.settings.seed), generation=self.generation)

    def _start_job(self) -> None:
        if self._hidden_in_window():
            self.stale = True
            return
        self.cancel()
        job = self._job()
        self.stale = False
        if job is None:
            self.frame = self.outcome = None
            self.heat.clear()
            self.shown_values = None
            self.fit.setText("")
            st = self.state
            text = ("Image mode: the density map is for 2D targets." if st.image_mode else
                    "The target is empty." if len(st.target_samples) == 0 else
                    "No model yet, and this target has no known density: train to see the learned log p_t.")
            self.status.setText(text)
            self.message.show("Train to see the learned density" if not st.image_mode else "2D only")
            return
        self.message.hide()
        self._learning = job.field is not None
        self.fit.setText("Fit: computing…" if job.field is not None else
                         "Fit: train a model to compare its NLL with the target's entropy.")
        self.status.setText(f"Computing log p_t at t = {job.t:.3f} on a {job.size} × {job.size} grid…")
        self._current = start_job_thread(DensityThread(job), self._on_frame, self._on_done, self._threads)

    def cancel(self) -> None:
        """Stop the running map (its thread finishes on its own; what it still sends is dropped)."""
        if self._current is not None:
            self._current.cancel()
        self._current = None

    # ---- results -----------------------------------------------------------------------------------------------
    def _on_frame(self, frame: DensityFrame) -> None:
        if frame.generation != self.generation:
            return
        self.frames_received += 1
        self.frame = frame
        self._request()

    def _on_done(self, out: DensityOutcome) -> None:
        if out.generation != self.generation or out.cancelled:
            return
        self._current = None
        self.outcome = out
        if out.frame is not None:
            self.frame = out.frame
        self.fit.setText(self._fit_text(out))
        self._request()

    @staticmethod
    def _fit_text(out: DensityOutcome) -> str:
        if out.error:
            return f"Failed: {out.error}"
        r = out.report
        if r is None:
            return (f"Fit: could not be computed ({out.report_error})" if out.report_error else
                    "Fit: train a model to compare its NLL with the target's entropy.")
        when = "the target's samples (t = 0)" if r.t == 0 else f"samples of p_t at t = {r.t:.3f}"
        text = f"Model NLL {r.nll:.3f} ± {r.nll_sem:.3f} nats"
        if r.entropy is not None:
            text += f"   target entropy H {r.entropy:.3f} nats   KL(p ‖ q) = NLL − H = {r.kl:.3f} ± {r.kl_sem:.3f} nats"
        else:
            text += "   (this target's entropy is not known: no KL)"
        return text + f"   on {r.n:,} of {when}"

    def _request(self, *_) -> None:
        self._redraw.request()

    def mode(self) -> str:
        return self.show_combo.currentData()

    def redraw(self) -> None:
        set_view(self.plot, self.view_rect)
        f = self.frame
        has_learned, has_true = f is not None and f.learned is not None, f is not None and f.true is not None
        for i, ok in enumerate((True, has_true, has_learned and has_true)):
            self.show_combo.model().item(i).setEnabled(ok)
        if f is None:
            return
        mode = self.mode()
        if mode == SHOW_LEARNED and not has_learned and not self._learning and has_true:
            mode = SHOW_TRUE  # no model: the exact map is all there is
        if mode == SHOW_TRUE and not has_true or mode == SHOW_DIFFERENCE and not (has_learned and has_true):
            mode = SHOW_LEARNED
        if mode == SHOW_LEARNED and not has_learned:
            self.heat.clear()
            self.shown_values = None
            self.message.show("Computing…" if self.running else "No learned map")
            return
        self.message.hide()
        top = self._top(f)
        if mode == SHOW_DIFFERENCE:
            values = f.learned - f.true
            relevant = np.isfinite(f.true) & (f.true > top - RELEVANT_NATS)
            values = np.where(relevant & np.isfinite(values), values, np.nan)
            span = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
            span = min(max(span, 1e-3), DIFFERENCE_CAP)
            levels, cmap, label = (-span, span), DIFFERENCE_MAP, "learned − true (nats)"
            shown = np.where(np.isfinite(values), values, 0.0)  # outside the relevant region: neutral
        else:
            values = f.learned if mode == SHOW_LEARNED else f.true
            levels, cmap, label = (top - RANGE_NATS, top), DENSITY_MAP, "log p (nats)"
            shown = values
        self.shown_values = values
        self._set_colormap(cmap, label)
        self.heat.set_grid(shown, f.extent, levels=levels)
        self.colorbar.setLevels(levels)
        self.status.setText(self._status_text(f, mode))

    @staticmethod
    def _top(f: DensityFrame) -> float:
        """The colour scale's top: the true map's maximum where known (so learned and true share one scale)."""
        for v in (f.true, f.learned):
            if v is not None and np.isfinite(v).any():
                return float(np.nanmax(np.where(np.isfinite(v), v, np.nan)))
        return 0.0

    def _set_colormap(self, name: str, label: str) -> None:
        if getattr(self, "_cmap", None) != name:
            self._cmap = name
            cmap = pg.colormap.get(name)
            self.heat.item.setColorMap(cmap)
            self.colorbar.setColorMap(cmap)
        if getattr(self, "_label", None) != label:
            self._label = label
            self.colorbar.getAxis("left").setLabel(label)

    def _status_text(self, f: DensityFrame, mode: str) -> str:
        g = len(f.learned) if f.learned is not None else len(f.true)
        what = {SHOW_LEARNED: "learned", SHOW_TRUE: "true", SHOW_DIFFERENCE: "learned − true"}[mode]
        text = f"{what} log p_t, t = {f.t:.3f}, {g} × {g}"
        if mode == SHOW_TRUE and f.true_t != f.t:
            text = f"true log p_t at t = {f.true_t:g} (the target itself), {g} × {g}"
        if f.learned is not None:
            err = "" if f.error_estimate is None else f", error ≈ {f.error_estimate:.2g} nats"
            progress = "done" if f.done else f"refining {100 * f.fraction:.0f} % (blocks of {f.stride})"
            text += f"   PF-ODE: {f.steps} steps, {f.nfe} NFE per point{err}, {progress}, {f.seconds:.1f} s"
        if self.stale and self.state.training:
            text += "   (stale: updates when training pauses)"
        return text

    def shutdown(self) -> None:
        self._start.stop()
        self._redraw.stop()
        self.cancel()
        cancel_threads(self._threads)


__all__ = ["DensityPanel"]
