"""Command line: `python -m playground` (no arguments: the app) and headless subcommands.

    python -m playground                      open the app (also: `diffusion-playground`, `python -m playground app`)
    python -m playground train --data SPEC --out M.safetensors   train a score model (progress on stderr)
    python -m playground sample --model M ... sample a trained model (or --exact: the target's exact score)
    python -m playground sample --exact ...   sample a 2D target with its exact score, write .npy/.csv
    python -m playground eval --exact ...     SWD of exact-score samples against the target (+ PF-ODE NLL)
    python -m playground export --model M --format onnx|torch-export --out FILE   export a model, check it
    python -m playground download mnist|fashion   fetch MNIST / Fashion-MNIST IDX files into a cache (checked)
    python -m playground bench NAME ...       run playground.bench.NAME.main(argv)

Headless commands never import Qt: the app is imported only by the `app` path.

One module per command (`sample` holds sample and eval, `images` the image side of train/sample/eval); what they
share is in `common`. Extending: write `add_<name>_command(subparsers)` in a new module, registering a subparser with
`set_defaults(func=...)`, and append it to `entry.COMMANDS`; a new score source adds its flag to the group that
`common.add_score_source_args` returns and a branch to `common.resolve_score_source`. Raise CLIError (or any
ValueError, e.g. DataError) for bad input: `main` prints one line `error: ...` to stderr and returns 2.
"""

from playground.cli.entry import build_parser, main, main_app

__all__ = ["build_parser", "main", "main_app"]
