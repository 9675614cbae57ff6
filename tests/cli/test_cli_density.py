"""`density`, `sample --class / --impute`, `train --classes` for 2D: outputs, orientation, exact answers, bad input."""

import json

import numpy as np
import pytest
import torch

from playground import cli
from playground.core.diffusion.sde import make_sde
from playground.core.training.model_file import load_model
from playground.data.targets.gaussian_mixture import GaussianMixture

GMM_JSON = {
    "weights": [2, 1, 1],
    "means": [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
    "covariances": [[[0.5, 0.3], [0.3, 0.4]], [[0.3, -0.1], [-0.1, 0.2]], [[0.4, 0.0], [0.0, 0.1]]],
}
GMM = GaussianMixture(GMM_JSON["weights"], GMM_JSON["means"], GMM_JSON["covariances"])


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mix(tmp_path):
    path = tmp_path / "mix.json"
    path.write_text(json.dumps(GMM_JSON))
    return path


@pytest.fixture(scope="module")
def conditional_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cond")
    (folder / "mix.json").write_text(json.dumps(GMM_JSON))
    path = folder / "cond.safetensors"
    assert cli.main(["train", "--data", str(folder / "mix.json"), "--classes", "--steps", "30", "--hidden", "16",
                     "--depth", "1", "--threads", "1", "--out", str(path)]) == 0
    return path


def test_density_npy_orientation_extent_and_json(mix, tmp_path, capsys):
    code, out, err = run(capsys, "density", "--exact", "--data", mix, "--grid", 12, "--t", 0.3,
                         "--extent", -4, 4, -3, 2, "--out", tmp_path / "d.npy", "--true-out", tmp_path / "t.png")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["extent"] == [-4, 4, -3, 2] and summary["grid"] == 12 and summary["nfe"] > 0
    assert summary["seconds"] > 0 and summary["max_abs_difference"] < 0.01
    assert "extent -4 4 -3 2" in out and f"NFE {summary['nfe']}" in out
    d = np.load(tmp_path / "d.npy")
    assert d.shape == (12, 12) and d.dtype == np.float64
    xs = -4 + (np.arange(12) + 0.5) * 8 / 12
    ys = -3 + (np.arange(12) + 0.5) * 5 / 12
    xx, yy = np.meshgrid(xs, ys)  # row 0 is the lowest y, column 0 the lowest x
    true = GMM.log_prob(torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1)), 0.3, make_sde("vp")).numpy()
    np.testing.assert_allclose(d.ravel(), true, atol=0.01)
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_density_png_of_a_class_and_fit_report(mix, tmp_path, capsys):
    code, out, err = run(capsys, "density", "--exact", "--data", mix, "--grid", 8, "--class", 1, "--out",
                         tmp_path / "c.png")
    assert code == 0, err
    assert (tmp_path / "c.png").stat().st_size > 0
    code, out, err = run(capsys, "density", "--exact", "--data", mix, "--grid", 8, "--nll", "--nll-n", 300,
                         "--out", tmp_path / "d.npy")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and abs(summary["kl"]) < 0.01 and "KL" in out


def test_exact_class_samples_and_eval_against_the_component(mix, tmp_path, capsys):
    code, out, err = run(capsys, "sample", "--exact", "--data", mix, "--class", 2, "--n", 500, "--steps", 20,
                         "--out", tmp_path / "c.npy")
    assert code == 0, err
    x = np.load(tmp_path / "c.npy")
    assert (GMM.responsibilities(torch.as_tensor(x)).argmax(1) == 2).float().mean() > 0.98
    code, out, err = run(capsys, "eval", "--exact", "--data", mix, "--class", 1, "--n", 2000, "--steps", 20)
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["class_label"] == 1 and summary["swd_ratio"] < 1.6


def test_imputation_exact_and_replacement(mix, tmp_path, capsys):
    code, out, err = run(capsys, "sample", "--exact", "--data", mix, "--impute", "x1=0.5", "--impute-method",
                         "exact", "--n", 1000, "--out", tmp_path / "e.csv")
    assert code == 0, err
    x = np.loadtxt(tmp_path / "e.csv", delimiter=",", skiprows=1)
    assert (x[:, 0] == np.float32(0.5)).all()
    exact = json.loads(out.strip().splitlines()[-1])
    assert exact["w1"] < 2 * exact["w1_floor"] + 0.02
    code, out, err = run(capsys, "sample", "--exact", "--data", mix, "--impute", "x2=-1", "--n", 800, "--steps",
                         100, "--out", tmp_path / "r.npy")
    assert code == 0, err
    x = np.load(tmp_path / "r.npy")
    assert (x[:, 1] == -1).all() and x.shape == (800, 2)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["method"] == "replacement" and summary["nfe"] == 101 and summary["w1"] > 0


def test_conditional_model_samples_a_class_with_guidance(conditional_model, tmp_path, capsys):
    model = load_model(conditional_model)
    assert model.num_classes == 3 and model.class_names == ("0", "1", "2")
    code, out, err = run(capsys, "sample", "--model", conditional_model, "--class", 1, "--guidance", 2, "--n", 50,
                         "--steps", 4, "--out", tmp_path / "m.npy")
    assert code == 0, err
    assert "class 1" in out
    assert np.load(tmp_path / "m.npy").shape == (50, 2)
    code, out, err = run(capsys, "density", "--model", conditional_model, "--class", 0, "--guidance", 1, "--grid", 6,
                         "--steps", 4, "--extent", -3, 3, -3, 3, "--out", tmp_path / "m.npy")
    assert code == 0, err
    assert np.isfinite(np.load(tmp_path / "m.npy")).all()
    code, out, err = run(capsys, "sample", "--model", conditional_model, "--impute", "x1=0", "--n", 20, "--steps",
                         30, "--out", tmp_path / "i.npy")
    assert code == 0, err
    assert (np.load(tmp_path / "i.npy")[:, 0] == 0).all()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["sample", "--exact", "--data", "{mix}", "--class", "7", "--out", "o.npy"], "unknown class '7'"),
        (["sample", "--exact", "--data", "moons", "--class", "0", "--out", "o.npy"], "moons has no classes"),
        (["sample", "--exact", "--data", "{mix}", "--guidance", "2", "--out", "o.npy"], "--guidance needs --class"),
        (["sample", "--exact", "--data", "{mix}", "--impute", "x3=1", "--out", "o.npy"], "no coordinate 'x3'"),
        (["sample", "--exact", "--data", "{mix}", "--impute", "x1", "--out", "o.npy"], "AXIS=VALUE"),
        (["sample", "--exact", "--data", "{mix}", "--impute", "x1=abc", "--out", "o.npy"], "not a number"),
        (["sample", "--exact", "--data", "moons", "--impute", "x1=0", "--impute-method", "exact", "--out", "o.npy"],
         "Gaussian-mixture"),
        (["sample", "--exact", "--data", "{mix}", "--impute", "x1=0", "--sampler", "ddim", "--out", "o.npy"],
         "replacement method"),
        (["eval", "--exact", "--data", "moons", "--class", "0"], "moons has no classes"),
        (["density", "--exact", "--data", "moons", "--out", "o.npy"], "Gaussian-mixture target"),
        (["density", "--exact", "--data", "{mix}", "--t", "2", "--out", "o.npy"], "--t must lie"),
        (["density", "--exact", "--data", "{mix}", "--extent", "1", "0", "0", "1", "--out", "o.npy"], "extent"),
        (["density", "--exact", "--data", "{mix}", "--out", "o.txt"], ".npy or .png"),
        (["density", "--exact", "--data", "{mix}", "--class", "5", "--out", "o.npy"], "unknown class '5'"),
        (["density", "--exact", "--data", "checkerboard", "--out", "o.npy"], "Gaussian-mixture target"),
        (["train", "--data", "moons", "--classes", "--out", "m.safetensors"], "moons has no classes"),
    ],
)
def test_bad_input_is_one_error_line(args, needle, mix, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *[a.replace("{mix}", str(mix)) for a in args])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err


def test_class_on_an_unconditional_model(tmp_path, capsys):
    path = tmp_path / "u.safetensors"
    assert cli.main(["train", "--data", "moons", "--steps", "2", "--hidden", "8", "--depth", "1", "--out",
                     str(path)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "sample", "--model", path, "--class", 0, "--out", tmp_path / "o.npy")
    assert code == 2 and "class-conditional" in err and len(err.strip().splitlines()) == 1
