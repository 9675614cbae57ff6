"""Background controllable generation for the Classes panel, in one cancellable QThread per run:

- `run_class_sampling`: reverse-SDE / PF-ODE samples of a class-conditional score (learned CFG, exact CFG or exact
  classifier guidance, Song et al. 2021 Sec. 5 / App. I; Ho & Salimans 2022), with the SWD of each class's samples
  against exact samples of that class's mixture component (the exact conditional p(x | c) when w = 0);
- `run_imputation`: the replacement method (Song et al. 2021 App. I.2) for x_axis = c, beside the exact 1D
  conditional of a Gaussian mixture, with the 1D Wasserstein distance W1 of each against the exact CDF.

Both run in the SDE's normalised space and return data-space numpy arrays; the score is checked for cancellation
after every sampler step (`Cancelled`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from playground.app.workers.job_thread import Cancelled, JobThread, record_failure
from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn
from playground.core.evaluation.metrics import swd_report, wasserstein_1d
from playground.core.sampling.imputation import Mixture1D, axis_index, gmm_conditional, impute_exact, impute_replacement
from playground.core.sampling.samplers import sample
from playground.data.targets.gaussian_mixture import GaussianMixture


@dataclass
class ClassJob:
    """n samples of `score_fn` (normalised space, per-sample `labels` baked in) by `sampler` in `steps` steps;
    `gmm` (data space) gives each class's exact component for the SWD (None: no report)."""

    score_fn: ScoreFn
    sde: SDE
    normalization: Normalization
    labels: np.ndarray  # (n,) the class of each sample
    sampler: str
    steps: int
    seed: int
    gmm: GaussianMixture | None
    dtype: torch.dtype = torch.float32
    generation: int = 0


@dataclass
class ClassOutcome:
    """x: (n, 2) data-space samples, labels: (n,) their classes; swd[k] = (SWD, floor) of class k's samples against
    its component's exact samples; nfe, seconds; error / cancelled when it did not finish."""

    generation: int
    x: np.ndarray | None = None
    labels: np.ndarray | None = None
    swd: dict[int, tuple[float, float]] = field(default_factory=dict)
    nfe: int = 0
    seconds: float = 0.0
    n_nonfinite: int = 0
    error: str | None = None
    cancelled: bool = False


def _step_check(cancel: threading.Event) -> Callable:
    def check(_info=None) -> None:
        if cancel.is_set():
            raise Cancelled

    return check


def run_class_sampling(job: ClassJob, cancel: threading.Event, emit) -> ClassOutcome:
    """Sample `job` (module docstring); emit is unused (the run is short: the panel shows its progress as busy)."""
    out = ClassOutcome(job.generation, labels=np.asarray(job.labels))
    began = time.perf_counter()
    try:
        result = sample(job.sampler, job.score_fn, job.sde, len(job.labels), steps=job.steps, seed=job.seed,
                        dtype=job.dtype, callback=_step_check(cancel))
        x = job.normalization.to_data(result.x.to(torch.float64)).numpy()
        out.x, out.nfe = x, int(result.nfe)
        finite = np.isfinite(x).all(1)
        out.n_nonfinite = int((~finite).sum())
        if job.gmm is not None:
            for k in np.unique(out.labels).tolist():
                mine = x[finite & (out.labels == k)]
                if len(mine) >= 2:
                    comp = job.gmm.component(int(k))
                    ref = lambda m, s, comp=comp: comp.sample(m, torch.Generator().manual_seed(s)).numpy()  # noqa: E731
                    r = swd_report(mine, ref, seed=job.seed)
                    out.swd[int(k)] = (float(r.swd), float(r.swd_floor))
    except Exception as e:
        return record_failure(out, e)
    out.seconds = time.perf_counter() - began
    return out


@dataclass
class ImputeJob:
    """n samples with x_axis = value by the replacement method on `score_fn` (normalised space) with
    `corrector_steps` Langevin steps per step; `gmm` (data space) gives the exact conditional (None: unknown)."""

    score_fn: ScoreFn
    sde: SDE
    normalization: Normalization
    axis: str
    value: float
    n: int
    steps: int
    corrector_steps: int
    seed: int
    gmm: GaussianMixture | None
    generation: int = 0


@dataclass
class ImputeOutcome:
    """replacement / exact: (n, 2) data-space samples (exact None without a mixture); conditional: the exact 1D
    mixture p(other | axis = value); w1 / w1_exact: W1 of the free coordinate of each against the exact CDF (the
    exact samples' W1 is the floor of n samples)."""

    generation: int
    axis: str = "x1"
    value: float = 0.0
    replacement: np.ndarray | None = None
    exact: np.ndarray | None = None
    conditional: Mixture1D | None = None
    w1: float | None = None
    w1_exact: float | None = None
    nfe: int = 0
    seconds: float = 0.0
    error: str | None = None
    cancelled: bool = False

    @property
    def free(self) -> int:
        """The index of the sampled coordinate."""
        return 1 - axis_index(self.axis)


def run_imputation(job: ImputeJob, cancel: threading.Event, emit) -> ImputeOutcome:
    """Impute `job` (module docstring)."""
    out = ImputeOutcome(job.generation, job.axis, job.value)
    began = time.perf_counter()
    try:
        x, out.nfe = impute_replacement(job.score_fn, job.sde, job.axis, job.value, job.n,
                                        normalization=job.normalization, steps=job.steps,
                                        corrector_steps=job.corrector_steps, seed=job.seed,
                                        callback=_step_check(cancel))
        out.replacement = x
        if job.gmm is not None:
            out.conditional = gmm_conditional(job.gmm, job.axis, job.value)
            out.exact = impute_exact(job.gmm, job.axis, job.value, job.n, seed=job.seed + 1)
            o = out.free
            finite = np.isfinite(x[:, o])
            if finite.any():
                out.w1 = wasserstein_1d(x[finite, o], out.conditional.cdf)
            out.w1_exact = wasserstein_1d(out.exact[:, o], out.conditional.cdf)
    except Exception as e:
        return record_failure(out, e)
    out.seconds = time.perf_counter() - began
    return out


class ClassSamplingThread(JobThread):
    work = staticmethod(run_class_sampling)

    def failed(self, message: str) -> ClassOutcome:
        return ClassOutcome(self.job.generation, error=message)


class ImputationThread(JobThread):
    work = staticmethod(run_imputation)

    def failed(self, message: str) -> ImputeOutcome:
        return ImputeOutcome(self.job.generation, error=message)


__all__ = ["ClassJob", "ClassOutcome", "ClassSamplingThread", "ImputeJob", "ImputeOutcome", "ImputationThread",
           "run_class_sampling", "run_imputation"]
