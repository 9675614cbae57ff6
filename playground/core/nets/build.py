"""Networks by name: rebuild a score network (MLP or U-Net) from the config stored in a model file."""

from __future__ import annotations

from torch import nn

from playground.core.nets.mlp import ScoreMLP
from playground.core.nets.unet import UNet

NETWORKS = {"ScoreMLP": ScoreMLP, "UNet": UNet}


def network_from_config(cfg: dict) -> nn.Module:
    """Rebuild a network from its `config()` (the model file's 'network' entry)."""
    cfg = dict(cfg)
    kind = cfg.pop("type", "ScoreMLP")
    if kind not in NETWORKS:
        raise ValueError(f"unknown network type {kind!r}; known: {sorted(NETWORKS)}")
    return NETWORKS[kind](**cfg)
