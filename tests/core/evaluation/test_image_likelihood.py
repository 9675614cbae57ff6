"""Bits/dim with the standard uniform dequantisation, pinned on a case with a known answer: a dataset of K fixed
8-bit images, whose dequantised density (uniform on K bins of volume 256^-D) is known exactly at every t."""

import math

import numpy as np
import pytest
import torch

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import VPSDE
from playground.core.evaluation.image_likelihood import dequantize, pixel_bits_per_dim

# K = 3 images of 1 x 2 x 2 pixels, 8-bit levels including 0 and 1 (the digits' 1.0 is 9% of their pixels)
LEVELS = np.array([[0, 255, 112, 255], [255, 0, 0, 16], [128, 128, 255, 64]], dtype=np.float64)
IMAGES = (LEVELS / 255.0).reshape(3, 1, 2, 2)
D = 4
NORM = Normalization.pixels(D)  # y = 2x - 1
WIDTH = 2.0 / 256  # a bin's width in normalised units


def _log_box(y, lo, alpha, std):
    """log of the density at y of alpha * U(lo, lo + WIDTH) + N(0, std^2), per coordinate (stable in the tails)."""
    a = (y - alpha * (lo + WIDTH)) / std  # z of the upper edge (the smaller z)
    b = (y - alpha * lo) / std
    # log(Phi(b) - Phi(a)): through the upper tails when a > 0, else the lower; each branch sees safe inputs only,
    # so the unused one cannot put NaN into the gradient
    far = a > 0
    ar, br = torch.where(far, a, 0.0), torch.where(far, b, 1.0)
    al, bl = torch.where(far, -1.0, a), torch.where(far, 0.0, b)
    upper = torch.special.log_ndtr(-ar)
    right = upper + torch.log(-torch.expm1(torch.special.log_ndtr(-br) - upper))
    lower = torch.special.log_ndtr(bl)
    left = lower + torch.log(-torch.expm1(torch.special.log_ndtr(al) - lower))
    return torch.where(far, right, left) - torch.log(torch.as_tensor(alpha * WIDTH, dtype=torch.float64))


def _box_mixture(sde):
    """(log p_t(y), score) of the dequantised K images in normalised space, diffused by the VP SDE (exact)."""
    lows = torch.as_tensor(NORM.to_norm(torch.as_tensor(LEVELS / 256.0)))  # (K, D) lower bin edges

    def log_p(y, t):
        alpha, std = sde.marginal_coefficients(t.double())
        per = _log_box(y.double()[:, None, :], lows[None], alpha[:, None, None], std[:, None, None]).sum(-1)
        return torch.logsumexp(per, 1) - math.log(len(lows))

    def score(y, t):
        with torch.enable_grad():
            yy = y if y.requires_grad else y.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(log_p(yy, t).sum(), yy, create_graph=y.requires_grad)
        return g.to(y.dtype)

    return log_p, score


def test_dequantize_puts_every_pixel_uniformly_in_its_own_8_bit_bin():
    """y = (round(255 x) + u) / 256 lies in [k / 256, (k + 1) / 256): a pixel of 1 is no point mass at 1.

    The old clip(x + U(0, 1/256), 0, 1) kept every 1 at exactly 1 and put level k in [k/255, k/255 + 1/256)."""
    x = np.tile(IMAGES, (2000, 1, 1, 1))
    y = dequantize(x, seed=3)
    k = np.round(x * 255)
    assert ((y >= k / 256) & (y < (k + 1) / 256)).all()
    u = (y * 256 - k).reshape(-1)
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005  # uniform inside the bin
    assert not np.array_equal(dequantize(x, seed=3), dequantize(x, seed=4))
    with pytest.raises(ValueError, match="pixels in"):
        dequantize(np.full((1, 1, 2, 2), 1.5))


def test_bits_per_dim_of_known_images_equals_the_exact_dequantised_density():
    """The PF-ODE bits/dim of the K images under the exact score of their dequantised density equals the closed
    form -log2 p_eps(y) / D + 8 at the same dequantised points (0.01 bits/dim: solver and prior p_T vs N(0, I)),
    and it bounds the discrete answer log2(K) / D from above by the smoothing of p_eps, computed by quadrature."""
    sde = VPSDE()
    log_p, score = _box_mixture(sde)
    images = np.tile(IMAGES, (4, 1, 1, 1))  # 12 images, each of the 3 dequantised with 4 different u
    eps = 1e-5
    res = pixel_bits_per_dim(score, sde, NORM, images, eps=eps, tol=1e-6, seed=1, divergence="exact")
    y = NORM.to_norm(torch.as_tensor(dequantize(images, seed=1)).reshape(len(images), -1))
    exact = -log_p(y, torch.full((len(y),), eps, dtype=torch.float64)) - NORM.log_det_jacobian
    exact_bpd = float(exact.mean()) / (D * math.log(2)) + 8
    assert res["bpd"] == pytest.approx(exact_bpd, abs=0.01)
    assert res["eps"] == eps and res["n"] == 12 and res["probe"] is None
    # at the samplers' eps = 1e-3 (the old likelihood default on VP) p_eps blurs the bins by std 0.03 > a bin: the
    # same images would cost more than 1.5 bits/dim more
    blurred = -log_p(y, torch.full((len(y),), 1e-3, dtype=torch.float64)) - NORM.log_det_jacobian
    assert float(blurred.mean() - exact.mean()) / (D * math.log(2)) > 1.5

    # E_u over the bins, per coordinate (the bins are ~8 std apart at eps: the other images add nothing)
    alpha, std = (float(v) for v in sde.marginal_coefficients(torch.tensor(eps, dtype=torch.float64)))
    u = (torch.arange(20000, dtype=torch.float64) + 0.5) / 20000
    lows = NORM.to_norm(torch.as_tensor(LEVELS / 256.0)).reshape(-1)
    inside = torch.stack([_log_box(lo + WIDTH * u, lo, alpha, std).mean() for lo in lows]).sum() / len(LEVELS)
    expected_bpd = (math.log(len(LEVELS)) - float(inside) - NORM.log_det_jacobian) / (D * math.log(2)) + 8
    discrete_bpd = math.log2(len(LEVELS)) / D  # the data's own bits/dim: 3 equally likely images
    assert discrete_bpd < expected_bpd < discrete_bpd + 0.2  # p_eps blurs the bin edges by std(eps) ~ 1e-3
    assert res["bpd"] == pytest.approx(expected_bpd, abs=3 * res["bpd_sem"] + 0.01)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_bits_per_dim_agrees_with_the_exact_divergence(probe):
    sde = VPSDE()
    _, score = _box_mixture(sde)
    images = np.tile(IMAGES, (8, 1, 1, 1))
    exact = pixel_bits_per_dim(score, sde, NORM, images, tol=1e-5, seed=2, divergence="exact")
    est = pixel_bits_per_dim(score, sde, NORM, images, tol=1e-5, seed=2, probe=probe)
    assert est["probe"] == probe
    assert est["bpd"] == pytest.approx(exact["bpd"], abs=4 * est["bpd_sem"])
