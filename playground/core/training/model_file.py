"""Model files: one .safetensors file, weights plus a JSON config in its metadata. Loading never unpickles.

Layout (format 'diffusion-playground-model', format_version 1):
  tensors   'ema.<param>'   the EMA weights of the network (what `load_model` uses by default)
            'raw.<param>'   the raw (optimised) weights
            'opt.<i>.<key>' Adam state of parameter i (exp_avg, exp_avg_sq, step), only in files a Trainer saved
            'trainer.<key>' trainer state for resuming (RNG state as uint8, loss history, running bin losses)
  metadata  'format', 'format_version', 'library_version' (playground.__version__),
            'config'  JSON: {"network": {...}, "sde": {...}, "output": ..., "normalization": {"mean", "scale"},
                             "sigma_data": ..., "training": {TrainConfig fields, "steps_done", "seconds", "loss", ...}}
            'trainer' JSON (optional): step, seconds, optimizer param_groups, running statistics.
So one file serves both uses: `playground.load_model(path)` for inference and `Trainer.resume(path, data)`.
Files are written to a temporary name and renamed, so an interrupted save never leaves a truncated model file.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch

from playground.version import __version__

FORMAT = "diffusion-playground-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is missing, corrupt, truncated, foreign or inconsistent; the message names the file."""


def save_model(
    path,
    model,
    raw_state: dict[str, torch.Tensor] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    trainer_meta: dict | None = None,
) -> Path:
    """Write `model` (its weights are stored as the EMA weights) to `path`.

    raw_state: the raw network state_dict (default: the model's own weights). extra_tensors: more tensors with
    their full names (prefixes 'opt.' / 'trainer.'). trainer_meta: JSON-able dict stored under 'trainer'.
    """
    from safetensors.torch import save_file

    path = Path(path)
    ema = {k: v.detach() for k, v in model.net.state_dict().items()}
    raw = {k: v.detach() for k, v in (raw_state or ema).items()}
    tensors: dict[str, torch.Tensor] = {}
    for k, v in ema.items():
        tensors["ema." + k] = v
    for k, v in raw.items():
        tensors["raw." + k] = v
    for k, v in (extra_tensors or {}).items():
        tensors[k] = v.detach()
    tensors = {k: v.to("cpu").contiguous().clone() for k, v in tensors.items()}
    for k, v in tensors.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ValueError(f"refusing to save {path}: tensor {k!r} contains NaN or infinity")
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "library_version": __version__,
        "config": json.dumps(model.model_config(), allow_nan=False),
    }
    if trainer_meta is not None:
        meta["trainer"] = json.dumps(trainer_meta)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_model_file(path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata with 'config' (and 'trainer') parsed from JSON, all tensors on CPU); ModelFileError if unusable."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file")
    size = path.stat().st_size
    if size < 8:
        raise ModelFileError(f"{path}: not a model file ({size} bytes; empty or truncated)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open, not a dict
    except ModelFileError:
        raise
    except Exception as e:  # noqa: BLE001 - SafetensorError, OSError, ...: corrupt, truncated or foreign
        raise ModelFileError(
            f"{path}: not a readable .safetensors model file (corrupt, truncated or another format): {e}"
        ) from None
    if meta.get("format") != FORMAT:
        found = meta.get("format")
        what = f"its metadata says format={found!r}" if found else "it has no Diffusion Playground metadata"
        raise ModelFileError(f"{path}: a safetensors file but not a Diffusion Playground model ({what})")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        raise ModelFileError(f"{path}: bad format_version {meta.get('format_version')!r}") from None
    if version > FORMAT_VERSION or version < 1:
        raise ModelFileError(
            f"{path}: model format version {version} is not supported by this library (reads version {FORMAT_VERSION};"
            f" written by playground {meta.get('library_version', '?')})"
        )
    out = dict(meta)
    for key in ("config", "trainer"):
        if key in meta:
            try:
                out[key] = json.loads(meta[key])
            except json.JSONDecodeError as e:
                raise ModelFileError(f"{path}: the {key!r} metadata is not valid JSON ({e})") from None
    if not isinstance(out.get("config"), dict):
        raise ModelFileError(f"{path}: the model file has no 'config' metadata")
    return out, tensors


def same_model_file(a: bytes | None, b: bytes | None) -> bool:
    """Whether two model-file byte strings hold the same model: equal headers (tensor table and metadata, read as
    JSON) and equal tensor data. Byte equality is too strict: safetensors writes the metadata entries in a random
    order, so two saves of one model differ in their header bytes."""
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    try:
        (na,), (nb,) = struct.unpack("<Q", a[:8]), struct.unpack("<Q", b[:8])
        header_a, header_b = json.loads(a[8 : 8 + na]), json.loads(b[8 : 8 + nb])
    except (struct.error, ValueError):
        return False
    return header_a == header_b and a[8 + na :] == b[8 + nb :]


def _prefixed(tensors: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _check_weights_fit_config(path, cfg: dict, state: dict[str, torch.Tensor]) -> None:
    """Build the config's network on the meta device (shapes only, no memory) and compare it with the file's weights,
    so a config that asks for a large network (hidden 20000, say) is refused before anything is allocated."""
    from playground.core.nets.build import network_from_config

    try:
        with torch.device("meta"):
            expected = network_from_config(cfg["network"]).state_dict()
    except (KeyError, TypeError, ValueError, RuntimeError, MemoryError, OverflowError) as e:
        raise ModelFileError(f"{path}: the model config cannot be used ({type(e).__name__}: {e})") from None
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: weights do not match the network in its config (missing {missing[:4]}, unexpected {unexpected[:4]})"
        )
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ModelFileError(f"{path}: weight {k!r} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}"
                                 " from the network in its config")
        if state[k].is_floating_point() and not bool(torch.isfinite(state[k]).all()):
            raise ModelFileError(f"{path}: weight {k!r} contains NaN or infinity")


def model_from_file_data(path, meta: dict, tensors: dict, weights: str = "ema", device="cpu"):
    """Build a ScoreModel from `read_model_file` output; ModelFileError on missing or mismatched weights (checked
    before the network is allocated)."""
    from playground.core.training.model import build_model

    if weights not in ("ema", "raw"):
        raise ValueError(f"weights must be 'ema' or 'raw', got {weights!r}")
    state = _prefixed(tensors, weights + ".")
    if not state:
        raise ModelFileError(f"{path}: the file has no {weights!r} weights")
    if not isinstance(meta["config"].get("network"), dict):
        raise ModelFileError(f"{path}: the model config has no 'network' entry")
    _check_weights_fit_config(path, meta["config"], state)
    try:
        model = build_model(meta["config"])
    except (KeyError, TypeError, ValueError, RuntimeError, MemoryError) as e:
        raise ModelFileError(f"{path}: the model config cannot be used ({type(e).__name__}: {e})") from None
    model.net.load_state_dict(state)
    model.to(device)
    model.eval()
    model.requires_grad_(False)
    model.file_meta = {k: v for k, v in meta.items() if k not in ("trainer",)}
    return model


def load_model(path, device="cpu", weights: str = "ema"):
    """`ScoreModel` from a model file, in eval mode on `device` (EMA weights unless weights='raw')."""
    meta, tensors = read_model_file(path)
    return model_from_file_data(path, meta, tensors, weights=weights, device=device)
