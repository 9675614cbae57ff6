"""CLI end to end: train a few steps on a preset, a PNG, a CSV and a GMM JSON, then sample --model and eval --model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GMM_JSON = {"weights": [1, 2], "means": [[-2.0, 0.0], [2.0, 1.0]], "covariances": [[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.2]]]}
SMALL = ["--steps", "30", "--hidden", "32", "--depth", "2", "--batch", "64", "--threads", "1", "--pool", "2000"]


def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "playground", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def specs(tmp_path):
    from PIL import Image

    img = np.zeros((8, 16), np.uint8)
    img[2:6, 4:12] = 255
    Image.fromarray(img).save(tmp_path / "bar.png")
    pts = np.random.default_rng(0).normal(size=(50, 2))
    (tmp_path / "pts.csv").write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in pts))
    (tmp_path / "mix.json").write_text(json.dumps(GMM_JSON))
    return {"preset": "moons", "png": "bar.png", "csv": "pts.csv", "json": "mix.json"}


@pytest.mark.parametrize("kind", ["preset", "json"])
def test_train_sample_eval(specs, tmp_path, kind):
    """Each command in its own process, as a user runs them."""
    spec = specs[kind]
    r = run_cli("train", "--data", spec, *SMALL, "--out", "m.safetensors", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.safetensors").exists()
    assert "step 30/30" in r.stderr  # plain progress lines when stderr is not a terminal
    assert "\r" not in r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 30 and summary["loss"] > 0

    r = run_cli("sample", "--model", "m.safetensors", "--n", "200", "--sampler", "em", "--steps", "20",
                "--out", "s.csv", "--trajectory", "t.npy", "--trajectory-stride", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    x = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert x.shape == (200, 2) and np.isfinite(x).all()
    traj = np.load(tmp_path / "t.npy")
    assert traj.shape[1:] == (200, 2) and np.allclose(traj[-1], x, atol=1e-4)

    r = run_cli("eval", "--model", "m.safetensors", "--data", spec, "--n", "500", "--sampler", "ode_euler",
                "--steps", "20", "--nll", "--nll-n", "50", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["model"] == "m.safetensors" and out["model_steps"] == 30
    assert out["swd_ratio"] > 0 and out["nfe"] == 21
    if kind == "json":
        assert np.isfinite(out["nll_model"]) and out["nll"] == out["nll_model"]
        assert out["entropy"] is not None


@pytest.mark.parametrize("kind", ["png", "csv"])
def test_train_and_eval_in_process(specs, tmp_path, kind, capsys, monkeypatch):
    """The same path through cli.main in this process (no interpreter start-up per command)."""
    import torch

    from playground import cli

    monkeypatch.chdir(tmp_path)
    old = torch.get_num_threads()
    try:
        assert cli.main(["train", "--data", specs[kind], *SMALL, "--out", "m.safetensors"]) == 0
        assert cli.main(["eval", "--model", "m.safetensors", "--data", specs[kind], "--n", "500", "--sampler", "em",
                         "--steps", "20"]) == 0
    finally:
        torch.set_num_threads(old)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["model_steps"] == 30 and out["nfe"] == 21 and out["swd_ratio"] > 0


def test_flow_matching_trains_a_velocity_model(tmp_path, capsys, monkeypatch):
    """train --objective fm --sde rf writes a v-output rectified-flow model; it samples with an ODE and a reverse SDE."""
    import torch

    from playground import cli
    from playground.core.training.model_file import load_model

    monkeypatch.chdir(tmp_path)
    old = torch.get_num_threads()
    try:
        assert cli.main(["train", "--data", "8gaussians", "--objective", "fm", "--sde", "rf", *SMALL,
                         "--out", "fm.safetensors"]) == 0
        model = load_model("fm.safetensors")
        assert model.output == "v" and model.sde.name == "rf" and model.config["objective"] == "fm"
        assert cli.main(["eval", "--model", "fm.safetensors", "--data", "8gaussians", "--sampler", "ode_euler",
                         "--steps", "10", "--n", "500"]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["sde"] == "rf" and out["nfe"] == 11 and np.isfinite(out["straightness"])
        assert cli.main(["sample", "--model", "fm.safetensors", "--sampler", "em", "--steps", "20", "--n", "50",
                         "--out", "s.npy"]) == 0
        assert np.isfinite(np.load("s.npy")).all()
    finally:
        torch.set_num_threads(old)


def test_train_limits_and_errors(tmp_path):
    r = run_cli("train", "--data", "8gaussians", "--seconds", "0.5", "--hidden", "16", "--depth", "1",
                "--batch", "32", "--threads", "1", "--pool", "1000", "--sde", "ve", "--output", "edm",
                "--weighting", "edm", "--out", "ve.safetensors", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["seconds"] >= 0.5 and summary["steps"] > 0

    bad = run_cli("train", "--data", "moons", "--out", "m.pt", cwd=tmp_path)
    assert bad.returncode == 2 and "must end in .safetensors" in bad.stderr
    bad = run_cli("sample", "--model", "missing.safetensors", "--out", "s.npy", cwd=tmp_path)
    assert bad.returncode == 2 and "missing.safetensors: no such model file" in bad.stderr
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 100)
    bad = run_cli("eval", "--model", "junk.safetensors", "--data", "moons", cwd=tmp_path)
    assert bad.returncode == 2 and "junk.safetensors" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    bad = run_cli("sample", "--model", "ve.safetensors", "--sde", "subvp", "--out", "s.npy", cwd=tmp_path)
    assert bad.returncode == 2 and "trained with the ve SDE" in bad.stderr


def test_train_diverges_cleanly(tmp_path):
    r = run_cli("train", "--data", "moons", "--steps", "200", "--lr", "1e6", "--hidden", "16", "--depth", "1",
                "--batch", "32", "--threads", "1", "--pool", "1000", "--out", "d.safetensors", cwd=tmp_path)
    assert r.returncode == 2
    assert "training diverged at step" in r.stderr and "Nothing was written" in r.stderr
    assert not (tmp_path / "d.safetensors").exists()
