"""Speed settings: what 'auto' resolves to per network and device, bad requests refused, a failing torch.compile
falls back to the identical eager step, bf16 autocast keeps fp32 weights and tracks the fp32 loss."""

import numpy as np
import pytest
import torch

from playground.core.training import speed
from playground.core.training.config import TrainConfig
from playground.core.training.image_training import image_train_config, image_trainer
from playground.data.images.spec import load_image_dataset

CPU = torch.device("cpu")


def digits_trainer(**kw):
    cfg = image_train_config(steps=None, seconds=None, seed=0, batch=8, base_channels=8, device="cpu", threads=1, **kw)
    return image_trainer(load_image_dataset("digits", n=64), cfg)


@pytest.mark.parametrize("native", [True, False])
def test_auto_picks_bf16_only_for_a_unet_on_16x16_or_larger_images_on_bf16_hardware(monkeypatch, native):
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: native)
    unet = speed.resolve_speed(TrainConfig(network="unet", image_shape=(1, 28, 28)), CPU)
    assert unet.precision == ("bf16" if native else "fp32") and not unet.channels_last and unet.fused_adam
    assert speed.resolve_speed(TrainConfig(network="unet", image_shape=(1, 8, 8)), CPU).precision == "fp32"  # 8x8
    assert speed.resolve_speed(TrainConfig(), CPU).precision == "fp32"  # MLPs on 2D points stay fp32
    assert "fp32" in speed.resolve_speed(TrainConfig(precision="fp32"), CPU).describe()


def test_auto_on_cuda_is_plain_fp32_even_where_bf16_is_supported(monkeypatch):
    """On CUDA (measured on an H200) bf16/fp16 autocast slowed the default UNet and NHWC gained nothing: auto = fp32,
    NCHW, fused Adam; explicit requests are kept. No GPU is needed to resolve."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    cuda = torch.device("cuda")
    unet = speed.resolve_speed(TrainConfig(network="unet", image_shape=(1, 28, 28)), cuda)
    assert (unet.precision, unet.channels_last, unet.fused_adam) == ("fp32", False, True)
    asked = speed.resolve_speed(TrainConfig(network="unet", precision="bf16", channels_last=True), cuda)
    assert (asked.precision, asked.channels_last) == ("bf16", True)
    assert speed.resolve_speed(TrainConfig(), cuda).precision == "fp32"


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="channels_last applies to image networks"):
        speed.resolve_speed(TrainConfig(channels_last=True), CPU)
    with pytest.raises(ValueError, match="needs a CPU or CUDA device"):
        speed.resolve_speed(TrainConfig(precision="bf16"), torch.device("mps"))
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp8").validate()


def test_a_failing_compiler_falls_back_to_the_same_eager_step(monkeypatch):
    def broken_compile(fn, **kw):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler found")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager = digits_trainer(precision="fp32")
    compiled = digits_trainer(precision="fp32", compile=True)
    assert compiled.speed.compile
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no C\\+\\+ compiler"):
        first = compiled.step()
    assert not compiled.speed.compile and "forward" not in compiled.model.net.__dict__
    assert first.loss == eager.step().loss and compiled.step().loss == eager.step().loss


def test_bf16_autocast_keeps_fp32_weights_and_tracks_the_fp32_loss():
    full, half = digits_trainer(precision="fp32"), digits_trainer(precision="bf16")
    assert half.speed.precision == "bf16"
    a = [full.step().loss for _ in range(3)]
    b = [half.step().loss for _ in range(3)]
    np.testing.assert_allclose(b, a, rtol=0.05)
    assert half.flat.dtype == torch.float32 and half.snapshot().sample(2, steps=2).dtype == np.float32
