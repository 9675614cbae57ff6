"""CLI on image datasets: train a tiny UNet, sample a PNG grid / .npy, eval with bits/dim; bad flags fail cleanly."""

import json

import numpy as np
import pytest
from PIL import Image

from playground import cli
from playground.core.training.model_file import load_model

TINY = ["--steps", "4", "--batch", "16", "--base-channels", "8", "--threads", "1"]


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def conditional_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "digits.safetensors"
    assert cli.main(["train", "--data", "digits", *TINY, "--classes", "--label-dropout", "0.2", "--out", str(path)]) == 0
    return path


def test_train_writes_a_class_conditional_image_model(conditional_model):
    model = load_model(conditional_model)
    assert model.image_shape == (1, 8, 8)
    assert model.num_classes == 10 and model.class_names[3] == "3"
    assert model.config["label_dropout"] == 0.2 and model.config["network"] == "unet"
    assert model.config["info"]["data"] == "digits"


def test_sample_writes_a_png_grid_and_npy(conditional_model, tmp_path, capsys):
    png = tmp_path / "grid.png"
    code, out, err = run(capsys, "sample", "--model", conditional_model, "--n", 6, "--steps", 3, "--out", png,
                         "--class", 3, "--guidance", 2)
    assert code == 0, err
    assert "class 3" in out and "guidance 2" in out
    assert Image.open(png).size[0] > 0
    npy = tmp_path / "x.npy"
    code, _, err = run(capsys, "sample", "--model", conditional_model, "--n", 5, "--steps", 3, "--out", npy,
                       "--sampler", "em")
    assert code == 0, err
    x = np.load(npy)
    assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 1


def test_eval_prints_bits_per_dim_and_sample_metrics(conditional_model, capsys):
    code, out, err = run(capsys, "eval", "--model", conditional_model, "--data", "digits", "--n", 20, "--steps", 3,
                         "--nll", "--nll-n", 3, "--nll-tol", "1e-2")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert np.isfinite(summary["bpd"]) and summary["nll_n"] == 3
    for key in ("nn_samples", "nn_data", "swd", "swd_floor", "confident", "classifier_accuracy"):
        assert np.isfinite(summary[key]), key
    assert "bits/dim" in out
    assert summary["nll_eps"] == 1e-5 and summary["nll_probe"] == "rademacher" and summary["dequantized_training"]
    assert "uniformly dequantised" in out and "t = 1e-05" in out


def test_eval_bits_per_dim_with_gaussian_probes_and_the_elbo_bound(conditional_model, capsys):
    code, out, err = run(capsys, "eval", "--model", conditional_model, "--data", "digits", "--n", 10, "--steps", 2,
                         "--nll", "--elbo", "--probe", "gaussian", "--nll-n", 2, "--nll-tol", "1e-2",
                         "--elbo-times", 4)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["nll_probe"] == "gaussian" and "gaussian probes" in out
    assert np.isfinite(summary["bpd"]) and np.isfinite(summary["bpd_elbo"]) and summary["elbo_nfe"] == 4
    assert "ELBO bound" in out and "bits/dim" in out
    code, _, err = run(capsys, "eval", "--model", conditional_model, "--data", "digits", "--nll", "--probe", "uniform")
    assert code == 2 and "--probe 'uniform'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "eval", "--model", conditional_model, "--data", "digits", "--probe", "gaussian")
    assert code == 2 and "--probe needs --nll" in err


def test_unconditional_shapes_at_another_size(tmp_path, capsys):
    path = tmp_path / "shapes.safetensors"
    code, out, err = run(capsys, "train", "--data", "shapes8", "--size", 12, *TINY, "--out", path)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["steps"] == 4
    assert load_model(path).image_shape == (1, 12, 12)
    code, _, err = run(capsys, "sample", "--model", path, "--n", 2, "--steps", 2, "--out", tmp_path / "g.png",
                       "--class", 1)
    assert code == 2 and "class-conditional" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "digits", "--hidden", "64"], "--hidden applies to 2D data"),
        (["train", "--data", "digits", "--label-dropout", "0.1"], "--label-dropout needs --classes"),
        (["train", "--data", "moons", "--classes"], "moons has no classes"),
        (["train", "--data", "folder:/no/such/folder"], "folder"),
    ],
)
def test_bad_image_flags_are_one_line_errors(tmp_path, capsys, args, message):
    code, _, err = run(capsys, *args, "--steps", 1, "--out", tmp_path / "m.safetensors")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_class_and_output_for_an_image_model(conditional_model, tmp_path, capsys):
    code, _, err = run(capsys, "sample", "--model", conditional_model, "--out", tmp_path / "x.csv")
    assert code == 2 and ".png or .npy" in err
    code, _, err = run(capsys, "sample", "--model", conditional_model, "--class", 12, "--out", tmp_path / "x.png")
    assert code == 2 and "classes 0..9" in err
    code, _, err = run(capsys, "eval", "--model", conditional_model, "--data", "moons")
    assert code == 2 and "image dataset" in err


def test_download_fetches_checks_and_prints_the_spec(tmp_path, capsys, monkeypatch):
    """`download`, offline: a file:// mirror of small IDX files; a second run keeps the intact files; a wrong
    checksum is one error line and leaves no file behind."""
    import hashlib

    from playground.data.images import download as image_download
    from playground.data.images.idx import write_idx

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        for name, array in ((f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            (f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))):
            path = write_idx(mirror / name, array)
            files[name] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    entry = {"mirrors": (mirror.as_uri() + "/",), "files": files}
    monkeypatch.setitem(image_download.IDX_DOWNLOADS, "mnist", entry)
    cache = tmp_path / "cache"
    code, out, err = run(capsys, "download", "mnist", "--cache", cache)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["images"] == 12 and summary["spec"] == f"mnist:{cache / 'mnist'}"
    assert "train-images-idx3-ubyte.gz" in err and "SHA-256 checked" in out
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(files)
    code, out, _ = run(capsys, "download", "mnist", "--cache", cache, "--splits", "test")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["images"] == 5
    bad = {**entry, "files": {k: (v[0], "0" * 64) for k, v in files.items()}}
    monkeypatch.setitem(image_download.IDX_DOWNLOADS, "mnist", bad)
    code, _, err = run(capsys, "download", "mnist", "--cache", tmp_path / "other")
    assert code == 2 and err.splitlines()[-1].startswith("error:") and "SHA-256 mismatch" in err
    assert not any((tmp_path / "other" / "mnist").iterdir())


def test_bench_images_prints_every_row(capsys):
    pytest.importorskip("sklearn")
    code, out, err = run(capsys, "bench", "images", "--steps", "5", "--threads", "1", "--n", "20",
                         "--sample-steps", "4", "--classifier-seconds", "1", "--steps28", "1",
                         "--set", "base_channels=8")
    assert code == 0, err
    head, table = out.split("measure", 1)
    assert "edm_heun (4 steps, S_churn 100)" in head and "'output': 'edm'" in head and "'base_channels': 8" in head
    assert "5 steps per model" in head and "'dequantize': True" in head
    rows = {line[:40].strip(): line for line in table.splitlines()[1:]}
    assert {"classifier accuracy, real test digits", "unconditional: confident", "unconditional: confident, PF-ODE",
            "nearest training digit: generated", "conditional w=2: asked class", "conditional w=0: asked class",
            "28x28: seconds per 1k steps (cpu)", "32x32 RGB: seconds per 1k steps (cpu)"} <= set(rows)
    assert "shapes32-rgb 3x32x32" in rows["32x32 RGB: seconds per 1k steps (cpu)"]
    assert "5 steps, sigma_data 0.7" in rows["unconditional: confident"]  # measured from the digits
    accuracy = float(rows["classifier accuracy, real test digits"].split()[5].rstrip("%"))
    assert 50 < accuracy <= 100
