"""Targets: 2D presets, raster densities, point files, GMM specs (and image datasets)."""
