"""Where training runs: the torch device ('auto' -> cuda, mps, cpu) and the number of intra-op threads."""

from __future__ import annotations

import torch


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> cuda, then mps, then cpu; an explicit name must be available."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' requested but MPS is not available")
    return dev


def configure_threads(threads: int | None, device: torch.device) -> int:
    """Set torch's intra-op threads: `threads` if given, else at most 4 (small MLPs gain nothing from more)."""
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    elif device.type == "cpu" and torch.get_num_threads() > 4:
        torch.set_num_threads(4)
    return torch.get_num_threads()
