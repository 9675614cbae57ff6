"""Sampling panel: the reverse SDE and the probability-flow ODE side by side, from the same noise and seed.

Both sides start from ONE draw x_T = sde.prior_sample((n, 2), seed) in normalised space, run in worker threads
(`sampling_worker`), and animate live from t = T to 0 (density image of all particles + a subset of dots + the
paths of a subset). Afterwards a slider / play button replays the stored frames at matching t on both sides.
Each side reports its NFE, wall time and the SWD ratio against fresh target samples (1 = as close as two
independent target sets).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from playground.app.geometry import (
    Rect,
    SdeCache,
    has_exact_score,
    hist_bins,
    prior_rect,
    sample_bounds,
    square_rect,
    union_rect,
)
from playground.app.widgets.plot_items import (
    FRAME_MS,
    CentredMessage,
    Coalescer,
    DensityImage,
    DotCloud,
    TrajectoryCurve,
    plot_widget,
    set_view,
)
from playground.app.workers.job_thread import start_job_thread
from playground.app.workers.sampling_worker import Frame, Outcome, SamplingJob, SamplingThread, fast_gmm_score_fn
from playground.app.workers.training_worker import cancel_threads

SAMPLER_NAMES = {
    "em": "Euler–Maruyama",
    "pc": "predictor–corrector",
    "ancestral": "ancestral",
    "reverse_diffusion": "reverse diffusion",
    "ode_euler": "Euler",
    "ode_heun": "Heun",
    "ode_rk45": "adaptive RK45",
}
SLIDER_MAX = 1000
RK45_MAX_FRAMES = 25


def ode_steps(name: str, sample_steps: int) -> int:
    """Steps for the ODE side from the one `sample_steps` setting, so both sides spend a similar budget:
    Euler: the same steps; Heun (2 NFE a step, the last one a denoise): about half, for about the SDE's NFE;
    RK45: `steps` is its number of output frames (each an adaptive solve), at most RK45_MAX_FRAMES."""
    if name == "ode_heun":
        return max(2, (sample_steps + 2) // 2)
    if name == "ode_rk45":
        return max(1, min(sample_steps, RK45_MAX_FRAMES))
    return max(1, sample_steps)
AUTO_INTERVAL_MS = 5000
PLAY_SECONDS = 4.0


class _Side:
    """One view: plot, layers, info line, latest live frame and the finished outcome."""

    def __init__(self, key: str, title: str, dots_max: int):
        self.key = key
        self.plot = plot_widget(title)
        pi = self.plot.getPlotItem()
        self.density = DensityImage(pi, bins=256, colormap="magma")
        self.paths = TrajectoryCurve(pi, color=(110, 190, 255, 75 if key == "sde" else 140))
        self.dots = DotCloud(pi, color=(255, 255, 255, 200), width=2.0, max_points=dots_max)
        self.message = CentredMessage(pi)
        self.info = QLabel("—")
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.thread: SamplingThread | None = None
        self.live: Frame | None = None
        self.outcome: Outcome | None = None
        self.sampler = ""
        self.shown_frame: Frame | None = None


class SamplingPanel(QWidget):
    """Reverse SDE (left) vs PF-ODE (right) from the same x_T; learned or exact score."""

    def __init__(self, state, parent=None, dots_max: int = 10000):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Sampling (SDE | ODE)")
        self.sides = {"sde": _Side("sde", "Reverse SDE", dots_max), "ode": _Side("ode", "Probability-flow ODE",
                                                                                   dots_max)}
        self.sides["sde"].plot.setToolTip(
            "Reverse-time SDE dx = [f − g² s(x, t)] dt + g dw̄, integrated from t = T to 0 (stochastic).")
        self.sides["ode"].plot.setToolTip(
            "Probability-flow ODE dx/dt = f − ½ g² s(x, t), integrated from t = T to 0 (deterministic),\n"
            "from the same starting noise x_T as the SDE.")
        for s in self.sides.values():
            s.info.setToolTip("NFE: score evaluations; time: wall-clock of the run; SWD: sliced Wasserstein distance "
                              "to fresh target samples,\nand its ratio to the floor of two independent target sets "
                              "(1 = indistinguishable from the target).")

        # controls
        self.resample_btn = QPushButton("Resample")
        self.resample_btn.setToolTip("Sample again from the same seed with both samplers (and the current settings).")
        self.resample_btn.clicked.connect(self.resample)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(state.settings.seed))
        self.seed.setPrefix("seed ")
        self.seed.setToolTip("Seed of the starting noise x_T ~ N(0, σ_T² I) (shared by both sides) and of the SDE's\n"
                             "noise; the same seed reproduces the same samples.")
        self.new_seed_btn = QPushButton("New seed")
        self.new_seed_btn.setToolTip("Pick a new seed and resample.")
        self.new_seed_btn.clicked.connect(self.new_seed)
        self.use_exact = QCheckBox("Use exact score")
        self.use_exact.setToolTip("Sample with the target's exact score (Gaussian mixture or point set) instead of\n"
                                  "the network: compare learned against exact.")
        self.use_exact.toggled.connect(self._on_use_exact)
        self.auto = QCheckBox("Auto")
        self.auto.setToolTip(f"While training, resample every {AUTO_INTERVAL_MS // 1000} s when the model has changed.")
        self.auto.toggled.connect(self._on_auto)
        self.show_paths = QCheckBox("Trajectories")
        self.show_paths.setChecked(True)
        self.show_paths.setToolTip("Draw the paths of the first n_trajectories particles (one curve per side).")
        self.show_paths.toggled.connect(self._request)
        self.play_btn = QPushButton()
        self.play_btn.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_btn.setToolTip("Play the stored frames from t = T (noise) to t = 0 (samples).")
        self.play_btn.setCheckable(True)
        self.play_btn.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_MAX)
        self.slider.setValue(SLIDER_MAX)
        self.slider.setToolTip("Playback position: left t = T (the prior), right t = 0 (the samples).")
        self.slider.valueChanged.connect(self._on_slider)
        self.status = QLabel("")
        self.status.setToolTip("What the panel is doing.")
        self.cancel_btn = QPushButton("Stop")
        self.cancel_btn.setToolTip("Cancel the running sampling.")
        self.cancel_btn.clicked.connect(lambda: self.cancel())

        views = QHBoxLayout()
        for s in self.sides.values():
            col = QVBoxLayout()
            col.addWidget(s.plot, 1)
            col.addWidget(s.info)
            views.addLayout(col, 1)
        row1 = QHBoxLayout()
        for w in (self.resample_btn, self.cancel_btn, self.seed, self.new_seed_btn, self.use_exact, self.auto,
                  self.show_paths):
            row1.addWidget(w)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(self.play_btn)
        row2.addWidget(self.slider, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(views, 1)
        lay.addLayout(row2)
        lay.addLayout(row1)
        lay.addWidget(self.status)

        self.generation = 0
        self.x_T: torch.Tensor | None = None
        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.score_source = ""
        self._old_threads: list[SamplingThread] = []
        # every worker started and not known to have finished. The threads have NO Qt parent (a QThread deleted
        # with its panel while running aborts the process); this list holds them, and if the panel is destroyed
        # without shutdown() they are cancelled and kept alive by training_worker.keep_until_finished (waited for
        # at exit). The slot gets the list, not the panel.
        self._threads: list[SamplingThread] = []
        self.destroyed.connect(lambda *_a, threads=self._threads: cancel_threads(threads))
        self._sde_cache = SdeCache()
        self._model_dirty = False  # a model arrived after the samples shown were started
        self._refresh_after_training = False  # training stopped: resample once idle if the samples are stale
        self._had_model = state.model is not None
        self.redraws = 0
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(FRAME_MS)
        self._play_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._play_timer.timeout.connect(self._play_tick)
        self._auto_timer = QTimer(self)
        self._auto_timer.setInterval(AUTO_INTERVAL_MS)
        self._auto_timer.timeout.connect(self._auto_tick)
        state.targetChanged.connect(self._on_target)
        state.settingsChanged.connect(self._on_settings)
        state.modelChanged.connect(self._on_model)
        self._update_titles()
        self._sync_controls()
        self.view_rect = self._rect()
        for s in self.sides.values():
            set_view(s.plot, self.view_rect)
        self._show_idle_message()

    # ---- sources ----------------------------------------------------------------------------------------------
    def _sync_controls(self) -> None:
        has_exact = has_exact_score(self.state)
        self.use_exact.setEnabled(has_exact)
        if not has_exact and self.use_exact.isChecked():
            self.use_exact.blockSignals(True)  # no resample: the target changed under it
            self.use_exact.setChecked(False)
            self.use_exact.blockSignals(False)
        self.cancel_btn.setEnabled(self.running)
        has_frames = any(s.outcome is not None and s.outcome.frames for s in self.sides.values())
        self.play_btn.setEnabled(has_frames and not self.running)
        self.slider.setEnabled(has_frames and not self.running)

    def _source(self):
        """(label, normalised score_fn, sde, normalisation) of the score to sample with, or (message, None, ...)."""
        st = self.state
        if len(st.target_samples) == 0:
            return "The target is empty: nothing to compare with.", None, None, None
        if self.use_exact.isChecked() and has_exact_score(st):
            norm, sde = st.normalization, self._sde_cache.get(st)
            if st.target.gmm is not None:
                fn = fast_gmm_score_fn(norm.gmm_to_norm(st.target.gmm), sde)
            else:
                from playground.core.diffusion.exact_score import EmpiricalScore

                pts = norm.to_norm(torch.as_tensor(np.asarray(st.target.points, np.float32)))
                fn = EmpiricalScore(pts).score_fn(sde)
            return "exact score", fn, sde, norm
        model = st.model
        if model is None:
            hint = " or tick 'Use exact score'" if has_exact_score(st) else ""
            return f"No model yet: train one{hint}, then press Resample.", None, None, None
        sde = getattr(model, "sde", None) or self._sde_cache.get(st)
        norm = getattr(model, "normalization", None) or st.normalization
        if hasattr(model, "score_fn"):
            fn = model.score_fn(space="norm")
        else:  # a bare data-space model: s_norm(y, t) = s_data(to_data(y), t) * scale
            fn = lambda y, t: torch.as_tensor(model.score(norm.to_data(y), t)).to(y.dtype) * norm.scale  # noqa: E731
        return "learned score", fn, sde, norm

    def _rect(self, sde=None, norm=None) -> Rect:
        """The target's box and the prior's +-3 std box; VE's prior (std sigma_max, far wider than the data) is
        clipped to 1.5 normalised units a std, so its particles fly in from outside and the samples stay readable."""
        st = self.state
        r = sample_bounds(st.target_samples)
        try:
            norm = norm or st.normalization
            sde = sde or self._sde_cache.get(st)
            n_std = 3.0 * min(1.0, 1.5 / float(sde.prior_std))
            r = union_rect(r, prior_rect(norm, sde, n_std=n_std))
        except Exception:
            pass
        return square_rect(r) if r is not None else (-1.0, 1.0, -1.0, 1.0)

    # ---- running ----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(s.thread is not None and s.thread.isRunning() for s in self.sides.values())

    def resample(self) -> bool:
        """Start both samplers from one fresh x_T; returns False (with a message) when there is nothing to run."""
        self.cancel(wait=False)
        self.play_btn.setChecked(False)
        label, fn, sde, norm = self._source()
        if fn is None:
            self.status.setText(label)
            self._show_idle_message(label)
            return False
        st = self.state
        n = max(1, int(st.settings.n_particles))
        steps = max(1, int(st.settings.sample_steps))
        seed = int(self.seed.value())
        self.generation += 1
        self.score_source = label
        self._model_dirty = False
        self.view_rect = self._rect(sde, norm)
        g = torch.Generator().manual_seed(seed)
        self.x_T = sde.prior_sample((n, 2), generator=g)
        target = st.target
        sample_target = lambda m, s: target.sample(m, s)  # noqa: E731
        names = {"sde": st.settings.sde_sampler, "ode": st.settings.ode_sampler}
        self._update_titles()
        for key, s in self.sides.items():
            job = SamplingJob(
                side=key, sampler=names[key], score_fn=fn, sde=sde, x_T=self.x_T.clone(),
                steps=steps if key == "sde" else ode_steps(names[key], steps), seed=seed,
                mean=tuple(float(v) for v in norm.mean), scale=float(norm.scale), rect=self.view_rect,
                bins=hist_bins(n), n_dots=s.dots.max_points, n_paths=int(st.settings.n_trajectories),
                sample_target=sample_target,
                generation=self.generation,
            )
            s.sampler = names[key]
            s.live = None
            s.outcome = None
            s.shown_frame = None
            s.message.hide()
            s.info.setText(f"{SAMPLER_NAMES.get(s.sampler, s.sampler)}: starting…")
            set_view(s.plot, self.view_rect)
            s.thread = start_job_thread(SamplingThread(job), self._on_frame, self._on_done, self._threads)  # no parent
        self.status.setText(f"Sampling {n:,} particles with the {label}, {steps} steps, seed {seed}…")
        self._sync_controls()
        return True

    def new_seed(self) -> None:
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))
        self.resample()

    def cancel(self, wait: bool = False, timeout_ms: int = 1000) -> None:
        """Cancel running samplers; with wait, block until they stopped (at most timeout_ms in all)."""
        threads = [s.thread for s in self.sides.values() if s.thread is not None]
        for th in threads:
            th.cancel()
            if th.isRunning():
                self._old_threads.append(th)  # keep a reference until it finished
        for s in self.sides.values():
            if s.thread is not None and s.thread.isRunning():
                s.info.setText("Cancelled.")
                s.live = None
                if s.outcome is None:
                    s.message.show("Cancelled: press Resample")
            s.thread = None
        if wait:
            deadline = time.perf_counter() + timeout_ms / 1000
            for th in self._old_threads:
                th.wait(max(1, int((deadline - time.perf_counter()) * 1000)))
        self._old_threads = [th for th in self._old_threads if th.isRunning()]
        self._sync_controls()

    def _on_frame(self, frame: Frame) -> None:
        th = self.sender()
        s = self._side_of(th)
        if s is None:
            return
        s.live = frame
        self._request()

    def _side_of(self, th) -> _Side | None:
        for s in self.sides.values():
            if s.thread is th and th is not None and th.job.generation == self.generation:
                return s
        return None

    def _on_done(self, out: Outcome) -> None:
        th = self.sender()
        s = self._side_of(th)
        self._old_threads = [t for t in self._old_threads if t.isRunning()]
        if s is None or out.cancelled:
            return
        s.outcome = out
        s.thread = None
        s.live = None
        if not self.running:
            self.slider.blockSignals(True)
            self.slider.setValue(SLIDER_MAX)
            self.slider.blockSignals(False)
            self.status.setText(f"Done ({self.score_source}, seed {self.seed.value()}). "
                                "Drag the slider or press play to replay.")
        self._sync_controls()
        self._request()
        if not self.running:
            self._refresh_if_stale()

    # ---- state ------------------------------------------------------------------------------------------------
    def _clear_results(self, message: str | None = None) -> None:
        self.cancel()
        self.play_btn.setChecked(False)
        for s in self.sides.values():
            s.outcome, s.live, s.shown_frame = None, None, None
            s.info.setText("—")
        self._sync_controls()
        self.view_rect = self._rect()
        for s in self.sides.values():
            set_view(s.plot, self.view_rect)
        self._show_idle_message(message)

    def _on_target(self) -> None:
        self._clear_results("Target changed: press Resample.")

    def _on_settings(self, names: set) -> None:
        if names & {"sde_sampler", "ode_sampler"}:
            self._update_titles()
        if names & {"sde", "beta_min", "beta_max", "sigma_min", "sigma_max", "seed"}:
            self._sync_controls()
        if "seed" in names:
            self.seed.setValue(int(self.state.settings.seed))

    def _on_model(self) -> None:
        has = self.state.model is not None
        first = has and not self._had_model
        self._had_model = has
        self._model_dirty = has
        if first and not self.use_exact.isChecked() and not self.running:
            self.resample()

    def training_stopped(self) -> None:
        """Training paused or finished: once no sampling runs, resample (same seed) with the final model when the
        samples shown came from an older one (so the views end on what was trained, Auto or not)."""
        self._refresh_after_training = True
        QTimer.singleShot(0, self._refresh_if_stale)  # after the run's last snapshot has reached the state

    def _refresh_if_stale(self) -> None:
        if not self._refresh_after_training or self.running:
            return  # a sampling run in progress calls this again when it finishes
        self._refresh_after_training = False
        if self._model_dirty and not self.use_exact.isChecked() and self.state.model is not None:
            self.resample()

    def _on_use_exact(self, on: bool) -> None:
        """Switching the score source resamples at once (same seed), so learned and exact compare directly."""
        if on or self.state.model is not None:
            self.resample()
        else:
            self._clear_results()

    def _on_auto(self, on: bool) -> None:
        if on:
            self._auto_timer.start()
        else:
            self._auto_timer.stop()

    def _auto_tick(self) -> None:
        if self._model_dirty and not self.running and not self.use_exact.isChecked() and self.state.model is not None:
            self.resample()

    def _update_titles(self) -> None:
        st = self.state.settings
        self.sides["sde"].plot.getPlotItem().setTitle(
            f"Reverse SDE — {SAMPLER_NAMES.get(st.sde_sampler, st.sde_sampler)}")
        self.sides["ode"].plot.getPlotItem().setTitle(
            f"PF-ODE — {SAMPLER_NAMES.get(st.ode_sampler, st.ode_sampler)}")

    def _show_idle_message(self, text: str | None = None) -> None:
        if text is None:
            text = self._source()[0] if self._source()[1] is None else "Press Resample to sample."
        for s in self.sides.values():
            s.density.clear()
            s.dots.clear()
            s.paths.clear()
            s.message.show(text)

    # ---- playback ---------------------------------------------------------------------------------------------
    def _on_slider(self, _v: int) -> None:
        self._request()

    def _on_play(self, on: bool) -> None:
        self.play_btn.setIcon(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaPause if on else QStyle.StandardPixmap.SP_MediaPlay))
        if on:
            if self.slider.value() >= SLIDER_MAX:
                self.slider.setValue(0)
            self._play_timer.start()
        else:
            self._play_timer.stop()

    def _play_tick(self) -> None:
        step = max(1, int(SLIDER_MAX * FRAME_MS / 1000 / PLAY_SECONDS))
        v = min(SLIDER_MAX, self.slider.value() + step)
        self.slider.setValue(v)
        if v >= SLIDER_MAX:
            self.play_btn.setChecked(False)

    def playback_time(self) -> float:
        return 1.0 - self.slider.value() / SLIDER_MAX

    @staticmethod
    def _frame_at(out: Outcome, t: float) -> Frame:
        times = out.frame_times
        return out.frames[int(np.argmin(np.abs(times - t)))]

    # ---- drawing ----------------------------------------------------------------------------------------------
    def _request(self, *_) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()  # a redraw requested while hidden (closed or tabbed-away dock) runs now

    def redraw(self) -> None:
        self.redraws += 1
        t_play = self.playback_time()
        for s in self.sides.values():
            if s.live is not None:
                frame, paths, path_t = s.live, s.live.paths, None
            elif s.outcome is not None and s.outcome.frames:
                frame = self._frame_at(s.outcome, t_play)
                paths, path_t = s.outcome.paths, s.outcome.path_times
                if paths is not None:
                    paths = paths[path_t >= frame.t - 1e-9]
            elif s.outcome is not None:
                s.message.show(f"Sampling failed: {s.outcome.error}" if s.outcome.error else "No samples")
                s.info.setText(self._outcome_text(s))
                continue
            else:
                continue
            s.message.hide()
            self._draw_frame(s, frame, paths)
            s.info.setText(self._outcome_text(s) if s.live is None else self._live_text(s, frame))

    def _draw_frame(self, s: _Side, frame: Frame, paths) -> None:
        if s.shown_frame is not frame:
            s.density.set_rect(self.view_rect)
            s.density.set_u8(frame.image)
            s.dots.set_dot_size((self.view_rect[1] - self.view_rect[0]) / 700)
            s.dots.set_points(frame.dots)
            s.shown_frame = frame
        s.paths.set_visible(self.show_paths.isChecked())
        if self.show_paths.isChecked():
            s.paths.set_paths(paths if paths is not None and len(paths) > 1 else None)

    def _live_text(self, s: _Side, f: Frame) -> str:
        name = SAMPLER_NAMES.get(s.sampler, s.sampler)
        return f"{name}: step {f.i}/{f.steps}   t = {f.t:.3f}   NFE {f.nfe}"

    def _outcome_text(self, s: _Side) -> str:
        o = s.outcome
        name = SAMPLER_NAMES.get(s.sampler, s.sampler)
        if o is None:
            return name
        if o.error and o.x is None:
            return f"{name}: failed — {o.error}"
        parts = [f"{name} ({o.sampler})", f"{o.steps} steps", f"NFE {o.nfe}", f"{o.seconds:.2f} s"]
        if np.isfinite(o.swd):
            parts.append(f"SWD {o.swd:.3f} = {o.swd_ratio:.2f}× floor")
        text = "   ".join(parts)
        if o.n_nonfinite:
            n = len(o.x)
            text += (f"\n⚠ {o.n_nonfinite:,} of {n:,} samples are NaN/inf (diverged)"
                     + ("; SWD over the finite ones" if np.isfinite(o.swd) else ""))
        if o.error:
            text += f"\n{o.error}"
        return text

    def shutdown(self, timeout_ms: int = 1000) -> None:
        """Stop timers and cancel running samplers: waits at most `timeout_ms` in all; a sampler still finishing
        (e.g. inside one score chunk) is kept alive on its own until it has (never destroyed while running)."""
        self._play_timer.stop()
        self._auto_timer.stop()
        self._redraw.stop()
        self.cancel(wait=True, timeout_ms=timeout_ms)
        cancel_threads(self._threads)
        self._old_threads = []
