"""Model files: save/load round trip, clear errors for bad files, lazy playground.load_model."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import playground
from playground.core.training.model_file import (
    FORMAT,
    ModelFileError,
    load_model,
    read_model_file,
    same_model_file,
    save_model,
)
from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    old = torch.get_num_threads()
    data = (np.random.default_rng(0).normal(size=(3000, 2)) * [1.0, 0.3] + [4.0, -2.0]).astype(np.float32)
    tr = Trainer(TrainConfig(hidden=32, depth=2, batch=128, steps=40, sde="ve", output="x0", threads=1), data)
    tr.run()
    torch.set_num_threads(old)
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    tr.save(path)
    return tr, path


def test_round_trip_gives_identical_outputs(trained):
    tr, path = trained
    model = load_model(path)
    snap = tr.snapshot()
    x = np.random.default_rng(1).normal(size=(32, 2)).astype(np.float32) + [4.0, -2.0]
    for t in (0.01, 0.3, 0.9):
        np.testing.assert_array_equal(model.score(x, t), snap.score(x, t))
        np.testing.assert_array_equal(model.denoise(x, t), snap.denoise(x, t))
    np.testing.assert_array_equal(model.sample(64, steps=20, seed=3), snap.sample(64, steps=20, seed=3))
    raw = load_model(path, weights="raw")
    raw_snap = tr.snapshot("raw")
    np.testing.assert_array_equal(raw.score(x, 0.3), raw_snap.score(x, 0.3))
    assert not np.array_equal(raw.score(x, 0.3), model.score(x, 0.3))  # EMA differs from the raw weights
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert model.sde.config() == tr.sde.config() and model.normalization == tr.normalization


def test_playground_load_model_and_metadata(trained):
    _, path = trained
    model = playground.load_model(path)
    meta, tensors = read_model_file(path)
    assert meta["format"] == FORMAT and meta["format_version"] == "1"
    assert meta["library_version"] == playground.__version__
    cfg = meta["config"]
    assert cfg["sde"]["name"] == "ve" and cfg["output"] == "x0"
    assert cfg["network"]["type"] == "ScoreMLP" and cfg["network"]["hidden"] == 32
    assert set(cfg["normalization"]) == {"mean", "scale"}
    assert cfg["training"]["steps_done"] == 40 and cfg["training"]["loss"] > 0
    assert any(k.startswith("ema.") for k in tensors) and any(k.startswith("raw.") for k in tensors)
    assert any(k.startswith("opt.") for k in tensors)
    assert model.config["steps_done"] == 40


def test_model_save_without_trainer_state(trained, tmp_path):
    tr, _ = trained
    snap = tr.snapshot()
    path = tmp_path / "snap.safetensors"
    save_model(path, snap)
    again = load_model(path)
    x = np.zeros((3, 2), np.float32)
    np.testing.assert_array_equal(again.score(x, 0.5), snap.score(x, 0.5))
    with pytest.raises(ModelFileError, match="no trainer state"):
        Trainer.resume(path, np.zeros((10, 2)))


def _expect_error(path, *fragments):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for f in fragments:
        assert f in msg, msg
    assert isinstance(info.value, ValueError)


def test_missing_and_directory(tmp_path):
    _expect_error(tmp_path / "nope.safetensors", "no such model file")
    _expect_error(tmp_path, "directory")


def test_corrupt_truncated_and_foreign_files(trained, tmp_path):
    _, good = trained
    blob = good.read_bytes()
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    _expect_error(empty, "empty or truncated")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(4096))
    _expect_error(garbage, "not a readable .safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(blob[: len(blob) // 2])
    _expect_error(truncated, "not a readable .safetensors")
    header_cut = tmp_path / "header_cut.safetensors"
    header_cut.write_bytes(blob[:40])
    _expect_error(header_cut, "not a readable .safetensors")
    pickle_file = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(3)}, pickle_file)
    _expect_error(pickle_file, "not a readable .safetensors")

    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(foreign))
    _expect_error(foreign, "not a Diffusion Playground model")
    other = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    _expect_error(other, "format='pt'")


def _rewrite_metadata(src: Path, dst: Path, change) -> None:
    """Copy a safetensors file with its JSON header's __metadata__ changed by `change(meta)`."""
    blob = src.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    change(header["__metadata__"])
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + blob[8 + n :])


def test_bad_metadata(trained, tmp_path):
    _, good = trained
    newer = tmp_path / "newer.safetensors"
    _rewrite_metadata(good, newer, lambda m: m.update(format_version="99"))
    _expect_error(newer, "format version 99")
    bad_json = tmp_path / "bad_json.safetensors"
    _rewrite_metadata(good, bad_json, lambda m: m.update(config="{not json"))
    _expect_error(bad_json, "not valid JSON")

    def wrong_arch(m):
        cfg = json.loads(m["config"])
        cfg["network"]["hidden"] = 64
        m["config"] = json.dumps(cfg)

    mismatch = tmp_path / "mismatch.safetensors"
    _rewrite_metadata(good, mismatch, wrong_arch)
    _expect_error(mismatch, "shape")


def test_large_plausible_config_is_refused_before_allocating(trained, tmp_path, monkeypatch):
    """A config asking for hidden = 20000 (3 x 400M weights: GBs, which an allocator may well grant) beside small
    tensors: the shapes are compared on the meta device, so no network is ever built."""
    _, good = trained

    def big(m):
        cfg = json.loads(m["config"])
        cfg["network"]["hidden"] = 20000
        m["config"] = json.dumps(cfg)

    path = tmp_path / "big.safetensors"
    _rewrite_metadata(good, path, big)

    def no_allocation(cfg):
        raise AssertionError("build_model ran: the network was allocated before the shapes were checked")

    monkeypatch.setattr("playground.core.training.model.build_model", no_allocation)
    _expect_error(path, "shape", "from the network in its config")


def test_save_refuses_nan_weights(trained, tmp_path):
    tr, _ = trained
    snap = tr.snapshot()
    with torch.no_grad():
        next(snap.net.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        save_model(tmp_path / "nan.safetensors", snap)
    assert not (tmp_path / "nan.safetensors").exists()


def test_import_playground_stays_light():
    code = (
        "import sys, playground; assert 'torch' not in sys.modules, 'torch imported'; "
        "f = playground.load_model; assert callable(f); print('ok')"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_same_model_file_ignores_the_metadata_order_but_not_the_content(trained, tmp_path):
    """safetensors writes metadata entries in a random order: two saves of one model differ as bytes, not as files."""
    tr, _ = trained
    blobs = []
    for k in range(6):
        path = tmp_path / f"again{k}.safetensors"
        tr.save(path)
        blobs.append(path.read_bytes())
    assert all(same_model_file(blobs[0], b) for b in blobs)
    other = tmp_path / "other.safetensors"
    save_model(other, tr.snapshot())  # no trainer state: another file
    assert not same_model_file(blobs[0], other.read_bytes())
    flipped = bytearray(blobs[0])
    flipped[-1] ^= 1  # one bit of one weight
    assert not same_model_file(blobs[0], bytes(flipped))
    assert same_model_file(None, None) and not same_model_file(blobs[0], None)
    # so a workspace saved from a paused trainer equals the window's state read again (the monkey test's check)
    from playground.core.io.workspace import make_workspace
    from playground.data.targets.presets import make_preset

    target = make_preset("moons")
    assert all(make_workspace(target, {}, model=tr) == make_workspace(target, {}, model=tr) for _ in range(4))


@pytest.mark.parametrize("sde", ["vp", "ve"])
@pytest.mark.parametrize("steps", [0, 1])
def test_a_saved_run_resumed_and_saved_again_is_the_same_file(tmp_path, sde, steps):
    """Issue 15's walk: 'reopened: differs in model' for VE runs: the config said sigma_max None (suggested from the
    data) and a resumed trainer's config held the file's value, so a save -> open -> save changed the model file."""
    from playground.data.targets.presets import make_preset

    data = make_preset("moons").sample(2000, 0)
    tr = Trainer(TrainConfig(sde=sde, hidden=16, depth=2, batch=64, steps=50, threads=None), data)
    tr.run(max_steps=steps)
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    tr.save(first)
    again = Trainer.resume(first, make_preset("moons").sample(2000, 1))  # other samples of the target: same run
    again.save(second)
    assert same_model_file(first.read_bytes(), second.read_bytes())
    if sde == "ve":
        assert tr.config.sigma_max == again.config.sigma_max == tr.sde.sigma_max == again.sde.sigma_max
