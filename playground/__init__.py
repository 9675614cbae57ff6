"""Diffusion Playground: score-based diffusion (Song et al. 2021) you can draw, train and watch."""

__version__ = "0.1.0"
