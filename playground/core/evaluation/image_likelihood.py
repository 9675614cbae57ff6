"""Bits/dim of 8-bit images under a trained model: dequantised pixels through the PF-ODE (Song et al. 2021, Sec. 4.3).

Uniform dequantisation (Theis et al. 2016; Ho et al. 2020): a pixel x in [0, 1] is read as its 8-bit level
k = round(255 x) and replaced by y = (k + u) / 256, u ~ U(0, 1), a point of its own bin [k / 256, (k + 1) / 256).
The bins tile [0, 1)^D, so for any continuous density p the discrete model P(k) = int_bin p (a sub-probability over
the 256^D images) obeys, by Jensen's inequality, -log2 P(k) / D <= E_u[-log2 p(y)] / D + 8: the bits/dim reported
here bound the model's discrete bits/dim. The bound is tight when p is near-uniform inside each bin, i.e. for a model
trained on dequantised data (TrainConfig.dequantize, on in IMAGE_TRAIN_DEFAULTS); a model trained on the bare levels
concentrates its mass on them and pays for it here (the figure is still a valid, but loose, bound).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import SDE, ScoreFn
from playground.core.sampling.likelihood import log_likelihood
from playground.core.training.model import ScoreModel


def dequantize(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """(round(255 x) + u) / 256 with u ~ U(0, 1) per pixel, in float64: each pixel moves to a uniform point of its
    8-bit bin [k / 256, (k + 1) / 256) (a pixel of 1 to [255 / 256, 1), never a point mass at 1)."""
    levels = np.round(np.asarray(images, dtype=np.float64) * 255.0)
    if levels.size and (levels.min() < 0 or levels.max() > 255):
        raise ValueError("dequantize needs pixels in [0, 1]")
    return (levels + np.random.default_rng(seed).uniform(0.0, 1.0, size=levels.shape)) / 256.0


def pixel_bits_per_dim(score_norm: ScoreFn, sde: SDE, normalization: Normalization, images: np.ndarray, *,
                       eps: float | None = None, tol: float = 1e-5, seed: int = 0, batch_size: int | None = 256,
                       divergence: str = "hutchinson", probe: str = "rademacher",
                       device: str | torch.device = "cpu") -> dict:
    """Mean bits/dim of [0, 1] images (N, C, H, W) for a score in the normalised space y = normalization(x).

    The images are dequantised (`dequantize`, seed `seed`), normalised, and integrated along the PF-ODE from eps
    (default sde.likelihood_eps; divergence 'hutchinson' with `probe` probes, or 'exact'; in float64 on `device`);
    the normalisation's log-det Jacobian (D ln 2 for y = 2x - 1) is added, so the figure is for dequantised pixel
    space with the 8-bit offset log2(256) = 8. Returns {'bpd', 'bpd_sem' (its standard error over the images),
    'nfe', 'n', 'eps', 'probe'}."""
    x = torch.as_tensor(dequantize(images, seed)).reshape(len(images), -1)
    y = normalization.to_norm(x).to(device)
    res = log_likelihood(score_norm, sde, y, eps=eps, divergence=divergence, probe=probe, rtol=tol, atol=tol,
                         seed=seed, log_det_jacobian=normalization.log_det_jacobian, batch_size=batch_size)
    bpd = res.bits_per_dim().detach().cpu().numpy()
    sem = float(bpd.std(ddof=1) / math.sqrt(len(bpd))) if len(bpd) > 1 else float("nan")
    return {"bpd": float(bpd.mean()), "bpd_sem": sem, "nfe": res.nfe, "n": len(bpd), "eps": res.eps,
            "probe": probe if res.divergence == "hutchinson" else None}


def bits_per_dim(model: ScoreModel, images: np.ndarray, *, eps: float | None = None, tol: float = 1e-5,
                 seed: int = 0, batch_size: int | None = 256, probe: str = "rademacher") -> dict:
    """`pixel_bits_per_dim` for a trained image model (Hutchinson's estimator), with 'dequantized_training': whether
    the model was trained on dequantised pixels (then the bound is tight; see the module docstring)."""
    out = pixel_bits_per_dim(model.score_norm, model.sde, model.normalization, images, eps=eps, tol=tol, seed=seed,
                             batch_size=batch_size, probe=probe, device=model.device)
    out["dequantized_training"] = bool(model.config.get("dequantize", False))
    return out
