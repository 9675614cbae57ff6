"""Where the app finds the files that ship beside the package in a source checkout (Qt-free): the Getting started
guide (docs/getting-started.md, with its pictures in assets/getting-started/) and the bundled example targets
(assets/examples/). None when the package was installed without them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: playground/app/resources.py -> repository root


def guide_path() -> Path | None:
    """docs/getting-started.md, or None."""
    p = ROOT / "docs" / "getting-started.md"
    return p if p.is_file() else None


def examples_dir() -> Path | None:
    """assets/examples/ (heart.png, smiley.png, spiral_points.csv, three_gaussians.json), or None."""
    p = ROOT / "assets" / "examples"
    return p if p.is_dir() else None


__all__ = ["ROOT", "examples_dir", "guide_path"]
