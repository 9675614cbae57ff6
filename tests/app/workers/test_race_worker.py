"""Race worker: the race reported run by run (cheapest rungs first, each sampler's NFE rising), the same entries as
the core's `run_race`, under every SDE including rectified flow; a cancel stops it within a sampler step."""

from __future__ import annotations

import math
import threading
import time

import pytest

from playground.app.exact_scores import fast_gmm_score_fn
from playground.app.workers.race_worker import RaceJob, run_sampler_race
from playground.core.diffusion.sde import make_sde
from playground.core.evaluation.sampler_race import race_plan, run_race
from playground.data.targets.presets import make_preset

SAMPLERS = ("em", "ode_heun", "ddim")
LADDER = (5, 10, 20)


def make_job(sde_name: str = "vp", ladder=LADDER, n: int = 500, samplers=SAMPLERS) -> RaceJob:
    """The exact 8-Gaussians score in the target's own (data) space: no normalisation, to_data None."""
    target = make_preset("8gaussians")
    sde = make_sde(sde_name)
    return RaceJob(fast_gmm_score_fn(target.gmm, sde), sde, None, lambda m, seed: target.sample(m, seed),
                   samplers, ladder, n, seed=3, generation=7)


def record(job: RaceJob, cancel: threading.Event | None = None, stop_after: int | None = None):
    frames = []
    cancel = cancel or threading.Event()

    def emit(frame) -> None:
        frames.append(frame)
        if stop_after is not None and len(frame.entries) >= stop_after:
            cancel.set()

    return run_sampler_race(job, cancel, emit), frames


def test_frames_grow_one_run_at_a_time_cheapest_first_and_match_the_core():
    job = make_job()
    out, frames = record(job)
    plan = race_plan(SAMPLERS, LADDER)
    assert not out.cancelled and out.error is None and out.generation == 7
    assert [len(f.entries) for f in frames] == list(range(len(plan) + 1))  # an empty first frame, then one per run
    assert [f.running for f in frames] == [*plan, None] and all(f.total == len(plan) for f in frames)
    assert [(e.sampler, e.steps) for e in out.entries] == plan
    for key in SAMPLERS:
        nfe = [e.nfe for e in out.entries if e.sampler == key]
        assert len(nfe) == len(LADDER) and nfe == sorted(set(nfe)) and all(n <= r for n, r in zip(nfe, LADDER))
    core = run_race(job.score_fn, job.sde, job.sample_target, samplers=SAMPLERS, ladder=LADDER, n=job.n, seed=3)
    assert [(e.sampler, e.steps, e.nfe, e.swd_ratio) for e in core] == \
        [(e.sampler, e.steps, e.nfe, e.swd_ratio) for e in out.entries]


@pytest.mark.parametrize("sde_name", ["ve", "subvp", "rf"])
def test_every_sde_races_to_finite_ratios_and_the_top_rung_reaches_the_target(sde_name):
    out, _frames = record(make_job(sde_name, ladder=(10, 80), samplers=("ancestral", "ode_heun")))
    assert out.error is None and len(out.entries) == 4
    assert all(math.isfinite(e.swd_ratio) for e in out.entries)
    assert all(e.swd_ratio <= 1.6 for e in out.entries if e.nfe > 40)  # the exact score: near the iid floor


def test_cancel_from_a_frame_stops_before_the_next_run():
    out, frames = record(make_job(), stop_after=2)
    assert out.cancelled and out.error is None
    assert len(out.entries) == 2 and len(frames) == 3  # nothing is reported after the cancel


def test_cancel_mid_run_returns_within_a_sampler_step():
    cancel = threading.Event()
    job = make_job(ladder=(2000,), n=2000, samplers=("em",))  # one long run
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    began = time.perf_counter()
    out, _frames = record(job, cancel)
    assert out.cancelled and out.entries == () and time.perf_counter() - began < 1.5


def test_a_bad_sampler_is_reported_not_raised():
    out, frames = record(make_job(samplers=("em", "no_such")))
    assert out.error is not None and "no_such" in out.error and frames == []
