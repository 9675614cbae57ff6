"""Bits/dim of images under a trained model: dequantised pixels through the PF-ODE (Song et al. 2021, Sec. 4.3)."""

from __future__ import annotations

import math

import numpy as np
import torch

from playground.core.sampling.likelihood import log_likelihood
from playground.core.training.model import ScoreModel


def dequantize(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """[0, 1] pixels plus uniform noise of one 8-bit level, clipped: the continuous data whose bits/dim (offset 8)
    bound the discrete data's (Ho et al. 2020)."""
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.uniform(0, 1 / 256, size=images.shape).astype(np.float32), 0, 1)


def bits_per_dim(model: ScoreModel, images: np.ndarray, *, eps: float | None = None, tol: float = 1e-5,
                 seed: int = 0, batch_size: int | None = 256) -> dict:
    """Mean bits/dim of [0, 1] images (N, C, H, W) through the PF-ODE with Hutchinson's divergence estimator.

    The images are dequantised (`dequantize`), normalised by the model and the normalisation's log-det Jacobian
    (D ln 2 for y = 2x - 1) is added, so the figure is for pixel space with the 8-bit offset log2(256).
    Returns {'bpd', 'bpd_sem' (its standard error), 'nfe', 'n', 'eps'}."""
    x = torch.as_tensor(dequantize(np.asarray(images, dtype=np.float32), seed)).reshape(len(images), -1)
    y = model.to_norm(x.to(torch.float64)).to(model.device)
    eps = model.sde.sampling_eps if eps is None else eps
    res = log_likelihood(model.score_norm, model.sde, y, eps=eps, divergence="hutchinson", rtol=tol, atol=tol,
                         seed=seed, log_det_jacobian=model.normalization.log_det_jacobian, batch_size=batch_size)
    bpd = res.bits_per_dim().detach().cpu().numpy()
    sem = float(bpd.std(ddof=1) / math.sqrt(len(bpd))) if len(bpd) > 1 else float("nan")
    return {"bpd": float(bpd.mean()), "bpd_sem": sem, "nfe": res.nfe, "n": len(bpd), "eps": eps}
