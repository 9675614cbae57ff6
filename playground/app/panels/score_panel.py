"""Score field panel: the learned score s_theta(x, t), or the velocity field v_theta(x, t) of its probability-flow
ODE, as arrows over a heatmap, following the time slider.

Everything is in data space: model.score(x, t) and state.exact_score_fn() both return grad_x log p_t(x) of the
data-space process; the velocity (Score | Velocity) is model.velocity(x, t), the PF-ODE drift flow matching learns,
and the exact one f(t)(x - m) - g(t)^2 s^2 grad_x log p_t(x) / 2 (`Normalization.data_velocity_fn`), both evaluated
at most at the SDE's T (rectified flow's f and g blow up at t = 1). The grids are small (32^2 arrows, <= 96^2 heatmap cells), so they are evaluated on the UI
thread, at most ~30 times a second, and only when t, the model, the target or a setting changed.

Cost per frame while t moves (measured: the model on the UI thread was ~85 % of the UI's frame time with a 48^2
heatmap per frame): the arrows' 32^2 points are evaluated once and also give the heatmap (32^2 cells); the full
96^2 heatmap is computed once t and the model have been still for REFINE_MS. Results are cached per (model, t,
grid), under torch.inference_mode, and a hidden panel (closed or tabbed-away dock) does no work until shown.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QButtonGroup, QCheckBox, QLabel, QRadioButton, QSizePolicy, QVBoxLayout, QWidget

from playground.app.exact_scores import ExactScores, exact_cost_points
from playground.app.field_ladder import FieldLadder
from playground.app.geometry import Rect, SdeCache, grid_centres, has_exact_score, sample_bounds, square_rect
from playground.app.sampling_plan import model_step_text
from playground.app.widgets.flow_layout import wrapping_row
from playground.app.widgets.plot_items import CentredMessage, Coalescer, DensityImage, Quiver, plot_widget, set_view

T_FLOOR = 1e-3  # scores blow up as t -> 0; evaluate at max(t, T_FLOOR)
ARROWS = 32
HEAT_RES = 96  # the heatmap once the inputs settle
HEAT_FAST = ARROWS  # the heatmap while t moves or the model updates: the arrows' own evaluations, no extra work
REFINE_MS = 250
POINTS_BUDGET = 2e7  # heat cells x set size for an exact point-set score
LEARNED_COLOR = (255, 255, 255, 235)
EXACT_COLOR = (80, 255, 140, 235)
CACHE_SIZE = 48  # evaluated grids kept (per model and target; cleared when either changes)
FIELDS = {  # field kind -> (plot title, symbol, what it is)
    "score": ("Score field  s(x, t) = ∇ₓ log p_t(x)", "s", "score"),
    "velocity": ("Velocity field  v(x, t) = f(x, t) − ½ g(t)² ∇ₓ log p_t(x)", "v", "velocity"),
}


def _eval_times(score_fn, pts: np.ndarray, ts: list[float], dtype: torch.dtype = torch.float32) -> list[np.ndarray]:
    """score_fn on data-space points (M, 2) at each t of ts, in one call (per-row times), in `dtype` -> float64
    (M, 2) numpy each."""
    x = torch.as_tensor(pts, dtype=dtype).repeat(len(ts), 1)
    tt = torch.as_tensor(np.repeat(np.asarray(ts, np.float64), len(pts)), dtype=dtype)
    with torch.inference_mode():
        out = score_fn(x, tt)
    out = out.detach().cpu().numpy() if torch.is_tensor(out) else np.asarray(out)
    return list(np.asarray(out, np.float64).reshape(len(ts), len(pts), 2))


def _eval(score_fn, pts: np.ndarray, t: float, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """score_fn on data-space points (M, 2) at one t, in `dtype` -> float64 (M, 2) numpy."""
    return _eval_times(score_fn, pts, [t], dtype)[0]


class ScoreFieldPanel(QWidget):
    """Arrows of s_theta or v_theta (white) and optionally the exact field (green) over its magnitude or the error."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Score field")
        self.plot = plot_widget(FIELDS["score"][0])
        self.plot.setToolTip("Arrows: the score ∇ₓ log p_t(x), or the PF-ODE velocity v(x, t), on a 32×32 grid\n"
                             "(white: learned, green: exact). Heatmap: its magnitude, or the error learned − exact\n"
                             "when 'Error heatmap' is on.")
        pi = self.plot.getPlotItem()
        self.heat = DensityImage(pi, bins=HEAT_RES, colormap="viridis")
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False,
                                        label="|s|", width=14)
        self.colorbar.setImageItem(self.heat.item, insert_in=pi)
        self.learned_quiver = Quiver(pi, color=LEARNED_COLOR, width=1.5, z=10)
        self.exact_quiver = Quiver(pi, color=EXACT_COLOR, width=1.2, z=11)
        self.message = CentredMessage(pi)

        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setToolTip("Time the score is evaluated at (t is floored at 1e-3, where scores blow up) and the\n"
                             "arrow legend: arrow length grows as √|s| (or √|v|: weak and strong regions both\n"
                             "read); an arrow one grid cell long stands for |s| = scale. The heatmap and its colour\n"
                             "bar give |s| itself. The velocity is evaluated at most at the SDE's T.")
        self.show_exact = QCheckBox("Exact")
        self.show_exact.setToolTip("Overlay the exact score of the target (green arrows): closed form for a Gaussian\n"
                                   "mixture, the ideal denoiser's (α D(x) − x)/σ² for a point set; the exact\n"
                                   "velocity is built from it.")
        self.show_error = QCheckBox("Error")
        self.show_error.setToolTip("Colour by the error |s_θ(x, t) − ∇ log p_t(x)| (or |v_θ − v|) instead of the\n"
                                   "magnitude (needs a model and an exact score).")
        self.show_learned = QCheckBox("Learned")
        self.show_learned.setChecked(True)
        self.show_learned.setToolTip("Show the network's score s_θ(x, t) (or velocity v_θ) as white arrows.")
        for cb in (self.show_learned, self.show_exact, self.show_error):
            cb.toggled.connect(self._request)
        self.show_score = QRadioButton("Score")
        self.show_score.setChecked(True)
        self.show_score.setToolTip("Arrows of the score ∇ₓ log p_t(x): where density grows fastest.")
        self.show_velocity = QRadioButton("Velocity")
        self.show_velocity.setToolTip(
            "Arrows of the probability-flow ODE's velocity v(x, t) = f(x, t) − ½ g(t)² ∇ₓ log p_t(x) (Song et al.\n"
            "2021, Eq. 13): how particles move as t grows (sampling runs them backwards). Flow matching learns it\n"
            "directly (output v); for every other output it is converted from the score.")
        self._field_buttons = QButtonGroup(self)
        for b in (self.show_score, self.show_velocity):
            self._field_buttons.addButton(b)
        self.show_velocity.toggled.connect(self._on_field)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.info)
        lay.addWidget(self.plot, 1)
        lay.addWidget(wrapping_row((self.show_score, self.show_velocity, self.show_learned, self.show_exact,
                                    self.show_error)))

        # results of the last redraw, for tests and tools
        self.view_rect: Rect = (-1.0, 1.0, -1.0, 1.0)
        self.arrow_points = np.zeros((0, 2))
        self.learned_field: np.ndarray | None = None
        self.exact_field: np.ndarray | None = None
        self.heat_values: np.ndarray | None = None
        self.heat_kind = ""
        self._bar_label = "|s|"
        self.t_eval = T_FLOOR
        self.redraws = 0
        self._redraw = Coalescer(self.redraw, parent=self, widget=self)
        self._refine = QTimer(self)
        self._refine.setSingleShot(True)
        self._refine.setInterval(REFINE_MS)
        self._refine.timeout.connect(self.refine)
        self._heat_ctx: tuple | None = None
        self._sde_cache = SdeCache()
        self._exact = ExactScores()
        self._cache: OrderedDict = OrderedDict()  # (kind, t, rect, res) -> (res^2, 2) score values
        self._cache_src: tuple | None = None  # what the cached values were computed from
        self.evaluations = 0  # grids evaluated (cache misses), for tests and benches
        self._ladders: dict[tuple, FieldLadder] = {}  # (kind, t range, rect, res) -> the arrows' field ladder
        self.animating = False  # the time bar plays: the arrows come from the ladder (set_animating)
        self.heat_res = 0
        state.targetChanged.connect(self._on_target)
        state.settingsChanged.connect(self._request)
        state.timeChanged.connect(self._request)
        state.modelChanged.connect(self._request)
        state.imagesChanged.connect(self._request)
        self._on_target()
        self._redraw.flush()

    def _on_target(self) -> None:
        b = sample_bounds(self.state.target_samples, margin=0.1)
        self.view_rect = square_rect(b) if b is not None else (-1.0, 1.0, -1.0, 1.0)
        self._request()

    def _request(self, *_) -> None:
        self._redraw.request()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._redraw.shown()

    def set_animating(self, on: bool) -> None:
        """While the time bar plays, the arrows' field at each new t is interpolated from a ladder of evaluated t
        (FieldLadder: a network evaluation only when t passes a new rung); once it stops, t is evaluated exactly."""
        if on != self.animating:
            self.animating = on
            if not on:
                self._request()

    # ---- evaluation cache -------------------------------------------------------------------------------------
    def _cached_eval(self, kind: str, fn, pts: np.ndarray, t: float, rect: Rect, res: int,
                     t_hi: float | None = None) -> np.ndarray:
        """fn on the res x res grid over rect at t ('learned' or 'exact'), from the cache when it has it; while
        animating, interpolated from the field's ladder over [T_FLOOR, t_hi] (t_hi: the largest t shown)."""
        st = self.state
        src = (st.model, id(st.target), id(st.target_samples), st.normalization, st.settings)
        if self._cache_src is None or len(src) != len(self._cache_src) or any(
                a is not b and a != b for a, b in zip(src, self._cache_src)):
            self._cache.clear()
            self._ladders.clear()
            self._cache_src = src
        ladder = self.animating and t_hi is not None and t_hi > T_FLOOR
        for key in ((kind, t, rect, res, False), (kind, t, rect, res, True))[:1 + ladder]:  # exact, interpolated
            out = self._cache.get(key)
            if out is not None:
                self._cache.move_to_end(key)
                return out
        out = self._ladder_eval(kind, fn, pts, t, rect, res, t_hi) if ladder else None
        if out is not None:
            self._remember((kind, t, rect, res, True), out)
            return out
        # the exact fields compute in float64 anyway; in float32 the velocity near t = 1 (a small difference of two
        # large terms, f x and g^2 s / 2) would lose three digits
        out = _eval(fn, pts, t, torch.float64 if kind.startswith("exact") else torch.float32)
        self.evaluations += 1
        self._remember((kind, t, rect, res, False), out)
        return out

    def _remember(self, key: tuple, values: np.ndarray) -> None:
        self._cache[key] = values
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _ladder_eval(self, kind: str, fn, pts: np.ndarray, t: float, rect: Rect, res: int,
                     t_hi: float) -> np.ndarray | None:
        """The field at t from its ladder (None where the ladder cannot give it: the caller evaluates t)."""
        key = (kind, t_hi, rect, res)
        ladder = self._ladders.get(key)
        if ladder is None:
            ladder = self._ladders[key] = FieldLadder(self._sde_cache.get(self.state), T_FLOOR, t_hi)
        if not ladder.covers(t):
            return None
        exact = kind.startswith("exact")
        dtype = torch.float64 if exact else torch.float32

        def evaluate(ts: list[float]) -> list[np.ndarray]:
            self.evaluations += len(ts)
            if exact:  # the exact fields' fast paths take one t per call
                return [_eval(fn, pts, tt, dtype) for tt in ts]
            return _eval_times(fn, pts, ts, dtype)

        return ladder.at(t, evaluate)

    def exact_score_fn(self):
        """The data-space exact score (as state.exact_score_fn), with the one-t fast path for a GMM target."""
        st = self.state
        if not has_exact_score(st):
            return None
        return st.normalization.data_score_fn(self._exact.norm_score_fn(st, self._sde_cache.get(st)))

    @property
    def field(self) -> str:
        """The field the arrows show: 'score' or 'velocity' (the Score | Velocity buttons)."""
        return "velocity" if self.show_velocity.isChecked() else "score"

    def exact_field_fn(self):
        """The exact data-space field shown (score, or the PF-ODE velocity built from it), or None."""
        score = self.exact_score_fn()
        if score is None or self.field == "score":
            return score
        return self.state.normalization.data_velocity_fn(self._sde_cache.get(self.state), score)

    def learned_field_fn(self, model):
        """The model's data-space field shown: model.score, or model.velocity (a model without one, e.g. a bare
        score function, gets the velocity its score implies under the state's SDE)."""
        if self.field == "score":
            return model.score
        if hasattr(model, "velocity"):
            return model.velocity
        return self.state.normalization.data_velocity_fn(self._sde_cache.get(self.state), model.score)

    def _on_field(self, *_) -> None:
        """Score | Velocity: the title and the arrows follow."""
        title, _sym, _what = FIELDS[self.field]
        self.plot.getPlotItem().setTitle(title)
        self.message.hide()
        self._request()

    def _sync_controls(self, has_model: bool, has_exact: bool) -> None:
        self.show_exact.setEnabled(has_exact)
        self.show_error.setEnabled(has_model and has_exact)
        self.show_learned.setEnabled(has_model)

    def redraw(self) -> None:
        st = self.state
        if st.image_mode:  # this 2D view is hidden then (its model and normalisation are the images'); it redraws on
            return  # leaving image mode
        self.redraws += 1
        rect = self.view_rect
        set_view(self.plot, rect)
        model = st.model
        exact_fn = self.exact_field_fn()
        learned_fn = self.learned_field_fn(model) if model is not None else None
        has_model, has_exact = model is not None, exact_fn is not None
        self._sync_controls(has_model, has_exact)
        _title, sym, what = FIELDS[self.field]
        t = max(float(st.t), T_FLOOR)
        t_hi = float(self._sde_cache.get(st).T)  # the time bar's end
        if self.field == "velocity":  # f and g of rectified flow blow up at t = 1: the path runs to its T
            t_hi = float(getattr(getattr(model, "sde", None), "T", t_hi))
            t = min(t, t_hi)
        self.t_eval = t
        self.learned_field = self.exact_field = self.heat_values = None
        if not has_model and not has_exact:
            self._clear_field("The target is empty: nothing to show.", "Empty target")
            return
        self.message.hide()

        cell = (rect[1] - rect[0]) / ARROWS
        _, _, apts = grid_centres(rect, ARROWS)
        self.arrow_points = apts
        draw_learned = has_model and self.show_learned.isChecked()
        draw_exact = has_exact and (self.show_exact.isChecked() or not has_model)
        error_mode = has_model and has_exact and self.show_error.isChecked()
        notes = []
        try:
            if has_model:
                self.learned_field = self._cached_eval(f"learned {what}", learned_fn, apts, t, rect, ARROWS, t_hi)
            if draw_exact or error_mode:
                self.exact_field = self._cached_eval(f"exact {what}", exact_fn, apts, t, rect, ARROWS, t_hi)
        except Exception as e:  # a broken model or score: say so, never crash the window
            self._clear_field(f"Could not evaluate the {what}: {type(e).__name__}: {e}",
                              f"{what.capitalize()} evaluation failed")
            return

        # arrows: one scale for both sets so their lengths compare; normalised to the learned field when shown
        ref = self.learned_field if draw_learned else self.exact_field
        scale = self.learned_quiver.set_field(apts, ref, cell) if draw_learned else None
        if draw_learned:
            self.learned_quiver.set_visible(True)
        else:
            self.learned_quiver.clear()
        if draw_exact:
            scale = self.exact_quiver.set_field(apts, self.exact_field, cell, scale=scale)
            self.exact_quiver.set_visible(True)
        else:
            self.exact_quiver.clear()
        if self.learned_field is not None and not np.isfinite(self.learned_field).all():
            notes.append(f"{int((~np.isfinite(self.learned_field).all(1)).sum())} non-finite learned vectors")

        # heatmap: the arrows' grid now (no extra evaluation), the fine grid once the inputs settle (or at once
        # when the fine grid is cached)
        self._heat_ctx = (learned_fn, exact_fn, t, rect, error_mode, t_hi)
        try:
            fine = self._heat_res(error_mode or model is None, HEAT_RES)
            if self._has_heat(has_model, error_mode, t, rect, fine):
                self._draw_heat(*self._heat_ctx, res=HEAT_RES)
                self._refine.stop()
            else:
                self._draw_heat(*self._heat_ctx, res=HEAT_FAST)
                self._refine.start()
        except Exception as e:
            self.heat.clear()
            notes.append(f"heatmap failed: {e}")
        source = (f"learned {sym}_θ, {model_step_text(model)}" if has_model else
                  f"no model yet: the exact {what} ({ExactScores.label(st)})")
        arrows = " + ".join(k for k, on in (("white: learned", draw_learned), ("green: exact", draw_exact)) if on)
        legend = (f", one grid cell = |{sym}| {scale:.3g}" if scale is not None and math.isfinite(scale) else "")
        self.info.setText(f"t = {t:.3f} · {source}\narrows ({arrows}) ∝ √|{sym}|{legend} · heatmap {self.heat_kind}"
                          + (" · " + "; ".join(notes) if notes else ""))

    def _clear_field(self, info: str, message: str) -> None:
        """Nothing to draw: no arrows, no heatmap, the colour bar back to its neutral range and label."""
        self._heat_ctx = None
        self.learned_quiver.clear()
        self.exact_quiver.clear()
        self.heat.clear()
        self.colorbar.setLevels((0.0, 1.0))
        self._set_bar_label(f"|{FIELDS[self.field][1]}|")
        self.info.setText(info)
        self.message.show(message)

    def _set_bar_label(self, label: str) -> None:
        if label != self._bar_label:
            self._bar_label = label
            self.colorbar.getAxis("left").setLabel(label)

    def refine(self) -> None:
        """Redraw the heatmap at full resolution (HEAT_RES) from the last redraw's inputs."""
        self._refine.stop()
        if self._heat_ctx is None or self._redraw.active:
            return
        if self._redraw._hidden():  # a closed or tabbed-away dock: redraw (and refine) once it shows again
            self._redraw.pending = True
            return
        try:
            self._draw_heat(*self._heat_ctx, res=HEAT_RES)
        except Exception:
            pass  # the coarse heatmap stays

    def _heat_res(self, need_exact: bool, res: int) -> int:
        m = exact_cost_points(self.state)
        if need_exact and m:
            return int(np.clip(math.sqrt(POINTS_BUDGET / m), 32, res))
        return res

    def _has_heat(self, has_model: bool, error_mode: bool, t: float, rect: Rect, res: int) -> bool:
        what = FIELDS[self.field][2]
        kinds = [f"learned {what}"] if has_model else []
        if error_mode or not has_model:
            kinds.append(f"exact {what}")
        return all((k, t, rect, res, False) in self._cache for k in kinds)

    def _draw_heat(self, learned_fn, exact_fn, t: float, rect: Rect, error_mode: bool, t_hi: float,
                   res: int = HEAT_RES) -> None:
        """The heatmap from the learned field (a function, None without a model) or the exact one (on the arrows'
        grid: their values, interpolated from the ladder too while animating)."""
        need_exact = error_mode or learned_fn is None
        res = self._heat_res(need_exact, res)
        self.heat_res = res
        _, _, hpts = grid_centres(rect, res)
        _title, sym, what = FIELDS[self.field]
        top = t_hi if res == ARROWS else None

        def learned():
            return self._cached_eval(f"learned {what}", learned_fn, hpts, t, rect, res, top)

        def exact():
            return self._cached_eval(f"exact {what}", exact_fn, hpts, t, rect, res, top)

        if error_mode:
            diff = learned() - exact()
            values = np.hypot(diff[:, 0], diff[:, 1])
            self.heat_kind = f"error |{sym}_θ − {sym}|"
            label = f"|{sym}_θ − {sym}|"
        else:
            s = learned() if learned_fn is not None else exact()
            values = np.hypot(s[:, 0], s[:, 1])
            self.heat_kind = f"|{sym}_θ|" if learned_fn is not None else f"|{sym}| (exact)"
            label = f"|{sym}_θ|" if learned_fn is not None else f"|{sym}|"
        values = values.reshape(res, res)
        self.heat_values = values
        finite = np.isfinite(values)
        hi = float(np.percentile(values[finite], 99)) if finite.any() else 1.0
        hi = hi if hi > 1e-12 else 1e-12
        self.heat.set_grid(values, rect, levels=(0.0, hi))
        self.colorbar.setLevels((0.0, hi))
        self._set_bar_label(label)

    def shutdown(self) -> None:
        self._redraw.stop()
        self._refine.stop()
