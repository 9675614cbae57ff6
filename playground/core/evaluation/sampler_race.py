"""The sampler race: every sampler at a ladder of NFE budgets, each scored by its SWD ratio to fresh target samples
over the iid floor (`metrics.swd_report`), cheapest rungs first, with a per-result callback and cancellation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from playground.core.diffusion.sde import SDE, ScoreFn
from playground.core.evaluation.metrics import swd_report
from playground.core.sampling.samplers import SAMPLERS, sample

RACE_SAMPLERS = ("em", "reverse_diffusion", "ancestral", "pc", "ode_euler", "ode_heun", "ddim", "edm_heun",
                 "annealed_langevin")  # fmt: skip
"""Samplers that race by default: every sampler of p_0 whose NFE a step count fixes. Left out: ode_rk45 (its NFE is
whatever dopri5's tolerance makes it) and plain langevin (it samples p_eps at one t and gets mode weights wrong)."""

NFE_LADDER = (5, 10, 20, 40, 80, 160, 320, 500)
"""Default NFE rungs: eight, from 5 to 500 on a roughly logarithmic scale."""

GOOD_RATIO = 1.2
"""A run counts as at the target when its SWD ratio is at most this (`smallest_good_nfe`)."""

ANNEALED_LEVELS = 30


@dataclass(frozen=True)
class RaceEntry:
    """One (sampler, rung) run: the steps that give `nfe` score calls, wall-clock seconds, SWD vs the iid floor."""

    sampler: str
    steps: int
    nfe: int
    seconds: float
    swd: float
    swd_floor: float
    swd_ratio: float

    def as_dict(self) -> dict:
        return asdict(self)


class RaceCancelled(Exception):
    """Raised inside a sampler run when the race's `cancelled()` turns true."""


def steps_for_nfe(name: str, nfe: int) -> int:
    """The step count whose NFE (with the final denoise; see the samplers' module doc) is the largest <= nfe, at least
    one step (annealed Langevin: at least one step per level)."""
    if name == "pc":  # steps * (1 corrector + 1 predictor) + 1
        return max(1, (nfe - 1) // 2)
    if name in ("ode_heun", "edm_heun"):  # 2 steps - 1
        return max(1, (nfe + 1) // 2)
    if name == "ode_rk45":
        return 1
    return max(1, nfe - 1)


def sampler_options_for(name: str, steps: int) -> dict:
    """Options a racing sampler needs at this step count (annealed Langevin: no more levels than steps)."""
    return {"levels": min(ANNEALED_LEVELS, steps)} if name == "annealed_langevin" else {}


def race_plan(samplers: Sequence[str], ladder: Sequence[int]) -> list[tuple[str, int]]:
    """(sampler, steps) runs, cheapest NFE rung first, each sampler once per distinct step count."""
    for name in samplers:
        if name not in SAMPLERS:
            raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    if not ladder or any(int(n) < 2 for n in ladder):
        raise ValueError(f"every NFE rung must be >= 2 (one step and the final denoise), got {list(ladder)}")
    plan, seen = [], set()
    for nfe in sorted(int(n) for n in ladder):
        for name in samplers:
            key = (name, steps_for_nfe(name, nfe))
            if key not in seen:
                seen.add(key)
                plan.append(key)
    return plan


def run_race(
    score_fn: ScoreFn, sde: SDE, sample_target: Callable[[int, int], np.ndarray], *,
    samplers: Sequence[str] = RACE_SAMPLERS, ladder: Sequence[int] = NFE_LADDER, n: int = 4000, seed: int = 0,
    to_data: Callable[[torch.Tensor], torch.Tensor] | None = None, callback: Callable[[RaceEntry], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[RaceEntry]:  # fmt: skip
    """Run every (sampler, rung) of `race_plan` from one x_T (n prior draws of `seed`) with the generator of `seed`;
    each run's samples (mapped by to_data, for a model's normalised space) are compared with fresh target samples by
    `swd_report`. callback(entry) after every run; cancelled() is checked at every sampler step and between runs, and
    a cancelled race returns the entries finished so far."""
    plan = race_plan(samplers, ladder)
    x_T = sde.prior_sample((n, 2), generator=torch.Generator().manual_seed(seed))

    def check(_info) -> None:
        if cancelled is not None and cancelled():
            raise RaceCancelled

    entries: list[RaceEntry] = []
    for name, steps in plan:
        if cancelled is not None and cancelled():
            break
        start = time.perf_counter()
        try:
            result = sample(name, score_fn, sde, x_T, steps=steps, seed=seed, callback=check,
                            **sampler_options_for(name, steps))  # fmt: skip
        except RaceCancelled:
            break
        seconds = time.perf_counter() - start
        x = result.x if to_data is None else to_data(result.x)
        report = swd_report(torch.nan_to_num(x, nan=1e6, posinf=1e6, neginf=-1e6), sample_target, seed=seed)
        entry = RaceEntry(name, steps, result.nfe, seconds, report.swd, report.swd_floor, report.swd_ratio)
        entries.append(entry)
        if callback is not None:
            callback(entry)
    return entries


def smallest_good_nfe(entries: Sequence[RaceEntry], ratio: float = GOOD_RATIO) -> dict[str, int | None]:
    """Per sampler (in order of first appearance), the smallest NFE whose SWD ratio is <= ratio, else None."""
    best: dict[str, int | None] = {}
    for e in entries:
        best.setdefault(e.sampler, None)
        if e.swd_ratio <= ratio and (best[e.sampler] is None or e.nfe < best[e.sampler]):
            best[e.sampler] = e.nfe
    return best
