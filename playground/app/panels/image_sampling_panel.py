"""Image sampling panel: reverse SDE and PF-ODE grids side by side from the SAME starting noise x_T.

One seeded prior draw x_T (normalised space) starts both samplers of the current image model (Song et al. 2021:
the reverse-time SDE, Eq. 6, and the probability-flow ODE, Eq. 13), each in its own worker thread
(`image_sampling_worker`); the grids evolve live (x_t, or the denoised estimate x0_hat of the latest score
evaluation), and the finished runs keep their frames so the shared time bar scrubs through them (t = 1 noise ...
t = 0 images). Class-conditional models sample with classifier-free guidance (Ho & Salimans 2022, as in
`playground.core.diffusion.guidance`). Bits/dim: `image_likelihood.bits_per_dim` on dataset images, in a thread.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.image_forward_panel import image_run_problem, is_conditional_image_model
from playground.app.panels.sampling_panel import SAMPLER_NAMES, ode_steps
from playground.app.widgets.image_view import ImageGridView
from playground.app.widgets.plot_items import Coalescer
from playground.app.workers.image_sampling_worker import (
    BitsPerDimOutcome,
    BitsPerDimThread,
    ImageFrame,
    ImageSamplingJob,
    ImageSamplingOutcome,
    ImageSamplingThread,
)
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.training_worker import cancel_threads

GRID_SIZES = (16, 36, 64)
MAX_IMAGE_STEPS = 250  # sample_steps is capped here for images (each step is a U-Net pass on the whole batch)
GUIDANCE_MAX = 8.0
GUIDANCE_TICKS = 80  # slider resolution: w = tick / 10
RESTART_DELAY_MS = 250  # class / guidance changes settle this long before a resample
FOLLOW_PAUSE_MS = 1500  # while training, finished samples stay this long before the newest model is sampled
BPD_IMAGES = 64
BPD_TOL = 1e-4  # rtol = atol of the likelihood ODE
CFG_FORMULA = "s̃(x, t, c) = (1 + w) s(x, t, c) − w s(x, t, ∅)"
CLASS_ROWS, CLASS_RANDOM, CLASS_NONE = -1, -2, -3  # class-picker choices besides one class


class _Side:
    """One grid: its view, info line, running thread, latest live frame and finished outcome."""

    def __init__(self, key: str, tooltip: str):
        self.key = key
        self.view = ImageGridView()
        self.view.setToolTip(tooltip)
        self.info = QLabel("")
        self.info.setMinimumHeight(2 * self.info.fontMetrics().lineSpacing() + 4)  # two lines: no layout jumps
        self.info.setToolTip("Sampler progress, NFE (score evaluations of the whole batch) and wall-clock seconds;\n"
                             "what the grid shows (x_t or the denoised estimate) and at which t.")
        self.sampler = ""
        self.thread: ImageSamplingThread | None = None
        self.live: ImageFrame | None = None
        self.outcome: ImageSamplingOutcome | None = None


class ImageSamplingPanel(QWidget):
    """Reverse SDE vs PF-ODE image grids from one x_T, live and scrubbable; guidance and bits/dim."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Sampling (images): SDE | ODE")
        self.sides = {
            "sde": _Side("sde", "Reverse-time SDE dx = [f − g² s_θ(x, t)] dt + g dw̄ from t = 1 to 0 (stochastic),\n"
                                "started from the same noise x_T as the ODE."),
            "ode": _Side("ode", "Probability-flow ODE dx/dt = f − ½ g² s_θ(x, t) from t = 1 to 0 (deterministic),\n"
                                "started from the same noise x_T as the SDE."),
        }

        self.resample_btn = QPushButton("Resample")
        self.resample_btn.setToolTip("Sample again with both samplers from one seeded x_T ~ N(0, σ_T² I).")
        self.resample_btn.clicked.connect(self.resample)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Cancel the running sampling.")
        self.stop_btn.clicked.connect(lambda: self.cancel())
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setValue(int(state.settings.seed))
        self.seed.setToolTip("Seed of the starting noise x_T (shared by both sides), of the SDE's noise and of the\n"
                             "random classes; the same seed gives the same images. Applies on Resample.")
        self.new_seed_btn = QPushButton("New seed")
        self.new_seed_btn.setToolTip("Pick a new seed and resample.")
        self.new_seed_btn.clicked.connect(self.new_seed)
        self.count = QComboBox()
        for n in GRID_SIZES:
            self.count.addItem(f"{n} images", n)
        self.count.setCurrentIndex(len(GRID_SIZES) - 1)
        self.count.setToolTip("How many images each side samples (one batch).")
        self.count.currentIndexChanged.connect(lambda _i: self._schedule_restart())
        self.show_what = QComboBox()
        self.show_what.addItem("show x̂₀ (denoised)", "x0")
        self.show_what.addItem("show x_t", "x")
        self.show_what.setToolTip("What the grids show while sampling and when scrubbing: the sampler's state x_t, or\n"
                                  "the denoised estimate x̂₀ = (x + σ² s_θ) / α (Tweedie) of its latest score\n"
                                  "evaluation. The finished samples (t = 0) are the same either way.")
        self.show_what.currentIndexChanged.connect(lambda _i: self._request())
        self.auto = QCheckBox("Follow training")
        self.auto.setChecked(True)
        self.auto.setToolTip("Resample (same seed) when training delivers a new model snapshot (after the run in\n"
                             "progress has finished) and when the sampler settings change; off: press Resample.")

        self.class_picker = QComboBox()
        self._class_tip = ("Which classes a class-conditional model samples: each grid row one class (row r:\n"
                           "class r mod K), random classes, no class (the null label ∅), or one class.")
        self.class_picker.setToolTip(self._class_tip)
        self.class_picker.currentIndexChanged.connect(lambda _i: self._on_class_controls())
        self.guidance = QSlider(Qt.Orientation.Horizontal)
        self.guidance.setRange(0, GUIDANCE_TICKS)
        self.guidance.setValue(0)
        self._guidance_tip = (
            f"Classifier-free guidance weight w in [0, {GUIDANCE_MAX:g}] (Ho & Salimans 2022):\n  {CFG_FORMULA}\n"
            "w = 0 is the conditional model without guidance; larger w sharpens towards the class\n"
            "(two network evaluations per score).")
        self.guidance.setToolTip(self._guidance_tip)
        self.guidance.valueChanged.connect(lambda _v: self._on_class_controls())
        self.guidance_label = QLabel("")
        self.guidance_label.setToolTip(self._guidance_tip)

        self.bpd_btn = QPushButton("Bits/dim")
        self.bpd_btn.setToolTip(
            f"Estimate the model's negative log-likelihood of {BPD_IMAGES} dataset images in bits per dimension:\n"
            "the PF-ODE's change of variables with Hutchinson's trace estimator (dequantised pixels, 8-bit offset),\n"
            f"rtol = atol = {BPD_TOL:g}. Runs in the background; press again to cancel.")
        self.bpd_btn.clicked.connect(self._on_bpd_button)
        self.bpd_label = QLabel("")
        self.bpd_label.setWordWrap(True)
        self.bpd_label.setToolTip("Mean ± standard error over the images; an estimate (Hutchinson's estimator and the\n"
                                  "ODE tolerance add noise and bias), comparable between models on the same images.")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setToolTip("What the panel is doing.")

        grids = QHBoxLayout()
        for s in self.sides.values():
            col = QVBoxLayout()
            col.addWidget(s.view, 1)
            col.addWidget(s.info)
            grids.addLayout(col, 1)
        row1 = QHBoxLayout()
        for w in (self.resample_btn, self.stop_btn, self.seed, self.new_seed_btn, self.count, self.show_what,
                  self.auto):
            row1.addWidget(w)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(self.class_picker)
        row2.addWidget(self.guidance_label)
        row2.addWidget(self.guidance, 1)
        row3 = QHBoxLayout()
        row3.addWidget(self.bpd_btn)
        row3.addWidget(self.bpd_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(grids, 1)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addLayout(row3)
        layout.addWidget(self.status)

        self.generation = 0
        self.x_T: torch.Tensor | None = None  # (n, D) normalised start of the last run (both sides)
        self.labels: np.ndarray | None = None  # (n,) class labels of the last run, or None
        self.scrub_t: float | None = None  # the time bar's t after a run finished; None: show the final samples
        self.bpd_tol = BPD_TOL
        self.bpd_outcome: BitsPerDimOutcome | None = None
        self._bpd_thread: BitsPerDimThread | None = None
        self._bpd_model = None  # the snapshot the last bits/dim estimate was for
        self._run_model = None  # the snapshot the last run sampled
        self._run_caption = ""  # class / guidance of the last run, for the titles
        # every worker started and not known to have finished; no Qt parent (a QThread deleted with its panel while
        # running aborts the process): on destruction without shutdown() they are cancelled and kept alive by
        # training_worker.keep_until_finished. The slot gets the list, not the panel.
        self._threads: list = []
        self.destroyed.connect(lambda *_a, threads=self._threads: cancel_threads(threads))
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.setInterval(RESTART_DELAY_MS)
        self._restart_timer.timeout.connect(self._restart_if_usable)
        self._follow_timer = QTimer(self)  # after a run, a newer model waits this long before it is sampled
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(FOLLOW_PAUSE_MS)
        self._follow_timer.timeout.connect(self._restart_if_usable)
        self._model_waiting = False  # a new model arrived during a run
        self._was_shown = False
        self._stale = False  # a new model arrived while hidden
        self.redraws = 0
        state.modelChanged.connect(self._on_model)
        state.imagesChanged.connect(self._on_images)
        state.settingsChanged.connect(self._on_settings)
        state.timeChanged.connect(self._on_time)
        self._fill_class_picker()
        self._update_titles()
        self._sync_controls()
        self._show_problem_or_prompt()
        if self.problem() is None:
            self.resample()

    # ---- what can run ----------------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why nothing can be sampled now (a sentence for the grids), or None."""
        return image_run_problem(self.state)

    @property
    def running(self) -> bool:
        return any(s.thread is not None for s in self.sides.values())

    @property
    def conditional(self) -> bool:
        return is_conditional_image_model(self.state.model)

    def guidance_weight(self) -> float:
        """The guidance slider's w."""
        return self.guidance.value() * GUIDANCE_MAX / GUIDANCE_TICKS

    def columns(self, n: int) -> int:
        return max(1, math.ceil(math.sqrt(n)))

    def class_labels(self, n: int, seed: int) -> np.ndarray | None:
        """The (n,) labels to sample with the picker's choice, or None (unconditional model, or no class)."""
        if not self.conditional:
            return None
        k = self.state.model.num_classes
        choice = self.class_picker.currentData()
        if choice == CLASS_NONE:
            return None
        if choice == CLASS_ROWS:
            return (np.arange(n) // self.columns(n)) % k
        if choice == CLASS_RANDOM:
            return np.random.default_rng([seed, 1]).integers(0, k, size=n)
        return np.full(n, int(choice))

    def score_function(self, labels: np.ndarray | None, w: float):
        """Normalised-space score of the current model: plain, or classifier-free guided with weight w on labels."""
        model = self.state.model
        if labels is None:
            return model.score_fn("norm")
        return model.score_fn("norm", class_labels=torch.as_tensor(labels, device=model.device), guidance=w)

    # ---- running ---------------------------------------------------------------------------------------------
    def resample(self) -> bool:
        """Cancel a run and start both samplers from one fresh seeded x_T; False (with a message) when no model."""
        self._restart_timer.stop()
        self._follow_timer.stop()
        self._model_waiting = self._stale = False
        self.cancel()
        problem = self.problem()
        if problem is not None:
            self._clear_results()
            self._show_problem_or_prompt()
            return False
        model = self.state.model
        st = self.state.settings
        n = int(self.count.currentData())
        seed = int(self.seed.value())
        steps = max(1, min(int(st.sample_steps), MAX_IMAGE_STEPS))
        p = next(model.parameters())
        g = torch.Generator().manual_seed(seed)
        self.x_T = model.sde.prior_sample((n, model.dim), generator=g, dtype=p.dtype)
        self.labels = self.class_labels(n, seed)
        w = self.guidance_weight() if self.labels is not None else 0.0
        score_fn = self.score_function(self.labels, w)
        self.generation += 1
        self._run_model = model
        self._run_caption = self._describe_classes(w)
        self.scrub_t = None
        names = {"sde": st.sde_sampler, "ode": st.ode_sampler}
        for key, s in self.sides.items():
            job = ImageSamplingJob(
                side=key, sampler=names[key], score_fn=score_fn, sde=model.sde, x_T=self.x_T.to(p.device),
                steps=steps if key == "sde" else ode_steps(names[key], steps), seed=seed + 1,
                image_shape=model.image_shape, to_data=model.to_data, generation=self.generation,
            )
            s.sampler = names[key]
            s.live = s.outcome = None
            s.info.setText(f"{SAMPLER_NAMES.get(s.sampler, s.sampler)}: starting…")
            s.thread = start_job_thread(ImageSamplingThread(job), self._on_frame, self._on_done, self._threads)  # no parent
        self._update_titles()
        self.status.setText(f"Sampling {n} images, {steps} steps, seed {seed}{self._run_caption}…")
        self._sync_controls()
        return True

    def new_seed(self) -> None:
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))
        self.resample()

    def cancel(self) -> None:
        """Cancel a running sampling (the threads stop within one network evaluation, on their own)."""
        was = self.running
        for s in self.sides.values():
            if s.thread is not None:
                s.thread.cancel()
                s.thread = None
                s.live = None
                if s.outcome is None:
                    s.info.setText("Cancelled.")
        if was:
            self.status.setText("Cancelled: press Resample.")
        self._sync_controls()

    def _side_of(self, th) -> _Side | None:
        for s in self.sides.values():
            if th is not None and s.thread is th and th.job.generation == self.generation:
                return s
        return None

    def _on_frame(self, frame: ImageFrame) -> None:
        s = self._side_of(self.sender())
        if s is not None:
            s.live = frame
            self._request()

    def _on_done(self, out: ImageSamplingOutcome) -> None:
        s = self._side_of(self.sender())
        if s is None or out.cancelled:
            return
        s.thread = None
        s.live = None
        s.outcome = out
        if not self.running:
            self.status.setText(f"Done (seed {self.seed.value()}{self._run_caption}). Move the time bar to scrub "
                                "through the runs (t = 1 noise … t = 0 images).")
            if self._model_waiting and self.auto.isChecked():
                self._model_waiting = False
                self._follow_timer.start()
        self._sync_controls()
        self._request()

    # ---- bits/dim --------------------------------------------------------------------------------------------
    def _on_bpd_button(self) -> None:
        if self._bpd_thread is not None:
            self.cancel_bits_per_dim()
        else:
            self.start_bits_per_dim()

    def start_bits_per_dim(self) -> bool:
        """Estimate bits/dim of BPD_IMAGES seeded dataset images in a thread; False (with a message) when no model."""
        problem = self.problem()
        if problem is not None:
            self.bpd_label.setText(problem)
            return False
        ds = self.state.images
        rng = np.random.default_rng(int(self.state.settings.seed))
        idx = np.sort(rng.choice(len(ds), size=min(BPD_IMAGES, len(ds)), replace=False))
        self._bpd_model = self.state.model
        th = BitsPerDimThread(self._bpd_model, ds.images[idx], tol=self.bpd_tol, seed=int(self.state.settings.seed))
        th.done.connect(self._on_bpd_done)
        self._bpd_thread = th
        self._threads[:] = [t for t in self._threads if t.isRunning()]
        self._threads.append(th)
        th.start()
        self.bpd_outcome = None
        self.bpd_label.setText(f"Estimating bits/dim of {len(idx)} images through the PF-ODE…")
        self._sync_controls()
        return True

    def cancel_bits_per_dim(self) -> None:
        if self._bpd_thread is not None:
            self._bpd_thread.cancel()
            self._bpd_thread = None
            self.bpd_label.setText("Bits/dim cancelled.")
        self._sync_controls()

    def _on_bpd_done(self, out: BitsPerDimOutcome) -> None:
        if self.sender() is not self._bpd_thread:
            return
        self._bpd_thread = None
        self.bpd_outcome = out
        if out.error:
            self.bpd_label.setText(f"Bits/dim failed: {out.error}")
        elif not out.cancelled:
            older = "" if self._bpd_model is self.state.model else " (an earlier model snapshot)"
            self.bpd_label.setText(
                f"{out.bpd:.2f} ± {out.sem:.2f} bits/dim ({out.n} images, NFE {out.nfe}, {out.seconds:.1f} s){older}"
                " — an estimate: Hutchinson trace on the PF-ODE, dequantised pixels")
        self._sync_controls()

    # ---- state -----------------------------------------------------------------------------------------------
    def _on_model(self) -> None:
        """A new snapshot: resample at once when idle; during a run (training delivers one about every second)
        let the run finish, show its samples for FOLLOW_PAUSE_MS, then resample with the newest model."""
        self._fill_class_picker()
        if self.problem() is not None:
            self.cancel()
            self._clear_results()
            self._show_problem_or_prompt()
        elif not self.auto.isChecked() and any(s.outcome for s in self.sides.values()):
            self.status.setText("The model changed: press Resample.")
        elif not self.isVisible() and self._was_shown:
            self._stale = True  # a closed or tabbed-away dock: resample when it shows again
        elif self.running:
            self._model_waiting = True
        else:
            self.resample()
        self._sync_controls()

    def _on_images(self) -> None:
        self.cancel()
        self.cancel_bits_per_dim()
        self.bpd_label.setText("")
        self._clear_results()
        self._fill_class_picker()
        if self.problem() is None:
            self.resample()
        else:
            self._show_problem_or_prompt()

    def _on_settings(self, names: set) -> None:
        if "seed" in names:
            self.seed.setValue(int(self.state.settings.seed))
        if names & {"sde_sampler", "ode_sampler", "sample_steps"}:
            self._update_titles()
            if self.auto.isChecked():
                self._schedule_restart()

    def _on_time(self, t: float) -> None:
        if not self.running and any(s.outcome is not None for s in self.sides.values()):
            self.scrub_t = float(t)
            self._request()

    def _on_class_controls(self) -> None:
        self.guidance_label.setText(f"w = {self.guidance_weight():.1f}")
        self._sync_controls()
        self._schedule_restart()

    def _schedule_restart(self) -> None:
        self._restart_timer.start()

    def _restart_if_usable(self) -> None:
        if self.problem() is None:
            self.resample()

    def _fill_class_picker(self) -> None:
        model = self.state.model
        k = model.num_classes if self.conditional else 0
        names = tuple(model.class_names) if k else ()
        wanted = [(CLASS_ROWS, "each row a class"), (CLASS_RANDOM, "random classes"),
                  (CLASS_NONE, "no class (∅, unconditional)")]
        wanted += [(c, f"class {names[c] if c < len(names) else c}") for c in range(k)]
        current = [(self.class_picker.itemData(i), self.class_picker.itemText(i))
                   for i in range(self.class_picker.count())]
        if current != wanted:
            keep = self.class_picker.currentData()
            self.class_picker.blockSignals(True)
            self.class_picker.clear()
            for data, text in wanted:
                self.class_picker.addItem(text, data)
            i = self.class_picker.findData(keep)
            self.class_picker.setCurrentIndex(max(0, i))
            self.class_picker.blockSignals(False)
        self.guidance_label.setText(f"w = {self.guidance_weight():.1f}")
        self._sync_controls()

    def _sync_controls(self) -> None:
        usable = self.problem() is None
        conditional = usable and self.conditional
        self.resample_btn.setEnabled(usable)
        self.new_seed_btn.setEnabled(usable)
        self.stop_btn.setEnabled(self.running)
        self.class_picker.setEnabled(conditional)
        guided = conditional and self.class_picker.currentData() != CLASS_NONE
        self.guidance.setEnabled(guided)
        self.guidance_label.setEnabled(guided)
        unavailable = "" if conditional else "\n(Disabled: the model is not class-conditional; train with labels.)"
        self.class_picker.setToolTip(self._class_tip + unavailable)
        self.guidance.setToolTip(self._guidance_tip + unavailable)
        self.bpd_btn.setEnabled(usable or self._bpd_thread is not None)
        self.bpd_btn.setText("Cancel bits/dim" if self._bpd_thread is not None else "Bits/dim")

    def _describe_classes(self, w: float) -> str:
        if self.labels is None:
            return ""
        choice = self.class_picker.currentData()
        which = {CLASS_ROWS: "a class per row", CLASS_RANDOM: "random classes"}.get(choice)
        if which is None:
            which = self.class_picker.currentText()
        return f", {which}, w = {w:.1f}"

    def _update_titles(self) -> None:
        st = self.state.settings
        self.sides["sde"].view.set_title(f"Reverse SDE ({SAMPLER_NAMES.get(st.sde_sampler, st.sde_sampler)})")
        self.sides["ode"].view.set_title(f"PF-ODE ({SAMPLER_NAMES.get(st.ode_sampler, st.ode_sampler)})")

    def _clear_results(self) -> None:
        for s in self.sides.values():
            s.live = s.outcome = None
            s.info.setText("")
        self.scrub_t = None

    def _show_problem_or_prompt(self) -> None:
        text = self.problem() or "Press Resample to sample."
        for s in self.sides.values():
            s.view.set_message(text)
        self.status.setText("" if self.problem() else text)

    # ---- drawing ---------------------------------------------------------------------------------------------
    def _request(self) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._was_shown = True
        self._redraw.shown()
        if self._stale:
            self._restart_if_usable()

    def shown_frame(self, s: _Side) -> ImageFrame | None:
        """The frame a side shows: the live one while sampling, else the stored one nearest the time bar's t after
        it was moved, else the final samples."""
        if s.live is not None:
            return s.live
        if s.outcome is None or not s.outcome.frames:
            return None
        if self.scrub_t is None:
            return s.outcome.frames[-1]
        return s.outcome.frames[int(np.argmin(np.abs(s.outcome.frame_times - self.scrub_t)))]

    def redraw(self) -> None:
        self.redraws += 1
        want_x0 = self.show_what.currentData() == "x0"
        for s in self.sides.values():
            name = SAMPLER_NAMES.get(s.sampler, s.sampler)
            if s.outcome is not None and s.outcome.error:
                s.view.set_message(f"Sampling failed: {s.outcome.error}")
                s.info.setText(f"{name}: failed")
                continue
            f = self.shown_frame(s)
            if f is None:
                continue
            if f.t == 0.0:
                pixels, what = f.x, "the samples (t = 0)"
            elif want_x0 and f.x0 is not None:
                pixels, what = f.x0, f"x̂₀ of the score at t = {f.x0_t:.3f}"
            else:
                pixels, what = f.x, f"x_t at t = {f.t:.3f}"
            n = len(pixels)
            s.view.set_images(pixels.astype(np.float32) * (1 / 255), self.columns(n), self._captions(n))
            if s.live is not None:
                head = f"{name} · step {f.i}/{f.steps} · NFE {f.nfe}"
            else:
                o = s.outcome
                head = f"{name} · {o.steps} steps · NFE {o.nfe} · {o.seconds:.2f} s"
                if self.scrub_t is not None:
                    what += f" (time bar {self.scrub_t:.3f})"
            s.info.setText(f"{head}\nshowing {what}")

    def _captions(self, n: int) -> list[str] | None:
        if self.labels is None or len(self.labels) != n:
            return None
        names = self.state.model.class_names if self.state.model is not None else ()
        text = [names[y] if y < len(names) else str(y) for y in self.labels]
        choice = self.class_picker.currentData()
        if choice == CLASS_ROWS:
            cols = self.columns(n)
            return [t if k % cols == 0 else "" for k, t in enumerate(text)]
        return text if choice == CLASS_RANDOM else None

    def shutdown(self, timeout_ms: int = 1000) -> None:
        """Stop timers and every worker: waits at most `timeout_ms` in all; a thread still inside one network
        evaluation is kept alive on its own until it has finished (never destroyed while running)."""
        self._redraw.stop()
        self._restart_timer.stop()
        self._follow_timer.stop()
        self.cancel()
        self.cancel_bits_per_dim()
        for th in self._threads:
            th.cancel()
        deadline = time.perf_counter() + timeout_ms / 1000
        for th in self._threads:
            th.wait(max(1, int((deadline - time.perf_counter()) * 1000)))
        cancel_threads(self._threads)
