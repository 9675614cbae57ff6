"""A field f(x, t) on a fixed set of points at any t in [t_lo, t_hi], interpolated between a ladder of evaluated t
values ("rungs"), so that an animation of t costs a network evaluation only when it passes a new rung.

The rungs are uniform in the log signal-to-noise ratio lambda(t) = log(alpha(t)^2 / sigma(t)^2) of the SDE's
marginal (Kingma et al. 2021, "Variational Diffusion Models", Eq. 3), along which the perturbed density, and so its
score, changes at an even pace (t itself crowds all of the change near t = 0). Between two rungs the field is
interpolated linearly in lambda after dividing each rung by its RMS magnitude over the points, and the RMS
magnitude is interpolated in log space (linear in lambda): a fixed shape times a power of the SNR (VE's score
scale 1 / sigma(t) = exp(lambda / 2)) is reproduced exactly, and the score's growth as t -> 0 costs no accuracy. Rungs are evaluated lazily, several in one call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

RUNGS = 48  # rungs over [t_lo, t_hi]: at most ~1 % RMS error against evaluating t (tests/app/test_field_ladder.py)
_TABLE = 2049  # t samples of the lambda(t) table the rungs are placed from


def log_snr_table(sde, t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(t, lambda(t)) on a fine grid of [t_lo, t_hi]; where lambda is not finite and strictly decreasing over the range,
    -t instead (rungs uniform in t)."""
    ts = np.linspace(t_lo, t_hi, _TABLE)
    with torch.no_grad():
        a, s = sde.marginal_coefficients(torch.as_tensor(ts, dtype=torch.float64))
    lam = (2.0 * (torch.log(a) - torch.log(s))).numpy()
    if not (np.isfinite(lam).all() and (np.diff(lam) < 0).all()):
        lam = -ts
    return ts, lam


class FieldLadder:
    """Values of a field on fixed points at evaluated t ("knots": ladder rungs, or a t evaluated directly), and the
    field at any t from the two nearest knots around it within its rung interval. A t with no knot in its interval is
    evaluated directly (and kept); one with a knot on one side only gets the rung on the other side: an animation
    costs one evaluation per rung it passes, and never more than one per frame, however fast t moves."""

    def __init__(self, sde, t_lo: float, t_hi: float, rungs: int = RUNGS):
        self.t_lo, self.t_hi = float(t_lo), float(t_hi)
        self._ts, self._lam = log_snr_table(sde, self.t_lo, self.t_hi)
        self._rung_lam = np.linspace(self._lam[0], self._lam[-1], rungs)  # decreasing, as lambda(t)
        self.rung_t = np.interp(-self._rung_lam, -self._lam, self._ts)  # np.interp needs increasing abscissae
        self.rung_t[0], self.rung_t[-1] = self.t_lo, self.t_hi
        # t -> (lambda, field / its RMS, log RMS); the field None where it is not finite or zero everywhere
        self._knots: dict[float, tuple[float, np.ndarray | None, float]] = {}
        self.evaluated = 0  # knots evaluated so far

    def covers(self, t: float) -> bool:
        return self.t_lo <= t <= self.t_hi

    def _lambda(self, t: float) -> float:
        return float(np.interp(t, self._ts, self._lam))

    def _add(self, t: float, values: np.ndarray) -> None:
        values = np.asarray(values, np.float64)
        rms = float(np.sqrt(np.mean(values * values))) if values.size else 0.0
        ok = bool(np.isfinite(values).all()) and np.isfinite(rms) and rms > 0
        self._knots[t] = (self._lambda(t), values / rms if ok else None, float(np.log(rms)) if ok else float("nan"))
        self.evaluated += 1

    def at(self, t: float, evaluate: Callable[[list[float]], list[np.ndarray]]) -> np.ndarray | None:
        """The field at t, evaluating at most one knot with evaluate(ts) -> one (M, d) array per t; None where a
        knot's field is not finite or is zero everywhere (the caller evaluates t itself then)."""
        t = float(t)
        i = int(np.clip(np.searchsorted(self.rung_t, t, side="right") - 1, 0, len(self.rung_t) - 2))
        r0, r1 = float(self.rung_t[i]), float(self.rung_t[i + 1])
        inside = [k for k in self._knots if r0 <= k <= r1]
        below = max((k for k in inside if k <= t), default=None)
        above = min((k for k in inside if k >= t), default=None)
        if below is None or above is None:
            new = t if below is None and above is None else (r0 if below is None else r1)
            self._add(new, evaluate([new])[0])
            below = new if below is None else below
            above = new if above is None else above
        (l0, a, g0), (l1, b, g1) = self._knots[below], self._knots[above]
        if a is None or b is None:
            return None
        w = 0.0 if l1 == l0 else float(np.clip((self._lambda(t) - l0) / (l1 - l0), 0.0, 1.0))
        return ((1 - w) * a + w * b) * np.exp((1 - w) * g0 + w * g1)
