"""The training panel: Play / Pause / Step / Reset, the live loss curve (raw and smoothed, log y), the loss by time
bin beside the model's score error by time bin against the exact score (`ScoreErrorCurve`, 2D), and a small sample of
the current model over the target (in image mode: a 4 x 4 grid of model images, `ImageGridView`, one class per tile
for a class-conditional model).

All drawing is throttled: the worker's reports are appended to buffers and the plots redraw from a 10 Hz timer,
only when something changed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.score_error_curve import ScoreErrorCurve
from playground.app.state import AppState
from playground.app.widgets.image_view import ImageGridView
from playground.app.widgets.plot_items import DotCloud
from playground.app.widgets.compact_axes import compact_axes, set_log_y_ticks, set_y_span
from playground.app.workers.training_controller import TrainingController
from playground.app.workers.training_progress import N_BINS, TrainProgress
from playground.app.workers.training_setup import IMAGE_PREVIEW_N, IMAGE_PREVIEW_STEPS

SMOOTH = 0.97  # EMA factor of the smoothed loss curve
MAX_CURVE_POINTS = 4000  # the curves are decimated to about this many points
TARGET_DOTS = 2000
NO_MODEL = "Train a model first: Train > Play (Space)"
NO_SAMPLES_TITLE = "Target (no model yet)"  # the 2D sample plot before the model's first samples
TITLE_SIZE = "9pt"  # the plots' titles (the label keeps it for later titles): a short dock keeps room for the plots
LOSS_REFRESH_MS = 250  # the loss curve and status redraw at 4 Hz: enough to read, and leaves the animated views the CPU


class Smoother:
    """Bias-corrected exponential moving average, extended incrementally as losses arrive."""

    def __init__(self, a: float = SMOOTH):
        self.a = a
        self.clear()

    def clear(self) -> None:
        self.acc = 0.0
        self.w = 0.0
        self.values = np.zeros(0)

    def extend_to(self, x: np.ndarray) -> np.ndarray:
        """The smoothed series of x, where x extends the series seen so far."""
        n0 = len(self.values)
        if len(x) < n0:
            self.clear()
            n0 = 0
        new = np.empty(len(x) - n0)
        a, acc, w = self.a, self.acc, self.w
        for i, v in enumerate(x[n0:].tolist()):
            acc = a * acc + (1 - a) * v
            w = a * w + (1 - a)
            new[i] = acc / w
        self.acc, self.w = acc, w
        self.values = np.concatenate([self.values, new])
        return self.values


def decimate(steps: np.ndarray, values: np.ndarray, n: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point so that about n remain (the last point always kept)."""
    if len(values) <= n:
        return steps, values
    k = int(np.ceil(len(values) / n))
    idx = np.r_[np.arange(0, len(values) - 1, k), len(values) - 1]
    return steps[idx], values[idx]


class TrainingPanel(QWidget):
    """Live view of the training run that `controller` drives."""

    def __init__(
        self,
        state: AppState,
        controller: TrainingController,
        actions: dict[str, QAction] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.state = state
        self.controller = controller
        self.actions = actions or self._make_actions()
        self._dirty = False
        self._bins: np.ndarray | None = None
        self.smoother = Smoother()
        self.redraws = 0

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)

        row = QHBoxLayout()
        for key in ("play", "step", "reset"):
            b = QToolButton()
            b.setDefaultAction(self.actions[key])
            b.setToolButtonStyle(b.toolButtonStyle().ToolButtonTextBesideIcon)
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.info = QLabel("Press Play to train")
        self.info.setToolTip(
            "Optimiser steps done, the last loss, training speed (steps per second) and the training time."
        )
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.info)

        self.view = pg.GraphicsLayoutWidget()
        self.view.setToolTip(
            "Top left: the training loss per step (thin) and its exponential moving average (thick), log scale.\n"
            "Bottom left: the mean loss by diffusion time t (10 bins over [0, 1], recent steps weigh more).\n"
            "Bottom right (2D): the model's normalised score error by t, E|s − ∇log p_t|² σ(t)², against the target's\n"
            "exact score (a Gaussian mixture's, a raster's or a point set's): near 0 at every t for a perfect model,\n"
            "where the loss beside it keeps a floor that is not zero. Recomputed for new snapshots, every few seconds.\n"
            "Top right (2D): the target (grey) and, once training has made a model, its samples (orange; reverse SDE,\n"
            "Euler–Maruyama, 40 steps) at the step in the title."
        )
        self.preview_grid = ImageGridView(title="Model samples")
        self.preview_grid.setToolTip(
            f"Image mode: {IMAGE_PREVIEW_N} samples of the current model (reverse SDE, Euler–Maruyama, "
            f"{IMAGE_PREVIEW_STEPS} steps,\na quick look refreshed every few seconds); a class-conditional model "
            "draws one class per tile (captions)."
        )
        self.preview_grid.setMinimumWidth(120)
        body = QHBoxLayout()
        body.setSpacing(2)
        body.addWidget(self.view, 3)
        body.addWidget(self.preview_grid, 2)
        lay.addLayout(body, 1)

        self.loss_plot: pg.PlotItem = self.view.addPlot(row=0, col=0)
        self.loss_plot.setTitle("Loss by step", size=TITLE_SIZE)
        self.loss_plot.setLogMode(False, True)
        set_log_y_ticks(self.loss_plot, 1.0, 10.0)  # the empty plot's decade
        self.loss_plot.showGrid(x=True, y=True, alpha=0.25)
        self.loss_plot.setClipToView(True)
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen((120, 160, 255, 90), width=1))
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen((255, 140, 40), width=2.5))
        self._log_y = True

        self.bin_plot: pg.PlotItem = self.view.addPlot(row=1, col=0)
        self.bin_plot.setTitle("Loss by time t", size=TITLE_SIZE)
        self.bin_plot.setXRange(0, 1, padding=0.02)
        self.bin_plot.setMouseEnabled(False, False)
        self.error_plot: pg.PlotItem = self.view.addPlot(row=1, col=1)
        for plot in (self.bin_plot, self.error_plot):
            compact_axes(plot)
        self.error_plot.titleLabel.opts["size"] = TITLE_SIZE
        self.score_error = ScoreErrorCurve(state, self.error_plot, N_BINS, self.view, self)
        w = 1.0 / N_BINS
        self.bars = pg.BarGraphItem(
            x=(np.arange(N_BINS) + 0.5) * w, height=np.zeros(N_BINS), width=w * 0.85,
            brush=pg.mkBrush(90, 170, 120, 220), pen=None,
        )
        self.bin_plot.addItem(self.bars)

        self.sample_plot: pg.PlotItem = self.view.addPlot(row=0, col=1)
        self.sample_plot.setTitle(NO_SAMPLES_TITLE, size=TITLE_SIZE)
        self.sample_plot.setAspectLocked(True)
        self.sample_plot.hideAxis("left")
        self.sample_plot.hideAxis("bottom")
        self.sample_plot.setMouseEnabled(False, False)
        # numpy-drawn dots: this plot repaints with the loss curve several times a second, beside the animated views
        self.target_dots = DotCloud(self.sample_plot, color=(150, 150, 150, 90), width=2.0, max_points=0, z=0)
        self.model_dots = DotCloud(self.sample_plot, color=(255, 120, 40, 170), width=2.0, max_points=0, z=1)
        grid = self.view.ci.layout
        grid.setRowStretchFactor(0, 1)
        grid.setRowStretchFactor(1, 1)
        for col in range(2):
            grid.setColumnStretchFactor(col, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(LOSS_REFRESH_MS)
        self.timer.timeout.connect(self._redraw)
        self.timer.start()

        controller.progressed.connect(self._on_progress)
        controller.previewReady.connect(self.set_preview)
        controller.resetDone.connect(self.clear)
        controller.runningChanged.connect(lambda _r: self._update_info())
        state.targetChanged.connect(self._show_target)
        state.imagesChanged.connect(self._apply_mode)
        self._image_layout = False
        self._apply_mode()
        self._update_info()

    def _make_actions(self) -> dict[str, QAction]:
        st = self.style()
        play = QAction(st.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Play", self)
        play.triggered.connect(self.controller.toggle)
        step = QAction(st.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Step", self)
        step.triggered.connect(self.controller.step_once)
        reset = QAction(st.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reset", self)
        reset.triggered.connect(self.controller.reset)
        return {"play": play, "step": step, "reset": reset}

    # ---- data in -----------------------------------------------------------------------------------------------
    def _on_progress(self, p: TrainProgress) -> None:
        if p.bin_losses is not None:
            self._bins = np.asarray(p.bin_losses, dtype=np.float64)
        self._dirty = True

    def set_preview(self, samples: np.ndarray | None) -> None:
        """Show the worker's preview: (n, 2) points over the target, or (n, C, H, W) images as a grid."""
        if samples is not None and np.ndim(samples) == 4:
            self._show_image_preview(np.asarray(samples, dtype=np.float32))
            return
        if samples is None or len(samples) == 0:
            self.model_dots.clear()
            self.sample_plot.setTitle(NO_SAMPLES_TITLE)
            return
        x = np.asarray(samples, dtype=np.float64)
        self.model_dots.set_points(x[np.isfinite(x).all(1)])
        self.sample_plot.setTitle(f"Model, step {self.controller.step:,}")

    def _show_image_preview(self, images: np.ndarray) -> None:
        images = np.nan_to_num(images, nan=0.0)
        model = self.state.model
        k = model.num_classes if model is not None and model.image_shape is not None else 0
        captions = [model.class_names[i % k] for i in range(len(images))] if k else None
        self.preview_grid.set_images(images, columns=4, captions=captions)

    def _apply_mode(self) -> None:
        """2D: model dots over the target beside the loss by time; image mode: the loss plots and a grid of images."""
        image = self.state.image_mode
        if image != self._image_layout:
            self._image_layout = image
            ci = self.view.ci
            for item in (self.loss_plot, self.bin_plot, self.error_plot, self.sample_plot):
                if item in ci.items:
                    ci.removeItem(item)
            if image:  # the loss and the loss by time, each across the dock
                ci.addItem(self.loss_plot, row=0, col=0, colspan=2)
                ci.addItem(self.bin_plot, row=1, col=0, colspan=2)
            else:  # loss | model samples over loss by time | score error by time
                ci.addItem(self.loss_plot, row=0, col=0)
                ci.addItem(self.sample_plot, row=0, col=1)
                ci.addItem(self.bin_plot, row=1, col=0)
                ci.addItem(self.error_plot, row=1, col=1)
            self.sample_plot.setVisible(not image)
            self.error_plot.setVisible(not image)
        self.preview_grid.setVisible(image)
        self.preview_grid.set_message(NO_MODEL)
        self._show_target()

    def clear(self) -> None:
        self.smoother.clear()
        self.raw_curve.setData([], [])
        self.smooth_curve.setData([], [])
        set_log_y_ticks(self.loss_plot, 1.0, 10.0)
        self.bars.setOpts(height=np.zeros(N_BINS))
        set_y_span(self.bin_plot, 0.0, 1.0)
        self.model_dots.clear()
        self.sample_plot.setTitle(NO_SAMPLES_TITLE)
        if self.state.image_mode:
            self.preview_grid.set_message(NO_MODEL)
        self._bins = None
        self._dirty = False
        self._update_info()

    def _show_target(self) -> None:
        x = np.asarray(self.state.target_samples[:TARGET_DOTS], dtype=np.float64).reshape(-1, 2)
        self.target_dots.set_points(x)
        self.model_dots.clear()
        self.sample_plot.setTitle(NO_SAMPLES_TITLE)
        if len(x) == 0:
            return
        lo = np.percentile(x, 0.5, axis=0).astype(np.float64)
        hi = np.percentile(x, 99.5, axis=0).astype(np.float64)
        pad = 0.25 * float(max(hi - lo)) + 1e-6
        self.sample_plot.setRange(
            xRange=(float(lo[0] - pad), float(hi[0] + pad)), yRange=(float(lo[1] - pad), float(hi[1] + pad)), padding=0
        )

    # ---- drawing -----------------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if not self._dirty or not self.isVisible():
            self._update_info()
            return
        self._dirty = False
        self.redraws += 1
        steps, losses = self.controller.losses()
        if len(losses):
            ok = np.isfinite(losses)
            steps, losses = steps[ok], losses[ok]
            smooth = self.smoother.extend_to(losses)
            log_y = bool(len(losses) == 0 or losses.min() > 0)
            if log_y != self._log_y:  # sliced score matching can go negative: fall back to a linear axis
                self._log_y = log_y
                self.loss_plot.setLogMode(False, log_y)
            if log_y and len(losses):
                set_log_y_ticks(self.loss_plot, float(losses.min()), float(losses.max()))
            elif not log_y:
                self.loss_plot.getAxis("left").setTicks(None)
            self.raw_curve.setData(*decimate(steps, losses))
            self.smooth_curve.setData(*decimate(steps, smooth))
        if self._bins is not None:
            h = np.nan_to_num(self._bins, nan=0.0)
            self.bars.setOpts(height=h)
            top = float(h.max()) if len(h) and h.max() > 0 else 1.0
            set_y_span(self.bin_plot, min(0.0, float(h.min())), top * 1.05)
        self._update_info()

    def _update_info(self) -> None:
        c = self.controller
        if c.step == 0 and not c.running:
            self.info.setText("Press Play (Space) to train")
            return
        parts = [f"step {c.step:,}"]
        if np.isfinite(c.last_loss):
            parts.append(f"loss {c.last_loss:.4g}")
        if c.its > 0:
            parts.append(f"{c.its:,.0f} it/s")
        parts.append(f"{c.elapsed_before:.1f} s" if not c.running else "training…")
        self.info.setText("   ".join(parts))

    def shutdown(self) -> None:
        self.timer.stop()
        self.score_error.shutdown()
