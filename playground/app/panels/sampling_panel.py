"""Sampling panel: the reverse SDE and the probability-flow ODE side by side, from the same noise and seed.

Both sides start from ONE draw x_T = sde.prior_sample((n, 2), seed) in normalised space, run in worker threads
(`sampling_worker`), and animate live from t = T to 0 (density image of all particles + a subset of dots + the
paths of a subset). Afterwards a slider / play button replays the stored frames at matching t on both sides.
Each side reports its NFE, wall time and the SWD ratio against fresh target samples (1 = as close as two
independent target sets).

Each side is a `SamplingView` (widgets), the replay a `PlaybackBar`, the two workers a `SideThreads` (one generation
per resample); the sampler names and the ODE side's step budget are Qt-free (playground.app.samplers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

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
from playground.app.panels.exact_scores import ExactScores
from playground.app.panels.side_threads import SideThreads
from playground.app.samplers import ode_steps, sampler_name
from playground.app.widgets.playback_bar import PlaybackBar
from playground.app.widgets.plot_items import Coalescer
from playground.app.widgets.sampling_view import SamplingView, live_text, outcome_text
from playground.app.workers.sampling_worker import Frame, Outcome, SamplingJob, SamplingThread

AUTO_INTERVAL_MS = 5000


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
    """Reverse SDE (left) vs PF-ODE (right) from the same x_T; learned or exact score."""

    def __init__(self, state, parent=None, dots_max: int = 10000):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Sampling (SDE | ODE)")
        self.sides = {"sde": _Side(SamplingView("Reverse SDE", dots_max, path_alpha=75)),
                      "ode": _Side(SamplingView("Probability-flow ODE", dots_max, path_alpha=140))}
        self.sides["sde"].plot.setToolTip(
            "Reverse-time SDE dx = [f − g² s(x, t)] dt + g dw̄, integrated from t = T to 0 (stochastic).")
        self.sides["ode"].plot.setToolTip(
            "Probability-flow ODE dx/dt = f − ½ g² s(x, t), integrated from t = T to 0 (deterministic),\n"
            "from the same starting noise x_T as the SDE.")

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
        self.playback = PlaybackBar()
        self.play_btn, self.slider = self.playback.play_btn, self.playback.slider  # the main window follows the slider
        self.slider.valueChanged.connect(self._request)
        self.status = QLabel("")
        self.status.setToolTip("What the panel is doing.")
        self.cancel_btn = QPushButton("Stop")
        self.cancel_btn.setToolTip("Cancel the running sampling.")
        self.cancel_btn.clicked.connect(lambda: self.cancel())

        views = QHBoxLayout()
        for s in self.sides.values():
            views.addWidget(s.view, 1)
        row1 = QHBoxLayout()
        for w in (self.resample_btn, self.cancel_btn, self.seed, self.new_seed_btn, self.use_exact, self.auto,
                  self.show_paths):
            row1.addWidget(w)
        row1.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(views, 1)
        lay.addWidget(self.playback)
        lay.addLayout(row1)
        lay.addWidget(self.status)

        self.threads = SideThreads(self.sides, self)
        self.threads.frameArrived.connect(self._on_frame)
        self.threads.sideDone.connect(self._on_done)
        self.x_T: torch.Tensor | None = None
        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.score_source = ""
        self._sde_cache = SdeCache()
        self._exact = ExactScores()
        self._model_dirty = False  # a model arrived after the samples shown were started
        self._refresh_after_training = False  # training stopped: resample once idle if the samples are stale
        self._had_model = state.model is not None
        self.redraws = 0
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
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
            s.view.set_rect(self.view_rect)
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
        self.playback.set_available(has_frames and not self.running)

    def _source(self):
        """(label, normalised score_fn, sde, normalisation) of the score to sample with, or (message, None, ...)."""
        st = self.state
        if len(st.target_samples) == 0:
            return "The target is empty: nothing to compare with.", None, None, None
        if self.use_exact.isChecked() and has_exact_score(st):
            sde = self._sde_cache.get(st)
            return "exact score", self._exact.norm_score_fn(st, sde), sde, st.normalization
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
        return self.threads.running()

    def resample(self) -> bool:
        """Start both samplers from one fresh x_T; returns False (with a message) when there is nothing to run."""
        self.cancel(wait=False)
        self.playback.pause()
        label, fn, sde, norm = self._source()
        if fn is None:
            self.status.setText(label)
            self._show_idle_message(label)
            return False
        st = self.state
        n = max(1, int(st.settings.n_particles))
        steps = max(1, int(st.settings.sample_steps))
        seed = int(self.seed.value())
        generation = self.threads.next_generation()
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
                bins=hist_bins(n), n_dots=s.view.dots.max_points, n_paths=int(st.settings.n_trajectories),
                sample_target=sample_target,
                generation=generation,
            )
            s.sampler, s.live, s.outcome = names[key], None, None
            s.view.shown_frame = None
            s.view.message.hide()
            s.view.info.setText(f"{sampler_name(s.sampler)}: starting…")
            s.view.set_rect(self.view_rect)
            self.threads.start(key, SamplingThread(job))
        self.status.setText(f"Sampling {n:,} particles with the {label}, {steps} steps, seed {seed}…")
        self._sync_controls()
        return True

    def new_seed(self) -> None:
        self.seed.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))
        self.resample()

    def cancel(self, wait: bool = False, timeout_ms: int = 1000) -> None:
        """Cancel running samplers; with wait, block until they stopped (at most timeout_ms in all)."""
        for key in self.threads.cancel(wait, timeout_ms):
            s = self.sides[key]
            s.view.info.setText("Cancelled.")
            s.live = None
            if s.outcome is None:
                s.view.message.show("Cancelled: press Resample")
        self._sync_controls()

    def _on_frame(self, key: str, frame: Frame) -> None:
        self.sides[key].live = frame
        self._request()

    def _on_done(self, key: str, out: Outcome) -> None:
        s = self.sides[key]
        s.outcome = out
        s.live = None
        if not self.running:
            self.playback.to_end()
            self.status.setText(f"Done ({self.score_source}, seed {self.seed.value()}). "
                                "Drag the slider or press play to replay.")
        self._sync_controls()
        self._request()
        if not self.running:
            self._refresh_if_stale()

    # ---- state ------------------------------------------------------------------------------------------------
    def _clear_results(self, message: str | None = None) -> None:
        self.cancel()
        self.playback.pause()
        for s in self.sides.values():
            s.outcome, s.live, s.view.shown_frame = None, None, None
            s.view.info.setText("—")
        self._sync_controls()
        self.view_rect = self._rect()
        for s in self.sides.values():
            s.view.set_rect(self.view_rect)
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
        self.sides["sde"].view.set_title(f"Reverse SDE — {sampler_name(st.sde_sampler)}")
        self.sides["ode"].view.set_title(f"PF-ODE — {sampler_name(st.ode_sampler)}")

    def _show_idle_message(self, text: str | None = None) -> None:
        if text is None:
            text = self._source()[0] if self._source()[1] is None else "Press Resample to sample."
        for s in self.sides.values():
            s.view.clear(text)

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
                frame, paths, path_t = s.live, s.live.paths, None
            elif s.outcome is not None and s.outcome.frames:
                frame = self._frame_at(s.outcome, t_play)
                paths, path_t = s.outcome.paths, s.outcome.path_times
                if paths is not None:
                    paths = paths[path_t >= frame.t - 1e-9]
            elif s.outcome is not None:
                s.view.message.show(f"Sampling failed: {s.outcome.error}" if s.outcome.error else "No samples")
                s.view.info.setText(outcome_text(s.sampler, s.outcome))
                continue
            else:
                continue
            s.view.draw(frame, paths, self.view_rect, self.show_paths.isChecked())
            s.view.info.setText(outcome_text(s.sampler, s.outcome) if s.live is None else live_text(s.sampler, frame))

    def shutdown(self, timeout_ms: int = 1000) -> None:
        """Stop timers and cancel running samplers: waits at most `timeout_ms` in all; a sampler still finishing
        (e.g. inside one score chunk) is kept alive on its own until it has (never destroyed while running)."""
        self.playback.shutdown()
        self._auto_timer.stop()
        self._redraw.stop()
        self.cancel(wait=True, timeout_ms=timeout_ms)
        self.threads.release()
