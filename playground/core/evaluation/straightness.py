"""Straightness of sampling paths (Liu et al. 2023, "Flow Straight and Fast", Eq. 6).

For a path x(u), u in [0, 1], from x(0) to x(1): S = int_0^1 ||(x(1) - x(0)) - dx/du||^2 du, averaged over paths.
S = 0 exactly when every path is a straight line run at constant speed (one Euler step then integrates it exactly);
it is the time-average squared deviation of the velocity from the chord.

A sampler's trajectory is a sequence of states x_0, ..., x_K at times t_0, ..., t_K (strictly monotone; samplers go
from T down to 0). Time is rescaled to u_k = (t_0 - t_k) / (t_0 - t_K), so that u runs over [0, 1] whatever the
SDE's T, and the path is the piecewise-linear one through the states (what an ODE sampler actually follows between
its evaluations). On it dx/du is constant on each segment, d_k = dx_k / du_k, and

    S = sum_k du_k ||d_k - (x_K - x_0)||^2 = sum_k ||dx_k||^2 / du_k - ||x_K - x_0||^2,

the squared norm summed over the data dimensions, in the units of x squared, averaged over the N paths. A coarse
trajectory (few frames) underestimates the straightness deficit of the continuous path it samples: refine it
(more steps) to measure the flow rather than the sampler.
"""

from __future__ import annotations

import torch


def straightness(trajectory, times) -> float:
    """Mean S over the paths of `trajectory` (K + 1, N, ...) at strictly monotone `times` (K + 1,); see the module."""
    x = torch.as_tensor(trajectory).detach().to(torch.float64).cpu()
    t = torch.as_tensor(times).detach().to(torch.float64).cpu().reshape(-1)
    if x.ndim < 2 or len(x) != len(t) or len(t) < 2:
        raise ValueError(f"need a trajectory (K + 1, N, ...) with K + 1 >= 2 times; got {tuple(x.shape)} and {len(t)} times")
    dt = t[1:] - t[:-1]
    if not (bool((dt > 0).all()) or bool((dt < 0).all())):
        raise ValueError("trajectory times must be strictly monotone")
    du = dt / (t[-1] - t[0])  # > 0, sums to 1
    flat = x.reshape(len(x), x.shape[1], -1)
    steps = (flat[1:] - flat[:-1]).square().sum(-1)  # (K, N): ||dx_k||^2
    chord = (flat[-1] - flat[0]).square().sum(-1)  # (N,)
    per_path = (steps / du[:, None]).sum(0) - chord
    return float(per_path.clamp(min=0.0).mean())
