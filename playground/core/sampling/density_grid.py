"""Log-density maps: log p_t on a G x G grid, computed progressively (coarse first), in chunks, cancellable.

The grid's points are cell centres of `GridSpec.extent`; row 0 is the lowest y, column 0 the lowest x (a heatmap over
the extent). Points are solved in passes of decreasing stride s = 2^k, ..., 2, 1: pass s computes the points whose
row and column are multiples of s that no earlier pass did. Nothing is computed twice, and every partial map is a
full (G, G) array in which each point not yet solved shows the value of the nearest solved point above-left of it
in the current stride (blocks of s x s): a coarse map at once, sharpening pass by pass.

The first pass is also the pilot of the error control (`pf_ode_density`): with steps=None its points are solved at
N = start, 2 start, ... steps until Richardson's estimate is below `tol` nats, then every later point uses that N; with
a fixed N the estimate is still reported (from one extra N / 2 solve of the pilot points, a few % of the work).

    for frame in iter_log_density_grid(field, GridSpec((-4, 4, -4, 4), 128), t=0.0):
        show(frame.log_density)            # (G, G) float64, a copy; frame.done on the last one

Stop iterating (or raise from `check`, called after every ODE step) to cancel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from playground.core.sampling.pf_ode_density import (
    CHUNK,
    DEFAULT_TOL,
    DensityField,
    StepCheck,
    choose_steps,
    method_stages,
    solve_log_density,
)

PILOT_POINTS = 256
"""The first pass has about this many points (its stride is the largest power of 2 giving at least this many)."""


@dataclass(frozen=True)
class GridSpec:
    """A G x G grid of cell centres over extent = (xmin, xmax, ymin, ymax); row 0 lowest y, column 0 lowest x."""

    extent: tuple[float, float, float, float]
    size: int

    def __post_init__(self):
        xmin, xmax, ymin, ymax = (float(v) for v in self.extent)
        if not all(math.isfinite(v) for v in (xmin, xmax, ymin, ymax)) or not (xmin < xmax and ymin < ymax):
            raise ValueError(f"extent must be finite with xmin < xmax and ymin < ymax, got {self.extent}")
        if not 2 <= int(self.size) <= 4096:
            raise ValueError(f"grid size must lie in 2..4096, got {self.size}")
        object.__setattr__(self, "extent", (xmin, xmax, ymin, ymax))
        object.__setattr__(self, "size", int(self.size))

    @property
    def xs(self) -> np.ndarray:
        xmin, xmax, _, _ = self.extent
        return xmin + (np.arange(self.size) + 0.5) * (xmax - xmin) / self.size

    @property
    def ys(self) -> np.ndarray:
        _, _, ymin, ymax = self.extent
        return ymin + (np.arange(self.size) + 0.5) * (ymax - ymin) / self.size

    def points(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(len(rows), 2) points (x, y) of the given grid rows and columns."""
        return np.stack([self.xs[cols], self.ys[rows]], 1)


@dataclass
class DensityMap:
    """A (partial) log-density map.

    log_density: (G, G) float64 nats (data space), a copy; stride: the block size still shown (1 when every point
    has its own value); fraction: solved points / G^2; done: the final map. t: the time the ODE started at (t
    asked, raised to eps). steps, method: the solver's; nfe: score evaluations per point (steps x stages);
    error_estimate: Richardson's estimate of the largest solver error (nats) over relevant pilot points, None when
    it could not be formed; score_calls: batched score evaluations so far; seconds: wall time so far.
    """

    log_density: np.ndarray
    grid: GridSpec
    t: float
    stride: int
    fraction: float
    done: bool
    steps: int
    method: str
    nfe: int
    error_estimate: float | None
    score_calls: int
    seconds: float


def passes(size: int, pilot_points: int = PILOT_POINTS) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(stride, rows, cols)] coarse to fine, covering every grid point exactly once."""
    stride = 1
    while stride * 2 < size and math.ceil(size / (stride * 2)) ** 2 >= pilot_points:
        stride *= 2
    out, done = [], np.zeros((size, size), bool)
    while stride >= 1:
        mask = np.zeros((size, size), bool)
        mask[::stride, ::stride] = True
        mask &= ~done
        rows, cols = np.nonzero(mask)
        out.append((stride, rows, cols))
        done |= mask
        stride //= 2
    return out


def iter_log_density_grid(
    field: DensityField, grid: GridSpec, t: float, *, steps: int | None = None, tol: float = DEFAULT_TOL,
    method: str = "rk3", start_steps: int = 16, max_steps: int = 256, chunk: int = CHUNK, eps: float | None = None,
    check: StepCheck | None = None,
) -> Iterator[DensityMap]:  # fmt: skip
    """Yield partial maps of log p_t (data space) after every chunk, the last with done=True (module docstring).

    t in [0, T] (raised to eps, default the SDE's sampling_eps); steps: fixed, or None to choose by `tol`
    (start_steps doubling up to max_steps); chunk: points solved per batch."""
    sde = field.sde
    eps = sde.sampling_eps if eps is None else float(eps)
    if not 0 <= t <= sde.T:
        raise ValueError(f"t must lie in [0, {sde.T}], got {t}")
    t = max(float(t), eps)
    began = time.perf_counter()
    g = grid.size
    display = np.full((g, g), np.nan)
    plan = passes(g)

    stride0, rows0, cols0 = plan[0]
    pilot = choose_steps(field, torch.as_tensor(grid.points(rows0, cols0)), t, steps=steps, tol=tol, method=method,
                         start_steps=start_steps, max_steps=max_steps, check=check)
    chosen, error, calls = pilot.steps, pilot.error_estimate, pilot.nfe
    stages = method_stages(method)
    solved = 0

    def frame(stride: int) -> DensityMap:
        return DensityMap(display.copy(), grid, t, stride, solved / (g * g), solved == g * g, chosen, method,
                          chosen * stages, error, calls, time.perf_counter() - began)

    def place(rows, cols, logp, stride):
        nonlocal solved
        for a in range(stride):
            for b in range(stride):
                r, c = rows + a, cols + b
                keep = (r < g) & (c < g)
                display[r[keep], c[keep]] = logp[keep]
        solved += len(rows)

    place(rows0, cols0, pilot.logp.numpy(), stride0)
    yield frame(stride0)
    for stride, rows, cols in plan[1:]:
        for s in range(0, len(rows), chunk):
            r, c = rows[s : s + chunk], cols[s : s + chunk]
            part = solve_log_density(field, torch.as_tensor(grid.points(r, c)), t, chosen, method, check)
            calls += part.nfe
            place(r, c, part.logp.numpy(), stride)
            yield frame(stride if solved < g * g else 1)


def log_density_grid(field: DensityField, grid: GridSpec, t: float, callback=None, **options) -> DensityMap:
    """The finished map (see `iter_log_density_grid` for the options); callback(DensityMap) gets every frame."""
    last = None
    for last in iter_log_density_grid(field, grid, t, **options):
        if callback is not None:
            callback(last)
    return last
