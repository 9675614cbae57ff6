"""One colour per class of a 2D target (a Gaussian mixture's components): the Gaussians editor draws each
component's centre in it, and the Classes panel draws the samples of each class in it."""

from __future__ import annotations

# Tableau 10, readable on the dark plots: class k gets CLASS_COLORS[k % 10]
CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
    (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172),
)


def class_color(k: int, alpha: int = 255) -> tuple[int, int, int, int]:
    """The RGBA colour of class k."""
    r, g, b = CLASS_COLORS[int(k) % len(CLASS_COLORS)]
    return r, g, b, alpha


__all__ = ["CLASS_COLORS", "class_color"]
