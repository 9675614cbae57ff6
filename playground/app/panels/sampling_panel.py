"""Sampling panel: two samplers side by side, from the same noise and seed (by default the reverse SDE with
Euler–Maruyama left, the probability-flow ODE with Heun right; any sampler of the core on either side).

Both sides start from ONE draw x_T = sde.prior_sample((n, 2), seed) in normalised space, run in worker threads
(`sampling_worker`), and animate live from t = T to 0 (density image of all particles + a subset of dots + the
paths of a subset). Afterwards a slider / play button replays the stored frames at matching t on both sides.
Each side reports its NFE, wall time and the SWD ratio against fresh target samples (1 = as close as two
independent target sets).

No stale pictures: what a comparison runs is a `SamplingPlan` (app.sampling_plan) of the current target, SDE,
samplers and score; every view names its score (the learned one with its model step, or the exact one: also before
any training, labelled so) and any change of those clears the views, and with Follow on resamples at once. While
training, Follow refreshes the views every FOLLOW_MS on fewer particles, one side after the other, without live
frames (the trainer keeps its core; `python -m playground bench ui` measures it); when training stops the views
end on the final model at full size.

Each side is a `SamplingView` (its `SamplerPicker` above the plot), the run row `SamplingControls`, the replay a
`PlaybackBar`, the two workers `SideThreads` (one generation per comparison).

Under the left view, the stochasticity dial (`StochasticityDial`) re-runs the left view alone at another λ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.app.exact_scores import ExactScores, exact_cost_points
from playground.app.geometry import Rect, SdeCache, hist_bins, robust_rect, union_rect
from playground.app.panels.side_threads import SideThreads
from playground.app.panels.stochasticity_dial import LAM, StochasticityDial
from playground.app.samplers import sampler_title, side_changes, side_choice
from playground.app.sampling_plan import SamplingPlan, SideRun, plan_sampling
from playground.app.widgets.playback_bar import PlaybackBar
from playground.app.widgets.plot_items import Coalescer, visible_rect
from playground.app.widgets.sampling_controls import SamplingControls
from playground.app.widgets.sampling_view import SamplingView, live_text, outcome_text
from playground.app.workers.sampling_worker import Frame, Outcome, SamplingJob, SamplingThread

FOLLOW_MS = 3000
RUN_KEYS = frozenset({"sde", "beta_min", "beta_max", "sigma_min", "sigma_max", "n_particles", "sample_steps",
                      "n_trajectories", "sde_sampler", "sde_sampler_options", "ode_sampler", "ode_sampler_options"})
LIGHT_EMIT_S = 1e9  # a refresh while training sends no live frames: the views swap to its result when it is done


@dataclass
class _Side:
    """One side: its view, the sampler of its run, the latest live frame and the outcome."""

    view: SamplingView
    sampler: str = ""
    live: Frame | None = None
    outcome: Outcome | None = None

    @property
    def plot(self):
        """The side's plot (the export dialog renders it)."""
        return self.view.plot


class SamplingPanel(QWidget):
    """Two samplers from the same x_T; learned or exact score. `changeRequested(dict)`: a side's sampler or options
    picked here (the main window applies it as a settings change)."""

    changeRequested = Signal(dict)

    def __init__(self, state, parent=None, dots_max: int = 10000):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Sampling")
        self.sides = {key: _Side(SamplingView(dots_max)) for key in ("sde", "ode")}
        for key, s in self.sides.items():
            s.view.picker.changed.connect(lambda k, o, side=key: self.changeRequested.emit(side_changes(side, k, o)))
        self.controls = c = SamplingControls(state.settings.seed, FOLLOW_MS / 1000)
        self.resample_btn, self.cancel_btn, self.seed, self.new_seed_btn = (c.resample_btn, c.cancel_btn, c.seed,
                                                                           c.new_seed_btn)
        self.use_exact, self.follow, self.show_paths = c.use_exact, c.follow, c.show_paths
        c.resample_btn.clicked.connect(lambda: self.resample())
        c.cancel_btn.clicked.connect(lambda: self.cancel())
        c.new_seed_btn.clicked.connect(self.new_seed)
        c.seed.valueChanged.connect(lambda _v: self._changed("Seed changed"))
        c.use_exact.toggled.connect(lambda _on: self._changed("Score source changed"))
        c.follow.toggled.connect(self._on_follow)
        c.show_paths.toggled.connect(self._request)
        c.fitRequested.connect(self.fit)
        self.playback = PlaybackBar()
        self.play_btn, self.slider = self.playback.play_btn, self.playback.slider  # the main window follows the slider
        self.slider.valueChanged.connect(self._request)
        self.dial = StochasticityDial(self)
        self.lam = self.dial.slider
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setToolTip("What the panel is doing.")

        views, left = QHBoxLayout(), QVBoxLayout()
        left.addWidget(self.sides["sde"].view, 1)
        left.addWidget(self.lam)
        views.addLayout(left, 1)
        views.addWidget(self.sides["ode"].view, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(views, 1)
        lay.addWidget(self.playback)
        lay.addWidget(c)
        lay.addWidget(self.status)

        self.threads = SideThreads(self.sides, self)
        self.threads.frameArrived.connect(self._on_frame)
        self.threads.sideDone.connect(self._on_done)
        self.x_T: torch.Tensor | None = None
        self.plan: SamplingPlan | None = None  # of the comparison shown (or running)
        self._run_args: tuple | None = None  # (score_fn, sde, normalisation, seed) of the plan: a λ re-run reuses them
        self.fit_mode = "target"
        self.view_rect: Rect = self._target_rect()
        self.hist_rect: Rect = self.view_rect  # the density images' box (the run's view at its start)
        self._queued: list[tuple[str, SamplingThread]] = []  # a refresh's second side, started when the first ends
        self._sde_cache = SdeCache()
        self._exact = ExactScores()
        self._model_dirty = False  # a model arrived after the samples shown were started
        self._refresh_after_training = False  # training stopped: resample once idle if the samples are stale
        self.redraws = 0
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        self._follow_timer = QTimer(self)
        self._follow_timer.setInterval(FOLLOW_MS)
        self._follow_timer.timeout.connect(self._follow_tick)
        self._start = QTimer(self)  # one resample for many changes in one event-loop turn
        self._start.setSingleShot(True)
        self._start.setInterval(0)
        self._start.timeout.connect(lambda: self.resample())
        state.targetChanged.connect(lambda: self._changed("Target changed", refit=True))
        state.settingsChanged.connect(self._on_settings)
        state.modelChanged.connect(self._on_model)
        state.trainingChanged.connect(self._on_training)
        self._sync_pickers()
        self._changed("")

    # ---- what to run -------------------------------------------------------------------------------------------
    def make_plan(self, light: bool = False) -> SamplingPlan:
        st = self.state
        model = st.model if st.model is not None and getattr(st.model, "image_shape", None) is None else None
        return plan_sampling(st.settings, model, self.use_exact.isChecked(), ExactScores.label(st),
                             exact_cost_points(st), light)

    def _score(self, plan: SamplingPlan):
        """(normalised score_fn, sde, normalisation) of the plan's score."""
        st = self.state
        if plan.source == "exact":
            sde = self._sde_cache.get(st)
            return self._exact.norm_score_fn(st, sde), sde, st.normalization
        model = st.model
        sde = getattr(model, "sde", None) or self._sde_cache.get(st)
        norm = getattr(model, "normalization", None) or st.normalization
        if hasattr(model, "score_fn"):
            return model.score_fn(space="norm"), sde, norm
        # a bare data-space model: s_norm(y, t) = s_data(to_data(y), t) * scale
        return (lambda y, t: torch.as_tensor(model.score(norm.to_data(y), t)).to(y.dtype) * norm.scale), sde, norm

    def _target_rect(self) -> Rect:
        return robust_rect([self.state.target_samples]) or (-1.0, 1.0, -1.0, 1.0)

    # ---- running ----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.threads.running() or bool(self._queued)

    def resample(self, light: bool = False) -> bool:
        """Start both samplers from one fresh x_T (light: a refresh while training: fewer particles, one side after
        the other, no live frames, the old pictures stay until the new ones are done). False when nothing can run."""
        self._start.stop()
        self.cancel(wait=False, say=False)
        self.playback.pause()
        st = self.state
        if st.image_mode:
            self._show_all("Image mode: the Image sampling panel samples the image model.")
            return False
        if len(st.target_samples) == 0:
            self._show_all("The target is empty: nothing to compare with.")
            return False
        plan = self.make_plan(light)
        fn, sde, norm = self._score(plan)
        seed = int(self.seed.value())
        self.threads.next_generation()
        self.plan, self._model_dirty, self._run_args = plan, False, (fn, sde, norm, seed)
        if not light:
            self.view_rect = self._fit_rect(self.fit_mode) or self.view_rect
            for s in self.sides.values():
                s.view.set_rect(self.view_rect)
        self.hist_rect = visible_rect(self.sides["sde"].plot)  # the density fills the whole (aspect-locked) plot
        self.x_T = sde.prior_sample((plan.particles, 2), generator=torch.Generator().manual_seed(seed))
        self._update_titles()
        jobs = []
        for key, s in self.sides.items():
            run = plan.sides[key]
            s.sampler = run.sampler
            if run.problem is not None:
                s.live = s.outcome = None
                s.view.clear(run.problem, plan.label)
                continue
            jobs.append((key, self.side_thread(run, light)))
        if not jobs:
            self.status.setText("Neither sampler applies to this SDE: pick others above the views.")
            self.sync_controls()
            return False
        first, self._queued = (jobs[:1], jobs[1:]) if light else (jobs, [])
        for key, th in first:
            self.threads.start(key, th)
        what = f"{plan.particles:,} particles with the {plan.label}, seed {seed}" + (f" ({plan.note})" if plan.note
                                                                                     else "")
        self.status.setText(("Refreshing: " if light else "Sampling ") + what + "…")
        self.sync_controls()
        return True

    def side_thread(self, run: SideRun, light: bool) -> SamplingThread:
        """The thread of one side of the current plan (from self.x_T and the plan's score and seed); a full run clears
        the side's outcome and says it is starting."""
        plan, (fn, sde, norm, seed), s, target = self.plan, self._run_args, self.sides[run.side], self.state.target
        job = SamplingJob(
            side=run.side, sampler=run.sampler, score_fn=fn, sde=sde, x_T=self.x_T.clone(), steps=run.steps, seed=seed,
            mean=tuple(float(v) for v in norm.mean), scale=float(norm.scale), rect=self.hist_rect,
            bins=hist_bins(plan.particles), n_dots=s.view.dots.max_points,
            n_paths=int(self.state.settings.n_trajectories), sample_target=lambda m, sd: target.sample(m, sd),
            generation=self.threads.generation, options=dict(run.options), emit_interval=LIGHT_EMIT_S if light else 0.03,
            source=plan.label,
        )
        if not light:
            s.live, s.outcome = None, None
            s.view.shown_frame = None
            s.view.message.hide()
            s.view.info.setText(f"{plan.label}\n{sampler_title(run.sampler)}: starting…")
        return SamplingThread(job)

    def new_seed(self) -> None:
        self.seed.blockSignals(True)
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))
        self.seed.blockSignals(False)
        self.resample()

    def cancel(self, wait: bool = False, timeout_ms: int = 1000, say: bool = True) -> None:
        """Cancel running samplers; with wait, block until they stopped (at most timeout_ms in all)."""
        self._queued = []
        for key in self.threads.cancel(wait, timeout_ms):
            s = self.sides[key]
            s.live = None
            if say and s.outcome is None:
                s.view.clear("Cancelled: press Resample", "Cancelled.")
        if say:
            self.status.setText("Cancelled: press Resample.")
        self.sync_controls()

    def _on_frame(self, key: str, frame: Frame) -> None:
        self.sides[key].live = frame
        self._request()

    def _on_done(self, key: str, out: Outcome) -> None:
        s = self.sides[key]
        s.outcome, s.live = out, None
        if self._queued:
            self.threads.start(*self._queued.pop(0))
        if not self.running:
            self.playback.to_end()
            self.status.setText(f"Done ({self.plan.label}, seed {self.seed.value()}). Drag the slider or press play "
                                "to replay.")
            if self.fit_mode != "target":
                self.fit(self.fit_mode)
        self.sync_controls()
        self._request()
        if not self.running:
            self._refresh_if_stale()

    def sync_controls(self) -> None:
        self.cancel_btn.setEnabled(self.running)
        has_frames = any(s.outcome is not None and s.outcome.frames for s in self.sides.values())
        self.playback.set_available(has_frames and not self.running)

    # ---- following the state: no stale pictures -------------------------------------------------------------
    def _changed(self, reason: str, refit: bool = False) -> None:
        """Target, SDE, a sampler, the score source or the seed changed: the pictures shown no longer belong to the
        labels; clear them, and with Follow resample at once (one run for many changes)."""
        self.cancel(say=False)
        self.playback.pause()
        if refit:
            self.fit_mode = "target"
        self.view_rect = self._target_rect() if self.fit_mode == "target" else self.view_rect
        for s in self.sides.values():
            s.outcome = s.live = None
            s.view.set_rect(self.view_rect)
        self.plan = None
        self.sync_controls()
        self._update_titles()
        if self.follow.isChecked():
            self._show_all(f"{reason}: sampling…" if reason else "Sampling…")
            self._start.start()
        else:
            self._show_all(f"{reason}: press Resample." if reason else "Press Resample to sample.")

    def _show_all(self, message: str) -> None:
        """No pictures: `message` in the status line and in both views."""
        self.status.setText(message)
        for s in self.sides.values():
            s.view.clear(message, "—")

    def _sync_pickers(self) -> None:
        st = self.state.settings
        for key, s in self.sides.items():
            sampler, options = side_choice(st, key)
            s.view.picker.show_choice(sampler, options)
        self.dial.sync()

    def _on_settings(self, names: set) -> None:
        if names == {"sde_sampler_options"} and self.dial.only_lam_changed():
            self._sync_pickers()
            self.dial.rerun(side_choice(self.state.settings, "sde")[1][LAM])
            return
        if names & RUN_KEYS:
            self._sync_pickers()
            self._changed("Settings changed")
        if "seed" in names:
            self.seed.setValue(int(self.state.settings.seed))

    def _on_model(self) -> None:
        model = self.state.model
        shown = self.plan.source if self.plan is not None else ""
        if model is None:
            self._model_dirty = False
            if shown == "learned" or (self.plan is None and not self.running):
                self._changed("Model reset")
            return
        self._model_dirty = True
        if self.use_exact.isChecked() or not self.follow.isChecked():
            return
        if shown != "learned" and not self.running:
            self.resample(light=self.state.training)  # the first model: show it at once
        elif shown != "learned":
            self._start.start()  # after the exact run now going (it is cancelled by the restart)
        elif not self.state.training and not self.running:
            self.resample()  # a model opened from a file

    def _on_training(self, running: bool) -> None:
        if running and self.follow.isChecked():
            self._follow_timer.start()
        else:
            self._follow_timer.stop()

    def _on_follow(self, on: bool) -> None:
        self._on_training(self.state.training)
        if on and self.plan is None and not self.running:
            self._changed("")

    def _follow_tick(self) -> None:
        if self._model_dirty and not self.running and not self.use_exact.isChecked() and self.state.model is not None:
            self.resample(light=True)

    def training_stopped(self) -> None:
        """Training paused or finished: once no sampling runs, resample (same seed, all particles) with the final
        model when the samples shown came from an older one or from a refresh (Follow or not)."""
        self._refresh_after_training = True
        QTimer.singleShot(0, self._refresh_if_stale)  # after the run's last snapshot has reached the state

    def _refresh_if_stale(self) -> None:
        if not self._refresh_after_training or self.running:
            return  # a sampling run in progress calls this again when it finishes
        self._refresh_after_training = False
        light = self.plan is not None and self.plan.particles < self.make_plan().particles
        if (self._model_dirty or light) and not self.use_exact.isChecked() and self.state.model is not None:
            self.resample()

    # ---- axes -------------------------------------------------------------------------------------------------
    def _fit_rect(self, mode: str) -> Rect | None:
        target = [self.state.target_samples]
        outs = [s.outcome for s in self.sides.values() if s.outcome is not None and s.outcome.x is not None]
        if mode == "samples":
            return robust_rect(target + [o.x for o in outs])
        if mode == "paths":
            paths = [o.paths for o in outs if o.paths is not None]  # (K, M, 2): their starts are outliers of all
            return union_rect(robust_rect(target + [o.x for o in outs]),
                              robust_rect([p[0] for p in paths] + paths, margin=0.02))
        return self._target_rect()

    def fit(self, mode: str) -> None:
        """Fit both views' axes ('samples', 'paths' or 'target'); the mode is kept for the next runs."""
        self.fit_mode = mode
        rect = self._fit_rect(mode)
        if rect is not None:
            self.view_rect = rect
            for s in self.sides.values():
                s.view.set_rect(rect)
        self._request()

    def _update_titles(self) -> None:
        st = self.state.settings
        for key, s in self.sides.items():
            s.view.set_title(sampler_title(side_choice(st, key)[0]))

    # ---- playback ---------------------------------------------------------------------------------------------
    def playback_time(self) -> float:
        return self.playback.time()

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
                frame, paths, rect = s.live, s.live.paths, self.hist_rect
            elif s.outcome is not None and s.outcome.frames:
                frame = self._frame_at(s.outcome, t_play)
                paths, path_t, rect = s.outcome.paths, s.outcome.path_times, s.outcome.rect
                if paths is not None:
                    paths = paths[path_t >= frame.t - 1e-9]
            elif s.outcome is not None:
                s.view.clear(f"Sampling failed: {s.outcome.error}" if s.outcome.error else "No samples",
                             f"{s.outcome.source}\n{outcome_text(s.sampler, s.outcome)}")
                continue
            else:
                continue
            s.view.draw(frame, paths, rect, self.show_paths.isChecked())
            source = s.outcome.source if s.live is None else (self.plan.label if self.plan is not None else "")
            run = outcome_text(s.sampler, s.outcome) if s.live is None else live_text(s.sampler, frame)
            s.view.info.setText(f"{source}\n{run}")

    def shutdown(self, timeout_ms: int = 1000) -> None:
        """Stop timers and cancel running samplers: waits at most `timeout_ms` in all; a sampler still finishing
        (e.g. inside one score chunk) is kept alive on its own until it has (never destroyed while running)."""
        self.playback.shutdown()
        self._follow_timer.stop()
        self._start.stop()
        self._redraw.stop()
        self.cancel(wait=True, timeout_ms=timeout_ms, say=False)
        self.threads.release()
