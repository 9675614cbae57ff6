"""Classes panel: controllable generation in 2D with exact answers (Song et al. 2021 Sec. 5 and App. I).

A Gaussian mixture's components (a preset's, a GMM file's, the Gaussians editor's, drawn there in the same colours)
are the classes. The panel samples one class, or every class in proportion to its weight, with a guidance weight w:

- learned CFG: a class-conditional model (trained with the switch below: label dropout 0.15) with classifier-free
  guidance (1 + w) s(x, t, c) - w s(x, t, ∅) (Ho & Salimans 2022);
- exact CFG: the same formula on the exact scores (component c alone, diffused; and the mixture);
- exact classifier guidance: the mixture's score plus (1 + w) ∇ log p_t(c | x) through the exact responsibilities
  (autograd) — the same field as exact CFG, reached another way, so the two must agree.

Each class's samples are compared with exact samples of its component (SWD and the floor of two exact sets): at w = 0
the exact methods sit at the floor, and w > 0 sharpens the samples into the component's core.

Imputation (`ImputationTool`): with the line tool on, a click on the plot fixes x1 = c (a vertical line) or x2 = c
(horizontal) and the other coordinate is sampled by the replacement method (App. I.2) with the learned or the exact
score; the histogram beside shows it with the exact conditional p(other | fixed = c) of the mixture and W1 of both.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from playground.app.geometry import Rect, sample_bounds, square_rect
from playground.app.panels.imputation_tool import ImputationTool
from playground.app.widgets.class_colors import class_color
from playground.app.widgets.plot_items import CentredMessage, Coalescer, DensityImage, DotCloud, plot_widget, set_view
from playground.app.workers.conditional_worker import ClassJob, ClassOutcome, ClassSamplingThread
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.threads import cancel_threads

LEARNED, EXACT_CFG, EXACT_CG = "learned", "exact_cfg", "exact_cg"
ALL_CLASSES = -1
GUIDANCE_MAX = 10.0
GUIDANCE_TICKS = 100  # w = tick / 10
RESAMPLE_MS = 150  # the slider resamples at most this often while it moves


def class_icon(k: int) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*class_color(k)))
    return QIcon(pix)


class ClassesPanel(QWidget):
    """Class-conditional sampling with guidance, and imputation along a line (module docstring)."""

    changeRequested = Signal(dict)  # settings to apply (the main window asks before discarding a trained model)

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Classes / imputation")
        self.plot = plot_widget("Classes  p(x | c)")
        pi = self.plot.getPlotItem()
        self.target_image = DensityImage(pi, bins=128, colormap="CET-L1")
        self.target_image.item.setOpacity(0.45)
        self.clouds: list[DotCloud] = []
        self.message = CentredMessage(pi)
        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.imputation = ImputationTool(state, self.plot, lambda: self.method.currentData() == LEARNED,
                                         lambda: self.view_rect, self)

        self.method = QComboBox()
        for key, text in ((LEARNED, "learned CFG"), (EXACT_CFG, "exact CFG"), (EXACT_CG, "exact classifier guidance")):
            self.method.addItem(text, key)
        self.method.setToolTip("Learned CFG: the class-conditional model, (1 + w) s(x, c) − w s(x, ∅).\n"
                               "Exact CFG: the same with the exact scores (component c diffused, and the mixture).\n"
                               "Exact classifier guidance: s(x) + (1 + w) ∇ log p_t(c | x) with the exact\n"
                               "responsibilities (autograd): the same field as exact CFG, reached another way.\n"
                               "Imputation uses the learned or (either exact choice) the exact unconditional score.")
        self.class_picker = QComboBox()
        self.class_picker.setToolTip("The class to sample (each component of the mixture is a class, in its colour),\n"
                                     "or every class in proportion to its weight.")
        self.guidance = QSlider(pg.QtCore.Qt.Orientation.Horizontal)
        self.guidance.setRange(0, GUIDANCE_TICKS)
        self.guidance.setToolTip(f"Guidance weight w in [0, {GUIDANCE_MAX:g}]: 0 samples p(x | c); larger w pushes the\n"
                                 "samples into the core of their class (resamples as it moves).")
        self.guidance_label = QLabel("w = 0.0")
        self.sample_btn = QPushButton("Sample")
        self.sample_btn.setToolTip("Sample the chosen class(es) with the settings' particle count, steps, SDE\n"
                                   "sampler and seed.")
        self.train_classes = QCheckBox("Train class-conditional")
        self.train_classes.setToolTip("Train the 2D model on the mixture's components as classes (label dropout 0.15,\n"
                                      "so one network learns s(x, t, c) and s(x, t, ∅)). Changing it resets training.")
        self.info = QLabel("")
        self.info.setWordWrap(True)

        views = QHBoxLayout()
        views.addWidget(self.plot, 3)
        views.addWidget(self.imputation.histogram, 2)
        row1 = QHBoxLayout()
        for w in (self.method, self.class_picker, QLabel("guidance"), self.guidance, self.guidance_label,
                  self.sample_btn, self.train_classes):
            row1.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(views, 1)
        lay.addLayout(row1)
        lay.addWidget(self.info)
        lay.addLayout(self.imputation.controls)
        lay.addWidget(self.imputation.info)

        self.generation = 0  # a result of an older run is dropped
        self.class_outcome: ClassOutcome | None = None
        self._threads: list = []
        self._current: ClassSamplingThread | None = None
        self._resample = Coalescer(self.sample, interval_ms=RESAMPLE_MS, parent=self)
        self.method.currentIndexChanged.connect(self._on_choice)
        self.class_picker.currentIndexChanged.connect(self._on_choice)
        self.guidance.valueChanged.connect(self._on_guidance)
        self.sample_btn.clicked.connect(self.sample)
        self.train_classes.toggled.connect(lambda on: self.changeRequested.emit({"classes_2d": bool(on)}))
        state.targetChanged.connect(self._on_target)
        state.modelChanged.connect(self._sync)
        state.settingsChanged.connect(self._sync)
        state.imagesChanged.connect(self._sync)
        self._on_target()

    # ---- state -------------------------------------------------------------------------------------------------
    @property
    def gmm(self):
        st = self.state
        return None if st.image_mode else st.target.gmm

    def conditional_model(self):
        """The state's model when it is a 2D class-conditional model of this target's classes, else None."""
        m, gmm = self.state.model, self.gmm
        if m is None or gmm is None or getattr(m, "image_shape", None) is not None:
            return None
        return m if m.num_classes == gmm.n_components else None

    def _on_target(self) -> None:
        self.cancel()
        st = self.state
        b = sample_bounds(st.target_samples, margin=0.1)
        self.view_rect = square_rect(b) if b is not None else (-1.0, 1.0, -1.0, 1.0)
        set_view(self.plot, self.view_rect)
        self.target_image.set_rect(self.view_rect)
        if len(st.target_samples):
            self.target_image.set_points(st.target_samples)
        else:
            self.target_image.clear()
        self.class_outcome = None
        self._draw_classes()
        self.imputation.reset()
        self._sync()

    def _sync(self, *_) -> None:
        gmm = self.gmm
        k = gmm.n_components if gmm is not None else 0
        wanted = [(ALL_CLASSES, "all classes (each in its colour)")] + [(c, f"class {c}") for c in range(k)]
        current = [self.class_picker.itemData(i) for i in range(self.class_picker.count())]
        if current != [d for d, _ in wanted]:
            keep = self.class_picker.currentData()
            self.class_picker.blockSignals(True)
            self.class_picker.clear()
            for data, text in wanted:
                self.class_picker.addItem(class_icon(data) if data >= 0 else QIcon(), text, data)
            self.class_picker.setCurrentIndex(max(0, self.class_picker.findData(keep)))
            self.class_picker.blockSignals(False)
        learned_ok = self.conditional_model() is not None
        self.method.model().item(0).setEnabled(learned_ok)
        if not learned_ok and self.method.currentData() == LEARNED:
            self.method.blockSignals(True)
            self.method.setCurrentIndex(1)
            self.method.blockSignals(False)
        for w in (self.method, self.class_picker, self.guidance, self.sample_btn):
            w.setEnabled(gmm is not None)
        self.train_classes.blockSignals(True)
        self.train_classes.setChecked(bool(self.state.settings.classes_2d))
        self.train_classes.setEnabled(gmm is not None or self.state.settings.classes_2d)
        self.train_classes.blockSignals(False)
        can_impute = not self.state.image_mode and (gmm is not None or self._plain_model() is not None)
        self.imputation.set_enabled(can_impute)
        if gmm is None:
            self.message.show("Classes need a Gaussian mixture: a preset such as 8gaussians, a GMM file,\n"
                              "or the Gaussians editor (its components are the classes)")
            self.info.setText("")
        else:
            self.message.hide()
            if self.class_outcome is None:
                self.info.setText(f"{k} classes. Press Sample, or move the guidance slider."
                                  + ("" if learned_ok else "  Learned CFG needs a class-conditional model: tick "
                                     "'Train class-conditional' and train."))

    def _plain_model(self):
        m = self.state.model
        return m if m is not None and getattr(m, "image_shape", None) is None else None

    # ---- class-conditional sampling ----------------------------------------------------------------------------
    def weight(self) -> float:
        return self.guidance.value() * GUIDANCE_MAX / GUIDANCE_TICKS

    def _on_guidance(self, _v: int) -> None:
        self.guidance_label.setText(f"w = {self.weight():.1f}")
        self._resample.request()

    def _on_choice(self, *_) -> None:
        if self.gmm is not None:
            self._resample.request()

    def _labels(self, n: int, seed: int) -> np.ndarray:
        choice = self.class_picker.currentData()
        if choice is not None and choice >= 0:
            return np.full(n, int(choice), dtype=np.int64)
        weights = self.gmm.weights.numpy()
        return np.random.default_rng([seed, 13]).choice(len(weights), size=n, p=weights / weights.sum())

    def class_score(self, labels: np.ndarray):
        """(normalised score_fn, sde, normalisation, dtype, description) of the chosen method for `labels`."""
        from playground.core.diffusion.guidance import (
            classifier_free_guidance,
            classifier_guidance,
            gmm_classifier,
            gmm_conditional_score_fn,
        )

        st, w, y = self.state, self.weight(), torch.as_tensor(labels)
        method = self.method.currentData()
        if method == LEARNED:
            model = self.conditional_model()
            if model is None:
                raise ValueError("learned CFG needs a class-conditional model of this target's classes")
            return model.score_fn("norm", y, w), model.sde, model.normalization, torch.float32, "learned CFG"
        sde, norm = st.sde(), st.normalization
        g = norm.gmm_to_norm(self.gmm)
        if method == EXACT_CFG:
            fn = classifier_free_guidance(gmm_conditional_score_fn(g, sde), y, w)
            return fn, sde, norm, torch.float64, "exact CFG"
        fn = classifier_guidance(g.score_fn(sde), gmm_classifier(g, sde), y, 1.0 + w)
        return fn, sde, norm, torch.float64, "exact classifier guidance"

    def sample(self) -> bool:
        """Sample the chosen class(es) with the chosen method and w; False (with a message) when it cannot."""
        if self.gmm is None:
            return False
        self._cancel()
        st = self.state.settings
        n, seed = max(1, int(st.n_particles)), int(st.seed)
        labels = self._labels(n, seed)
        try:
            fn, sde, norm, dtype, what = self.class_score(labels)
        except ValueError as e:
            self.info.setText(str(e))
            return False
        sampler = st.sde_sampler
        self.generation += 1
        job = ClassJob(fn, sde, norm, labels, sampler, int(st.sample_steps), seed, self.gmm, dtype, self.generation)
        self._what = (what, self.weight(), self.class_picker.currentText(), sampler)
        self.info.setText(f"Sampling {n:,} particles: {what}, w = {self.weight():.1f}…")
        self._current = start_job_thread(ClassSamplingThread(job), lambda _f: None, self._on_classes, self._threads)
        return True

    def _on_classes(self, out: ClassOutcome) -> None:
        if out.generation != self.generation:
            return
        self._current = None
        if out.cancelled:
            return
        self.class_outcome = out
        self._draw_classes()
        what, w, which, sampler = self._what
        if out.error:
            self.info.setText(f"{what}: failed — {out.error}")
            return
        swd = "   ".join(f"class {k}: SWD {s:.3f} = {s / f:.2f}× floor" if f > 0 else f"class {k}: SWD {s:.3f}"
                         for k, (s, f) in sorted(out.swd.items()))
        bad = f"   ⚠ {out.n_nonfinite:,} samples diverged" if out.n_nonfinite else ""
        self.info.setText(f"{what}, {which}, w = {w:.1f}: {len(out.x):,} samples ({sampler}, NFE {out.nfe}, "
                          f"{out.seconds:.1f} s). Against each component's exact samples: {swd}{bad}")

    def _draw_classes(self) -> None:
        out = self.class_outcome
        if out is None or out.x is None:
            for c in self.clouds:
                c.clear()
            return
        pi = self.plot.getPlotItem()
        k_max = int(out.labels.max()) + 1 if len(out.labels) else 0
        while len(self.clouds) < k_max:
            self.clouds.append(DotCloud(pi, color=class_color(len(self.clouds), 200), width=2.0, z=5))
        for k, cloud in enumerate(self.clouds):
            cloud.set_points(out.x[out.labels == k])

    # ---- threads ---------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._current is not None or self.imputation.running  # until its outcome is handled

    def _cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
        self._current = None

    def cancel(self) -> None:
        self._cancel()
        self.imputation.cancel()

    def shutdown(self) -> None:
        self._resample.stop()
        self.cancel()
        cancel_threads(self._threads)
        self.imputation.shutdown()


__all__ = ["ClassesPanel"]
