"""UNet image models through the 2D training engine: training, model files, labels, guidance, sampling, metrics."""

import math

import numpy as np
import pytest
import torch

import playground
from playground.core.diffusion.guidance import classifier_free_guidance
from playground.core.evaluation.image_likelihood import bits_per_dim
from playground.core.evaluation.image_quality import nearest_distance
from playground.core.evaluation.reference_classifier import classifier_scores, train_classifier
from playground.core.io.image_grid import image_grid, save_image_grid
from playground.core.training.image_training import image_train_config, image_trainer
from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer
from playground.data.images.spec import load_image_dataset

TINY = {"base_channels": 8, "channel_mults": (1, 2), "batch": 32, "warmup": 5, "seed": 0}


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits", n=256)


def test_a_few_training_steps_lower_the_loss(digits):
    trainer = image_trainer(digits, image_train_config(steps=60, lr=3e-3, **TINY))
    trainer.run()
    loss = trainer.history.loss
    assert np.mean(loss[-10:]) < 0.7 * np.mean(loss[:5])
    assert trainer.model.image_shape == (1, 8, 8)
    assert trainer.normalization.scale == 0.5
    assert trainer.normalization.log_det_jacobian == pytest.approx(64 * math.log(2))


def test_images_train_on_dequantised_pixels_with_measured_sigma_data(digits, tmp_path):
    """IMAGE_TRAIN_DEFAULTS: each batch is (round(255 x) + u) / 256 normalised (fresh u per batch, inside the pixel's
    8-bit bin), and sigma_data is the std of those normalised pixels (~0.75 for the digits, not EDM's 0.5 or the
    2D default 1); both are kept in the model file."""
    cfg = image_train_config(steps=2, **TINY)
    assert cfg.dequantize and cfg.sigma_data is None
    trainer = image_trainer(digits, cfg)
    seen = []
    draw = trainer._draw_batch  # (x0, labels, loss draws) of each step: record the x0 the loss sees
    trainer._draw_batch = lambda: (lambda batch: seen.append(batch[0].clone()) or batch)(draw())
    trainer.run()
    x = trainer.normalization.to_data(seen[0].cpu()).double()  # back to [0, 1] pixels
    # the first batch's indices: the first draw of the trainer's seeded generator, on the trainer's device
    gen = torch.Generator(device=trainer.device).manual_seed(TINY["seed"])
    idx = torch.randint(0, len(trainer.pool), (TINY["batch"],), generator=gen, device=trainer.device).cpu()
    levels = torch.as_tensor(np.round(digits.images.reshape(len(digits), -1) * 255))[idx]
    assert ((x * 256 >= levels - 1e-4) & (x * 256 < levels + 1 + 1e-4)).all()
    assert (x < 1).all() and not torch.equal(seen[0], seen[1])
    pixels = 2 * (np.round(digits.images * 255) + 0.5) / 256 - 1
    assert trainer.config.sigma_data == pytest.approx(float(np.sqrt(pixels.var() + (1 / 128) ** 2 / 12)), rel=1e-3)
    assert 0.7 < trainer.config.sigma_data < 0.8 and trainer.model.sigma_data == trainer.config.sigma_data
    trainer.save(tmp_path / "m.safetensors")
    loaded = playground.load_model(tmp_path / "m.safetensors")
    assert loaded.sigma_data == pytest.approx(trainer.config.sigma_data) and loaded.config["dequantize"] is True
    with pytest.raises(ValueError, match="pixel data in"):
        Trainer(TrainConfig(dequantize=True, steps=1), np.full((10, 2), 2.0, np.float32))
    with pytest.raises(ValueError, match="sigma_data"):
        TrainConfig(sigma_data=-1.0).validate()


def test_unet_model_file_round_trip_gives_identical_outputs(digits, tmp_path):
    trainer = image_trainer(digits, image_train_config(steps=5, **TINY), classes=True)
    trainer.run()
    path = tmp_path / "digits.safetensors"
    trainer.save(path)
    model, loaded = trainer.snapshot(), playground.load_model(path)
    assert loaded.image_shape == (1, 8, 8)
    assert loaded.num_classes == 10 and loaded.class_names == digits.class_names
    assert loaded.model_config()["image_shape"] == [1, 8, 8]
    x = torch.rand(6, 64)
    t = torch.linspace(0.1, 0.9, 6)
    labels = torch.tensor([0, 1, 2, 3, 10, 9])
    assert torch.equal(model.score(x, t, labels), loaded.score(x, t, labels))
    assert torch.equal(model.denoise(x, t), loaded.denoise(x, t))
    resumed = Trainer.resume(path, digits.images, labels=digits.labels)
    assert resumed.step_count == 5 and resumed.class_names == digits.class_names


def test_guidance_zero_equals_the_conditional_model(digits):
    trainer = image_trainer(digits, image_train_config(steps=3, **TINY), classes=True)
    trainer.run()
    model = trainer.snapshot()
    y = torch.randn(5, 64)
    t = torch.full((5,), 0.4)
    guided = classifier_free_guidance(model.cond_score_fn(), 7, 0.0, null_class=model.null_class)
    assert torch.equal(guided(y, t), model.score_norm(y, t, 7))
    a = model.sample(4, sampler="ode_euler", steps=5, class_labels=7, guidance=0.0)
    b = model.sample(4, sampler="ode_euler", steps=5, class_labels=7)
    assert np.array_equal(a, b)
    c = model.sample(4, sampler="ode_euler", steps=5, class_labels=7, guidance=2.0)
    assert not np.array_equal(a, c)


def test_sample_returns_images_in_pixel_range(digits):
    trainer = image_trainer(digits, image_train_config(steps=3, **TINY))
    trainer.run()
    x, traj = trainer.snapshot().sample(5, sampler="em", steps=6, trajectory=True, trajectory_stride=2)
    assert x.shape == (5, 1, 8, 8) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    assert traj.shape[1:] == (5, 1, 8, 8)


def test_label_dropout_replaces_labels_with_the_null_class(digits):
    trainer = image_trainer(digits, image_train_config(steps=1, label_dropout=0.5, **TINY), classes=True)
    idx = torch.arange(200) % len(digits)
    y = trainer._batch_labels(idx)
    dropped = (y == 10).float().mean().item()
    assert 0.35 < dropped < 0.65
    kept = y != 10
    assert torch.equal(y[kept], trainer.labels[idx][kept])


def test_labels_are_checked(digits):
    cfg = image_train_config(steps=1, **TINY)
    with pytest.raises(ValueError, match="labels for"):
        Trainer(cfg, digits.images, labels=digits.labels[:10])
    with pytest.raises(ValueError, match="needs labels"):
        Trainer(TrainConfig(**{**cfg.to_dict(), "num_classes": 3}), digits.images)
    with pytest.raises(ValueError, match="image_shape"):
        Trainer(cfg, digits.images.reshape(len(digits), -1))


def test_mlp_training_is_unchanged_by_the_image_options():
    data = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    a = Trainer(TrainConfig(steps=5, batch=64), data)
    b = Trainer(TrainConfig(steps=5, batch=64, network="mlp", base_channels=64), data)
    a.run(), b.run()
    assert a.history.loss == b.history.loss
    assert "image_shape" not in a.snapshot().model_config()


def test_bits_per_dim_and_sample_metrics(digits, tmp_path):
    trainer = image_trainer(digits, image_train_config(steps=3, **TINY))
    trainer.run()
    bpd = bits_per_dim(trainer.snapshot(), digits.images[:4], tol=1e-3)
    assert math.isfinite(bpd["bpd"]) and bpd["n"] == 4 and bpd["nfe"] > 0
    assert bpd["eps"] == 1e-5 and bpd["probe"] == "rademacher" and bpd["dequantized_training"]
    d = nearest_distance(digits.images[:10], digits.images)
    assert np.allclose(d, 0)
    assert (nearest_distance(digits.images[:10], digits.images, exclude=np.arange(10)) > 0).all()
    clf = train_classifier(digits.images, digits.labels, 10, seconds=2, max_epochs=30)
    assert clf.accuracy(digits.images, digits.labels) > 0.8
    scores = classifier_scores(clf, digits.images, digits.labels)
    assert scores.on_class > 0.8 and 0 < scores.confident <= 1
    # the outlier class: noise is not a confident digit (a plain softmax MLP calls ~80% of it confident)
    noise = classifier_scores(clf, np.random.default_rng(1).random((200, 1, 8, 8), dtype=np.float32))
    assert noise.confident < 0.05 and (noise.predicted == 10).mean() > 0.9
    assert image_grid(digits.images[:5]).shape == (2 * 9 + 1, 3 * 9 + 1)  # 3 columns, 2 rows
    save_image_grid(tmp_path / "grid.png", digits.images[:6])
    assert (tmp_path / "grid.png").stat().st_size > 0
