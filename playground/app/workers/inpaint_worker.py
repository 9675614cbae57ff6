"""Background work of the Inpainting panel: one `playground.core.sampling.inpainting.inpaint` run in a QThread.

A run (`run_inpaint`, Qt-free) fills in the masked pixels of one image n times by the replacement method (Song et
al. 2021, App. I.2) in the model's NORMALISED space. Live frames (at most every EMIT_INTERVAL seconds) show the
denoised estimate x0_hat = (x + sigma^2 s) / alpha (Tweedie's formula) of the latest score evaluation (free: no
extra NFE) with the known pixels pasted in. The final results are mapped to data space, clipped to [0, 1], and
their known pixels set to the original's bit for bit (`finalize` again in data space: the normalisation y = 2x - 1
and back is not exact in float32 for every pixel value). Cancellation works as in `image_sampling_worker`: a flag
checked before every score evaluation and in every callback unwinds `inpaint`, so a run stops within one network
evaluation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from playground.app.inpaint_mask import masked_errors
from playground.app.workers.image_sampling_worker import EMIT_INTERVAL
from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.diffusion.sde import SDE, ScoreFn, bcast, time_vector


@dataclass(frozen=True)
class InpaintFrame:
    """After step i of steps at time t: the denoised estimates, float32 (n, C, H, W) in [0, 1], known pixels kept."""

    i: int
    steps: int
    t: float
    nfe: int
    pixels: np.ndarray


@dataclass
class InpaintJob:
    score_fn: ScoreFn  # normalised-space (guided) score for a batch of n
    sde: SDE  # the model's SDE (normalised space)
    original: np.ndarray  # float32 (C, H, W) in [0, 1], the image to inpaint
    mask: np.ndarray  # (H, W) bool, True = generate
    to_norm: Callable[[torch.Tensor], torch.Tensor]  # data (N, D) -> normalised (the model's map)
    to_data: Callable[[torch.Tensor], torch.Tensor]  # normalised (N, D) -> data
    n: int
    steps: int
    predictor: str  # 'em' | 'ode_euler' (core.inpainting.PREDICTORS)
    corrector_steps: int
    snr: float
    seed: int
    device: torch.device | str = "cpu"
    generation: int = 0
    emit_interval: float = EMIT_INTERVAL


@dataclass
class InpaintOutcome:
    generation: int
    steps: int = 0
    nfe: int = 0
    seconds: float = 0.0
    results: np.ndarray | None = None  # float32 (n, C, H, W) in [0, 1]; known pixels equal the original exactly
    errors: np.ndarray | None = None  # (n,) L2 error of each result on the masked region
    error: str | None = None
    cancelled: bool = False


def run_inpaint(job: InpaintJob, cancelled: threading.Event,
                emit: Callable[[InpaintFrame], None]) -> InpaintOutcome:
    """The body of one run (no Qt: testable in plain threads); never raises."""
    from playground.core.sampling.inpainting import finalize, inpaint

    out = InpaintOutcome(job.generation, steps=job.steps)
    shape = tuple(job.original.shape)
    original = torch.as_tensor(np.ascontiguousarray(job.original, np.float32)).reshape(1, -1)
    known = torch.as_tensor(~np.broadcast_to(job.mask, shape)).reshape(-1)  # (D,) True = kept
    last_eval: list = [None]  # (x, t, score) of the latest score evaluation
    last_emit = [0.0]

    def data_pixels(y: torch.Tensor) -> torch.Tensor:
        """Normalised (n, D) -> data (n, D) clipped to [0, 1] with the known pixels set to the original's."""
        x = job.to_data(y.detach().to("cpu", torch.float32)).clamp(0, 1)
        return finalize(x, original.expand_as(x), known)

    def score(x: torch.Tensor, t) -> torch.Tensor:
        if cancelled.is_set():
            raise Cancelled()
        tv = time_vector(t, x)
        s = job.score_fn(x, tv)
        last_eval[0] = (x, tv, s)
        return s

    def callback(info) -> None:
        if cancelled.is_set():
            raise Cancelled()
        if info.i + 1 >= info.steps or last_eval[0] is None:
            return  # the final results are reported after inpaint returns
        if time.perf_counter() - last_emit[0] < job.emit_interval:
            return
        x, tv, s = last_eval[0]
        alpha, std = job.sde.marginal_coefficients(tv)
        x0 = (x + bcast(std * std, x).to(x.dtype) * s) / bcast(alpha, x).to(x.dtype)
        pixels = data_pixels(x0).reshape(len(x0), *shape).numpy()
        emit(InpaintFrame(info.i + 1, info.steps, float(info.t), info.nfe, pixels))
        last_emit[0] = time.perf_counter()

    generator = torch.Generator(job.device).manual_seed(int(job.seed))
    start = time.perf_counter()
    try:
        observation = job.to_norm(original)[0].to(job.device)
        res = inpaint(score, job.sde, observation, known.to(job.device), n=job.n, steps=job.steps,
                      predictor=job.predictor, corrector_steps=job.corrector_steps, snr=job.snr,
                      generator=generator, callback=callback)
    except Exception as e:  # Cancelled included
        return record_failure(out, e)
    out.seconds = time.perf_counter() - start
    out.nfe = int(res.nfe)
    out.results = data_pixels(res.x).reshape(len(res.x), *shape).numpy()
    out.errors = masked_errors(out.results, job.original, job.mask)
    return out


class InpaintThread(JobThread):
    """Runs one InpaintJob; emits `frame(InpaintFrame)` live and finally `done(InpaintOutcome)`."""

    work = staticmethod(run_inpaint)

    def failed(self, message: str) -> InpaintOutcome:
        return InpaintOutcome(self.job.generation, error=message)
