"""Image sampling panel: reverse SDE and PF-ODE grids side by side from the SAME starting noise x_T.

One seeded prior draw x_T (normalised space) starts both samplers of the current image model (Song et al. 2021:
the reverse-time SDE, Eq. 6, and the probability-flow ODE, Eq. 13), each in its own worker thread
(`image_sampling_worker`); the grids evolve live (x_t, or the denoised estimate x0_hat of the latest score
evaluation), and the finished runs keep their frames so the shared time bar scrubs through them (t = 1 noise ...
t = 0 images). Class-conditional models sample with classifier-free guidance (Ho & Salimans 2022, as in
`playground.core.diffusion.guidance`; the picker and slider are `widgets.class_guidance`). Each side is a
`widgets.sampler_grid.SamplerGrid`; the bits/dim row is `bits_per_dim_row.BitsPerDimRow`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.app.panels.bits_per_dim_row import BitsPerDimRow
from playground.app.panels.image_forward_panel import image_run_problem, is_conditional_image_model
from playground.app.samplers import sampler_name, sampler_steps, sampler_title, side_choice
from playground.app.widgets.class_guidance import GuidanceSlider, SamplingClassPicker, guidance_tip
from playground.app.widgets.plot_items import Coalescer
from playground.app.widgets.sample_controls import SampleControls
from playground.app.widgets.sampler_grid import SamplerGrid
from playground.app.workers.image_sampling_worker import (
    ImageFrame,
    ImageSamplingJob,
    ImageSamplingOutcome,
    ImageSamplingThread,
)
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.threads import cancel_threads

MAX_IMAGE_STEPS = 250  # sample_steps is capped here for images (each step is a U-Net pass on the whole batch)
RESTART_DELAY_MS = 250  # class / guidance changes settle this long before a resample
FOLLOW_PAUSE_MS = 1500  # while training, finished samples stay this long before the newest model is sampled


class ImageSamplingPanel(QWidget):
    """Reverse SDE vs PF-ODE image grids from one x_T, live and scrubbable; guidance and bits/dim."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Sampling (images): SDE | ODE")
        self.sides = {
            "sde": SamplerGrid(
                "sde", "Reverse-time SDE dx = [f − g² s_θ(x, t)] dt + g dw̄ from t = 1 to 0 (stochastic),\n"
                       "started from the same noise x_T as the ODE."),
            "ode": SamplerGrid(
                "ode", "Probability-flow ODE dx/dt = f − ½ g² s_θ(x, t) from t = 1 to 0 (deterministic),\n"
                       "started from the same noise x_T as the SDE."),
        }

        self.controls = SampleControls(seed=int(state.settings.seed))
        self.controls.resample_btn.clicked.connect(self.resample)
        self.controls.stop_btn.clicked.connect(lambda: self.cancel())
        self.controls.new_seed_btn.clicked.connect(self.new_seed)
        self.controls.count.currentIndexChanged.connect(lambda _i: self._schedule_restart())
        self.controls.show_what.currentIndexChanged.connect(lambda _i: self._request())

        self.class_picker = SamplingClassPicker()
        self.class_picker.currentIndexChanged.connect(lambda _i: self._on_class_controls())
        self.guidance = GuidanceSlider()
        self._guidance_tip = guidance_tip("w = 0 is the conditional model without guidance; larger w sharpens "
                                          "towards the class\n(two network evaluations per score).")
        self.guidance.setToolTip(self._guidance_tip)
        self.guidance.valueChanged.connect(lambda _v: self._on_class_controls())
        self.guidance_label = QLabel("")
        self.guidance_label.setToolTip(self._guidance_tip)

        # every worker started and not known to have finished; no Qt parent (a QThread deleted with its panel while
        # running aborts the process): on destruction without shutdown() they are cancelled and kept alive by
        # threads.keep_until_finished. The slot gets the list, not the panel.
        self._threads: list = []
        self.destroyed.connect(lambda *_a, threads=self._threads: cancel_threads(threads))
        self.bpd = BitsPerDimRow(state, self.problem, self._threads)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setToolTip("What the panel is doing.")

        grids = QHBoxLayout()
        for s in self.sides.values():
            grids.addWidget(s, 1)
        row2 = QHBoxLayout()
        row2.addWidget(self.class_picker)
        row2.addWidget(self.guidance_label)
        row2.addWidget(self.guidance, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(grids, 1)
        layout.addWidget(self.controls)
        layout.addLayout(row2)
        layout.addWidget(self.bpd)
        layout.addWidget(self.status)

        self.generation = 0
        self.x_T: torch.Tensor | None = None  # (n, D) normalised start of the last run (both sides)
        self.labels: np.ndarray | None = None  # (n,) class labels of the last run, or None
        self.scrub_t: float | None = None  # the time bar's t after a run finished; None: show the final samples
        self._run_model = None  # the snapshot the last run sampled
        self._run_caption = ""  # class / guidance of the last run, for the titles
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
        return any(s.worker is not None for s in self.sides.values())

    @property
    def conditional(self) -> bool:
        return is_conditional_image_model(self.state.model)

    def guidance_weight(self) -> float:
        """The guidance slider's w."""
        return self.guidance.weight()

    def columns(self, n: int) -> int:
        return max(1, math.ceil(math.sqrt(n)))

    def class_labels(self, n: int, seed: int) -> np.ndarray | None:
        """The (n,) labels to sample with the picker's choice, or None (unconditional model, or no class)."""
        if not self.conditional:
            return None
        return self.class_picker.labels(n, self.state.model.num_classes, self.columns(n), seed)

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
        n = self.controls.grid_size()
        seed = int(self.controls.seed.value())
        steps = max(1, min(int(st.sample_steps), MAX_IMAGE_STEPS))
        p = next(model.parameters())
        g = torch.Generator().manual_seed(seed)
        self.x_T = model.sde.prior_sample((n, model.dim), generator=g, dtype=p.dtype)
        self.labels = self.class_labels(n, seed)
        w = self.guidance_weight() if self.labels is not None else 0.0
        score_fn = self.score_function(self.labels, w)
        self.generation += 1
        self._run_model = model
        self._run_caption = self.class_picker.describe(w) if self.labels is not None else ""
        self.scrub_t = None
        for key, s in self.sides.items():
            sampler, options = side_choice(st, key)
            job = ImageSamplingJob(
                side=key, sampler=sampler, score_fn=score_fn, sde=model.sde, x_T=self.x_T.to(p.device),
                steps=sampler_steps(sampler, steps), seed=seed + 1, image_shape=model.image_shape,
                to_data=model.to_data, generation=self.generation, options=options,
            )
            s.sampler = sampler
            s.live = s.outcome = None
            s.info.setText(f"{sampler_name(s.sampler)}: starting…")
            s.worker = start_job_thread(ImageSamplingThread(job), self._on_frame, self._on_done, self._threads)  # no parent
        self._update_titles()
        self.status.setText(f"Sampling {n} images, {steps} steps, seed {seed}{self._run_caption}…")
        self._sync_controls()
        return True

    def new_seed(self) -> None:
        self.controls.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))
        self.resample()

    def cancel(self) -> None:
        """Cancel a running sampling (the threads stop within one network evaluation, on their own)."""
        was = self.running
        for s in self.sides.values():
            if s.worker is not None:
                s.worker.cancel()
                s.worker = None
                s.live = None
                if s.outcome is None:
                    s.info.setText("Cancelled.")
        if was:
            self.status.setText("Cancelled: press Resample.")
        self._sync_controls()

    def _side_of(self, th) -> SamplerGrid | None:
        for s in self.sides.values():
            if th is not None and s.worker is th and th.job.generation == self.generation:
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
        s.worker = None
        s.live = None
        s.outcome = out
        if not self.running:
            self.status.setText(f"Done (seed {self.controls.seed.value()}{self._run_caption}). Move the time bar to "
                                "scrub through the runs (t = 1 noise … t = 0 images).")
            if self._model_waiting and self.controls.auto.isChecked():
                self._model_waiting = False
                self._follow_timer.start()
        self._sync_controls()
        self._request()

    # ---- state -----------------------------------------------------------------------------------------------
    def _on_model(self) -> None:
        """A new snapshot: resample at once when idle; during a run (training delivers one about every second)
        let the run finish, show its samples for FOLLOW_PAUSE_MS, then resample with the newest model."""
        self._fill_class_picker()
        if self.problem() is not None:
            self.cancel()
            self._clear_results()
            self._show_problem_or_prompt()
        elif not self.controls.auto.isChecked() and any(s.outcome for s in self.sides.values()):
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
        self.bpd.cancel()
        self.bpd.label.setText("")
        self._clear_results()
        self._fill_class_picker()
        if self.problem() is None:
            self.resample()
        else:
            self._show_problem_or_prompt()

    def _on_settings(self, names: set) -> None:
        if "seed" in names:
            self.controls.seed.setValue(int(self.state.settings.seed))
        if names & {"sde_sampler", "sde_sampler_options", "ode_sampler", "ode_sampler_options", "sample_steps"}:
            self._update_titles()
            if self.controls.auto.isChecked():
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
        self.class_picker.fill(k, model.class_names if k else ())
        self.guidance_label.setText(f"w = {self.guidance_weight():.1f}")
        self._sync_controls()

    def _sync_controls(self) -> None:
        usable = self.problem() is None
        self.controls.sync(usable, self.running)
        self.class_picker.sync(usable and self.conditional, (self.guidance, self.guidance_label), self._guidance_tip)
        self.bpd.sync()

    def _update_titles(self) -> None:
        st = self.state.settings
        for key, s in self.sides.items():
            s.view.set_title(sampler_title(side_choice(st, key)[0]))

    def _clear_results(self) -> None:
        for s in self.sides.values():
            s.clear()
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

    def redraw(self) -> None:
        self.redraws += 1
        want_x0 = self.controls.want_x0()
        for s in self.sides.values():
            s.draw(sampler_name(s.sampler), want_x0, self.scrub_t, self._grid)

    def _grid(self, n: int) -> tuple[int, list[str] | None]:
        """The columns and tile captions of a grid of n images (captions: the classes of the run, if any)."""
        if self.labels is None or len(self.labels) != n:
            return self.columns(n), None
        names = self.state.model.class_names if self.state.model is not None else ()
        return self.columns(n), self.class_picker.captions(self.labels, names, self.columns(n))

    def shutdown(self, timeout_ms: int = 1000) -> None:
        """Stop timers and every worker: waits at most `timeout_ms` in all; a thread still inside one network
        evaluation is kept alive on its own until it has finished (never destroyed while running)."""
        self._redraw.stop()
        self._restart_timer.stop()
        self._follow_timer.stop()
        self.cancel()
        self.bpd.cancel()
        for th in self._threads:
            th.cancel()
        deadline = time.perf_counter() + timeout_ms / 1000
        for th in self._threads:
            th.wait(max(1, int((deadline - time.perf_counter()) * 1000)))
        cancel_threads(self._threads)
