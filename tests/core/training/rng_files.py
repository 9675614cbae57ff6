"""Model files as another device type would have written them (for resume tests on a CPU-only machine)."""

import json

import torch
from safetensors.torch import save_file

from playground.core.training.model_file import read_model_file


def saved_elsewhere(path, out, rng_device: str | None):
    """A copy of the model file `path` whose generator state is a CUDA one (16 bytes of Philox seed and offset), marked
    as saved on `rng_device` (None: unmarked, as files were before the mark)."""
    meta, tensors = read_model_file(path)
    if rng_device is None:
        del meta["trainer"]["rng_device"]
    else:
        meta["trainer"]["rng_device"] = rng_device
    tensors["trainer.rng"] = torch.arange(16, dtype=torch.uint8)
    save_file(tensors, str(out), metadata={k: json.dumps(v) if isinstance(v, dict) else v for k, v in meta.items()})
    return out
