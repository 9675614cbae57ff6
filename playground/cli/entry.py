"""The entry points: `python -m playground` (the app without arguments), the subcommand parser, `app` and `bench`."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any, Callable

from playground.cli.common import CLIError
from playground.cli.density import add_density_command
from playground.cli.download import add_download_command
from playground.cli.export import add_export_command
from playground.cli.race import add_race_command
from playground.cli.sample import add_eval_command, add_sample_command
from playground.cli.train import add_train_command


def main(argv: list[str] | None = None) -> int:
    """`python -m playground [COMMAND ...]`; no arguments opens the app."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return run_app([])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as e:  # DataError, CLIError, bad options, unwritable output
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main_app() -> int:
    """The `diffusion-playground` console script: the app, with an optional target (preset or file) argument."""
    argv = sys.argv[1:]
    if any(a in ("-h", "--help") for a in argv):
        print("usage: diffusion-playground [TARGET]\n\nOpen the Diffusion Playground app; TARGET is a preset name or a "
              "target file (.png/.jpg/.csv/.npy/.json).\nHeadless commands: python -m playground --help")
        return 0
    return run_app(argv)


def run_app(argv: list[str]) -> int:
    """Open the Qt app (imported only here, so headless commands never load Qt)."""
    try:
        from playground.app import run
    except ImportError as e:
        print(f"error: the app needs PySide6 and pyqtgraph ({_one_line(e)})", file=sys.stderr)
        return 2
    return int(run(list(argv)) or 0)


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return " ".join(text.split())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m playground",
        description="Diffusion Playground: score-based diffusion in 2D (Song et al. 2021). "
        "Without arguments, opens the app.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def add_app_command(sub) -> None:
    p = sub.add_parser("app", help="open the app (the default without arguments)")
    p.add_argument("target", nargs="?", help="a preset name or target file to open")
    p.set_defaults(func=lambda args: run_app([args.target] if args.target else []))


def add_bench_command(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark: playground.bench.NAME.main(argv)",
                       description="Run the benchmark NAME with the remaining arguments (`bench NAME --help` for its "
                       "options). Benchmarks print figures; they are not tests.",
                       epilog=benchmark_listing(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", nargs="?", help="the benchmark, one of those listed below")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    p.set_defaults(func=cmd_bench, print_help=p.print_help)


def available_benchmarks() -> dict[str, str]:
    """Benchmark module names with the first line of each module's docstring (read without importing it)."""
    import ast
    import pkgutil

    try:
        package = importlib.import_module("playground.bench")
    except ModuleNotFoundError:
        return {}
    found = {}
    for m in pkgutil.iter_modules(package.__path__):
        if m.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(Path(m.module_finder.path, f"{m.name}.py").read_text())) or ""
        found[m.name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return dict(sorted(found.items()))


def benchmark_listing() -> str:
    names = available_benchmarks()
    if not names:
        return "benchmarks: none installed"
    width = max(map(len, names))
    return "benchmarks:\n" + "\n".join(f"  {name:<{width}}  {doc}" for name, doc in names.items())


def cmd_bench(args) -> int:
    names = available_benchmarks()
    if not args.name:
        args.print_help()
        return 0
    if not args.name.isidentifier() or args.name not in names:
        raise CLIError(f"unknown benchmark {args.name!r}; available: {', '.join(names) or 'none installed'}")
    module = importlib.import_module(f"playground.bench.{args.name}")
    return int(module.main(list(args.bench_args)) or 0)


COMMANDS: list[Callable[[Any], None]] = [
    add_app_command, add_train_command, add_sample_command, add_eval_command, add_density_command, add_export_command,
    add_download_command, add_race_command, add_bench_command,
]
"""Subcommand registrars, in help order; append to add a command."""
