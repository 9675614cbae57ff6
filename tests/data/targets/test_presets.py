"""Presets: shapes, seeding, FFJORD scalings, exact GMMs and the checkerboard's exact density."""

import math

import numpy as np
import pytest
import torch

from playground.data.targets.presets import DEFAULT_NOISE, PRESETS, make_preset
from playground.data.targets.target import DataError

N = 20_000


@pytest.mark.parametrize("name", PRESETS)
def test_preset_shape_seeding_and_params(name):
    target = make_preset(name)
    x = target.sample(N, seed=3)
    assert x.shape == (N, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_array_equal(x, target.sample(N, seed=3))
    assert not np.array_equal(x, target.sample(N, seed=4))
    assert target.sample(7, seed=0).shape == (7, 2)
    assert target.params == {"name": name, "noise": DEFAULT_NOISE.get(name)}
    assert np.abs(x).max() < 6


def test_moons_mean_and_range():
    x = make_preset("moons", noise=0.0).sample(N, 0)
    np.testing.assert_allclose(x.mean(0), [0.0, 0.3], atol=0.03)  # raw mean (0.5, 0.25), x 2 + (-1, -0.2)
    np.testing.assert_allclose(x.min(0), [-3.0, -1.2], atol=0.01)
    np.testing.assert_allclose(x.max(0), [3.0, 1.8], atol=0.01)
    noisy = make_preset("moons").sample(N, 0)
    assert noisy.std(0)[1] > x.std(0)[1]


def test_circles_rings_and_line_radii():
    circles = np.linalg.norm(make_preset("circles", noise=0.0).sample(N, 0), axis=1)
    assert set(np.round(circles, 6)) == {1.5, 3.0}
    rings = np.linalg.norm(make_preset("rings", noise=0.0).sample(N, 0), axis=1)
    np.testing.assert_allclose(sorted(set(np.round(rings, 5))), [0.75, 1.5, 2.25, 3.0])
    line = make_preset("line").sample(N, 0)
    np.testing.assert_array_equal(line[:, 0], line[:, 1])
    assert line.min() >= -2.5 and line.max() <= 2.5
    cos = make_preset("cos").sample(N, 0)
    np.testing.assert_allclose(cos[:, 1], 2.5 * np.sin(cos[:, 0]), atol=1e-5)


def test_swissroll_spirals_pinwheel_scalings():
    roll = make_preset("swissroll", noise=0.0).sample(N, 0)
    radius = np.linalg.norm(roll, axis=1)  # t / 5, t in [1.5 pi, 4.5 pi]
    assert radius.min() >= 1.5 * np.pi / 5 - 1e-5 and radius.max() <= 4.5 * np.pi / 5 + 1e-5
    spirals = make_preset("2spirals", noise=0.0).sample(N, 0)
    assert np.abs(spirals).max() < 3 * np.pi / 3 + 0.5 / 3 + 1e-5
    np.testing.assert_allclose(spirals.mean(0), 0, atol=0.05)  # the two spirals mirror each other
    pinwheel = make_preset("pinwheel", noise=0.0).sample(N, 0)
    radius = np.linalg.norm(pinwheel, axis=1)  # 2 * |(1 + N(0, 0.3^2), 0)|
    np.testing.assert_allclose(np.median(radius), 2.0, atol=0.02)


def test_eight_gaussians_gmm_and_entropy():
    target = make_preset("8gaussians")
    gmm = target.gmm
    radius = 4 / 1.414
    angles = np.arctan2(gmm.means[:, 1].numpy(), gmm.means[:, 0].numpy())
    np.testing.assert_allclose(np.linalg.norm(gmm.means.numpy(), axis=1), radius)
    np.testing.assert_allclose(np.sort(np.mod(angles, 2 * np.pi)), np.arange(8) * np.pi / 4, atol=1e-12)
    np.testing.assert_allclose(gmm.covariances.numpy(), np.tile(np.eye(2) * (0.5 / 1.414) ** 2, (8, 1, 1)))
    assert abs(target.entropy - 2.831) < 0.01
    x = target.sample(N, 0).astype(np.float64)
    nearest = np.argmin(((x[:, None] - gmm.means.numpy()[None]) ** 2).sum(-1), 1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=8) / N, 1 / 8, atol=0.01)
    np.testing.assert_allclose((x - gmm.means.numpy()[nearest]).std(0), 0.5 / 1.414, rtol=0.03)
    probe = torch.randn(200, 2, dtype=torch.float64) * 3
    np.testing.assert_allclose(target.log_density(probe.numpy()), gmm.log_prob(probe).numpy(), rtol=1e-10)


def test_twenty_five_gaussians_grid():
    target = make_preset("25gaussians")
    centres = target.gmm.means.numpy()
    np.testing.assert_allclose(sorted(set(np.round(centres[:, 0], 6))), np.round(np.arange(-4, 5, 2) / 1.414, 6))
    assert len(centres) == 25
    sd = 0.3 / 1.414
    expected = math.log(25) + 1 + math.log(2 * math.pi) + 2 * math.log(sd)  # well separated: ln K + H(component)
    assert abs(target.entropy - expected) < 0.02
    wide = make_preset("25gaussians", noise=0.6)
    np.testing.assert_allclose(wide.gmm.covariances[0].numpy(), np.eye(2) * (0.6 / 1.414) ** 2)
    assert wide.params["noise"] == 0.6


def test_checkerboard_squares_density_and_entropy():
    target = make_preset("checkerboard")
    x = target.sample(N, 0).astype(np.float64)
    unit = np.floor(x / 2)  # index of the side-2 square
    assert (np.abs(x) <= 4).all()
    assert (unit[:, 0] % 2 == unit[:, 1] % 2).all()
    squares = {tuple(s) for s in unit.astype(int)}
    assert len(squares) == 8
    assert np.isfinite(target.log_density(x)).all()
    step = 0.02
    axis = np.arange(-5, 5, step) + step / 2
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    mass = np.exp(target.log_density(grid)).sum() * step**2
    assert abs(mass - 1) < 1e-9
    assert target.entropy == pytest.approx(math.log(32))


def test_noise_override():
    quiet, loud = make_preset("circles", noise=0.0), make_preset("circles", noise=0.3)
    assert quiet.params["noise"] == 0.0 and loud.params["noise"] == 0.3
    assert np.std(np.linalg.norm(loud.sample(N, 0), axis=1)) > np.std(np.linalg.norm(quiet.sample(N, 0), axis=1))


@pytest.mark.parametrize(
    "name, noise, message",
    [
        ("nope", None, "unknown preset 'nope'; presets: swissroll"),
        ("checkerboard", 0.1, "has no noise parameter"),
        ("moons", -1.0, "noise must be a finite number >= 0"),
        ("moons", float("nan"), "noise must be a finite number >= 0"),
        ("8gaussians", 0.0, "must be > 0"),
    ],
)
def test_preset_errors(name, noise, message):
    with pytest.raises(DataError, match=message):
        make_preset(name, noise)
