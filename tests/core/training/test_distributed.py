"""The device of a torchrun rank: 'auto' takes the GPUs only when every local rank has one (else all ranks train on
the CPU with gloo and say why), an explicit 'cuda' without a GPU for this rank is refused. CUDA is faked."""

import pytest
import torch

from playground.core.training.distributed import rank_device, torchrun_environment


@pytest.fixture
def gpus(monkeypatch):
    """Pretend `n` GPUs are visible (0: no CUDA)."""
    def visible(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    return visible


def test_auto_takes_one_gpu_per_local_rank_when_there_are_enough(gpus):
    gpus(2)
    assert rank_device("auto", 1, 2) == (torch.device("cuda", 1), "")
    assert rank_device("cuda", 0, 2) == (torch.device("cuda", 0), "")


def test_auto_with_more_ranks_than_gpus_trains_every_rank_on_the_cpu_and_says_so(gpus):
    gpus(1)
    for local_rank in (0, 1):  # both ranks choose the same backend: rank 0 has a GPU but must not take it
        dev, note = rank_device("auto", local_rank, 2)
        assert dev == torch.device("cpu")
        assert "2 processes per machine but 1 GPU visible" in note and "CPU (gloo)" in note


def test_an_explicit_cuda_without_a_gpu_for_this_rank_is_refused(gpus):
    gpus(1)
    assert rank_device("cuda", 0, 2) == (torch.device("cuda", 0), "")
    with pytest.raises(ValueError, match=r"local rank 1 has no GPU \(1 visible\); use --nproc_per_node"):
        rank_device("cuda", 1, 2)
    gpus(0)
    with pytest.raises(ValueError, match="CUDA is not available"):
        rank_device("cuda", 0, 2)


def test_without_cuda_auto_and_cpu_are_the_cpu_and_mps_is_refused(gpus):
    gpus(0)
    assert rank_device("auto", 1, 2) == (torch.device("cpu"), "")
    assert rank_device("cpu", 1, 2) == (torch.device("cpu"), "")
    with pytest.raises(ValueError, match="not MPS"):
        rank_device("mps", 0, 2)


def test_torchrun_environment_reads_the_local_world_size(monkeypatch):
    for key, value in {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    assert torchrun_environment() == {"world_size": 4, "rank": 3, "local_rank": 1, "local_world_size": 2}
    monkeypatch.delenv("LOCAL_WORLD_SIZE")  # another launcher: one machine assumed
    assert torchrun_environment()["local_world_size"] == 4
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert torchrun_environment() is None
