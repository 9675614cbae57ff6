"""Background sampling for the Sampling panel: one QThread per side, numpy snapshots out, cancellable.

The thread runs a sampler of `playground.core.sampling.samplers` in NORMALISED space and turns every step into a `Frame`:
a data-space histogram (the density image, uint8) of all particles, a copy of the first `n_dots` particles and the paths
of the first `n_paths` so far. Frames are new arrays, never mutated after they are emitted, so the UI can keep them.
Live frames are emitted at most every `emit_interval` seconds (the UI redraws the latest one); the finished
`Outcome` holds the stored frames for playback, the final samples, NFE, wall time and the SWD report; a PF-ODE
solver's also the straightness of its paths (Liu et al. 2023; `core.evaluation.straightness`), measured on the first
STRAIGHTNESS_PATHS particles at the path points (every step up to MAX_PATH_POINTS of them).

Cancellation: `cancel()` sets a flag checked before every score evaluation (of at most SCORE_CHUNK particles) and in
every step callback; the sampler is unwound by an exception, so a run stops within one chunk's evaluation.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from playground.app.geometry import Rect, histogram2d, smooth121
from playground.app.samplers import SPECS
from playground.app.workers.job_thread import Cancelled, JobThread, record_failure

MAX_FRAMES = 120  # frames kept for playback per side
MAX_PATH_POINTS = 400  # points kept per trajectory
SCORE_CHUNK = 16384  # particles per score call: bounds the cancel latency at 100k particles
SWD_MAX = 20000  # samples scored by the SWD report (4 chunks of 5000; the samples are iid given x_T)
STRAIGHTNESS_PATHS = 1000  # the ODE side's paths whose straightness the outcome reports


@dataclass(frozen=True)
class Frame:
    """One snapshot of a run (data space). image: the particle histogram (bins, bins), row-major (y, x) over the
    job's rect, as uint8 sqrt(count / max count) * 255, ready for a colour lookup table."""

    i: int
    steps: int
    t: float
    nfe: int
    image: np.ndarray
    dots: np.ndarray
    paths: np.ndarray | None = None  # (K, M, 2) so far, only on live frames
    n_nonfinite: int = 0


@dataclass
class SamplingJob:
    side: str  # "sde" | "ode"
    sampler: str  # a key of SAMPLERS
    score_fn: Callable  # normalised-space score (y, t) -> grad_y log p_t(y)
    sde: object  # the SDE in normalised space
    x_T: torch.Tensor  # (n, 2) normalised start, shared by both sides
    steps: int
    seed: int
    mean: tuple[float, float]  # normalisation: data = mean + scale * y
    scale: float
    rect: Rect  # histogram rectangle in data space
    bins: int = 256
    n_dots: int = 10000
    n_paths: int = 64
    sample_target: Callable[[int, int], np.ndarray] | None = None  # for the SWD report
    generation: int = 0
    emit_interval: float = 0.03
    options: dict = field(default_factory=dict)  # the sampler's keyword options
    source: str = ""  # where the score comes from, as the views say it ('learned score, model at step 420')


@dataclass
class Outcome:
    side: str
    sampler: str
    generation: int
    x: np.ndarray | None = None  # (n, 2) data space
    x_T: np.ndarray | None = None  # (n, 2) normalised start actually used
    nfe: int = 0
    steps: int = 0
    seconds: float = 0.0
    frames: list[Frame] = field(default_factory=list)
    paths: np.ndarray | None = None  # (K, M, 2) data space
    path_times: np.ndarray | None = None  # (K,)
    swd: float = float("nan")
    swd_floor: float = float("nan")
    swd_ratio: float = float("nan")
    straightness: float = float("nan")  # a PF-ODE solver's: mean S of its first STRAIGHTNESS_PATHS paths (data units²)
    n_nonfinite: int = 0
    error: str | None = None
    cancelled: bool = False
    options: dict = field(default_factory=dict)  # of the job
    source: str = ""  # of the job
    rect: Rect = (-1.0, 1.0, -1.0, 1.0)  # the frames' histogram box (the job's)

    @property
    def frame_times(self) -> np.ndarray:
        return np.array([f.t for f in self.frames], np.float64)


def _run(job: SamplingJob, cancelled: threading.Event, emit: Callable[[Frame], None]) -> Outcome:
    """The body of a run (no Qt here: testable in plain threads)."""
    from playground.core.sampling.samplers import SAMPLERS

    out = Outcome(job.side, job.sampler, job.generation, steps=job.steps, options=dict(job.options),
                  source=job.source, rect=job.rect)
    if job.sampler not in SAMPLERS:
        out.error = f"unknown sampler {job.sampler!r}"
        return out
    mean = np.asarray(job.mean, np.float32)
    scale = np.float32(job.scale)
    frame_every = max(1, math.ceil(job.steps / MAX_FRAMES))
    path_every = max(1, math.ceil(job.steps / MAX_PATH_POINTS))
    frames: list[Frame] = []
    paths: list[np.ndarray] = []
    path_t: list[float] = []
    measured: list[np.ndarray] = []  # a PF-ODE solver's first STRAIGHTNESS_PATHS particles at the path points
    measures_straightness = job.sampler in SPECS and not SPECS[job.sampler].stochastic
    last_emit = [0.0]
    nfe_seen = [0]

    def to_data(y: torch.Tensor) -> np.ndarray:
        return y.detach().cpu().numpy().astype(np.float32, copy=False) * scale + mean

    def snapshot(i: int, t: float, y: torch.Tensor, nfe: int, keep: bool, live: bool) -> None:
        x = to_data(y)
        bad = ~np.isfinite(x).all(1)
        nbad = int(bad.sum())
        counts = smooth121(histogram2d(x[~bad] if nbad else x, job.rect, job.bins))
        top = float(counts.max())
        image = (np.sqrt(counts * (1.0 / top)) * 255).astype(np.uint8) if top > 0 else counts.astype(np.uint8)
        dots = np.array(x[: job.n_dots], np.float32, copy=True)
        if keep:
            frames.append(Frame(i, job.steps, t, nfe, image, dots, None, nbad))
        if live:
            p = np.stack(paths) if paths else None
            emit(Frame(i, job.steps, t, nfe, image, dots, p, nbad))
            last_emit[0] = time.perf_counter()

    def add_path(t: float, y: torch.Tensor) -> None:
        paths.append(np.array(to_data(y[: job.n_paths]), np.float32, copy=True))
        path_t.append(t)
        if measures_straightness:
            measured.append(to_data(y[:STRAIGHTNESS_PATHS]).copy())

    def score(y, t):
        # evaluated in chunks with a cancel check before each, so a 100k-particle NFE can be interrupted
        if cancelled.is_set():
            raise Cancelled()
        nfe_seen[0] += 1
        if len(y) <= SCORE_CHUNK:
            return job.score_fn(y, t)
        tv = t if torch.is_tensor(t) and t.ndim == 1 and len(t) == len(y) else None
        parts = []
        for a in range(0, len(y), SCORE_CHUNK):
            if cancelled.is_set():
                raise Cancelled()
            b = a + SCORE_CHUNK
            parts.append(job.score_fn(y[a:b], tv[a:b] if tv is not None else t))
        return torch.cat(parts)

    def callback(info) -> None:
        if cancelled.is_set():
            raise Cancelled()
        i = int(getattr(info, "i", 0))
        t = float(getattr(info, "t", float("nan")))
        nfe = int(getattr(info, "nfe", nfe_seen[0]) or nfe_seen[0])
        last = i + 1 >= job.steps  # the final state is recorded after the sampler returns
        if (i + 1) % path_every == 0 and not last:
            add_path(t, info.x)
        keep = (i + 1) % frame_every == 0 and not last
        live = time.perf_counter() - last_emit[0] >= job.emit_interval
        if keep or live:
            snapshot(i + 1, t, info.x, nfe, keep, live)

    sampler = SAMPLERS[job.sampler]
    g = torch.Generator().manual_seed(int(job.seed) + (0 if job.side == "sde" else 1))
    x_T = job.x_T.clone()
    out.x_T = job.x_T.numpy().copy()
    T = float(getattr(job.sde, "T", 1.0))
    start = time.perf_counter()
    try:
        with torch.no_grad():
            add_path(T, x_T)
            snapshot(0, T, x_T, 0, keep=True, live=True)
            res = sampler(score, job.sde, x_T, steps=job.steps, callback=callback, generator=g, **job.options)
    except Exception as e:  # Cancelled included
        return record_failure(out, e)
    out.seconds = time.perf_counter() - start
    out.nfe = int(getattr(res, "nfe", nfe_seen[0]))
    y = res.x
    x = to_data(y)
    out.x = np.array(x, np.float32, copy=True)
    # the final state (after the last denoising step, t = 0) as the last frame and path point
    paths.append(np.array(x[: job.n_paths], np.float32, copy=True))
    path_t.append(0.0)
    if measured:
        measured.append(x[:STRAIGHTNESS_PATHS])
        out.straightness = _straightness(np.stack(measured), path_t)
    snapshot(job.steps, 0.0, y, out.nfe, keep=True, live=False)
    out.frames = frames
    out.paths = np.stack(paths)
    out.path_times = np.asarray(path_t)
    finite = np.isfinite(out.x).all(1)
    out.n_nonfinite = int((~finite).sum())
    if job.sample_target is not None and finite.sum() >= 100 and not cancelled.is_set():
        try:
            from playground.core.evaluation.metrics import swd_report

            rep = swd_report(out.x[finite][:SWD_MAX], job.sample_target, seed=int(job.seed))
            out.swd, out.swd_floor, out.swd_ratio = rep.swd, rep.swd_floor, rep.swd_ratio
        except Exception as e:
            out.error = f"SWD failed: {e}"
    return out


def _straightness(paths: np.ndarray, times: list[float]) -> float:
    """Liu et al.'s S of the finite paths (NaN when none is finite or the times do not run one way)."""
    from playground.core.evaluation.straightness import straightness

    finite = np.isfinite(paths).all(axis=(0, 2))
    try:
        return straightness(paths[:, finite], np.asarray(times)) if finite.any() else float("nan")
    except ValueError:  # e.g. an adaptive solver's repeated time
        return float("nan")


class SamplingThread(JobThread):
    """Runs one SamplingJob; emits `frame` (live snapshots) and finally `done(Outcome)`."""

    work = staticmethod(_run)

    def failed(self, message: str) -> Outcome:
        j = self.job
        return Outcome(j.side, j.sampler, j.generation, error=message, options=dict(j.options), source=j.source,
                       rect=j.rect)
