"""Headless benchmarks (`python -m playground bench NAME`)."""
