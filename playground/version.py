"""The library version, written into model files, workspaces and exported graphs."""

__version__ = "0.1.0"
