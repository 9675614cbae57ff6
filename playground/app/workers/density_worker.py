"""Background log-density maps for the Density panel: the learned log p_t on a grid, coarse first, then finer, the
target's exact log p_t beside it, and the fit report (NLL, entropy, KL), in one cancellable QThread.

The learned map integrates the PF-ODE from t (`playground.core.sampling.density_grid`, Song et al. 2021 Sec. 4.3);
the exact map is the closed form of `playground.core.diffusion.exact_density` (a Gaussian mixture, a piecewise-
constant raster or preset), at t = 0 when t is below the SDE's eps (the model's map then starts at eps, as the
CLI's `density --true-out` does). Frames are copies, emitted at most every `emit_interval` seconds and on the last
chunk; the `check` passed to the solver raises `Cancelled` after any ODE step once the job is cancelled.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from playground.app.geometry import Rect
from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.diffusion.exact_density import marginal_log_density_grid
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE
from playground.core.evaluation.density_report import DensityReport, density_report
from playground.core.sampling.density_grid import GridSpec, iter_log_density_grid
from playground.core.sampling.pf_ode_density import DensityField
from playground.data.targets.target import Target


@dataclass
class DensityJob:
    """One map: `field` the learned density (None without a model), `target` under `sde` / `normalization` for the
    exact map, over `extent` (data space) on a `size` x `size` grid at time t; `report_n` samples score the fit
    (0: no report)."""

    field: DensityField | None
    target: Target
    sde: SDE
    normalization: Normalization
    extent: Rect
    size: int
    t: float
    report_n: int = 1000
    seed: int = 0
    generation: int = 0
    emit_interval: float = 0.1


@dataclass(frozen=True)
class DensityFrame:
    """A snapshot: `learned` (size, size) nats, row 0 the lowest y (NaN before the first pass; None without a model),
    `true` the exact map (None where unknown), `true_t` its time; stride, fraction and done of the learned map's
    refinement; the solver's steps, NFE per point and Richardson error estimate (nats); wall seconds so far."""

    generation: int
    extent: Rect
    t: float
    learned: np.ndarray | None
    true: np.ndarray | None
    true_t: float
    stride: int = 0
    fraction: float = 0.0
    done: bool = False
    steps: int = 0
    nfe: int = 0
    error_estimate: float | None = None
    seconds: float = 0.0


@dataclass
class DensityOutcome:
    """The finished job: its last frame, the fit report (None without a model or when it failed), or why it stopped."""

    generation: int
    frame: DensityFrame | None = None
    report: DensityReport | None = None
    report_error: str | None = None
    error: str | None = None
    cancelled: bool = False


def true_map(job: DensityJob, t: float) -> tuple[np.ndarray | None, float]:
    """(the exact log p_t on the job's grid or None, the time it is at: 0 when t is below the SDE's eps)."""
    t_true = 0.0 if t <= job.sde.sampling_eps else float(t)
    grid = GridSpec(tuple(job.extent), job.size)
    values = marginal_log_density_grid(job.target, job.sde, t_true, grid.xs, grid.ys, job.normalization)
    return values, t_true


def compute_density_maps(job: DensityJob, cancel: threading.Event, emit) -> DensityOutcome:
    """Run `job` (module docstring): the exact map first (at once), then the learned map pass by pass, then the
    fit report; every frame goes to emit(DensityFrame)."""
    out = DensityOutcome(job.generation)
    began = time.perf_counter()

    def check() -> None:
        if cancel.is_set():
            raise Cancelled

    try:
        true, t_true = true_map(job, job.t)
        frame = DensityFrame(job.generation, job.extent, job.t, None, true, t_true, done=job.field is None,
                             seconds=time.perf_counter() - began)
        emit(frame)
        if job.field is not None:
            last_emit = 0.0
            grid = GridSpec(tuple(job.extent), job.size)
            for m in iter_log_density_grid(job.field, grid, job.t, check=check):
                check()
                frame = replace(frame, learned=m.log_density, t=m.t, stride=m.stride, fraction=m.fraction,
                                done=m.done, steps=m.steps, nfe=m.nfe, error_estimate=m.error_estimate,
                                seconds=time.perf_counter() - began)
                now = time.perf_counter()
                if m.done or now - last_emit >= job.emit_interval:
                    emit(frame)
                    last_emit = now
        out.frame = frame
        if job.field is not None and job.report_n > 0:
            try:
                out.report = density_report(job.field, job.target, job.t, n=job.report_n, seed=job.seed,
                                            check=check)
            except Cancelled:
                raise
            except Exception as e:  # the map stands; the report says why it is missing
                out.report_error = f"{type(e).__name__}: {e}"
    except Exception as e:
        return record_failure(out, e)
    return out


class DensityThread(JobThread):
    """Runs `compute_density_maps`: `frame(DensityFrame)` while it refines, `done(DensityOutcome)` at the end."""

    work = staticmethod(compute_density_maps)

    def failed(self, message: str) -> DensityOutcome:
        return DensityOutcome(self.job.generation, error=message)


__all__ = ["DensityFrame", "DensityJob", "DensityOutcome", "DensityThread", "compute_density_maps", "true_map"]
