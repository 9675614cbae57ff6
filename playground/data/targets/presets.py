"""2D toy targets at the FFJORD scalings (Grathwohl et al. 2019, toy_data.py), plus a 5x5 grid of Gaussians.

Every sampler draws n iid points from the distribution FFJORD's generator draws from. Where FFJORD (or the
scikit-learn make_* function it calls) places points deterministically — evenly spaced angles on rings, circles and
moons, equal counts per ring, moon, arm or spiral — each point here gets a uniform random angle and a uniformly random
component instead: the distribution is the same, any n is honoured, and two seeds give independent sets (the iid
floor of the sample metrics needs that).

`noise` overrides one parameter, in FFJORD's own units (before the final scaling unless marked "after"):
swissroll noise 1.0 (then / 5); circles noise 0.08 (then x 3); rings sd 0.08 (after x 3); moons noise 0.1 (then x 2);
8gaussians sd 0.5 (then / 1.414); 25gaussians sd 0.3 (then / 1.414); pinwheel tangential sd 0.1, the arms' width
(then x 2); 2spirals sd 0.1 (after / 3). checkerboard, line and cos have no noise parameter.

25gaussians (not in FFJORD) is built like 8gaussians: centres on the grid {-4, -2, 0, 2, 4}^2, sd 0.3, all divided by
1.414 — so neighbouring modes are 1.414 apart with sd 0.212 (6.7 sd, as well separated as 8gaussians' 6.1) and the
outer corners sit at radius 4, inside the same [-4, 4] view as the other presets.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from playground.data.targets.gaussian_mixture import GaussianMixture
from playground.data.targets.gmm_file import gmm_target
from playground.data.targets.target import DataError, Target

Sampler = Callable[[int, np.random.Generator], np.ndarray]

PRESETS = (
    "swissroll", "circles", "rings", "moons", "8gaussians", "pinwheel", "2spirals", "checkerboard", "line", "cos",
    "25gaussians",
)  # fmt: skip
DEFAULT_NOISE = {
    "swissroll": 1.0,
    "circles": 0.08,
    "rings": 0.08,
    "moons": 0.1,
    "8gaussians": 0.5,
    "25gaussians": 0.3,
    "pinwheel": 0.1,
    "2spirals": 0.1,
}
CHECKERBOARD_ENTROPY = math.log(32.0)
"""Uniform on 8 squares of area 4 (side 2 at the x 2 scaling): density 1/32."""


_DIAGONAL = 1 / math.sqrt(2)
_EIGHT_CENTRES = 4.0 * np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1), (_DIAGONAL, _DIAGONAL), (_DIAGONAL, -_DIAGONAL), (-_DIAGONAL, _DIAGONAL),
     (-_DIAGONAL, -_DIAGONAL)]
)  # fmt: skip
_GRID_CENTRES = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], dtype=np.float64)


def _swissroll(noise: float) -> Sampler:
    """make_swiss_roll(noise) columns 0 and 2, / 5."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        t = 1.5 * np.pi * (1 + 2 * rng.random(n))
        roll = np.stack([t * np.cos(t), t * np.sin(t)], 1)
        return (roll + noise * rng.standard_normal((n, 2))) / 5

    return sample


def _circles(noise: float) -> Sampler:
    """make_circles(factor 0.5, noise) x 3."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        angle = 2 * np.pi * rng.random(n)
        radius = np.where(rng.random(n) < 0.5, 1.0, 0.5)
        circle = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
        return 3 * (circle + noise * rng.standard_normal((n, 2)))

    return sample


def _rings(noise: float) -> Sampler:
    """Four concentric circles of radii 1, 0.75, 0.5, 0.25, x 3, + N(0, noise^2)."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        angle = 2 * np.pi * rng.random(n)
        radius = rng.choice(np.array([1.0, 0.75, 0.5, 0.25]), n)
        ring = 3 * radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
        return ring + noise * rng.standard_normal((n, 2))

    return sample


def _moons(noise: float) -> Sampler:
    """make_moons(noise) x 2 + (-1, -0.2)."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        angle = np.pi * rng.random(n)
        outer = np.stack([np.cos(angle), np.sin(angle)], 1)
        inner = np.stack([1 - np.cos(angle), 1 - np.sin(angle) - 0.5], 1)
        moons = np.where((rng.random(n) < 0.5)[:, None], outer, inner)
        return 2 * (moons + noise * rng.standard_normal((n, 2))) + np.array([-1.0, -0.2])

    return sample


def _pinwheel(tangential_sd: float) -> Sampler:
    """5 arms, radial sd 0.3, rate 0.25, x 2."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        arm = rng.integers(0, 5, n)
        features = rng.standard_normal((n, 2)) * np.array([0.3, tangential_sd])
        features[:, 0] += 1.0
        angle = 2 * np.pi * arm / 5 + 0.25 * np.exp(features[:, 0])
        cos, sin = np.cos(angle), np.sin(angle)
        radial, tangential = features[:, 0], features[:, 1]
        return 2 * np.stack([radial * cos + tangential * sin, -radial * sin + tangential * cos], 1)

    return sample


def _two_spirals(noise: float) -> Sampler:
    """Two interleaved 540-degree spirals, / 3, + N(0, noise^2)."""

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        turn = np.sqrt(rng.random(n)) * 540 * (2 * np.pi) / 360
        spiral = np.stack([-np.cos(turn) * turn + 0.5 * rng.random(n), np.sin(turn) * turn + 0.5 * rng.random(n)], 1)
        sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)[:, None]
        return sign * spiral / 3 + noise * rng.standard_normal((n, 2))

    return sample


def _checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform on 8 of the 16 unit squares of [-2, 2]^2 (a checkerboard), x 2."""
    x = 4 * rng.random(n) - 2
    y = rng.random(n) - 2 * rng.integers(0, 2, n) + np.floor(x) % 2
    return 2 * np.stack([x, y], 1)


def _checkerboard_log_density(points: np.ndarray) -> np.ndarray:
    """log(1/32) on the checkerboard's squares, -inf elsewhere."""
    unit = np.asarray(points, dtype=np.float64).reshape(-1, 2) / 2
    inside = (np.abs(unit) < 2).all(1) & (np.floor(unit[:, 0]) % 2 == np.floor(unit[:, 1]) % 2)
    return np.where(inside, -CHECKERBOARD_ENTROPY, -np.inf)


def checkerboard_cells() -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The checkerboard as a piecewise-constant density: 4 x 4 cells of side 2 over [-4, 4]^2 (row 0 the top), the
    8 black ones with probability 1/8 each."""
    rows, cols = np.mgrid[0:4, 0:4]
    black = (cols % 2) == ((3 - rows) % 2)  # cell (row, col) spans x in [2 col - 4, ...], y from the top down
    return black / black.sum(), (-4.0, 4.0, -4.0, 4.0)


def _line(n: int, rng: np.random.Generator) -> np.ndarray:
    """y = x, x ~ U[-2.5, 2.5]."""
    x = 5 * rng.random(n) - 2.5
    return np.stack([x, x], 1)


def _cos(n: int, rng: np.random.Generator) -> np.ndarray:
    """y = 2.5 sin x, x ~ U[-2.5, 2.5] (FFJORD's "cos")."""
    x = 5 * rng.random(n) - 2.5
    return np.stack([x, 2.5 * np.sin(x)], 1)


_NOISY_SAMPLERS: dict[str, Callable[[float], Sampler]] = {
    "swissroll": _swissroll,
    "circles": _circles,
    "rings": _rings,
    "moons": _moons,
    "pinwheel": _pinwheel,
    "2spirals": _two_spirals,
}
_PLAIN_SAMPLERS: dict[str, Sampler] = {"line": _line, "cos": _cos}


def make_preset(name: str, noise: float | None = None) -> Target:
    """The named preset; `noise` overrides its noise parameter (module docstring), None keeps FFJORD's."""
    if name not in PRESETS:
        raise DataError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    if noise is not None:
        if name not in DEFAULT_NOISE:
            raise DataError(f"preset {name!r} has no noise parameter; only {', '.join(DEFAULT_NOISE)} have one")
        if not (math.isfinite(noise) and noise >= 0):
            raise DataError(f"preset {name!r}: noise must be a finite number >= 0, got {noise}")
    level = DEFAULT_NOISE.get(name) if noise is None else float(noise)
    params = {"name": name, "noise": level}
    if name in ("8gaussians", "25gaussians"):
        if level == 0:
            raise DataError(f"preset {name!r}: noise is the sd of each Gaussian and must be > 0")
        centres = _EIGHT_CENTRES if name == "8gaussians" else _GRID_CENTRES
        sd = level / 1.414
        gmm = GaussianMixture(np.ones(len(centres)), centres / 1.414, np.tile(sd**2 * np.eye(2), (len(centres), 1, 1)))
        return gmm_target(name, gmm, params)
    if name == "checkerboard":
        return Target(
            name, _checkerboard, log_density=_checkerboard_log_density, entropy=CHECKERBOARD_ENTROPY, params=params,
            cells=checkerboard_cells(),
        )
    if name in DEFAULT_NOISE:
        return Target(name, _NOISY_SAMPLERS[name](level), params=params)
    return Target(name, _PLAIN_SAMPLERS[name], params=params)
