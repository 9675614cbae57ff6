"""Controllable generation in 2D: learned CFG vs exact CFG vs exact classifier guidance; imputation vs exact answers."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from playground.core.diffusion.guidance import (
    classifier_free_guidance,
    classifier_guidance,
    gmm_classifier,
    gmm_conditional_score_fn,
)
from playground.core.diffusion.sde import make_sde
from playground.core.evaluation.metrics import sliced_wasserstein, wasserstein_1d
from playground.core.sampling.imputation import gmm_conditional, impute_exact, impute_replacement
from playground.core.sampling.samplers import sample
from playground.data.targets.gaussian_mixture import GaussianMixture

MIXTURE = GaussianMixture(
    [0.4, 0.35, 0.25],
    [[-2.0, -0.5], [2.0, -0.5], [0.0, 2.0]],
    [[[0.5, 0.2], [0.2, 0.4]], [[0.4, -0.15], [-0.15, 0.5]], [[0.6, 0.0], [0.0, 0.25]]],
)
"""Three overlapping components: the classes."""
RHO = GaussianMixture([1.0], [[0.0, 0.0]], [[[1.0, 0.9], [0.9, 1.0]]])
"""SCIENCE.md's imputation example: a 2D Gaussian with correlation 0.9, x1 = 1 observed."""


def main(argv: list[str]) -> int:
    """Print SWDs of the guidance methods against exact CFG, and W1 of imputation methods against the exact answer."""
    parser = argparse.ArgumentParser(prog="python -m playground bench conditional", description=__doc__)
    parser.add_argument("--model", default=None, help="a conditional model of the bench mixture (default: train one)")
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--n", type=int, default=4000, help="samples per method (default 4000)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    model = _model(args)
    _guidance(model, args.n)
    _imputation(model, args.n)
    return 0


def _model(args):
    from playground.core.training.model_file import load_model
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer

    if args.model:
        return load_model(args.model)
    x, labels = MIXTURE.sample(65536, torch.Generator().manual_seed(0), return_labels=True)
    cfg = TrainConfig(steps=args.train_steps, label_dropout=0.15, threads=args.threads)
    trainer = Trainer(cfg, x.numpy().astype(np.float32), labels=labels.numpy())
    start = time.perf_counter()
    trainer.run()
    print(f"trained a conditional 128 x 3 MLP ({args.train_steps} steps, label dropout 0.15) in "
          f"{time.perf_counter() - start:.1f} s")
    return trainer.snapshot()


def _draw(score_fn, n: int, seed: int, model=None) -> np.ndarray:
    sde = model.sde if model is not None else make_sde("vp")
    dtype = torch.float64 if model is None else torch.float32
    x = sample("ode_heun", score_fn, sde, n, steps=50, seed=seed, dtype=dtype).x
    return (model.to_data(x) if model is not None else x).double().numpy()


def _guidance(model, n: int) -> None:
    sde = make_sde("vp")
    exact = gmm_conditional_score_fn(MIXTURE, sde)
    print("\nclass-conditional sampling (ode_heun, 50 steps): SWD against exact CFG samples of another seed")
    print(f"{'class':>5} {'w':>4} {'floor':>8} {'exact CG':>9} {'learned CFG':>12}")
    for label in range(MIXTURE.n_components):
        for w in (0.0, 1.0, 3.0):
            reference = _draw(classifier_free_guidance(exact, label, w), n, 1)
            again = _draw(classifier_free_guidance(exact, label, w), n, 2)
            cg = _draw(classifier_guidance(MIXTURE.score_fn(sde), gmm_classifier(MIXTURE, sde), label, 1 + w), n, 3)
            learned = _draw(model.score_fn("norm", label, w), n, 4, model)
            print(f"{label:>5} {w:>4g} {sliced_wasserstein(again, reference):>8.4f} "
                  f"{sliced_wasserstein(cg, reference):>9.4f} {sliced_wasserstein(learned, reference):>12.4f}")
    print("exact classifier guidance at scale 1 + w is exact CFG at weight w (the same score): its SWD is the floor's")


def _imputation(model, n: int) -> None:
    sde = make_sde("vp")
    print("\nimputation, x2 given x1 (replacement: em predictor, 500 steps): W1 against the exact 1D conditional")
    print(f"{'case':<28} {'mean':>7} {'var':>7} {'W1':>8} {'floor':>8}")
    cases = [("rho 0.9 Gaussian, x1 = 1", RHO, RHO.score_fn(sde), sde, None, 1.0),
             ("mixture exact score, x1 = 0", MIXTURE, MIXTURE.score_fn(sde), sde, None, 0.0),
             ("mixture learned, x1 = 0", MIXTURE, model.score_fn("norm"), model.sde, model.normalization, 0.0)]
    for name, gmm, score_fn, s, norm, value in cases:
        exact = gmm_conditional(gmm, "x1", value)
        floor = wasserstein_1d(impute_exact(gmm, "x1", value, n, seed=5)[:, 1], exact.cdf)
        print(f"{name + ' (exact)':<28} {exact.mean:>7.3f} {exact.variance:>7.3f} {'':>8} {floor:>8.4f}")
        for correctors in (0, 1):
            x, _ = impute_replacement(score_fn, s, "x1", value, n, normalization=norm, steps=500,
                                      corrector_steps=correctors, seed=6)
            w1 = wasserstein_1d(x[:, 1], exact.cdf)
            label = f"  replacement, {correctors} corrector"
            print(f"{label:<28} {x[:, 1].mean():>7.3f} {x[:, 1].var():>7.3f} {w1:>8.4f} {floor:>8.4f}")
