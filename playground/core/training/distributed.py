"""Data-parallel training over the processes `torchrun` starts (Qt-free): PyTorch's distributed engine with the
same trainer, the same model file.

    torchrun --standalone --nproc_per_node=2 -m playground train --data digits --steps 2000 --out d.safetensors

`torchrun_environment()` reads torchrun's WORLD_SIZE / RANK / LOCAL_RANK / LOCAL_WORLD_SIZE;
`DistributedRun.start(device)` joins the process group (nccl on CUDA, one GPU per local rank; gloo on the CPU;
`rank_device` chooses: 'auto' takes the GPUs only when every local rank has one, else every rank runs on the CPU and
`note` says why; an explicit 'cuda' with too few GPUs is refused). The trainer (`Trainer(..., distributed=run)`)
then does what DistributedDataParallel does, on its one flat gradient buffer (a single DDP
bucket): rank 0's weights are broadcast at the start, every rank computes the gradient of its rows of the global
batch, and one all-reduce per step sums them, so every rank applies the same Adam update to the same weights.

Batches. Every rank draws the *global* batch's indices, label dropout and loss noise from the same seeded stream and
keeps its own contiguous rows (`rows`; sizes differ by at most one). Each rank's loss is its rows' sum over the
global batch size, so the all-reduced gradient is exactly the one-process gradient of the same batch: a 2-rank run
follows the 1-process loss curve to float rounding, and resuming with another number of ranks continues the same
stream. Drawing the global batch's random numbers costs a few microseconds per image next to the network. The only
per-rank randomness, torch's global generator (dropout), is seeded distinctly (seed + rank).

Agreement. The loss all-reduce also carries a stop flag (Ctrl-C or SIGTERM on any rank, see `request_stop`), so
all ranks leave the loop after the same step; divergence checks see the same global loss and gradient norm on every
rank, so all ranks stop together. The EMA, logging and the model file live on rank 0 (`is_main`).
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

BACKENDS = {"cuda": "nccl", "cpu": "gloo"}


class RankLost(RuntimeError):
    """A collective failed: another rank died or left (its process ended, its machine went away)."""


def _collective(op, *args, **kwargs) -> None:
    try:
        op(*args, **kwargs)
    except RuntimeError as e:  # gloo: "Connection closed by peer"; nccl: DistBackendError after its watchdog
        raise RankLost("training stopped: another process of the distributed run failed or was killed "
                       f"({_short(e)})") from None


def _short(error: BaseException) -> str:
    """The gist of a backend error: without gloo's '[source:line]' prefix, up to its first sentence."""
    text = " ".join(str(error).split())
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return (text.split(". ")[0] or type(error).__name__)[:160]


def torchrun_environment() -> dict[str, int] | None:
    """{'world_size', 'rank', 'local_rank'} when this process was started by torchrun (or another launcher that
    sets its variables) for more than one process, else None."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        return {"world_size": world, "rank": int(os.environ["RANK"]),
                "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
                "local_world_size": int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))}
    except (KeyError, ValueError) as e:
        raise ValueError(f"incomplete torchrun environment (WORLD_SIZE, RANK, LOCAL_RANK): {e}") from None


def rank_device(device: str, local_rank: int, local_world_size: int) -> tuple[torch.device, str]:
    """(this rank's device, a note for the user or '') for `device` ('auto', 'cpu', 'cuda', 'mps').

    'auto' takes cuda:LOCAL_RANK when CUDA is present and every local rank has a GPU (all ranks must agree on one
    backend), else the CPU with a note; an explicit 'cuda' without a GPU for this rank is a ValueError."""
    if device == "mps":
        raise ValueError("distributed training runs on CUDA (nccl) or the CPU (gloo), not MPS")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        if gpus and gpus < local_world_size:
            return torch.device("cpu"), (f"{local_world_size} processes per machine but {gpus} GPU"
                                         f"{'s' if gpus != 1 else ''} visible: training on the CPU (gloo); use "
                                         "--nproc_per_node <= the number of GPUs to train on them")
        device = "cuda" if gpus else "cpu"
    if device.startswith("cuda"):
        if not gpus:
            raise ValueError("device 'cuda' requested but CUDA is not available")
        if local_rank >= gpus:
            raise ValueError(f"local rank {local_rank} has no GPU ({gpus} visible); "
                             "use --nproc_per_node <= the number of GPUs")
        return torch.device("cuda", local_rank), ""
    return torch.device(device), ""


@dataclass
class DistributedRun:
    """This process's place in a data-parallel run; see the module docstring."""

    world_size: int
    rank: int
    local_rank: int
    backend: str
    device: torch.device
    _stop_local: bool = field(default=False, repr=False)
    _flags: torch.Tensor | None = field(default=None, repr=False)
    stop_agreed: bool = False
    note: str = ""  # why 'auto' did not take the GPUs, for the user ('' when it did or was not asked)

    @classmethod
    def start(cls, device: str = "auto", seed: int = 0, timeout_s: float = 1800.0) -> "DistributedRun":
        """Join torchrun's process group: nccl on cuda:LOCAL_RANK, else gloo on the CPU, as `rank_device` chooses
        (MPS cannot take part: ValueError). Seeds torch's global generator with seed + rank."""
        env = torchrun_environment()
        if env is None:
            raise ValueError("not started by torchrun (WORLD_SIZE is not above 1)")
        dev, note = rank_device(device, env["local_rank"], env["local_world_size"])
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        backend = BACKENDS[dev.type]
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
        torch.manual_seed(seed + env["rank"])
        return cls(env["world_size"], env["rank"], env["local_rank"], backend, dev, note=note)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, batch: int) -> slice:
        """This rank's contiguous rows of a global batch (sizes differ by at most one; a rank may get none)."""
        base, extra = divmod(batch, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def broadcast_(self, tensor: torch.Tensor) -> None:
        """Overwrite `tensor` with rank 0's (in place)."""
        _collective(dist.broadcast, tensor, src=0)

    def sum_gradients_(self, flat_grad: torch.Tensor) -> None:
        """Sum the flat gradient buffer over the ranks, in place (each rank's holds its rows' share)."""
        _collective(dist.all_reduce, flat_grad)

    def sum_loss(self, loss: torch.Tensor, sync: bool = True) -> torch.Tensor:
        """The loss summed over the ranks; carries this rank's stop request, read into `stop_agreed` when sync."""
        flags = torch.stack([loss.detach().float(), torch.tensor(float(self._stop_local), device=loss.device)])
        _collective(dist.all_reduce, flags)
        self._flags = flags
        if sync:
            self.refresh_stop()
        return flags[0]

    def refresh_stop(self) -> bool:
        """Read the last all-reduced stop flag (a host sync on GPUs): True once any rank asked to stop."""
        if self._flags is not None and not self.stop_agreed:
            self.stop_agreed = bool(self._flags[1].item() > 0)
        return self.stop_agreed

    def request_stop(self) -> None:
        """Ask every rank to stop after the next step (safe from a signal handler: it only sets a flag)."""
        self._stop_local = True

    def describe(self) -> dict:
        return {"world_size": self.world_size, "backend": self.backend, "device": str(self.device)}

    def close(self) -> None:
        """Leave the process group (no-op when it is already gone)."""
        if dist.is_initialized():
            dist.destroy_process_group()
