"""`race` (CSV / PNG, the last line's smallest good NFE), `eval --score-error` and `sample --stochasticity`."""

import csv
import json

import numpy as np
import pytest
import torch

from playground import cli
from playground.core.training.config import TrainConfig
from playground.core.training.trainer import Trainer
from playground.data.targets.presets import make_preset


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_race_writes_one_csv_row_per_run_and_the_smallest_good_nfe(tmp_path, capsys):
    out = tmp_path / "race.csv"
    assert cli.main(["race", "--exact", "--data", "8gaussians", "--samplers", "ode_heun,em", "--nfe", "5,41",
                     "--n", "1000", "--out", str(out)]) == 0
    best = _last_json(capsys)
    rows = list(csv.DictReader(out.open()))
    assert [r["sampler"] for r in rows] == ["ode_heun", "em", "ode_heun", "em"]
    assert [int(r["nfe"]) for r in rows] == [5, 5, 41, 41]
    assert list(rows[0]) == ["sampler", "steps", "nfe", "seconds", "swd_ratio"]
    for name in ("ode_heun", "em"):
        good = [int(r["nfe"]) for r in rows if r["sampler"] == name and float(r["swd_ratio"]) <= 1.2]
        assert best[name] == (min(good) if good else None)
    assert best["ode_heun"] == 41  # 21 Heun steps on the exact score reach the floor; 5 NFE do not


def test_race_draws_the_chart_as_png(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "race.png"
    assert cli.main(["race", "--exact", "--data", "8gaussians", "--samplers", "ddim", "--nfe", "5,10",
                     "--n", "1000", "--out", str(out)]) == 0
    assert set(_last_json(capsys)) == {"ddim"}
    assert Image.open(out).size == (900, 560)


@pytest.mark.parametrize("argv, needle", [
    (["--samplers", "nope"], "unknown sampler"),
    (["--nfe", "5,x"], "whole numbers"),
    (["--nfe", "1"], "rung"),
    (["--out", "race.txt"], ".csv or .png"),
])  # fmt: skip
def test_race_bad_input_is_one_error_line(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = ["race", "--exact", "--data", "8gaussians", "--out", "race.csv"]
    assert cli.main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and needle in err and "\n" not in err


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    trainer = Trainer(TrainConfig(steps=40, hidden=32, depth=2, batch=128, warmup=5), make_preset("8gaussians").sample(4000))
    trainer.run()
    trainer.save(path)
    return path


def test_eval_score_error_prints_the_table_and_a_json_line(tiny_model, capsys):
    assert cli.main(["eval", "--model", str(tiny_model), "--data", "8gaussians", "--score-error", "--n", "500",
                     "--time-bins", "5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert len(summary["t"]) == len(summary["score_error"]) == len(summary["dsm_loss"]) == 5
    assert all(e > 0 for e in summary["score_error"])
    assert summary["mean_score_error"] == pytest.approx(np.mean(summary["score_error"]))
    assert sum("score_error" in line for line in out[:3]) == 1 and len(out) == 5 + 4


def test_eval_score_error_on_a_png_raster_uses_its_exact_diffused_score(tmp_path, capsys):
    """A PNG target's piecewise-constant density gives the exact score: the table is finite and positive for a model
    trained briefly on it; a target without an exact score is one error line."""
    from PIL import Image

    from playground.data.targets.spec import load_target

    pixels = np.zeros((12, 16), dtype=np.uint8)
    pixels[2:6, 3:9], pixels[8:11, 10:15] = 255, 128
    png = tmp_path / "shape.png"
    Image.fromarray(pixels).save(png)
    model = tmp_path / "raster.safetensors"
    trainer = Trainer(TrainConfig(steps=40, hidden=32, depth=2, batch=128, warmup=5), load_target(str(png)).sample(4000))
    trainer.run()
    trainer.save(model)
    assert cli.main(["eval", "--model", str(model), "--data", str(png), "--score-error", "--n", "400",
                     "--time-bins", "4"]) == 0
    summary = _last_json(capsys)
    assert len(summary["score_error"]) == 4 and all(np.isfinite(e) and e > 0 for e in summary["score_error"])
    assert all(f > 0 for f in summary["dsm_floor"])
    assert cli.main(["eval", "--model", str(model), "--data", "swissroll", "--score-error", "--n", "100"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no exact score" in err


def test_eval_score_error_needs_a_model_and_a_data_spec(tiny_model, capsys):
    assert cli.main(["eval", "--exact", "--data", "8gaussians", "--score-error"]) == 2
    assert "--model" in capsys.readouterr().err
    assert cli.main(["eval", "--model", str(tiny_model), "--score-error"]) == 2
    assert "--data" in capsys.readouterr().err


def test_sample_stochasticity_zero_is_the_pf_ode_euler_path(tmp_path, capsys):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    base = ["sample", "--exact", "--data", "8gaussians", "--steps", "20", "--n", "300", "--no-denoise"]
    assert cli.main(base + ["--sampler", "em", "--stochasticity", "0", "--out", str(a)]) == 0
    assert cli.main(base + ["--sampler", "ode_euler", "--out", str(b)]) == 0
    np.testing.assert_allclose(np.load(a), np.load(b), rtol=1e-5, atol=1e-5)
    assert cli.main(base + ["--sampler", "ddim", "--stochasticity", "0.5", "--out", str(a)]) == 2
    assert "does not apply" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(base + ["--sampler", "em", "--stochasticity", "-1", "--out", str(a)])
