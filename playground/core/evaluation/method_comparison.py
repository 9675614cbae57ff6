"""Score matching against flow matching on one target for the same training seconds: the two recipes, a trainer for
a seconds budget, and the checks `bench compare` prints and the app's Compare dock shows.

Recipes (TrainConfig fields on top of the defaults):
  DSM  the tuned default of `bench quality`: denoising score matching with EDM's preconditioned output and weighting
       (Karras et al. 2022), batch 768, on the VP SDE unless an `sde` is given
  FM   rectified flow (Liu et al. 2023): the rf path, conditional flow matching on the velocity (Lipman et al. 2023),
       output v, t ~ U(eps, T), batch 768
Checks, each of a trained ScoreModel against the Target it was trained on:
  evaluate_swd       SWD ratio (to the iid floor of two target sets, `metrics.swd_report`) of model samples
  evaluate_nll       PF-ODE NLL (exact divergence, dopri5 at 1e-5, from t = 1e-5) of fresh target points, with the
                     paired KL estimate where the target has a log density (NLL - H = KL(p || model))
  path_straightness  Liu et al.'s S of the PF-ODE paths (`straightness`) from a fine Heun solve
  euler_nfe          the fewest Euler PF-ODE evaluations on a step ladder whose SWD ratio is <= a threshold
Every sampling check takes `callback` (a sampler's per-step callback, e.g. one that raises to cancel); the NLL takes
`check()`, called between chunks of points.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer

TUNED_DSM: dict = {"output": "edm", "weighting": "edm", "batch": 768}
"""Denoising score matching as tuned for time-to-quality (EDM output and noise levels train fastest; bench quality)."""
FLOW_MATCHING: dict = {"sde": "rf", "objective": "fm", "output": "v", "weighting": "song", "batch": 768}
"""Rectified flow: conditional flow matching on the straight path, the velocity output, uniform t."""
METHODS: dict[str, dict] = {"DSM": TUNED_DSM, "FM": FLOW_MATCHING}
EULER_LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
STRAIGHTNESS_PATHS = 2000
STRAIGHTNESS_STEPS = 100
NLL_EPS = 1e-5


def budget_trainer(data, overrides: dict, seconds: float, seed: int = 0, device: str = "cpu",
                   threads: int | None = None) -> Trainer:
    """A Trainer for `seconds` of training (no step limit; the lr schedule's horizon is the budget) with the
    TrainConfig fields `overrides` on `data` ((M, D) samples, or a callable (n, seed) drawing the pool)."""
    cfg = TrainConfig(**{"steps": None, "seconds": seconds, "seed": seed, "device": device, "threads": threads,
                         **overrides})
    return Trainer(cfg, data)


def evaluate_swd(model, target, n: int, sampler: str, steps: int | None, seed: int, repeats: int = 1,
                 callback: Callable | None = None) -> tuple[float, float, float]:
    """(mean SWD ratio over `repeats` sample sets of n, their sd, seconds spent sampling)."""
    from playground.core.evaluation.metrics import swd_report

    ratios, dt = [], 0.0
    for r in range(repeats):
        t0 = time.perf_counter()
        x = model.sample(n, sampler=sampler, steps=steps, seed=seed + 1000 * r, callback=callback)
        dt += time.perf_counter() - t0
        ratios.append(swd_report(x, lambda m, s: target.sample(m, s), seed=seed + r).swd_ratio)
    return float(np.mean(ratios)), float(np.std(ratios)), dt


def evaluate_nll(model, target, n: int, seed: int, chunk: int = 1000, check: Callable[[], None] | None = None) -> dict:
    """Mean NLL (nats) of n fresh target points under the model (PF-ODE, exact divergence, from t = NLL_EPS) with its
    standard error, solved `chunk` points at a time (`check()` before each); where the target has a log density also
    the paired estimate of KL(p || model) = mean(log p(x) - log p_model(x)) (the same quantity as NLL - H, with far
    less sampling noise)."""
    x = target.sample(n, seed + 777).astype(np.float64)
    parts = []
    for a in range(0, len(x), chunk):
        if check is not None:
            check()
        parts.append(-model.log_prob(x[a:a + chunk], eps=NLL_EPS, batch_size=chunk))
    nll = np.concatenate(parts)
    out = {"nll": float(nll.mean()), "nll_se": float(nll.std(ddof=1) / math.sqrt(len(nll)))}
    if target.log_density is not None:
        kl = nll + np.asarray(target.log_density(x), dtype=np.float64)
        if np.isfinite(kl).all():
            out.update(kl=float(kl.mean()), kl_se=float(kl.std(ddof=1) / math.sqrt(len(kl))))
    return out


def path_straightness(model, seed: int, paths: int = STRAIGHTNESS_PATHS, steps: int = STRAIGHTNESS_STEPS,
                      callback: Callable | None = None) -> float:
    """Straightness of the model's PF-ODE paths in data space, from a `steps`-step Heun solve of `paths` paths (fine
    enough to measure the flow rather than the sampler; see `straightness`)."""
    from playground.core.evaluation.straightness import straightness

    res = model.sample(paths, sampler="ode_heun", steps=steps, seed=seed, return_result=True, trajectory_stride=1,
                       callback=callback)
    return straightness(res.trajectory, res.times)


def euler_nfe(model, target, ladder, threshold: float, n: int, repeats: int, seed: int,
              callback: Callable | None = None) -> tuple[int | None, float]:
    """(the smallest ode_euler NFE on the step ladder with SWD ratio <= threshold, or None; the last ratio measured).
    NFE = steps + 1: Euler's steps and the final denoise."""
    ratio = math.inf
    for steps in sorted(ladder):
        ratio, _, _ = evaluate_swd(model, target, n, "ode_euler", steps, seed, repeats, callback)
        if ratio <= threshold:
            return steps + 1, ratio
    return None, ratio


__all__ = ["EULER_LADDER", "FLOW_MATCHING", "METHODS", "STRAIGHTNESS_PATHS", "STRAIGHTNESS_STEPS", "TUNED_DSM",
           "budget_trainer", "euler_nfe", "evaluate_nll", "evaluate_swd", "path_straightness"]
