"""Random use of the real window: `python -m playground bench monkey [--actions 1000] [--seed 0] [--size 1400x900]`.

Offscreen, one main window (small training settings unless --app-defaults, its own QSettings file and autosave folder
in a temporary directory), driven by `playground.app.monkey.Monkey` for --actions seeded random user actions. Prints
a progress line every --every actions, then: actions done, unhandled exceptions, Qt warnings, workspace round-trip
failures (each with its text), the longest event-loop stall and the action it happened in, the slowest action of
each kind, and resident memory with its growth per 1,000 actions after the first 1,000 (warm-up). Exit code 1 when
anything went wrong (an exception, a warning, a round-trip failure or a stall over --max-stall seconds).

Issue 15's bar: >= 10,000 actions with 0 exceptions, no stall over 5 s, memory flat.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

SMALL_SETTINGS = dict(
    hidden=32, depth=2, batch=128, steps=300, n_particles=1000, n_forward=1000, target_samples=4000,
    sample_steps=40, n_trajectories=8,
)
"""Training and view sizes that keep each action short (the app tests' window uses the same)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench monkey", description=__doc__.split("\n")[0])
    p.add_argument("--actions", type=int, default=1000, help="random user actions to perform")
    p.add_argument("--seed", type=int, default=0, help="the walk's seed (the same seed repeats the same choices)")
    p.add_argument("--size", default="1400x900", help="window size WIDTHxHEIGHT")
    p.add_argument("--every", type=int, default=500, help="print a progress line (and record memory) this often")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop after this many minutes of walking even if fewer actions were done (then report)")
    p.add_argument("--max-stall", type=float, default=5.0, help="a stall longer than this (seconds) fails the walk")
    p.add_argument("--app-defaults", action="store_true", help="the app's default settings (slower actions)")
    p.add_argument("--stacks", action="store_true", help="print the UI thread's stack sampled in the longest stall")
    p.add_argument("--log", type=int, default=20, help="on failure, print this many of the last actions")
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"error: --size must be WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.actions < 1 or args.every < 1:
        build_parser().error("--actions and --every must be positive")
    width, height = _size(args.size)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch
    from PySide6.QtCore import QSettings

    from playground.app import make_application

    app = make_application(["bench-monkey"])
    from playground.app.monkey import Monkey, resident_mb
    from playground.app.state import AppState, Settings
    from playground.app.window.main_window import MainWindow
    from playground.data.targets.presets import make_preset

    tmp = tempfile.TemporaryDirectory(prefix="bench-monkey-")
    folder = Path(tmp.name)
    print(f"bench monkey: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, Qt platform "
          f"{app.platformName()}, window {width}x{height}, seed {args.seed}, {args.actions:,} actions, load "
          f"{_load()}", flush=True)
    settings = Settings() if args.app_defaults else Settings(**SMALL_SETTINGS)
    state = AppState(make_preset("moons"), settings)
    store = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(state=state, store=store, restore=False, autosave_dir=folder / "autosave")
    window.workspace.ask_save = lambda _reason: "discard"  # a walk never stops on 'save changes?' (saves are actions)
    window.resize(width, height)
    window.show()
    t0 = time.perf_counter()

    shown = {"exceptions": 0, "round_trip_failures": 0, "warnings": 0}

    def progress(report) -> None:
        for kind in shown:  # new failures at once (a long walk may be stopped before its end)
            for text in getattr(report, kind)[shown[kind]:]:
                print(f"  new {kind.replace('_', ' ').rstrip('s')}: {text.strip().splitlines()[-1][:300]}", flush=True)
            shown[kind] = len(getattr(report, kind))
        done, mb = report.memory_mb[-1]
        print(f"  {done:>7,} actions  {time.perf_counter() - t0:7.0f} s  {mb:6.0f} MB ({report.in_use_mb[-1][1]:.0f} MB "
              f"in use; {report.children_mb[-1][1]} worker processes {report.children_mb[-1][2]:.0f} MB)  exceptions "
              f"{len(report.exceptions)}  warnings {len(report.warnings)}  round-trip failures "
              f"{len(report.round_trip_failures)}  longest stall {report.max_stall_s:.2f} s ({report.stall_action})  "
              f"load {_load()}", flush=True)

    monkey = Monkey(window, seed=args.seed, folder=folder / "walk")
    monkey.folder.mkdir()
    start_mb = resident_mb()
    try:
        report = monkey.run(args.actions, memory_every=args.every, on_progress=progress,
                            seconds=None if args.minutes is None else args.minutes * 60)
    finally:
        window.close()
        app.processEvents()
    elapsed = time.perf_counter() - t0
    growth = report.growth_mb_per_1000()
    print(f"\nactions done        {report.actions:,} in {elapsed:.0f} s ({elapsed / max(report.actions, 1):.2f} s each)")
    print(f"exceptions          {len(report.exceptions)}")
    print(f"Qt warnings         {len(report.warnings)}")
    print(f"round-trip failures {len(report.round_trip_failures)}")
    print(f"longest stall       {report.max_stall_s:.2f} s in '{report.stall_action}'")
    if args.stacks and report.stall_stack:
        print("UI thread's stack, " + report.stall_stack)
    in_use = report.growth_mb_per_1000(in_use=True)
    print(f"memory              {start_mb:.0f} MB at start -> {report.memory_mb[-1][1]:.0f} MB at the end; growth "
          + (f"{growth:+.1f} MB per 1,000 actions after the first 1,000" if growth is not None
             else "n/a (needs >= 2,000 actions)"))
    print(f"memory in use       (after gc + malloc_trim: allocator caching handed back) "
          + " ".join(f"{a:,}:{m:.0f}" for a, m in report.in_use_mb)
          + (f"; growth {in_use:+.1f} MB per 1,000 actions after the first 1,000" if in_use is not None else ""))
    print("worker processes    (processes the app started, resident MB) "
          + " ".join(f"{a:,}:{n}/{m:.0f}" for a, n, m in report.children_mb)
          + f"; at most {max(n for _, n, _ in report.children_mb)} processes, "
            f"{max(m for _, _, m in report.children_mb):.0f} MB")
    total = report.growth_mb_per_1000(in_use=True, with_children=True)
    if total is not None:
        print(f"memory, app + workers: growth {total:+.1f} MB per 1,000 actions after the first 1,000 (in use + workers)")
    print("slowest action of each kind (s): " + ", ".join(
        f"{name} {s:.2f}" for name, s in sorted(report.slowest.items(), key=lambda kv: -kv[1])))
    print("actions by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items(), key=lambda kv: -kv[1])))
    for title, items in (("exception", report.exceptions), ("Qt warning", report.warnings),
                         ("round-trip failure", report.round_trip_failures)):
        for text in items:
            print(f"\n--- {title} ---\n{text}")
    failed = not report.ok or report.max_stall_s > args.max_stall
    if failed and args.log:
        print("\nlast actions:\n  " + "\n  ".join(report.log[-args.log:]))
    tmp.cleanup()
    return 1 if failed else 0


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    raise SystemExit(main())
