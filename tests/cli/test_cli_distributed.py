"""`train` under torchrun: 2 CPU processes (gloo) follow the 1-process loss curve and EMA to float tolerance and write a
file that loads and samples; a killed rank ends the job with one message that says what is on disk; Ctrl-C saves what
was trained.

Each test launches `python -m torch.distributed.run --standalone --nproc_per_node=2 -m playground train ...` (what
the README's `torchrun` command runs), with a timeout so that nothing can hang CI."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--data", "digits", "--base-channels", "8", "--threads", "1", "--device", "cpu"]  # the gloo path, GPUs or not


def torchrun(*args, cwd) -> subprocess.Popen:
    """Start a 2-process torchrun job in its own session (so a test can signal it like a terminal's Ctrl-C)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "playground",
           "train", *map(str, args)]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{err[-3000:]}")
    return proc.returncode, out, err


def wait_for_training(proc: subprocess.Popen, folder: Path, timeout: float = 180) -> None:
    """Block until rank 0 has written a checkpoint (so both ranks are inside the training loop)."""
    start = time.monotonic()
    while not (folder / "m.safetensors").exists():
        if proc.poll() is not None or time.monotonic() - start > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"training never started: {proc.communicate()[1][-3000:]}")
        time.sleep(0.2)


def ranks(proc: subprocess.Popen) -> dict[int, int]:
    """{rank: pid} of the worker processes torchrun started (read from their environment)."""
    found = {}
    for pid in map(int, subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()):
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        rank = [e for e in env if e.startswith(b"RANK=")]
        if rank:
            found[int(rank[0][5:])] = pid
    return found


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_two_ranks_follow_the_one_process_run(tmp_path):
    """Same global batch (13: rows 7 + 6) and seed: the 2-rank loss curve and EMA equal the 1-process ones to float
    rounding (every rank draws the global batch from one stream and keeps its rows); the file loads and samples."""
    from playground.core.training.image_training import image_train_config, image_trainer
    from playground.core.training.model_file import load_model, read_model_file
    from playground.data.images.spec import load_image_dataset

    proc = torchrun(*TINY, "--classes", "--batch", "13", "--steps", "12", "--precision", "fp32",
                    "--out", "m.safetensors", cwd=tmp_path)
    code, out, err = finish(proc)
    assert code == 0, err[-3000:]
    assert out.count("training on digits") == 1 and "2 processes (gloo)" in out  # rank 0 alone prints
    meta, tensors = read_model_file(tmp_path / "m.safetensors")
    training = meta["config"]["training"]
    assert training["distributed"] == {"world_size": 2, "backend": "gloo", "device": "cpu"}
    assert training["batch"] == 13 and training["steps_done"] == 12

    dataset = load_image_dataset("digits")
    cfg = image_train_config(steps=12, seed=0, batch=13, base_channels=8, precision="fp32", device="cpu")
    reference = image_trainer(dataset, cfg, classes=True)
    reference.run()
    print("max rel loss diff", np.max(np.abs(tensors["trainer.hist_loss"].numpy() / reference.history.loss - 1)))
    np.testing.assert_allclose(tensors["trainer.hist_loss"].numpy(), reference.history.loss, rtol=2e-4)
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    for name, value in reference.ema.state_dict().items():
        np.testing.assert_allclose(ema[name].numpy(), value.numpy(), atol=2e-5, err_msg=name)

    model = load_model(tmp_path / "m.safetensors")
    x = model.sample(4, sampler="ode_euler", steps=5, class_labels=3)
    assert x.shape == (4, 1, 8, 8) and np.isfinite(x).all()


def test_a_killed_rank_stops_the_job_and_says_what_is_on_disk(tmp_path):
    """No final model is written after a lost rank. The test deletes the first checkpoint before killing rank 1; rank 0
    may write one more checkpoint before it notices, and then the message must name that checkpoint's step (which
    the file holds), otherwise it must say that nothing was written."""
    from playground.core.training.model_file import read_model_file

    proc = torchrun(*TINY, "--steps", "100000", "--checkpoint-every", "5", "--out", "m.safetensors", cwd=tmp_path)
    wait_for_training(proc, tmp_path)
    (tmp_path / "m.safetensors").unlink()
    os.kill(ranks(proc)[1], signal.SIGKILL)
    code, out, err = finish(proc, timeout=120)
    assert code != 0 and "wrote m.safetensors" not in out
    messages = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(messages) == 1 and "another process of the distributed run failed" in messages[0], err[-3000:]
    assert not leftovers(tmp_path)
    if (tmp_path / "m.safetensors").exists():
        meta, _ = read_model_file(tmp_path / "m.safetensors")
        step = meta["config"]["training"]["steps_done"]
        assert f"the last checkpoint (step {step}) is in m.safetensors" in messages[0]
    else:
        assert messages[0].endswith("nothing was written")


def test_ctrl_c_stops_every_rank_after_the_same_step_and_saves(tmp_path):
    from playground.core.training.model_file import load_model, read_model_file

    proc = torchrun(*TINY, "--steps", "100000", "--checkpoint-every", "5", "--out", "m.safetensors", cwd=tmp_path)
    wait_for_training(proc, tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: torchrun and both ranks get SIGINT
    code, out, err = finish(proc, timeout=120)
    stopped = [line for line in err.splitlines() if line.startswith("stopped at step")]
    assert len(stopped) == 1 and "saving what was trained" in stopped[0], err[-3000:]
    assert "Traceback" not in err.split("stopped at step")[0]  # no worker traceback before torchrun's own report
    step = int(stopped[0].split()[3])
    meta, _ = read_model_file(tmp_path / "m.safetensors")
    assert meta["config"]["training"]["steps_done"] == step
    assert f"wrote m.safetensors: {step} steps" in out
    assert load_model(tmp_path / "m.safetensors").image_shape == (1, 8, 8)
    assert not leftovers(tmp_path)
