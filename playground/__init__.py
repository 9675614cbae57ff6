"""Diffusion Playground: score-based diffusion (Song et al. 2021) you can draw, train and watch."""

from playground.version import __version__

__all__ = ["__version__", "load_model"]


def __getattr__(name):
    # Lazy, so `import playground` stays light (no torch until a model is loaded).
    if name == "load_model":
        from playground.core.training.model_file import load_model

        return load_model
    raise AttributeError(f"module 'playground' has no attribute {name!r}")
