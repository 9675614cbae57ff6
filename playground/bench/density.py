"""Density maps: seconds for 64x64 and 128x128 learned log p maps, solver error against dopri5, exact-GMM accuracy."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from playground.core.diffusion.sde import make_sde
from playground.core.sampling.density_grid import GridSpec, iter_log_density_grid, log_density_grid
from playground.core.sampling.likelihood import log_likelihood
from playground.core.sampling.pf_ode_density import (
    TABLEAUS,
    gmm_density_field,
    method_stages,
    model_density_field,
    solve_log_density,
)
from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.presets import make_preset

TARGETS_S = {64: 3.0, 128: 12.0}
"""Speed targets (2 CPU threads, the default 128 x 3 MLP): seconds per map."""
ACCURACY_NATS = 0.01
"""The exact path's largest error where log p > -8."""

BENCH_GMM = GaussianMixture(
    [0.3, 0.15, 0.2, 0.2, 0.15],
    [[1.3, 0.5], [0.1, 1.2], [-0.9, -0.3], [-3.0, 0.8], [-2.1, -1.1]],
    [[[0.25, 0.18], [0.18, 0.40]], [[0.08, 0.0], [0.0, 0.30]], [[0.50, -0.25], [-0.25, 0.30]],
     [[0.07, 0.02], [0.02, 1.0]], [[0.6, 0.3], [0.3, 0.6]]],
)  # fmt: skip
"""Five components from sd 0.26 to 1: thin, elongated and correlated ones (the hard case for the ODE is a thin one)."""


def main(argv: list[str]) -> int:
    """Print the map timings, the solvers' errors against adaptive dopri5, and the exact-GMM accuracy table."""
    parser = argparse.ArgumentParser(prog="python -m playground bench density", description=__doc__)
    parser.add_argument("--model", default=None, help="a 2D model file (default: train the default MLP here)")
    parser.add_argument("--train-steps", type=int, default=2000, help="steps of the model trained here (default 2000)")
    parser.add_argument("--data", default="checkerboard", help="preset the model is trained on (default checkerboard)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-speed", action="store_true", help="only the exact-GMM accuracy table")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not args.skip_speed:
        model = _model(args)
        _speed(model, make_preset(args.data))
        _against_dopri5(model, make_preset(args.data))
    return 0 if _gmm_accuracy() else 1


def _model(args):
    from playground.core.training.model_file import load_model
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    if args.model:
        return load_model(args.model)
    target = make_preset(args.data)
    trainer = Trainer(TrainConfig(steps=args.train_steps, threads=args.threads), lambda n, s: target.sample(n, s))
    start = time.perf_counter()
    trainer.run()
    print(f"trained the default MLP on {args.data} for {args.train_steps} steps ({time.perf_counter() - start:.1f} s)")
    return trainer.snapshot()


def _speed(model, target) -> None:
    field = model_density_field(model)
    extent = target.bounds()
    print("\nlearned log p_0 map (rk3, steps by the Richardson tolerance 0.01 nats)")
    print(f"{'grid':>8} {'steps':>6} {'NFE':>5} {'estimate':>9} {'first frame s':>14} {'seconds':>8} {'cpu s':>6} "
          f"{'target':>7}")
    for size, limit in TARGETS_S.items():
        start, cpu = time.perf_counter(), time.process_time()
        first = None
        for frame in iter_log_density_grid(field, GridSpec(extent, size), 0.0):
            first = first or time.perf_counter() - start
        seconds = time.perf_counter() - start
        verdict = "ok" if seconds <= limit else "SLOW"
        print(f"{size:>4}x{size:<3} {frame.steps:>6} {frame.nfe:>5} {frame.error_estimate:>9.4f} {first:>14.2f} "
              f"{seconds:>8.2f} {time.process_time() - cpu:>6.1f} {limit:>5.0f} s {verdict}")
    print("cpu s: the process's CPU time (all threads); on a busy machine it is the better guide to the quiet time")


def _against_dopri5(model, target) -> None:
    """Each method's largest error on a 24 x 24 grid against dopri5 at rtol = atol = 1e-7 (points within 15 nats of
    the top)."""
    field = model_density_field(model)
    grid = GridSpec(target.bounds(), 24)
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    x = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    eps = model.sde.sampling_eps
    start = time.perf_counter()
    y = model.to_norm(x)
    ref = log_likelihood(model.score_norm, model.sde, y, eps=eps, rtol=1e-7, atol=1e-7, dtype=torch.float64,
                         log_det_jacobian=model.normalization.log_det_jacobian)
    ref_s = time.perf_counter() - start
    logp = ref.logp.numpy()
    relevant = logp > logp.max() - 15
    print(f"\nsolver error against dopri5 (rtol = atol = 1e-7, NFE {ref.nfe}, {ref_s:.1f} s) on 24 x 24 points")
    print(f"{'method':>6} " + " ".join(f"{'NFE ' + str(n):>10}" for n in (48, 96, 192)))
    for method in TABLEAUS:
        row = []
        for nfe in (48, 96, 192):
            steps = max(1, nfe // method_stages(method))
            got = solve_log_density(field, x, eps, steps, method).logp.numpy()
            row.append(f"{np.abs(got - logp)[relevant].max():>10.2e}")
        print(f"{method:>6} " + " ".join(row))
    auto = log_density_grid(field, grid, 0.0)
    err = np.abs(auto.log_density.ravel() - logp)[relevant].max()
    print(f"auto (tol 0.01): {auto.steps} rk3 steps, estimate {auto.error_estimate:.4f}, actual {err:.4f} nats")


def _gmm_accuracy() -> bool:
    """The exact path (float64, exact prior at T) against the diffused mixture's closed form on a 128 x 128 grid."""
    print(f"\nexact 5-component GMM, float64, exact prior: largest |error| where log p > -8 (target {ACCURACY_NATS})")
    print(f"{'sde':>6} {'t':>7} {'steps':>6} {'estimate':>9} {'error':>9} {'seconds':>8}")
    grid = GridSpec((-5.5, 3.5, -4.0, 4.5), 128)
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    x = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    ok = True
    for sde in (make_sde("vp"), make_sde("subvp"), make_sde("ve", sigma_max=8.0)):
        field = gmm_density_field(BENCH_GMM, sde)
        for t in (0.0, 0.5):
            m = log_density_grid(field, grid, t)
            true = BENCH_GMM.log_prob(x, m.t, sde).numpy().reshape(grid.size, grid.size)
            mask = true > -8
            err = float(np.abs(m.log_density - true)[mask].max())
            ok &= err <= ACCURACY_NATS
            print(f"{sde.name:>6} {m.t:>7.3g} {m.steps:>6} {m.error_estimate:>9.2e} {err:>9.2e} {m.seconds:>8.2f}"
                  f"{'' if err <= ACCURACY_NATS else '  FAIL'}")
    return ok
