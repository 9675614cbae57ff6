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
    """Values of a field on fixed points at the ladder's rungs, and the field at any t between them."""

    def __init__(self, sde, t_lo: float, t_hi: float, rungs: int = RUNGS):
        self.t_lo, self.t_hi = float(t_lo), float(t_hi)
        self._ts, self._lam = log_snr_table(sde, self.t_lo, self.t_hi)
        self._rung_lam = np.linspace(self._lam[0], self._lam[-1], rungs)  # decreasing, as lambda(t)
        self.rung_t = np.interp(-self._rung_lam, -self._lam, self._ts)  # np.interp needs increasing abscissae
        self._shape: dict[int, np.ndarray | None] = {}  # rung -> field / its RMS (None: not finite or zero)
        self._log_rms: dict[int, float] = {}
        self.evaluated = 0  # rungs evaluated so far

    def covers(self, t: float) -> bool:
        return self.t_lo <= t <= self.t_hi

    def _bracket(self, t: float) -> tuple[int, int, float]:
        """The rungs i, i + 1 around t and the weight of rung i + 1 (linear in lambda)."""
        lam = float(np.interp(t, self._ts, self._lam))  # (the table's linear interpolation: rungs stay exact)
        i = int(np.clip(np.searchsorted(-self._rung_lam, -lam, side="right") - 1, 0, len(self.rung_t) - 2))
        l0, l1 = self._rung_lam[i], self._rung_lam[i + 1]
        w = 0.0 if l1 == l0 else float(np.clip((lam - l0) / (l1 - l0), 0.0, 1.0))
        return i, i + 1, w

    def at(self, t: float, evaluate: Callable[[list[float]], list[np.ndarray]]) -> np.ndarray | None:
        """The field at t, evaluating missing rungs with evaluate(ts) -> one (M, d) array per t; None where a rung's
        field is not finite or is zero everywhere (the caller evaluates t itself then)."""
        i, j, w = self._bracket(t)
        missing = [k for k in (i, j) if k not in self._shape]
        if missing:
            for k, values in zip(missing, evaluate([float(self.rung_t[k]) for k in missing])):
                values = np.asarray(values, np.float64)
                rms = float(np.sqrt(np.mean(values * values))) if values.size else 0.0
                ok = np.isfinite(values).all() and np.isfinite(rms) and rms > 0
                self._shape[k] = values / rms if ok else None
                self._log_rms[k] = float(np.log(rms)) if ok else float("nan")
                self.evaluated += 1
        a, b = self._shape[i], self._shape[j]
        if a is None or b is None:
            return None
        log_rms = (1 - w) * self._log_rms[i] + w * self._log_rms[j]
        return ((1 - w) * a + w * b) * np.exp(log_rms)
