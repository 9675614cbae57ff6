"""Inpainting in image mode: paint a mask over a dataset image and fill it in (Song et al. 2021, App. I.2).

Pick a dataset image, paint the pixels to generate on a zoomed canvas (`MaskCanvas`, edited with `MaskTools`: brush,
eraser, presets, undo / redo per stroke), and press Inpaint: `playground.core.sampling.inpainting.inpaint` runs the
replacement method in a worker thread (`inpaint_worker`) with the current image model and the run settings
(`InpaintSettings`), n results at once, live at most ~30 Hz. The panel shows (`InpaintViews`) the original, the masked
input, the results and each result's L2 error on the masked region. Class-conditional models inpaint with a class
and classifier-free guidance (Ho & Salimans 2022; `InpaintClassPicker`).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.image_dataset_panel import NO_DATASET
from playground.app.panels.image_forward_panel import image_run_problem, is_conditional_image_model
from playground.app.widgets.class_guidance import GUIDANCE_MAX, InpaintClassPicker, guidance_tip
from playground.app.widgets.inpaint_settings import DEFAULT_STEPS, PREDICTOR_NAMES, SNR, InpaintSettings
from playground.app.widgets.inpaint_views import InpaintViews
from playground.app.widgets.mask_canvas import MaskCanvas
from playground.app.widgets.mask_tools import MAX_BRUSH, MaskTools, undo_key
from playground.app.widgets.plot_items import Coalescer
from playground.app.workers.inpaint_worker import (
    InpaintFrame,
    InpaintJob,
    InpaintOutcome,
    InpaintThread,
)
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.threads import cancel_threads

NOTE = ("Replacement method (Song et al. 2021, App. I.2): approximate — the known pixels are re-noised and pasted "
        "in at every step; it does not sample the exact conditional. Langevin corrector steps reduce the bias.")
EMPTY_MASK = "The mask is empty: paint the pixels to generate (left button) or pick a preset, then press Inpaint."


class InpaintPanel(QWidget):
    """Paint a mask over a dataset image and fill it in with the model (replacement method)."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Inpainting")

        # ---- the image and its mask --------------------------------------------------------------------------
        self.index = QSpinBox()
        self.index.setPrefix("image #")
        self.index.setToolTip("Which dataset image to inpaint (its index in the dataset).")
        self.index.valueChanged.connect(lambda _v: self._on_image())
        self.random_btn = QPushButton("Random")
        self.random_btn.setToolTip("Show another dataset image, picked at random.")
        self.random_btn.clicked.connect(self.pick_random)
        self.image_info = QLabel("")
        self.image_info.setToolTip("The image's class in the dataset (labelled datasets).")
        self.canvas = MaskCanvas(title="Paint the pixels to generate")
        self.canvas.setToolTip(
            "Left button: paint the pixels to generate (pink); right button (or the eraser): keep them.\n"
            "Undo / Redo a stroke: Ctrl+Z / Ctrl+Shift+Z while the panel has the focus.")
        self.canvas.maskChanged.connect(self._on_mask)
        self.run_settings = InpaintSettings(seed=int(state.settings.seed))
        self.tools = MaskTools(self.canvas, seed=lambda: int(self.run_settings.seed.value()))
        self.views = InpaintViews()

        # ---- the run ---------------------------------------------------------------------------------------------
        self.class_picker = InpaintClassPicker()
        self.class_picker.currentIndexChanged.connect(lambda _i: self._sync_controls())
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, GUIDANCE_MAX)
        self.guidance.setSingleStep(0.5)
        self.guidance.setDecimals(1)
        self.guidance.setPrefix("w = ")
        self._guidance_tip = guidance_tip(
            "w = 0 is the conditional model without guidance (two network evaluations per score when w > 0).")
        self.guidance.setToolTip(self._guidance_tip)
        self.inpaint_btn = QPushButton("Inpaint")
        self.inpaint_btn.setToolTip("Fill in the painted pixels with the model (cancels a run in progress).")
        self.inpaint_btn.clicked.connect(self.inpaint)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the run in progress.")
        self.cancel_btn.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setFormat("step %v / %m")
        self.progress.setRange(0, DEFAULT_STEPS)
        self.progress.setValue(0)
        self.progress.setToolTip("Predictor steps done in the run.")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setToolTip("What the panel is doing.")
        self.note = QLabel(NOTE)
        self.note.setWordWrap(True)
        self.note.setToolTip("Song et al. 2021, 'Score-based generative modeling through SDEs', App. I.2.")

        # ---- layout ----------------------------------------------------------------------------------------------
        # the panel shares the top row with three other docks: a long class name may shrink
        self.class_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_picker.setMinimumContentsLength(8)
        self.progress.setMinimumWidth(60)
        image_row = QHBoxLayout()
        for w in (self.index, self.random_btn, self.image_info):
            image_row.addWidget(w)
        image_row.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(image_row)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.tools)
        views = QHBoxLayout()
        views.addLayout(left, 1)
        views.addWidget(self.views, 1)
        run_row = QHBoxLayout()
        for w in (self.class_picker, self.guidance, self.inpaint_btn, self.cancel_btn):
            run_row.addWidget(w)
        run_row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(views, 1)
        layout.addWidget(self.run_settings)
        layout.addLayout(run_row)
        layout.addWidget(self.status)
        layout.addWidget(self.note)

        self.generation = 0
        self.thread: InpaintThread | None = None  # the run in progress
        self.live: InpaintFrame | None = None  # its latest frame
        self.outcome: InpaintOutcome | None = None  # the last finished run (of the image shown)
        self.run_mask: np.ndarray | None = None  # the mask of the run shown
        self._rng = np.random.default_rng(int(state.settings.seed))  # the Random button's draws
        # every worker started and not known to have finished; no Qt parent (see ImageSamplingPanel._threads)
        self._threads: list = []
        self.destroyed.connect(lambda *_a, threads=self._threads: cancel_threads(threads))
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        state.imagesChanged.connect(self._on_images)
        state.modelChanged.connect(self._on_model)
        state.settingsChanged.connect(self._on_settings)
        self._on_images()

    # ---- what can run ----------------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why nothing can be inpainted now (a sentence for the panel), or None."""
        return image_run_problem(self.state)

    @property
    def running(self) -> bool:
        return self.thread is not None

    @property
    def conditional(self) -> bool:
        return is_conditional_image_model(self.state.model)

    def image(self) -> np.ndarray | None:
        """The (C, H, W) [0, 1] dataset image being inpainted, or None without a dataset."""
        ds = self.state.images
        return None if ds is None else ds.images[self.index.value()]

    def image_label(self) -> int | None:
        """The dataset's class of the image, or None (unlabelled, or no dataset)."""
        ds = self.state.images
        return None if ds is None or ds.labels is None else int(ds.labels[self.index.value()])

    def run_class(self) -> int | None:
        """The class to inpaint with (None: unconditional)."""
        if not self.conditional:
            return None
        return self.class_picker.chosen_class(self.image_label(), self.state.model.num_classes)

    def score_function(self, label: int | None, n: int):
        """Normalised-space score of the current model for a batch of n: plain, or classifier-free guided."""
        model = self.state.model
        if label is None:
            return model.score_fn("norm")
        labels = torch.full((n,), int(label), dtype=torch.long, device=model.device)
        return model.score_fn("norm", class_labels=labels, guidance=float(self.guidance.value()))

    # ---- running ---------------------------------------------------------------------------------------------
    def inpaint(self) -> bool:
        """Cancel a run and inpaint the image with the current mask; False (with a message) when it cannot run."""
        self.cancel()
        problem = self.problem()
        if problem is not None:
            self.status.setText(problem)
            self.views.show_message(problem)
            return False
        mask = self.canvas.mask
        if mask is None or not mask.any():
            self.status.setText(EMPTY_MASK)
            if self.outcome is None:
                self.views.results.set_message(EMPTY_MASK)
            return False
        model, rs = self.state.model, self.run_settings
        n, steps = int(rs.count.value()), int(rs.steps.value())
        label = self.run_class()
        job = InpaintJob(
            score_fn=self.score_function(label, n), sde=model.sde, original=self.image().copy(), mask=mask.copy(),
            to_norm=model.to_norm, to_data=model.to_data, n=n, steps=steps,
            predictor=rs.predictor.currentData(), corrector_steps=int(rs.corrector.value()), snr=SNR,
            seed=int(rs.seed.value()), device=model.device, generation=self.generation + 1,
        )
        self.generation += 1
        self.outcome = self.live = None
        self.run_mask = job.mask
        self.thread = start_job_thread(InpaintThread(job), self._on_frame, self._on_done, self._threads)  # no parent
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.views.show_message("Inpainting…")
        guided = "" if label is None else f", class {self._class_name(label)}, w = {self.guidance.value():.1f}"
        self.status.setText(f"Inpainting {n} results, {steps} steps, {PREDICTOR_NAMES[job.predictor]}, "
                            f"{job.corrector_steps} corrector steps, seed {job.seed}{guided}…")
        self._sync_controls()
        return True

    def cancel(self) -> None:
        """Cancel the run in progress (its thread stops within one network evaluation, on its own)."""
        if self.thread is None:
            return
        self.thread.cancel()
        self.thread = None
        self.live = None
        self.status.setText("Cancelled: press Inpaint.")
        self._show_prompt()
        self._sync_controls()

    def _on_frame(self, frame: InpaintFrame) -> None:
        if self.sender() is self.thread and self.thread is not None:
            self.live = frame
            self._request()

    def _on_done(self, out: InpaintOutcome) -> None:
        if self.sender() is not self.thread or self.thread is None or out.cancelled:
            return
        self.thread = None
        self.live = None
        if out.error:
            self.status.setText(f"Inpainting failed: {out.error}")
            self.views.results.set_message(f"Inpainting failed: {out.error}")
        else:
            self.outcome = out
            self.progress.setValue(out.steps)
            self.status.setText(f"Done: {len(out.results)} results, NFE {out.nfe}, {out.seconds:.2f} s.")
        self._sync_controls()
        self._request()

    def pick_random(self) -> None:
        """Show a random dataset image other than the one shown."""
        ds = self.state.images
        if ds is not None and len(ds) > 1:
            k = int(self._rng.integers(len(ds) - 1))
            self.index.setValue(k + (k >= self.index.value()))

    # ---- state -----------------------------------------------------------------------------------------------
    def _on_images(self) -> None:
        self.cancel()
        self.outcome = None
        ds = self.state.images
        self.index.blockSignals(True)
        self.index.setRange(0, len(ds) - 1 if ds is not None else 0)
        self.index.blockSignals(False)
        self.tools.brush.setMaximum(MAX_BRUSH if ds is None else max(ds.images.shape[2:]))
        self._fill_class_picker()
        self._on_image()

    def _on_image(self) -> None:
        """Another image (or dataset): cancel a run, forget its results, show the image."""
        self.cancel()
        self.outcome = None
        image = self.image()
        if image is None:
            self.canvas.set_message(NO_DATASET)
            self.image_info.setText("")
        else:
            self.canvas.set_image(image)
            label = self.image_label()
            self.image_info.setText("" if label is None else f"class: {self._class_name(label)}")
        self.class_picker.set_own_text(self._own_class_text())
        self.status.setText("")
        self._show_prompt()
        self._sync_controls()
        self._request()

    def _on_model(self) -> None:
        self._fill_class_picker()
        problem = self.problem()
        if problem is not None:
            self.cancel()
        if not self.running and self.outcome is None:
            self._show_prompt()
        elif self.outcome is not None and problem is None:
            self.status.setText("The model changed since these results: press Inpaint to use the new one.")
        self._sync_controls()

    def _on_settings(self, names: set) -> None:
        if "seed" in names:
            self.run_settings.seed.setValue(int(self.state.settings.seed))

    def _on_mask(self) -> None:
        self._sync_controls()
        self._request()

    # ---- keys ------------------------------------------------------------------------------------------------
    def event(self, event) -> bool:  # Qt override: Ctrl+Z / Ctrl+Shift+Z undo the mask here, not the window's
        if event.type() == QEvent.Type.ShortcutOverride and undo_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # Qt override
        key = undo_key(event)
        if key == "undo":
            self.canvas.undo_stack.undo()
        elif key == "redo":
            self.canvas.undo_stack.redo()
        else:
            super().keyPressEvent(event)

    # ---- controls --------------------------------------------------------------------------------------------
    def _class_name(self, label: int) -> str:
        model, ds = self.state.model, self.state.images
        names = model.class_names if model is not None and model.class_names else (ds.class_names if ds else ())
        return names[label] if label < len(names) else str(label)

    def _own_class_text(self) -> str:
        label = self.image_label()
        return "its own class" if label is None else f"its own class ({self._class_name(label)})"

    def _fill_class_picker(self) -> None:
        k = self.state.model.num_classes if self.conditional else 0
        label = self.image_label()
        own = self._own_class_text() if label is not None and label < k else None
        self.class_picker.fill(k, own, self._class_name)

    def _sync_controls(self) -> None:
        usable = self.problem() is None
        for w in (self.index, self.random_btn):
            w.setEnabled(self.state.images is not None)
        self.tools.set_editable(self.state.images is not None)
        self.inpaint_btn.setEnabled(usable)
        self.cancel_btn.setEnabled(self.running)
        self.class_picker.sync(usable and self.conditional, (self.guidance,), self._guidance_tip)

    def _show_prompt(self) -> None:
        """The results view's message when it shows no results: the problem, or what to do next."""
        problem = self.problem()
        if problem is not None:
            self.views.show_message(problem)
        elif self.canvas.mask is None or not self.canvas.mask.any():
            self.views.show_message("Paint the pixels to generate on the image (or pick a preset), then press "
                                    "Inpaint.")
        else:
            self.views.show_message("Press Inpaint.")

    # ---- drawing ---------------------------------------------------------------------------------------------
    def _request(self) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()

    def redraw(self) -> None:
        if not self.views.show_inputs(self.image(), self.canvas.mask):
            return
        if self.live is not None:
            self.progress.setValue(self.live.i)
            self.views.show_live(self.live.pixels, self.live.t)
        elif self.outcome is not None and self.outcome.results is not None:
            self.views.show_results(self.outcome.results, self.outcome.errors, self.run_mask)
        else:
            self.views.results.set_title("Results")

    def shutdown(self, timeout_ms: int = 1000) -> None:
        """Stop the timer and every worker: waits at most `timeout_ms` in all; a thread still inside one network
        evaluation is kept alive on its own until it has finished (never destroyed while running). Safe twice."""
        self._redraw.stop()
        self.cancel()
        for th in self._threads:
            th.cancel()
        deadline = time.perf_counter() + timeout_ms / 1000
        for th in self._threads:
            th.wait(max(1, int((deadline - time.perf_counter()) * 1000)))
        cancel_threads(self._threads)
