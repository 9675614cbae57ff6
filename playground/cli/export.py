"""`export`: a trained model to ONNX or a torch.export program, checked against PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

from playground.cli.common import CLIError, check_output_path, positive_int


def add_export_command(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to ONNX or a torch.export program (.pt2)",
                       description="Export a trained model (.safetensors) for use without this package: ONNX or a "
                       "torch.export program with inputs x (N, 2) in data space and t (N,) in [0, 1], outputs the "
                       "score and the denoiser in data space. The file is checked against the PyTorch model on "
                       "random inputs and the max abs difference is printed (last line: JSON).")
    p.add_argument("--model", required=True, metavar="M.safetensors", help="the trained model file")
    p.add_argument("--format", choices=("onnx", "torch-export"), default=None,
                   help="onnx or torch-export (default: from the --out suffix, .onnx or .pt2)")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (.onnx or .pt2)")
    p.add_argument("--check", type=positive_int, default=256, metavar="N",
                   help="random inputs the export is checked on (default 256)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from playground.core.io.export import EXPORT_FORMATS, ExportDependencyError, export_model
    from playground.core.training.model_file import load_model

    fmt = args.format
    if fmt is None:
        fmt = {v: k for k, v in EXPORT_FORMATS.items()}.get(Path(args.out).suffix.lower())
        if fmt is None:
            raise CLIError(f"--out {args.out}: end the name in .onnx or .pt2, or give --format onnx|torch-export")
    out = check_output_path(args.out, (EXPORT_FORMATS[fmt],), "--out")
    model = load_model(args.model)  # ModelFileError (a ValueError) for a bad file: one line, exit 2
    try:
        report = export_model(model, out, fmt, n_check=args.check)
    except ExportDependencyError as e:
        raise CLIError(str(e)) from None
    diff = report.max_abs_diff
    check = (f"max abs difference vs PyTorch {diff:.3g} on {args.check} random inputs ({report.checked_with})"
             if diff is not None else "not checked: no ONNX runtime installed (pip install onnxruntime)")
    print(f"wrote {out} ({fmt}, {out.stat().st_size:,} bytes, {report.seconds:.1f} s); {check}")
    print(json.dumps({"out": str(out), "format": fmt, "max_abs_diff": diff, "checked_with": report.checked_with}))
    return 0
