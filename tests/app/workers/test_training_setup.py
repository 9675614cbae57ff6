"""What a training run is built from: the TrainConfig and Trainer arguments read off the app's settings (2D and
image mode), and the preview plan (2D points, a 4 x 4 image grid, one class per tile for a conditional model)."""

import numpy as np

from playground.app.state import AppState, Settings
from playground.app.workers.training_setup import (
    IMAGE_PREVIEW_N,
    IMAGE_PREVIEW_STEPS,
    preview_plan,
    train_config,
    trains_classes,
    training_recipe,
)
from playground.data.images.shapes import make_shapes
from playground.data.targets.presets import make_preset


def test_preview_plan_points_images_classes_and_off():
    assert preview_plan(800, 40, image=False, num_classes=0) == (800, 40, None)
    assert preview_plan(800, 40, image=True, num_classes=0) == (IMAGE_PREVIEW_N, IMAGE_PREVIEW_STEPS, None)
    n, steps, labels = preview_plan(800, 40, image=True, num_classes=5)
    assert (n, steps) == (16, 30) and labels.tolist() == [0, 1, 2, 3, 4] * 3 + [0]
    assert preview_plan(0, 40, image=True, num_classes=5) == (0, 40, None)
    assert preview_plan(-3, 40, image=False, num_classes=0) == (0, 40, None)


def test_recipe_follows_the_settings_in_2d_and_image_mode():
    state = AppState(make_preset("moons"), Settings(lr=2e-3, batch=64, steps=123, seed=7, image_classes=True))
    config, data = training_recipe(state, threads=3)
    assert (config.lr, config.batch, config.steps, config.seed, config.threads) == (2e-3, 64, 123, 7, 3)
    assert config.network == "mlp" and data is state.target_samples
    assert train_config(state, steps=9).steps == 9  # overrides win
    shapes = make_shapes(8, n=20, seed=0)
    state.set_images(shapes, "shapes8")
    assert trains_classes(state)
    config, images, labels, names, info = training_recipe(state)
    assert config.network == "unet" and config.label_dropout > 0 and images is shapes.images
    assert np.array_equal(labels, shapes.labels) and names == shapes.class_names
    assert info["data"] == "shapes8" and info["dataset"]["n"] == 20
    state.update_settings(image_classes=False)
    config, _, labels, names, _ = training_recipe(state)
    assert not trains_classes(state) and config.label_dropout == 0.0 and labels is None and names is None
