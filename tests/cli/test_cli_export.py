"""`python -m playground export`: ONNX and torch.export of a tiny trained model, checked against PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground import cli


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from playground.core.training.config import TrainConfig
    from playground.core.training.trainer import Trainer
    from playground.data.targets.presets import make_preset

    target = make_preset("moons")
    cfg = TrainConfig(steps=20, hidden=16, depth=2, batch=64, threads=1, pool=1000, device="cpu")
    trainer = Trainer(cfg, lambda n, seed: target.sample(n, seed))
    trainer.run()
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    trainer.save(path)
    return path


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_export_torch_export(tiny_model, tmp_path, capsys):
    import torch

    out = tmp_path / "m.pt2"
    assert cli.main(["export", "--model", str(tiny_model), "--format", "torch-export", "--out", str(out),
                     "--check", "64"]) == 0
    text = capsys.readouterr().out
    assert "max abs difference vs PyTorch" in text
    info = _last_json(text)
    assert info["format"] == "torch-export" and info["max_abs_diff"] < 1e-3
    # the file runs without this package's model classes and equals the model's score
    from playground.core.training.model_file import load_model

    model = load_model(tiny_model)
    x = torch.randn(7, 2)
    t = torch.full((7,), 0.5)
    score, _ = torch.export.load(str(out)).module()(x, t)
    assert np.allclose(score.numpy(), model.score(x, 0.5).detach().numpy(), atol=1e-3)


def test_export_onnx(tiny_model, tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    assert cli.main(["export", "--model", str(tiny_model), "--out", str(out), "--check", "64"]) == 0  # format by suffix
    info = _last_json(capsys.readouterr().out)
    assert info["format"] == "onnx" and info["checked_with"] == "onnxruntime"
    assert info["max_abs_diff"] is not None and info["max_abs_diff"] < 1e-3
    assert out.stat().st_size > 1000


def test_bad_model_file_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 40)
    assert cli.main(["export", "--model", str(bad), "--format", "torch-export", "--out", str(tmp_path / "x.pt2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "bad.safetensors" in err
    assert not (tmp_path / "x.pt2").exists()
    # a missing file and a wrong suffix are one line too
    assert cli.main(["export", "--model", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "y.pt2")]) == 2
    assert cli.main(["export", "--model", str(bad), "--format", "onnx", "--out", str(tmp_path / "y.pt2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("error:") for e in err)
