"""The headless CLI: sample/eval --exact for a preset, a PNG, a CSV and a GMM JSON; bad input exits 2 in one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from playground import cli

ROOT = Path(__file__).resolve().parents[2]
GMM_JSON = {
    "weights": [2, 1, 1],
    "means": [[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
    "covariances": [[[0.5, 0.3], [0.3, 0.4]], [[0.3, -0.1], [-0.1, 0.2]], [[0.4, 0.0], [0.0, 0.1]]],
}


def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "playground", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def files(tmp_path):
    """A PNG (a bright bar on black), a CSV of 5 points with a header, and a GMM JSON."""
    from PIL import Image

    img = np.zeros((8, 16), np.uint8)
    img[2:6, 4:12] = 255
    Image.fromarray(img).save(tmp_path / "bar.png")
    pts = np.array([[0, 0], [1, 1], [-1, 2], [2, -1], [-2, -2]], float)
    (tmp_path / "pts.csv").write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in pts))
    (tmp_path / "mix.json").write_text(json.dumps(GMM_JSON))
    return {"png": tmp_path / "bar.png", "csv": tmp_path / "pts.csv", "json": tmp_path / "mix.json", "pts": pts}


def test_sample_preset_npy_with_trajectory(tmp_path):
    r = run_cli("sample", "--exact", "--data", "8gaussians", "--sampler", "ode_heun", "--steps", "8", "--n", "300",
                "--out", "s.npy", "--trajectory", "traj.npy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "NFE 15" in r.stdout and "s.npy" in r.stdout  # Heun with the final denoise: 2 * 8 - 1
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (300, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    traj = np.load(tmp_path / "traj.npy")
    assert traj.shape == (9, 300, 2)  # x_T and every step
    np.testing.assert_allclose(traj[-1], x)
    assert np.abs(x).max() < 5 and np.linalg.norm(x, axis=1).mean() > 2  # on the ring of modes (radius 2.83)


def test_sample_png_csv_gmm(files, tmp_path):
    """Each file kind samples; the outputs round-trip (CSV header x,y) and land where the data is."""
    r = run_cli("sample", "--exact", "--data", files["png"], "--extent", "2", "--steps", "10", "--n", "200",
                "--out", "png.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    x = np.loadtxt(tmp_path / "png.csv", delimiter=",", skiprows=1)
    assert (tmp_path / "png.csv").read_text().startswith("x,y\n")
    assert x.shape == (200, 2) and np.abs(x[:, 0]).max() < 1.3 and np.abs(x[:, 1]).max() < 0.8  # bar: [-1, 1] x [-.5, .5]

    r = run_cli("sample", "--exact", "--data", files["csv"], "--steps", "20", "--n", "200", "--sde", "ve",
                "--out", "pts.npy", "--trajectory", "t.npy", "--trajectory-stride", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    x = np.load(tmp_path / "pts.npy")
    d = np.linalg.norm(x[:, None] - files["pts"][None], axis=-1).min(1)
    assert d.max() < 0.05  # the ideal denoiser of a finite set memorises it
    assert np.load(tmp_path / "t.npy").shape == (5, 200, 2)

    r = run_cli("sample", "--exact", "--data", files["json"], "--sde", "subvp", "--sampler", "pc", "--steps", "30",
                "--snr", "0.16", "--n", "200", "--seed", "3", "--out", "gmm.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "NFE 61" in r.stdout  # pc: steps * (1 + 1 corrector) + 1
    assert np.loadtxt(tmp_path / "gmm.csv", delimiter=",", skiprows=1).shape == (200, 2)


def test_eval_last_line_is_json(files, tmp_path):
    r = run_cli("eval", "--exact", "--data", files["json"], "--steps", "20", "--n", "1000", "--nll", "--nll-n", "300",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("swd", "swd_floor", "swd_ratio", "nll", "entropy", "nfe"):
        assert key in out and np.isfinite(out[key]), key
    assert out["swd_ratio"] < 2.0
    assert abs(out["nll"] - out["entropy"]) < 0.3  # 300 fresh samples: the NLL is a noisy estimate of the entropy

    r = run_cli("eval", "--exact", "--data", "moons", "--sde", "ve", "--sampler", "ddim", "--eta", "1", "--steps",
                "20", "--n", "600", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out) >= {"swd", "swd_floor", "swd_ratio"} and "nll" not in out


def test_rectified_flow_exact_eval_reports_straightness(tmp_path, capsys, monkeypatch):
    """eval --exact --sde rf: an ODE sampler's JSON has the straightness of its paths, a stochastic one's has none."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["eval", "--exact", "--sde", "rf", "--data", "8gaussians", "--sampler", "ode_euler", "--steps", "30",
                     "--n", "1000"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["sde"] == "rf" and out["nfe"] == 31 and out["swd_ratio"] < 1.5 and out["straightness"] > 0
    assert cli.main(["eval", "--exact", "--sde", "rf", "--data", "8gaussians", "--sampler", "em", "--steps", "50",
                     "--n", "1000"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "straightness" not in out and out["swd_ratio"] < 1.5


def test_eval_prints_the_elbo_beside_the_pf_ode_nll_from_eps_1e5(files, tmp_path):
    """--nll and --elbo of the same 300 fresh samples with the exact GMM score: the bound is tight there, so both sit
    near the entropy and near each other; the likelihood eps is 1e-5 (printed), not the samplers' 1e-3."""
    r = run_cli("eval", "--exact", "--data", files["json"], "--steps", "20", "--n", "1000", "--nll", "--elbo",
                "--nll-n", "300", "--elbo-times", "32", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["nll_eps"] == 1e-5 and "t = 1e-05" in r.stdout and "ELBO bound" in r.stdout
    assert out["elbo_times"] == 32 and out["elbo_nfe"] == 32
    assert abs(out["elbo_nll"] - out["nll"]) < 4 * out["elbo_sem"] + 0.05
    assert abs(out["elbo_nll"] - out["entropy"]) < 0.3


def test_pc_options_and_annealed_langevin_on_sub_vp(tmp_path):
    """Corrector-only PC with the ALD corrector (NFE = steps x n_corrector + 1); annealed Langevin under sub-VP,
    which used to print swd NaN (its step was thousands of times sigma_i^2), is finite and near the floor."""
    r = run_cli("sample", "--exact", "--data", "8gaussians", "--sampler", "pc", "--predictor", "none", "--corrector",
                "ald", "--n-corrector", "2", "--snr", "0.5", "--steps", "10", "--n", "50", "--out", "s.npy",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "NFE 21" in r.stdout and np.isfinite(np.load(tmp_path / "s.npy")).all()
    r = run_cli("eval", "--exact", "--data", "8gaussians", "--sde", "subvp", "--sampler", "annealed_langevin",
                "--steps", "300", "--n", "2000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert np.isfinite(out["swd"]) and out["swd_ratio"] < 1.5


def test_bad_file_exits_2_with_one_line(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    r = run_cli("sample", "--exact", "--data", "broken.json", "--n", "10", "--out", "o.npy", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "broken.json" in lines[0], r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["sample", "--exact", "--data", "missing.png", "--out", "o.npy"], "missing.png"),
        (["sample", "--exact", "--data", "missing.csv", "--out", "o.npy"], "missing.csv"),
        (["sample", "--exact", "--data", "nosuchpreset", "--out", "o.npy"], "nosuchpreset"),
        (["sample", "--exact", "--data", "moons", "--out", "o.txt"], "o.txt"),
        (["sample", "--exact", "--data", "moons", "--out", "nodir/o.npy"], "does not exist"),
        (["sample", "--exact", "--data", "moons", "--out", "o.npy", "--trajectory", "t.csv"], "t.csv"),
        (["sample", "--exact", "--out", "o.npy"], "--data"),
        (["sample", "--exact", "--data", "moons", "--sampler", "magic", "--out", "o.npy"], "magic"),
        (["sample", "--exact", "--data", "moons", "--sampler", "em", "--eta", "1", "--out", "o.npy"], "--eta"),
        (["sample", "--exact", "--data", "moons", "--sigma-max", "5", "--out", "o.npy"], "--sigma-max"),
        (["sample", "--exact", "--data", "checkerboard", "--noise", "0.1", "--out", "o.npy"], "noise"),
        (["eval", "--exact", "--data", "empty.csv"], "empty.csv"),
        (["eval", "--exact", "--data", "moons", "--sde", "ve", "--sigma-max", "0.001"], "sigma"),
        (["bench", "nosuchbench"], "nosuchbench"),
        (["sample", "--exact", "--data", "moons", "--sde", "rf", "--sigma-max", "5", "--out", "o.npy"], "--sigma-max"),
        (["train", "--data", "moons", "--objective", "fm", "--weighting", "likelihood", "--out", "m.safetensors"],
         "not likelihood"),
        (["sample", "--exact", "--data", "moons", "--sampler", "pc", "--predictor", "heun", "--out", "o.npy"], "heun"),
        (["sample", "--exact", "--data", "moons", "--sampler", "pc", "--corrector", "hmc", "--out", "o.npy"], "hmc"),
        (["sample", "--exact", "--data", "moons", "--sampler", "pc", "--predictor", "none", "--corrector", "none",
          "--out", "o.npy"], "nothing would move"),
        (["sample", "--exact", "--data", "moons", "--sampler", "em", "--corrector", "ald", "--out", "o.npy"],
         "--corrector"),
        (["sample", "--exact", "--data", "moons", "--sampler", "pc", "--n-corrector", "-1", "--out", "o.npy"],
         "n_corrector"),
        (["eval", "--exact", "--data", "moons", "--nll", "--probe", "gaussian"], "--probe applies to image models"),
        (["eval", "--exact", "--data", "moons", "--elbo", "--elbo-times", "7"], "--elbo-times must be even"),
    ],
)
def test_bad_input_is_one_error_line(argv, needle, tmp_path, monkeypatch, capsys):
    (tmp_path / "empty.csv").write_text("")
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_help_and_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0 and "sample" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main(["sample", "--data", "moons", "--out", "o.npy"])  # no score source
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["sample", "--exact", "--data", "moons", "--n", "0", "--out", "o.npy"])
    assert e.value.code == 2


def test_no_arguments_opens_the_app(monkeypatch):
    calls = []
    monkeypatch.setattr("playground.cli.entry.run_app", lambda argv: calls.append(argv) or 0)
    assert cli.main([]) == 0 and calls == [[]]
    assert cli.main(["app", "moons"]) == 0 and calls[-1] == ["moons"]


@pytest.mark.parametrize("command", [c for c in cli.build_parser()._subparsers._group_actions[0].choices])
def test_every_subcommand_help_works(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    assert "usage: python -m playground " + command in capsys.readouterr().out


def test_bench_help_lists_every_benchmark_and_each_benchmark_has_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--help"])
    assert e.value.code == 0
    listing = capsys.readouterr().out.split("benchmarks:")[1]
    names = [line.split()[0] for line in listing.strip().splitlines()]
    assert {"images", "quality", "samplers", "speed", "ui"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as e:
            cli.main(["bench", name, "--help"])
        assert e.value.code == 0, name
        assert f"usage: python -m playground bench {name}" in capsys.readouterr().out
    assert cli.main(["bench"]) == 0 and "benchmarks:" in capsys.readouterr().out


def test_a_large_data_file_reports_its_reading_and_its_subset(tmp_path, monkeypatch, capsys):
    """--data on a big point file never reads silently: progress on stderr, then the subset note; over the size cap
    it is one error line. (The progress threshold is lowered here; the subset cap is the real one.)"""
    from playground.cli import common
    from playground.data.targets import points

    n = 120_000
    pts = np.stack([np.arange(n) % 300 / 100.0, np.arange(n) // 300 / 100.0], 1)
    np.savetxt(tmp_path / "big.csv", pts, fmt="%.2f", delimiter=",", header="x,y", comments="")
    monkeypatch.setattr(common, "PROGRESS_BYTES", 1 << 20)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sample", "--exact", "--data", "big.csv", "--steps", "2", "--n", "20", "--out", "o.npy"]) == 0
    err = capsys.readouterr().err
    assert "reading big.csv (1.2 MB): 10% 20% 30% 40% 50% 60% 70% 80% 90% 100%\n" in err, err
    assert "note: big.csv has 120,000 points; a uniform random 100,000 of them are kept" in err
    monkeypatch.setattr(points, "MAX_FILE_BYTES", 1 << 20)
    assert cli.main(["sample", "--exact", "--data", "big.csv", "--n", "20", "--out", "o.npy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: big.csv: is 1.2 MB; point files up to 1.0 MB are read"), err
