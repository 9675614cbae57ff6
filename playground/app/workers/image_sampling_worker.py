"""Background work of the image Sampling panel: one sampler run per side and the bits/dim estimate, in QThreads.

A run (`run_image_sampler`, Qt-free) drives a sampler of `playground.core.sampling.samplers` in NORMALISED space from a
given x_T and turns steps into `ImageFrame`s: x_t and the denoised estimate x0_hat = (x + sigma^2 s) / alpha
(Tweedie's formula) of the sampler's latest score evaluation (free: no extra NFE), both as uint8 pixels of the
data-space images clipped to [0, 1]. Live frames go out at most every `emit_interval` seconds; every
`ceil(steps / MAX_FRAMES)`-th step (and x_T and the end) is kept for scrubbing. Frames are new arrays, never
mutated after they are emitted.

ode_rk45 counts `steps` as output frames, each an adaptive solve of many score evaluations: its callback comes once
a frame (the NFE jumps), the rest is the same. Cancellation: a flag checked before every score evaluation and in
every callback unwinds the sampler with an exception, so a run stops within one network evaluation.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PySide6.QtCore import QThread, Signal

from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.diffusion.sde import SDE, ScoreFn, bcast, time_vector

MAX_FRAMES = 100  # frames kept per side for scrubbing (besides x_T and the final samples)
EMIT_INTERVAL = 1 / 30  # seconds between live frames



def to_pixels(x: torch.Tensor, to_data: Callable[[torch.Tensor], torch.Tensor],
              image_shape: tuple[int, int, int]) -> np.ndarray:
    """Normalised flat states (N, D) -> uint8 (N, C, H, W) of the data-space images clipped to [0, 1]."""
    data = to_data(x.detach().to("cpu", torch.float32))
    return np.asarray((data.clamp(0, 1) * 255).round().to(torch.uint8).reshape(len(x), *image_shape).numpy())


@dataclass(frozen=True)
class ImageFrame:
    """A snapshot after step i of steps at time t: x_t and the denoised estimate (uint8 (N, C, H, W) pixels);
    x0 is None before the first score evaluation; x0_t is the time of the score evaluation it comes from."""

    i: int
    steps: int
    t: float
    nfe: int
    x: np.ndarray
    x0: np.ndarray | None
    x0_t: float


@dataclass
class ImageSamplingJob:
    side: str  # "sde" | "ode"
    sampler: str  # a key of playground.core.sampling.samplers.SAMPLERS
    score_fn: ScoreFn  # normalised-space (guided) score
    sde: SDE  # the model's SDE (normalised space)
    x_T: torch.Tensor  # (n, D) normalised start, the same for both sides
    steps: int
    seed: int  # the SDE side's noise generator
    image_shape: tuple[int, int, int]
    to_data: Callable[[torch.Tensor], torch.Tensor]  # normalised (N, D) -> data-space pixels (the model's map)
    generation: int = 0
    emit_interval: float = EMIT_INTERVAL
    options: dict = field(default_factory=dict)


@dataclass
class ImageSamplingOutcome:
    side: str
    sampler: str
    generation: int
    steps: int = 0
    nfe: int = 0
    seconds: float = 0.0
    frames: list[ImageFrame] = field(default_factory=list)  # x_T first, the final samples (t = 0) last
    samples: np.ndarray | None = None  # (n, C, H, W) float32 in [0, 1]
    error: str | None = None
    cancelled: bool = False

    @property
    def frame_times(self) -> np.ndarray:
        return np.array([f.t for f in self.frames], np.float64)


def run_image_sampler(job: ImageSamplingJob, cancelled: threading.Event,
                      emit: Callable[[ImageFrame], None]) -> ImageSamplingOutcome:
    """The body of one side's run (no Qt: testable in plain threads); never raises."""
    from playground.core.sampling.samplers import SAMPLERS

    out = ImageSamplingOutcome(job.side, job.sampler, job.generation, steps=job.steps)
    if job.sampler not in SAMPLERS:
        out.error = f"unknown sampler {job.sampler!r}"
        return out
    keep_every = max(1, math.ceil(job.steps / MAX_FRAMES))
    last_eval: list = [None]  # (x, t, score) of the latest score evaluation
    nfe = [0]
    last_emit = [0.0]

    def pixels(x: torch.Tensor) -> np.ndarray:
        return to_pixels(x, job.to_data, job.image_shape)

    def score(x: torch.Tensor, t) -> torch.Tensor:
        if cancelled.is_set():
            raise Cancelled()
        tv = time_vector(t, x)
        s = job.score_fn(x, tv)
        nfe[0] += 1
        last_eval[0] = (x, tv, s)
        return s

    def denoised() -> tuple[np.ndarray | None, float]:
        if last_eval[0] is None:
            return None, float("nan")
        x, tv, s = last_eval[0]
        alpha, std = job.sde.marginal_coefficients(tv)
        x0 = (x + bcast(std * std, x).to(x.dtype) * s) / bcast(alpha, x).to(x.dtype)
        return pixels(x0), float(tv[0])

    def frame(i: int, t: float, x: torch.Tensor, n: int) -> ImageFrame:
        x0, x0_t = denoised()
        return ImageFrame(i, job.steps, float(t), n, pixels(x), x0, x0_t)

    def callback(info) -> None:
        if cancelled.is_set():
            raise Cancelled()
        if info.i + 1 >= job.steps:
            return  # the final state is recorded after the sampler returns
        keep = (info.i + 1) % keep_every == 0
        live = time.perf_counter() - last_emit[0] >= job.emit_interval
        if keep or live:
            f = frame(info.i + 1, info.t, info.x, info.nfe)
            if keep:
                out.frames.append(f)
            if live:
                emit(f)
                last_emit[0] = time.perf_counter()

    generator = torch.Generator(job.x_T.device).manual_seed(int(job.seed))
    start = time.perf_counter()
    try:
        with torch.no_grad():
            first = frame(0, float(job.sde.T), job.x_T, 0)
            out.frames.append(first)
            emit(first)
            last_emit[0] = time.perf_counter()
            res = SAMPLERS[job.sampler](score, job.sde, job.x_T.clone(), steps=job.steps, callback=callback,
                                        generator=generator, **job.options)
    except Exception as e:  # Cancelled included
        return record_failure(out, e)
    out.seconds = time.perf_counter() - start
    out.nfe = int(res.nfe)
    final = pixels(res.x)
    out.frames.append(ImageFrame(job.steps, job.steps, 0.0, out.nfe, final, final, 0.0))
    data = job.to_data(res.x.detach().to("cpu", torch.float32))
    out.samples = data.clamp(0, 1).reshape(len(res.x), *job.image_shape).numpy()
    return out


class ImageSamplingThread(JobThread):
    """Runs one ImageSamplingJob; emits `frame(ImageFrame)` live and finally `done(ImageSamplingOutcome)`."""

    work = staticmethod(run_image_sampler)

    def failed(self, message: str) -> ImageSamplingOutcome:
        return ImageSamplingOutcome(self.job.side, self.job.sampler, self.job.generation, error=message)


class _CancellableModel:
    """A ScoreModel whose score_norm checks a cancel flag first (so the likelihood ODE can be interrupted)."""

    def __init__(self, model, cancelled: threading.Event):
        self._model = model
        self._cancelled = cancelled

    def score_norm(self, y, t, class_labels=None):
        if self._cancelled.is_set():
            raise Cancelled()
        return self._model.score_norm(y, t, class_labels)

    def __getattr__(self, name):
        return getattr(self._model, name)


@dataclass
class BitsPerDimOutcome:
    bpd: float = float("nan")
    sem: float = float("nan")
    n: int = 0
    nfe: int = 0
    seconds: float = 0.0
    error: str | None = None
    cancelled: bool = False


class BitsPerDimThread(QThread):
    """image_likelihood.bits_per_dim(model, images) (PF-ODE, Hutchinson's trace estimator) in a thread; cancellable
    between score evaluations; emits `done(BitsPerDimOutcome)`."""

    done = Signal(object)

    def __init__(self, model, images: np.ndarray, tol: float, seed: int = 0, parent=None):
        super().__init__(parent)
        self.model = model
        self.images = images
        self.tol = float(tol)
        self.seed = int(seed)
        self._cancel = threading.Event()
        self.outcome: BitsPerDimOutcome | None = None

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        from playground.core.evaluation.image_likelihood import bits_per_dim

        out = BitsPerDimOutcome()
        start = time.perf_counter()
        try:
            res = bits_per_dim(_CancellableModel(self.model, self._cancel), self.images, tol=self.tol, seed=self.seed)
            out.bpd, out.sem, out.n, out.nfe = res["bpd"], res["bpd_sem"], res["n"], res["nfe"]
        except Cancelled:
            out.cancelled = True
        except Exception as e:  # reported in the panel
            out.error = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        out.seconds = time.perf_counter() - start
        self.outcome = out
        self.done.emit(out)
