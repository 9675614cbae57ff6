"""The image U-Net: shapes, gradient flow, class conditioning, config round trip, and a few DSM steps on digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from playground.core.diffusion.sde import VPSDE, bcast
from playground.core.nets.unet import UNet, default_unet_config


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast, and immune to oversubscription on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _net(size, channels=1, num_classes=0, **kw):
    kw.setdefault("base_channels", 16)
    cfg = default_unet_config(size, channels, num_classes, **kw)
    return UNet.from_config(cfg)


def _wake(net: UNet) -> UNet:
    """Give the zero-initialised output conv random weights, so outputs and gradients are non-trivial."""
    torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    torch.nn.init.normal_(net.conv_out.bias, std=0.1)
    return net


@pytest.mark.parametrize("size,channels", [(8, 1), (8, 3), (16, 1), (16, 3), (28, 1), (28, 3), (10, 1)])
def test_output_shape(size, channels):
    net = _net(size, channels)
    x = torch.randn(3, channels, size, size)
    out = net(x, torch.randn(3))
    assert out.shape == x.shape
    assert torch.equal(out, torch.zeros_like(out))  # zero-initialised output layer: a calm start
    _wake(net)
    assert net(x, 0.3).shape == x.shape  # scalar c_noise
    flat = x.reshape(3, -1)
    assert torch.allclose(net(flat, torch.zeros(3)), net(x, torch.zeros(3)).reshape(3, -1), atol=1e-6)
    assert net.dim == channels * size * size and net.data_shape == (channels, size, size)


def test_downsamplings_by_size():
    assert len(_net(8).downsample) == 1  # 8 -> 4
    assert len(_net(28).downsample) == 2  # 28 -> 14 -> 7
    assert len(_net(16).downsample) == 2


@pytest.mark.parametrize("num_classes,attention", [(0, False), (4, True)])
def test_gradient_reaches_every_parameter(num_classes, attention):
    net = _wake(_net(28 if attention else 8, num_classes=num_classes, attention=attention))
    n = num_classes + 1 if num_classes else 2
    size = net.image_size
    x = torch.randn(n, 1, size, size)
    labels = torch.arange(n) if num_classes else None  # every class and the null class
    out = net(x, torch.linspace(-1.5, 1.0, n), labels)
    (out * torch.randn_like(out)).sum().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_class_embedding_and_null_class():
    net = _wake(_net(8, num_classes=3))
    assert net.null_class == 3
    x, c = torch.randn(4, 1, 8, 8), torch.zeros(4)
    out0, out1 = net(x, c, 0), net(x, c, torch.ones(4, dtype=torch.long))
    assert (out0 - out1).abs().max() > 1e-4  # the class changes the output
    assert torch.equal(net(x, c, None), net(x, c, torch.full((4,), 3)))  # None is the null class
    assert (net(x, c, None) - out0).abs().max() > 1e-4
    with pytest.raises(IndexError):
        net(x, c, 4)  # beyond the null class
    with pytest.raises(ValueError, match="unconditional"):
        _net(8)(x, c, 0)
    with pytest.raises(ValueError, match="class_labels"):
        net(x, c, torch.zeros(3, dtype=torch.long))
    assert _net(8).null_class is None


def test_config_round_trip():
    net = _wake(_net(16, 3, num_classes=5, attention=True))
    cfg = json.loads(json.dumps(net.config()))  # JSON-ready for the model file
    assert cfg["type"] == "UNet" and cfg == net.to_config()
    clone = UNet.from_config(cfg)
    clone.load_state_dict(net.state_dict())
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(clone(x, torch.zeros(2), 1), net(x, torch.zeros(2), 1))
    with pytest.raises(ValueError):
        UNet.from_config({"type": "ScoreMLP"})


def test_dsm_steps_on_digits_lower_the_loss():
    """Plain eps-prediction DSM on the 8x8 digits with a VP SDE: 25 Adam steps lower a fixed-noise loss
    (from 1.0 to about 0.2; asserted: below 0.6)."""
    from playground.data.images.dataset import to_model_space
    from playground.data.images.spec import load_image_dataset

    ds = load_image_dataset("digits")
    x0_all = to_model_space(ds.tensor())
    sde = VPSDE()
    g = torch.Generator().manual_seed(0)
    net = _net(8, num_classes=10)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)

    def loss_fn(x0, t, z, labels):
        alpha, std = sde.marginal_coefficients(t)
        xt = bcast(alpha, x0) * x0 + bcast(std, x0) * z
        c_noise = 0.25 * torch.log(std / alpha)  # the model's convention: ln(sigma_edm) / 4
        return ((net(xt, c_noise, labels) - z) ** 2).mean()

    idx = torch.randperm(len(x0_all), generator=g)[:256]
    fixed = (x0_all[idx], torch.rand(256, generator=g) * (1 - 1e-3) + 1e-3,
             torch.randn(256, 1, 8, 8, generator=g), torch.as_tensor(ds.labels[idx.numpy()]))
    with torch.no_grad():
        before = float(loss_fn(*fixed))
    for _ in range(25):
        b = torch.randint(0, len(x0_all), (32,), generator=g)
        t = torch.rand(32, generator=g) * (1 - 1e-3) + 1e-3
        loss = loss_fn(x0_all[b], t, torch.randn(32, 1, 8, 8, generator=g), torch.as_tensor(ds.labels[b.numpy()]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(loss_fn(*fixed))
    assert np.isfinite(after)
    assert abs(before - 1.0) < 0.1  # zero output: E|eps|^2 per dimension
    assert after < 0.6 * before, (before, after)
