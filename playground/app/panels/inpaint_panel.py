"""Inpainting in image mode: paint a mask over a dataset image and fill it in (Song et al. 2021, App. I.2).

Pick a dataset image, paint the pixels to generate on a zoomed canvas (`MaskCanvas`: brush, eraser, presets,
undo / redo per stroke), and press Inpaint: `playground.core.sampling.inpainting.inpaint` runs the replacement method in a
worker thread (`inpaint_worker`) with the current image model, n results at once, live at most ~30 Hz. The panel
shows the original, the masked input, the results and each result's L2 error on the masked region. Class-
conditional models inpaint with a class and classifier-free guidance (Ho & Salimans 2022).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from PySide6.QtCore import QEvent
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
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

from playground.app.inpaint_mask import PRESETS
from playground.app.panels.image_dataset_panel import NO_DATASET
from playground.app.panels.image_forward_panel import image_run_problem, is_conditional_image_model
from playground.app.panels.image_sampling_panel import CFG_FORMULA, GUIDANCE_MAX
from playground.app.widgets.image_view import ImageGridView
from playground.app.widgets.mask_canvas import MASK_RGBA, MaskCanvas
from playground.app.widgets.plot_items import Coalescer
from playground.app.workers.inpaint_worker import (
    InpaintFrame,
    InpaintJob,
    InpaintOutcome,
    InpaintThread,
)
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.training_worker import cancel_threads

NOTE = ("Replacement method (Song et al. 2021, App. I.2): approximate — the known pixels are re-noised and pasted "
        "in at every step; it does not sample the exact conditional. Langevin corrector steps reduce the bias.")
EMPTY_MASK = "The mask is empty: paint the pixels to generate (left button) or pick a preset, then press Inpaint."
PREDICTOR_NAMES = {"em": "Euler–Maruyama (reverse SDE)", "ode_euler": "Euler (PF-ODE)"}
DEFAULT_RESULTS = 8
DEFAULT_STEPS = 200
MAX_CORRECTOR_STEPS = 5
SNR = 0.16  # the Langevin corrector's signal-to-noise ratio (Song et al. 2021, App. G)
MAX_BRUSH = 16
CLASS_OWN, CLASS_NONE = -1, -2  # class-picker choices besides one class


class InpaintPanel(QWidget):
    """Paint a mask over a dataset image and fill it in with the model (replacement method)."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Inpainting")

        # ---- the image ---------------------------------------------------------------------------------------
        self.index = QSpinBox()
        self.index.setPrefix("image #")
        self.index.setToolTip("Which dataset image to inpaint (its index in the dataset).")
        self.index.valueChanged.connect(lambda _v: self._on_image())
        self.random_btn = QPushButton("Random")
        self.random_btn.setToolTip("Show another dataset image, picked at random.")
        self.random_btn.clicked.connect(self.pick_random)
        self.image_info = QLabel("")
        self.image_info.setToolTip("The image's class in the dataset (labelled datasets).")

        # ---- the mask ----------------------------------------------------------------------------------------
        self.canvas = MaskCanvas(title="Paint the pixels to generate")
        self.canvas.setToolTip(
            "Left button: paint the pixels to generate (pink); right button (or the eraser): keep them.\n"
            "Undo / Redo a stroke: Ctrl+Z / Ctrl+Shift+Z while the panel has the focus.")
        self.canvas.maskChanged.connect(self._on_mask)
        self.brush = QSpinBox()
        self.brush.setRange(1, MAX_BRUSH)
        self.brush.setPrefix("brush ")
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush size: each mouse position paints a square of this many image pixels a side.")
        self.brush.valueChanged.connect(self._on_brush)
        self.eraser = QCheckBox("Eraser")
        self.eraser.setToolTip("The left button erases (marks pixels as kept) instead of painting; the right button\n"
                               "always erases.")
        self.eraser.toggled.connect(self._on_eraser)
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.setToolTip("Generate nothing: keep every pixel (undoable).")
        self.clear_btn.clicked.connect(self.canvas.clear_mask)
        self.invert_btn = QPushButton("Invert")
        self.invert_btn.setToolTip("Swap the generated and the kept pixels (undoable).")
        self.invert_btn.clicked.connect(self.canvas.invert_mask)
        self.preset = QComboBox()
        self.preset.addItem("Preset mask…", "")
        for key, name in PRESETS.items():
            self.preset.addItem(name, key)
        self.preset.setToolTip("Replace the mask by a preset (undoable): a half of the image, the centre square\n"
                               "(half the side), or each pixel at random with probability 1/2 (from the seed).")
        self.preset.activated.connect(self._on_preset)
        self._random_presets = 0  # each 'random pixels' preset draws a new pattern
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.setToolTip("Undo the last stroke or mask change (Ctrl+Z while the panel has the focus).")
        self.undo_btn.clicked.connect(self.canvas.undo_stack.undo)
        self.canvas.undo_stack.canUndoChanged.connect(self.undo_btn.setEnabled)
        self.redo_btn = QPushButton("Redo")
        self.redo_btn.setToolTip("Redo the last undone mask change (Ctrl+Shift+Z while the panel has the focus).")
        self.redo_btn.clicked.connect(self.canvas.undo_stack.redo)
        self.canvas.undo_stack.canRedoChanged.connect(self.redo_btn.setEnabled)
        self.undo_btn.setEnabled(False)
        self.redo_btn.setEnabled(False)

        # ---- what is shown -----------------------------------------------------------------------------------
        self.original_view = ImageGridView(title="Original")
        self.original_view.setToolTip("The dataset image x (the target of the error below).")
        self.masked_view = ImageGridView(title="Masked")
        self.masked_view.setToolTip("What the model sees: the kept pixels of x; the pink ones are generated.")
        self.results_view = ImageGridView(title="Results")
        self.results_view.setToolTip(
            "The inpainted images: the kept pixels equal the original exactly; the generated ones come from the\n"
            "model. While running: the denoised estimate x̂₀ = (x + σ² s_θ) / α of the latest step.\n"
            "Captions: each result's L2 error on the masked region.")
        self.errors_label = QLabel("")
        self.errors_label.setWordWrap(True)
        self.errors_label.setToolTip("L2 error of result k on the generated pixels: ‖(x̂_k − x) ⊙ m‖₂ over all\n"
                                     "channels, pixel values in [0, 1]; RMSE = L2 / √(masked values).\n"
                                     "A plausible fill need not match the original: it is a sample, not a guess.")

        # ---- the run ---------------------------------------------------------------------------------------------
        self.count = QSpinBox()
        self.count.setRange(1, 64)
        self.count.setValue(DEFAULT_RESULTS)
        self.count.setSuffix(" results")
        self.count.setToolTip("How many inpaintings of the image to generate at once (one batch).")
        self.steps = QSpinBox()
        self.steps.setRange(1, 2000)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip("Predictor steps from t = 1 to t = ε on a uniform grid; NFE = steps × (1 + corrector\n"
                              "steps) + 1 (the final denoise). With the VP SDE the corrector needs steps ≥ β_max.")
        self.predictor = QComboBox()
        for key, name in PREDICTOR_NAMES.items():
            self.predictor.addItem(name, key)
        self.predictor.setToolTip(
            "The predictor of each step:\n"
            "Euler–Maruyama on the reverse SDE: x ← x − [f − g² s_θ] h + g √h z\n"
            "Euler on the probability-flow ODE: x ← x − [f − ½ g² s_θ] h\n"
            "after each, the kept pixels are replaced by α(t) y + σ(t) z (y the original, z fresh noise).")
        self.corrector = QSpinBox()
        self.corrector.setRange(0, MAX_CORRECTOR_STEPS)
        self.corrector.setPrefix("corrector ")
        self.corrector.setToolTip(
            f"Langevin corrector steps per predictor step (snr {SNR}): x ← x + ε s_θ + √(2ε) z, with the\n"
            "kept pixels replaced after each. They reduce the replacement method's bias: MCMC on p_t with the\n"
            "known part clamped pulls the generated part towards its conditional. Each costs one more NFE a step.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setValue(int(state.settings.seed))
        self.seed.setToolTip("Seed of the starting noise, the sampler's noise and the random-pixels preset; the\n"
                             "same seed gives the same results.")
        self.class_picker = QComboBox()
        self._class_tip = ("The class a class-conditional model inpaints with: the image's own class (default when\n"
                           "the dataset is labelled), no class (the null label ∅), or any class.")
        self.class_picker.setToolTip(self._class_tip)
        self.class_picker.currentIndexChanged.connect(lambda _i: self._sync_controls())
        self._picker_conditional = False  # the picker lists a conditional model's classes
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, GUIDANCE_MAX)
        self.guidance.setSingleStep(0.5)
        self.guidance.setDecimals(1)
        self.guidance.setPrefix("w = ")
        self._guidance_tip = (
            f"Classifier-free guidance weight w in [0, {GUIDANCE_MAX:g}] (Ho & Salimans 2022):\n  {CFG_FORMULA}\n"
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
        # the panel shares the top row with three other docks: long combo texts and the seed's range may shrink
        for combo in (self.preset, self.predictor, self.class_picker):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.seed.setMinimumWidth(70)
        self.progress.setMinimumWidth(60)
        image_row = QHBoxLayout()
        for w in (self.index, self.random_btn, self.image_info):
            image_row.addWidget(w)
        image_row.addStretch(1)
        mask_row1 = QHBoxLayout()
        for w in (self.brush, self.eraser, self.clear_btn, self.invert_btn):
            mask_row1.addWidget(w)
        mask_row1.addStretch(1)
        mask_row2 = QHBoxLayout()
        for w in (self.preset, self.undo_btn, self.redo_btn):
            mask_row2.addWidget(w)
        mask_row2.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(image_row)
        left.addWidget(self.canvas, 1)
        left.addLayout(mask_row1)
        left.addLayout(mask_row2)
        inputs = QHBoxLayout()
        inputs.addWidget(self.original_view, 1)
        inputs.addWidget(self.masked_view, 1)
        right = QVBoxLayout()
        right.addLayout(inputs, 2)
        right.addWidget(self.results_view, 3)
        right.addWidget(self.errors_label)
        views = QHBoxLayout()
        views.addLayout(left, 1)
        views.addLayout(right, 1)
        run_row1 = QHBoxLayout()
        for w in (self.count, self.steps, self.predictor, self.corrector, self.seed):
            run_row1.addWidget(w)
        run_row1.addStretch(1)
        run_row2 = QHBoxLayout()
        for w in (self.class_picker, self.guidance, self.inpaint_btn, self.cancel_btn):
            run_row2.addWidget(w)
        run_row2.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(views, 1)
        layout.addLayout(run_row1)
        layout.addLayout(run_row2)
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
        choice = self.class_picker.currentData()
        if choice == CLASS_OWN:
            label = self.image_label()
            return label if label is not None and label < self.state.model.num_classes else None
        return None if choice in (None, CLASS_NONE) else int(choice)

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
            self._show_problem(problem)
            return False
        mask = self.canvas.mask
        if mask is None or not mask.any():
            self.status.setText(EMPTY_MASK)
            if self.outcome is None:
                self.results_view.set_message(EMPTY_MASK)
            return False
        model = self.state.model
        n, steps = int(self.count.value()), int(self.steps.value())
        label = self.run_class()
        job = InpaintJob(
            score_fn=self.score_function(label, n), sde=model.sde, original=self.image().copy(), mask=mask.copy(),
            to_norm=model.to_norm, to_data=model.to_data, n=n, steps=steps,
            predictor=self.predictor.currentData(), corrector_steps=int(self.corrector.value()), snr=SNR,
            seed=int(self.seed.value()), device=model.device, generation=self.generation + 1,
        )
        self.generation += 1
        self.outcome = self.live = None
        self.run_mask = job.mask
        self.thread = start_job_thread(InpaintThread(job), self._on_frame, self._on_done, self._threads)  # no parent
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.results_view.set_message("Inpainting…")
        self.errors_label.setText("")
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
            self.results_view.set_message(f"Inpainting failed: {out.error}")
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
        self.brush.setMaximum(MAX_BRUSH if ds is None else max(ds.images.shape[2:]))
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
        own = self.class_picker.findData(CLASS_OWN)
        if own >= 0:
            self.class_picker.setItemText(own, self._own_class_text())
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
            self.seed.setValue(int(self.state.settings.seed))

    def _on_mask(self) -> None:
        self._sync_controls()
        self._request()

    def _on_brush(self, size: int) -> None:
        self.canvas.brush_size = int(size)

    def _on_eraser(self, on: bool) -> None:
        self.canvas.erasing = bool(on)

    def _on_preset(self, index: int) -> None:
        key = self.preset.itemData(index)
        self.preset.setCurrentIndex(0)
        if key:
            self._random_presets += key == "random"
            self.canvas.apply_preset(key, seed=int(self.seed.value()) + 7919 * self._random_presets)

    # ---- keys ------------------------------------------------------------------------------------------------
    def event(self, event) -> bool:  # Qt override: Ctrl+Z / Ctrl+Shift+Z undo the mask here, not the window's
        if event.type() == QEvent.Type.ShortcutOverride and self._undo_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # Qt override
        key = self._undo_key(event)
        if key == "undo":
            self.canvas.undo_stack.undo()
        elif key == "redo":
            self.canvas.undo_stack.redo()
        else:
            super().keyPressEvent(event)

    @staticmethod
    def _undo_key(event) -> str:
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        if event.matches(QKeySequence.StandardKey.Redo):
            return "redo"
        return ""

    # ---- controls --------------------------------------------------------------------------------------------
    def _class_name(self, label: int) -> str:
        model, ds = self.state.model, self.state.images
        names = model.class_names if model is not None and model.class_names else (ds.class_names if ds else ())
        return names[label] if label < len(names) else str(label)

    def _own_class_text(self) -> str:
        label = self.image_label()
        return "its own class" if label is None else f"its own class ({self._class_name(label)})"

    def _fill_class_picker(self) -> None:
        keep = self.class_picker.currentData() if self._picker_conditional else None
        self._picker_conditional = self.conditional
        self.class_picker.blockSignals(True)
        self.class_picker.clear()
        if self.conditional:
            label = self.image_label()
            if label is not None and label < self.state.model.num_classes:
                self.class_picker.addItem(self._own_class_text(), CLASS_OWN)
            self.class_picker.addItem("no class (∅)", CLASS_NONE)
            for k in range(self.state.model.num_classes):
                self.class_picker.addItem(f"class {self._class_name(k)}", k)
            found = self.class_picker.findData(keep) if keep is not None else -1
            self.class_picker.setCurrentIndex(max(found, 0))
        else:
            self.class_picker.addItem("no class (unconditional model)", CLASS_NONE)
        self.class_picker.blockSignals(False)

    def _sync_controls(self) -> None:
        has_image = self.state.images is not None
        usable = self.problem() is None
        for w in (self.index, self.random_btn, self.brush, self.eraser, self.clear_btn, self.invert_btn,
                  self.preset):
            w.setEnabled(has_image)
        self.inpaint_btn.setEnabled(usable)
        self.cancel_btn.setEnabled(self.running)
        conditional = usable and self.conditional
        self.class_picker.setEnabled(conditional)
        self.guidance.setEnabled(conditional and self.class_picker.currentData() != CLASS_NONE)
        unavailable = "" if conditional else "\n(Disabled: the model is not class-conditional; train with labels.)"
        self.class_picker.setToolTip(self._class_tip + unavailable)
        self.guidance.setToolTip(self._guidance_tip + unavailable)

    def _show_problem(self, problem: str) -> None:
        self.results_view.set_message(problem)
        self.errors_label.setText("")

    def _show_prompt(self) -> None:
        """The results view's message when it shows no results: the problem, or what to do next."""
        problem = self.problem()
        if problem is not None:
            self._show_problem(problem)
            return
        if self.canvas.mask is None or not self.canvas.mask.any():
            self.results_view.set_message("Paint the pixels to generate on the image (or pick a preset), then "
                                          "press Inpaint.")
        else:
            self.results_view.set_message("Press Inpaint.")
        self.errors_label.setText("")

    # ---- drawing ---------------------------------------------------------------------------------------------
    def _request(self) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()

    def masked_input(self) -> np.ndarray | None:
        """The image as RGB (1, 3, H, W) with the generated pixels in the mask's colour, or None."""
        image, mask = self.image(), self.canvas.mask
        if image is None or mask is None or mask.shape != image.shape[1:]:
            return None
        rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image.copy()
        rgb[:, mask] = (np.asarray(MASK_RGBA[:3], np.float32) / 255)[:, None]
        return rgb[None]

    def columns(self, n: int) -> int:
        return min(n, max(4, math.ceil(math.sqrt(n))))

    def redraw(self) -> None:
        image, masked = self.image(), self.masked_input()
        if image is None or masked is None:
            self.original_view.set_message("")
            self.masked_view.set_message("")  # not clear(): pyqtgraph's instance attribute shadows ImageGridView's
            return
        self.original_view.set_images(image[None], 1)
        self.masked_view.set_images(masked, 1)
        if self.live is not None:
            f = self.live
            self.progress.setValue(f.i)
            self.results_view.set_images(f.pixels, self.columns(len(f.pixels)))
            self.results_view.set_title(f"x̂₀ at t = {f.t:.2f}")  # the step: in the progress bar
        elif self.outcome is not None and self.outcome.results is not None:
            out = self.outcome
            captions = [f"L2 {e:.2f}" for e in out.errors]
            self.results_view.set_images(out.results, self.columns(len(out.results)), captions)
            self.results_view.set_title(f"Results ({len(out.results)})")  # steps and NFE: in the status line
            self.errors_label.setText(self._describe_errors(out.errors, out.results.shape[1]))
        else:
            self.results_view.set_title("Results")

    def _describe_errors(self, errors: np.ndarray, channels: int) -> str:
        values = int(self.run_mask.sum()) * channels
        best, worst = int(np.argmin(errors)), int(np.argmax(errors))
        return (f"L2 error on the {values} generated values: mean {errors.mean():.3f}, best {errors[best]:.3f} "
                f"(#{best + 1}), worst {errors[worst]:.3f} (#{worst + 1}); mean RMSE "
                f"{errors.mean() / math.sqrt(values):.3f} a value (pixels in [0, 1]).")

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
