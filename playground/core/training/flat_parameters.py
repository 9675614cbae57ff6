"""One flat buffer for all of a network's parameters (and one for their gradients): the apex "flat master weights"
trick that makes zeroing, clipping, Adam, EMA and the trainer's last-good copies one tensor op each."""

from __future__ import annotations

import torch


def flatten_parameters(module: torch.nn.Module, with_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Re-seat every parameter of `module` as a view into one flat buffer (and, with_grad, its .grad as a view
    into one flat gradient buffer that autograd accumulates into). Returns (flat, flat_grad).

    One tensor instead of one per layer makes zeroing, clipping, Adam, EMA and the last-good copies one op each
    (the apex "flat master weights" trick); the module itself behaves as before (state_dict, load_state_dict)."""
    params = list(module.parameters())
    ref = params[0]
    n = sum(p.numel() for p in params)
    flat = torch.empty(n, dtype=ref.dtype, device=ref.device)
    grad = torch.zeros(n, dtype=ref.dtype, device=ref.device) if with_grad else None
    off = 0
    with torch.no_grad():
        for p in params:
            k = p.numel()
            flat[off : off + k].copy_(p.detach().reshape(-1))
            p.data = flat[off : off + k].view_as(p)
            if grad is not None:
                p.grad = grad[off : off + k].view_as(p)
            off += k
    return flat, grad
