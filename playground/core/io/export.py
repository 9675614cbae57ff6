"""Export a trained ScoreModel for use elsewhere: ONNX, or a `torch.export` program (.pt2).

Both formats hold the same graph, `DataSpaceModule` (normalisation, SDE coefficients and output-kind conversion
baked in, so a user needs nothing from this package to run it):

    inputs   x  float32 (N, *shape)  a point x_t in DATA space (shape = (D,) for point models, e.g. (2,))
             t  float32 (N,)         diffusion time in [0, 1] (data at t = 0; the rf SDE's T = 0.999, and t
                                     above it is evaluated at T). Keep t >= ~1e-3: like the PyTorch model,
                                     the score grows as 1 / sigma(t) when t -> 0.
    outputs  score     float32 (N, *shape)  grad_x log p_t(x), the score of the data-space marginal at time t
             denoised  float32 (N, *shape)  E[x_0 | x_t = x], the denoiser (Tweedie) in data space
    N is a dynamic batch dimension ('batch'); the model's EMA weights (whatever weights the ScoreModel holds).

They equal `model.score(x, t)` and `model.denoise(x, t)` up to float32 rounding. The SDE's marginal coefficients
(alpha(t), sigma(t)) are computed in float64 inside the graph and cast back to float32: ONNX has no expm1, and
exp(x) - 1 in float32 would lose ~1e-4 relative accuracy in sigma(t) at small t. To sample elsewhere, pair the
score with the SDE recorded in the metadata (`playground_config`, the model file's config JSON: SDE,
normalisation, output kind).

    from playground import load_model
    from playground.core.io.export import export_onnx, export_torch
    model = load_model("moons.safetensors")
    report = export_onnx(model, "moons.onnx")        # report.max_abs_diff: checked against PyTorch on random inputs
    export_torch(model, "moons.pt2")                  # torch.export.load("moons.pt2").module()(x, t)

ONNX uses the dynamo exporter (`torch.onnx.export(..., dynamo=True)`, needs onnx + onnxscript; the TorchScript
exporter cannot translate expm1). The check runs with onnxruntime when installed, else with onnx's reference
evaluator; it compares with the PyTorch model evaluated in float64 (its exact function) and also reports the
PyTorch float32 model's own error on the same inputs (`ExportCheck.float32_floor`). Missing dependencies raise
`ExportDependencyError` (an ImportError) naming the package. Files are written atomically. Class-conditional image
models are exported unconditionally (null class).
"""

from __future__ import annotations

import copy
import io
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from playground.core.io.atomic import atomic_write
from playground.version import __version__

EXPORT_FORMATS: dict[str, str] = {"onnx": ".onnx", "torch-export": ".pt2"}
"""Format name -> the usual file suffix."""
INPUT_NAMES = ("x", "t")
OUTPUT_NAMES = ("score", "denoised")
ONNX_FORMAT = "diffusion-playground-onnx"
CONFIG_KEY = "playground_config"
"""ONNX metadata_props key / .pt2 extra file name ('playground_config.json') holding the model config JSON."""


ONNX_EXPORT_PACKAGES = ("onnx", "onnxscript")
"""What ONNX export needs besides torch (the dynamo exporter); both are dependencies of the package, so the app's
plain install exports ONNX. onnxruntime (optional) checks the file faster than onnx's reference evaluator."""


class ExportDependencyError(ImportError):
    """An optional package needed to export or check a model is not installed; the message names it."""


@dataclass
class ExportReport:
    """What an export wrote and how well it matches the PyTorch model."""

    path: Path
    format: str
    max_abs_diff: float | None  # vs the PyTorch model (float64 reference), score and denoised; None: not checked
    checked_with: str | None  # 'onnxruntime', 'onnx.reference' or 'torch.export.load'
    seconds: float
    exporter: str = ""  # 'dynamo' for ONNX, 'torch.export' otherwise
    check: "ExportCheck | None" = None  # the full comparison (float32 floor, output scale)


# ---- the exported graph ------------------------------------------------------------------------------------------
class _Float64Coefficients:
    """An SDE proxy whose marginal coefficients are computed in float64 and cast back to t's dtype."""

    def __init__(self, sde):
        self._sde = sde

    def __getattr__(self, name):
        if name == "_sde":  # during copy / unpickling, before __init__ ran
            raise AttributeError(name)
        return getattr(self._sde, name)

    def marginal_coefficients(self, t: torch.Tensor):
        alpha, std = self._sde.marginal_coefficients(t.to(torch.float64))
        return alpha.to(t.dtype), std.to(t.dtype)

    def velocity_coefficients(self, t: torch.Tensor):
        k_x, k_eps = self._sde.velocity_coefficients(t.to(torch.float64))
        return k_x.to(t.dtype), k_eps.to(t.dtype)


class DataSpaceModule(nn.Module):
    """forward(x, t) -> (score, denoised), both in data space; see the module docstring. Built from a ScoreModel
    (deep-copied to CPU in eval mode, so the original is untouched)."""

    def __init__(self, model):
        super().__init__()
        from playground.core.training.model import ScoreModel

        src = copy.deepcopy(model).to("cpu").eval()
        self.model = ScoreModel(
            src.net, _Float64Coefficients(src.sde), src.output, src.normalization, src.sigma_data, src.config
        )
        self.model.requires_grad_(False)
        self.scale = float(src.scale)
        self.output = src.output
        self.input_shape = input_shape(src)

    def forward(self, x: torch.Tensor, t: torch.Tensor):
        m = self.model
        y = m.to_norm(x)
        t = t.clamp(max=m.sde.T)  # as ScoreModel.predict: past T (rectified flow: 0.999) the model answers at T
        out, alpha, std = m.net_output(y, t)
        score = m.convert_output(out, y, t, alpha, std, "score")
        d = m.convert_output(out, y, t, alpha, std, "x0")
        return score / self.scale, m.to_data(d)


def input_shape(model) -> tuple[int, ...]:
    """The shape of one sample x the model takes: (D,) for point models, the net's `data_shape` for images."""
    shape = getattr(model.net, "data_shape", None)
    return tuple(int(s) for s in shape) if shape else (int(model.dim),)


def _dtype(model) -> torch.dtype:
    return next(model.net.parameters()).dtype


def _config_json(model) -> str:
    return json.dumps(model.model_config(), allow_nan=False, default=str)


def example_inputs(model, n: int = 8, seed: int = 0, t_min: float = 1e-2, spread: float = 1.5):
    """Random (x, t) in data space: x = mean + scale * spread * N(0, I), t ~ U[t_min, 1] (float tensors)."""
    g = torch.Generator().manual_seed(int(seed))
    shape = input_shape(model)
    dtype = _dtype(model)
    y = spread * torch.randn(n, *shape, generator=g, dtype=torch.float64)
    x = model.to_data(y).to(dtype)
    t = (t_min + (1.0 - t_min) * torch.rand(n, generator=g, dtype=torch.float64)).to(dtype)
    return x, t


def _reference(model, x: torch.Tensor, t: torch.Tensor, precision: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """(score, denoised) of the PyTorch model on CPU; precision 'float64' evaluates a float64 copy (the model's
    exact function, free of float32 rounding), 'float32' the model as it is."""
    m = copy.deepcopy(model).to("cpu").eval()
    if precision == "float64":
        m = m.double()
        x, t = x.double(), t.double()
    elif precision != "float32":
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    return m.score(x, t).numpy(), m.denoise(x, t).numpy()


def _max_diff(outs, ref) -> float:
    return float(max(np.max(np.abs(np.asarray(o, dtype=np.float64) - r)) for o, r in zip(outs, ref)))


def _dynamic_batch():
    return torch.export.Dim("batch", min=1)


# ---- torch.export ------------------------------------------------------------------------------------------------
def export_program(model) -> torch.export.ExportedProgram:
    """The `torch.export` program of `DataSpaceModule(model)` with a dynamic batch dimension."""
    module = DataSpaceModule(model)
    x, t = example_inputs(model, n=4)
    batch = _dynamic_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(module, (x, t), dynamic_shapes={"x": {0: batch}, "t": {0: batch}})


def export_torch(model, path, *, verify: bool = True, n_check: int = 256, seed: int = 0) -> ExportReport:
    """Save a `torch.export` program (torch.export.save, a .pt2 archive) of the data-space score + denoiser.

    Load it with `torch.export.load(path).module()`; call it with (x, t) as in the module docstring. The model
    config JSON is stored as the extra file 'playground_config.json'. verify: reload the file and compare with the
    PyTorch model on `n_check` random inputs (ExportReport.max_abs_diff)."""
    t0 = time.perf_counter()
    path = Path(path)
    program = export_program(model)
    buf = io.BytesIO()
    extra = {CONFIG_KEY + ".json": _config_json(model), "playground_io.json": json.dumps(_io_description(model))}
    torch.export.save(program, buf, extra_files=extra)
    atomic_write(path, buf.getvalue())
    check = check_export(model, path, n=n_check, seed=seed) if verify else None
    return ExportReport(path, "torch-export", check.max_abs_diff if check else None, check.runtime if check else None,
                        time.perf_counter() - t0, "torch.export", check)


# ---- ONNX --------------------------------------------------------------------------------------------------------
def _require(module: str, purpose: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ExportDependencyError(
            f"{purpose} needs the '{module.split('.')[0]}' package: pip install {module.split('.')[0]}"
        ) from e


def _io_description(model) -> dict:
    shape = ["batch", *input_shape(model)]
    return {
        "inputs": {"x": {"shape": shape, "space": "data"}, "t": {"shape": ["batch"], "range": [0.0, 1.0]}},
        "outputs": {"score": {"shape": shape, "meaning": "grad_x log p_t(x) in data space"},
                    "denoised": {"shape": shape, "meaning": "E[x0 | x_t = x] in data space"}},
        "dtype": str(_dtype(model)).replace("torch.", ""),
    }


def onnx_bytes(model, *, opset: int | None = None) -> tuple[bytes, str]:
    """(the serialised ONNX model of `DataSpaceModule(model)` with metadata, the exporter used: 'dynamo').

    Uses torch's dynamo exporter, which needs onnx and onnxscript. (The older TorchScript exporter cannot export
    the SDE coefficients: it has no translation for expm1.)"""
    for package in ONNX_EXPORT_PACKAGES:
        _require(package, "ONNX export (torch.onnx dynamo exporter)")
    module = DataSpaceModule(model)
    x, t = example_inputs(model, n=4)
    batch = _dynamic_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, (x, t), None, dynamo=True, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_shapes={"x": {0: batch}, "t": {0: batch}}, opset_version=opset, verbose=False,
        )
    proto = program.model_proto
    exporter = "dynamo"
    meta = {
        "format": ONNX_FORMAT,
        "library_version": __version__,
        CONFIG_KEY: _config_json(model),
        "playground_io": json.dumps(_io_description(model)),
    }
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in meta]
    del proto.metadata_props[:]
    for k, v in [*kept, *meta.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "diffusion-playground"
    proto.doc_string = (
        "Diffusion Playground score model: inputs x (batch, *shape) in data space and t (batch,) in [0, 1]; "
        "outputs score = grad_x log p_t(x) and denoised = E[x0 | x_t] in data space."
    )
    return proto.SerializeToString(), exporter


def export_onnx(model, path, *, opset: int | None = None, verify: bool = True, n_check: int = 256,
                seed: int = 0) -> ExportReport:
    """Write the ONNX model of the data-space score + denoiser (module docstring) to `path` atomically.

    verify: run the file (onnxruntime, else onnx's reference evaluator) on `n_check` random inputs and report the
    max abs difference from the PyTorch model; when neither runtime is available the export is written and
    max_abs_diff is None."""
    t0 = time.perf_counter()
    path = Path(path)
    data, exporter = onnx_bytes(model, opset=opset)
    atomic_write(path, data)
    check = None
    if verify:
        try:
            check = check_export(model, path, n=n_check, seed=seed)
        except ExportDependencyError:
            check = None
    return ExportReport(path, "onnx", check.max_abs_diff if check else None, check.runtime if check else None,
                        time.perf_counter() - t0, exporter, check)


def onnx_runtime_name() -> str:
    """'onnxruntime' when installed, else 'onnx.reference'; ExportDependencyError when neither is."""
    try:
        import onnxruntime  # noqa: F401

        return "onnxruntime"
    except ImportError:
        pass
    try:
        import onnx.reference  # noqa: F401

        return "onnx.reference"
    except ImportError as e:
        raise ExportDependencyError(
            "running an ONNX model needs 'onnxruntime' (or 'onnx'): pip install onnxruntime"
        ) from e


def run_onnx(path, x: np.ndarray, t: np.ndarray, runtime: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(score, denoised) of an exported ONNX file on numpy inputs, with onnxruntime or onnx's reference evaluator."""
    runtime = runtime or onnx_runtime_name()
    feeds = {"x": np.ascontiguousarray(x), "t": np.ascontiguousarray(t)}
    if runtime == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        score, den = sess.run(list(OUTPUT_NAMES), feeds)
        return score, den
    if runtime == "onnx.reference":
        from onnx.reference import ReferenceEvaluator

        score, den = ReferenceEvaluator(str(path)).run(list(OUTPUT_NAMES), feeds)
        return np.asarray(score), np.asarray(den)
    raise ValueError(f"unknown ONNX runtime {runtime!r}; use 'onnxruntime' or 'onnx.reference'")


# ---- checks ------------------------------------------------------------------------------------------------------
@dataclass
class ExportCheck:
    """An exported file against the PyTorch model on random inputs (both outputs count).

    max_abs_diff: max |exported - reference| where the reference is the PyTorch model evaluated in float64 (its
    exact function) or as it is (precision='float32'). float32_floor: the same statistic for the PyTorch float32
    model itself against the float64 reference (the rounding floor an exported float32 graph cannot beat; only
    with precision='float64'). max_abs_value: the largest |reference output| (the scale of the differences)."""

    max_abs_diff: float
    float32_floor: float | None
    max_abs_value: float
    runtime: str
    n: int
    max_rel_diff: float = 0.0  # max over elements of |exported - reference| / (1 + |reference|)


def check_export(model, path, *, n: int = 256, seed: int = 0, t_min: float = 1e-2, runtime: str | None = None,
                 precision: str = "float64") -> ExportCheck:
    """Run an exported file (.onnx or .pt2, by suffix) on n random data-space inputs (x = mean + 1.5 scale N(0, I),
    t ~ U[t_min, 1]) and compare (score, denoised) with the PyTorch model (`ExportCheck`)."""
    path = Path(path)
    x, t = example_inputs(model, n=n, seed=seed, t_min=t_min)
    ref = _reference(model, x, t, precision)
    if path.suffix.lower() == ".onnx":
        runtime = runtime or onnx_runtime_name()
        outs = run_onnx(path, x.numpy(), t.numpy(), runtime)
    else:
        runtime = "torch.export.load"
        program = torch.export.load(str(path))
        with torch.no_grad():
            outs = [o.numpy() for o in program.module()(x, t)]
    floor = _max_diff(_reference(model, x, t, "float32"), ref) if precision == "float64" else None
    top = float(max(np.max(np.abs(r)) for r in ref))
    rel = float(max(np.max(np.abs(np.asarray(o, np.float64) - r) / (1.0 + np.abs(r))) for o, r in zip(outs, ref)))
    return ExportCheck(_max_diff(outs, ref), floor, top, runtime, n, rel)


def verify_export(model, path, *, n: int = 256, seed: int = 0, t_min: float = 1e-2, runtime: str | None = None,
                  precision: str = "float64") -> float:
    """Max abs difference between an exported file and the PyTorch model (`check_export`'s max_abs_diff)."""
    return check_export(model, path, n=n, seed=seed, t_min=t_min, runtime=runtime, precision=precision).max_abs_diff


def export_model(model, path, format: str | None = None, **kwargs) -> ExportReport:
    """Export to `format` ('onnx' | 'torch-export'; default: from the suffix, .onnx or .pt2). For the CLI:
    `python -m playground export --model M --format onnx|torch-export --out FILE`."""
    path = Path(path)
    if format is None:
        by_suffix = {v: k for k, v in EXPORT_FORMATS.items()}
        format = by_suffix.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"{path}: cannot tell the export format from the suffix; use .onnx or .pt2 (or --format)")
    if format == "onnx":
        return export_onnx(model, path, **kwargs)
    if format in ("torch-export", "torch_export", "pt2"):
        return export_torch(model, path, **kwargs)
    raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
