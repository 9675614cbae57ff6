"""What a comparison of two samplers runs, decided from the settings, the SDE and the score at hand (Qt-free): which
score (the learned one, or the target's exact score, also before any model exists), how many particles, and for
each side its sampler, options and steps, or why that sampler does not apply. The Sampling panel shows the plan's
words in its views, so every picture says where it comes from.

Particle budgets: the exact score of a point set sums over its m points for every particle and step, so an exact
run uses at most EXACT_PAIR_BUDGET / m particles; a refresh while training ('light') uses at most LIVE_PARTICLES, so
the views follow the model every few seconds without taking the trainer's core.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.app.samplers import SPECS, sampler_problem, sampler_steps, side_choice

EXACT_PAIR_BUDGET = 2_000_000  # particles x points of one exact point-set evaluation
EXACT_MIN_PARTICLES = 200
LIVE_PARTICLES = 1000  # particles of a refresh while training


def exact_particle_cap(exact_points: int) -> int | None:
    """The most particles an exact-score run takes when the score sums over `exact_points` points for each (None:
    no cap, a closed form)."""
    return max(EXACT_MIN_PARTICLES, EXACT_PAIR_BUDGET // exact_points) if exact_points else None


def model_step(model) -> int | None:
    """The optimiser step a model snapshot was taken at (its config's steps_done), None when unknown."""
    step = (getattr(model, "config", None) or {}).get("steps_done")
    return int(step) if isinstance(step, (int, float)) else None


def model_step_text(model) -> str:
    """'model at step 1,240' (what each view says its picture comes from)."""
    step = model_step(model)
    return "model at step ?" if step is None else f"model at step {step:,}"


@dataclass(frozen=True)
class SideRun:
    """One side of a comparison: its sampler, options and steps; `problem` says why it cannot run (else None)."""

    side: str
    sampler: str
    options: dict
    steps: int
    problem: str | None = None


@dataclass(frozen=True)
class SamplingPlan:
    """The score to sample with ('exact' or 'learned') and how the views name it, the particles and both sides."""

    source: str
    label: str
    particles: int
    note: str
    sides: dict[str, SideRun]


def plan_sampling(settings, model, use_exact: bool, exact_label: str, exact_points: int,
                  light: bool = False) -> SamplingPlan:
    """The plan for the current settings. model: the learned model (None before training: the exact score is used,
    and said so); use_exact: the user asked for the exact score; exact_label: what the exact score is
    (`exact_score_label`); exact_points: the points it sums over per particle (0 for a closed form); light: a
    refresh while training."""
    n = max(1, int(settings.n_particles))
    notes = []
    if use_exact or model is None:
        source = "exact"
        label = f"exact score: {exact_label}" + ("" if use_exact else " (no model yet)")
        cap = exact_particle_cap(exact_points)
        if cap is not None and n > cap:
            n = cap
            notes.append(f"{n:,} particles: the exact score sums over {exact_points:,} points for each")
    else:
        source = "learned"
        label = f"learned score, {model_step_text(model)}"
    if light and n > LIVE_PARTICLES:
        n = LIVE_PARTICLES
        notes.append(f"{n:,} particles while training")
    sides = {}
    for side in ("sde", "ode"):
        key, options = side_choice(settings, side)
        if key not in SPECS:
            sides[side] = SideRun(side, key, {}, 1, f"Unknown sampler {key!r}: pick one above.")
            continue
        steps = sampler_steps(key, int(settings.sample_steps))
        sides[side] = SideRun(side, key, options, steps, sampler_problem(key, options, steps))
    return SamplingPlan(source, label, n, "; ".join(notes), sides)


__all__ = ["EXACT_PAIR_BUDGET", "LIVE_PARTICLES", "SamplingPlan", "SideRun", "exact_particle_cap", "model_step",
           "model_step_text", "plan_sampling"]
