"""Model export (ONNX, torch.export) checked against the PyTorch model; samples / trajectories as CSV / NPY.

The exported graph maps data-space (x, t) to (score, denoised). Criterion: the export is within 1e-4 of the exact
PyTorch model (the same model evaluated in float64) plus FLOOR_FACTOR x the error of the PyTorch float32 model itself
on the same inputs. The second term matters only where float32 is ill-conditioned: the x0/EDM score at small t is
(alpha D - x) / sigma^2 with sigma^2 ~ 1e-4 (sub-VP: ~1e-6), so float32 rounding alone is 1e-3 - 1e-2 there, in
PyTorch as in ONNX; another operation order (or another CPU's vector instructions) can make it a few times larger,
while a wrong export (a missing normalisation or output conversion) is off by O(1).
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
from torch import nn

from playground.core.diffusion.normalization import Normalization
from playground.core.diffusion.sde import make_sde
from playground.core.io import export
from playground.core.io.export import (
    ONNX_EXPORT_PACKAGES,
    DataSpaceModule,
    ExportDependencyError,
    check_export,
    example_inputs,
    export_model,
    export_onnx,
    export_torch,
    verify_export,
)
from playground.core.io.sample_files import csv_header, save_samples, save_trajectory
from playground.core.nets.mlp import ScoreMLP
from playground.core.training.model import ScoreModel

ATOL = 1e-4
FLOOR_FACTOR = 4.0
KINDS = [("vp", "eps"), ("subvp", "x0"), ("vp", "score"), ("ve", "edm"), ("rf", "v")]


def make_model(sde: str, output: str, seed: int = 0) -> ScoreModel:
    """A small MLP whose last layer is not zero (an untrained one outputs 0), outputs O(1) like a trained one."""
    torch.manual_seed(seed)
    net = ScoreMLP(2, 32, 2)
    nn.init.normal_(net.body[-1].weight, std=0.1)
    nn.init.normal_(net.body[-1].bias, std=0.05)
    sde_obj = make_sde("ve", sigma_max=8.0) if sde == "ve" else make_sde(sde)
    return ScoreModel(net, sde_obj, output, Normalization((0.5, -1.0), 2.0)).eval()


def reference(model, x, t):
    return model.score(x, t).numpy(), model.denoise(x, t).numpy()


def max_diff(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)))) for u, v in zip(a, b))


def assert_matches(outs, model, x, t):
    """outs (score, denoised) within ATOL + FLOOR_FACTOR x float32 floor of the float64 PyTorch model (module docstring)."""
    exact = export._reference(model, x, t, "float64")
    floor = max_diff(reference(model, x, t), exact)
    err = max_diff(outs, exact)
    assert err <= ATOL + FLOOR_FACTOR * floor, f"max abs diff {err:.3g} vs float64 model (float32 floor {floor:.3g})"


def assert_check(check):
    assert check.max_abs_diff <= ATOL + FLOOR_FACTOR * check.float32_floor, check


@pytest.mark.parametrize("sde,output", KINDS)
def test_wrapper_equals_model_api(sde, output):
    """The module that gets exported computes model.score and model.denoise (data space) in one pass."""
    model = make_model(sde, output)
    x, t = example_inputs(model, 200, seed=1)
    with torch.no_grad():
        score, den = DataSpaceModule(model)(x, t)
    assert score.shape == den.shape == (200, 2)
    assert_matches([score.numpy(), den.numpy()], model, x, t)


@pytest.fixture(scope="module")
def pt2_files(tmp_path_factory):
    """torch.export files of a VP/eps and a VE/EDM model (exported once per module: exports take seconds)."""
    folder = tmp_path_factory.mktemp("pt2")
    out = {}
    for sde, output in [("vp", "eps"), ("ve", "edm")]:
        model = make_model(sde, output)
        path = folder / f"{sde}-{output}.pt2"
        # both entry points: export_model picks the format from the suffix
        out[sde, output] = model, path, (export_model(model, path) if sde == "vp" else export_torch(model, path))
    return out


@pytest.mark.parametrize("kind", [("vp", "eps"), ("ve", "edm")])
def test_torch_export_round_trip(pt2_files, kind):
    model, path, report = pt2_files[kind]
    assert report.path == path and path.is_file() and report.format == "torch-export"
    assert report.max_abs_diff is not None and report.checked_with == "torch.export.load"
    assert_check(report.check)
    print(f"torch.export {kind}: max abs diff {report.max_abs_diff:.3g} "
          f"(float32 floor {report.check.float32_floor:.3g}, |values| <= {report.check.max_abs_value:.3g})")
    program = torch.export.load(str(path))
    for n in (1, 7, 1000):  # dynamic batch dimension
        x, t = example_inputs(model, n, seed=n)
        with torch.no_grad():
            outs = [o.numpy() for o in program.module()(x, t)]
        assert outs[0].shape == (n, 2)
        assert_matches(outs, model, x, t)


def test_verify_export_detects_a_different_model(pt2_files):
    model, path, _ = pt2_files["vp", "eps"]
    assert verify_export(model, path) < 1e-3
    other = make_model("vp", "eps", seed=1)
    assert verify_export(other, path) > 1e-2


# ---- ONNX ----------------------------------------------------------------------------------------------------------
def test_onnx_export_needs_only_the_packages_the_app_install_brings():
    """`pip install -e .` (the README's app command) must bring what File > Export > ONNX needs: the packages
    onnx_bytes requires are dependencies of the package, not only of the test extra."""
    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert set(ONNX_EXPORT_PACKAGES) <= deps, f"missing from [project.dependencies]: {set(ONNX_EXPORT_PACKAGES) - deps}"


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    model = make_model("ve", "edm")  # the most involved path: EDM preconditioning on VE
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    report = export_onnx(model, path, n_check=64)  # checked with onnxruntime, else the reference evaluator
    return model, path, report


def test_onnx_matches_pytorch_onnxruntime(onnx_file):
    pytest.importorskip("onnxruntime")
    model, path, _ = onnx_file
    check = check_export(model, path, runtime="onnxruntime")
    print(f"ONNX (onnxruntime) ve/edm: max abs diff {check.max_abs_diff:.3g} "
          f"(float32 floor {check.float32_floor:.3g}, |values| <= {check.max_abs_value:.3g})")
    assert_check(check)
    for n in (1, 300):
        x, t = example_inputs(model, n, seed=n)
        outs = export.run_onnx(path, x.numpy(), t.numpy(), "onnxruntime")
        assert outs[0].shape == (n, 2)
        assert_matches(outs, model, x, t)


def test_onnx_matches_pytorch_reference_evaluator(onnx_file):
    pytest.importorskip("onnx.reference")
    model, path, _ = onnx_file
    x, t = example_inputs(model, 64, seed=3)
    outs = export.run_onnx(path, x.numpy(), t.numpy(), "onnx.reference")
    assert_matches(outs, model, x, t)


def test_onnx_metadata_and_interface(onnx_file):
    import onnx

    model, path, report = onnx_file
    assert report.exporter == "dynamo"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["format"] == export.ONNX_FORMAT
    config = json.loads(meta[export.CONFIG_KEY])
    assert config["output"] == "edm" and config["sde"]["name"] == "ve"
    assert [i.name for i in proto.graph.input] == ["x", "t"]
    assert [o.name for o in proto.graph.output] == ["score", "denoised"]
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value  # dynamic batch


def test_export_onnx_reports_the_check(onnx_file):
    _, _, report = onnx_file
    if report.check is None:
        pytest.skip("no ONNX runtime installed (onnxruntime or onnx.reference)")
    assert report.format == "onnx" and report.checked_with in ("onnxruntime", "onnx.reference")
    assert_check(report.check)
    print(f"ONNX ({report.checked_with}, {report.exporter} exporter) ve/edm: max abs diff {report.max_abs_diff:.3g}, "
          f"export + check {report.seconds:.1f} s")


def test_missing_dependency_is_reported(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with pytest.raises(ExportDependencyError, match="pip install onnx"):
        export_onnx(make_model("vp", "eps"), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_export_model_formats(tmp_path):
    model = make_model("vp", "eps")
    with pytest.raises(ValueError, match="suffix"):
        export_model(model, tmp_path / "m.bin")
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(model, tmp_path / "m.bin", format="tflite")
    assert list(tmp_path.iterdir()) == []


# ---- samples and trajectories --------------------------------------------------------------------------------------
def test_samples_csv_and_npy_round_trip(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)
    save_samples(tmp_path / "s.csv", x)
    text = (tmp_path / "s.csv").read_text()
    assert text.startswith("x,y\n")
    back = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1, dtype=np.float32)
    np.testing.assert_array_equal(back, x)  # %.9g round-trips float32 exactly
    save_samples(tmp_path / "s.npy", torch.as_tensor(x))
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy", allow_pickle=False), x)
    assert csv_header(3) == "x0,x1,x2"


def test_samples_load_as_point_target(tmp_path):
    from playground.data.targets.points import load_points

    x = np.random.default_rng(1).standard_normal((20, 2)).astype(np.float32)
    for name in ("p.csv", "p.npy"):
        save_samples(tmp_path / name, x)
        np.testing.assert_array_equal(load_points(tmp_path / name).points.astype(np.float32), x)


def test_trajectory_npy_and_refusals(tmp_path):
    traj = np.zeros((5, 10, 2))
    save_trajectory(tmp_path / "tr.npy", traj)
    back = np.load(tmp_path / "tr.npy", allow_pickle=False)
    assert back.shape == (5, 10, 2) and back.dtype == np.float32
    with pytest.raises(ValueError, match=".npy"):
        save_trajectory(tmp_path / "tr.csv", traj)
    with pytest.raises(ValueError, match=r"\(K, N, D\)"):
        save_trajectory(tmp_path / "tr.npy", np.zeros((10, 2)))
    with pytest.raises(ValueError, match=".csv or .npy"):
        save_samples(tmp_path / "s.txt", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="numeric"):
        save_samples(tmp_path / "s.npy", np.array([["a", "b"]]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tr.npy"]


def test_rectified_flow_velocity_model_exports_with_its_end_point(tmp_path):
    """An rf / v model (the path's pole at t = 1, T = 0.999) exports like the others; t = 1 answers as at T, finitely."""
    model = make_model("rf", "v")
    report = export_torch(model, tmp_path / "rf.pt2", n_check=64)
    assert_check(report.check)
    x, _ = example_inputs(model, 16, seed=2)
    with torch.no_grad():
        outs = [o.numpy() for o in torch.export.load(str(tmp_path / "rf.pt2")).module()(x, torch.ones(16))]
    assert all(np.isfinite(o).all() for o in outs)
    assert_matches(outs, model, x, torch.full((16,), model.sde.T))
