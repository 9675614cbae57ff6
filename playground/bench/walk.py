"""A newcomer's first minutes, scripted: `python -m playground bench walk [--size 1366x768] [--out DIR] [--guide DIR]`.

Offscreen, the real MainWindow with a fresh settings store (a first launch) at a laptop size. It picks a preset,
trains (Play, ~15 s), pauses, scrubs the time bar, changes both samplers and their options, tries a sampler that
cannot run with its options, changes the SDE and undoes it (the model comes back), draws a target, trains under VE and
fits the sampling views to the trajectories, resets the layout at 1280 x 720 and 1024 x 700 and opens the guide.
After every step it saves a screenshot (DIR/NN_step.png) and prints what the window says (the status bar and each
sampling view's first line) with the seconds the step took, so the walk can be checked by eye and by its words.
--guide DIR also writes the pictures of docs/getting-started.md (window, training, sampling, time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench walk", description=__doc__.split("\n")[0])
    p.add_argument("--size", default="1366x768", help="window size WxH (default 1366x768)")
    p.add_argument("--out", default="/tmp/issue20_walk", help="folder for the screenshots")
    p.add_argument("--guide", default=None, help="also write the guide's pictures into this folder")
    p.add_argument("--train-seconds", type=float, default=15.0, help="seconds of the first training run")
    return p


def _pump(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _until(cond, timeout: float) -> bool:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            return False
        _pump(0.05)
    return True


class Walk:
    """The window and the record of the walk."""

    def __init__(self, win, out: Path):
        self.win = win
        self.out = out
        self.n = 0
        self.t0 = time.perf_counter()

    def sampling_idle(self, timeout: float = 180.0) -> bool:
        sp = self.win.panels["sampling"]
        _pump(0.2)
        return _until(lambda: not sp.running and not sp._start.isActive(), timeout)

    def shot(self, name: str, note: str = "") -> Path:
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()
        self.n += 1
        path = self.out / f"{self.n:02d}_{name}.png"
        self.win.grab().save(str(path))
        sp = self.win.panels["sampling"]
        views = " | ".join(s.view.info.text().split("\n")[0] for s in sp.sides.values())
        print(f"[{time.perf_counter() - self.t0:6.1f} s] {path.name}: {note}\n"
              f"          status bar: {self.win.statusBar().currentMessage() or '-'}\n"
              f"          sampling: {sp.status.text()}\n          views: {views}", flush=True)
        self.t0 = time.perf_counter()
        return path


def walk(win, out: Path, guide: Path | None, train_seconds: float) -> None:  # noqa: C901 - one linear script
    w = Walk(win, out)
    st, ctl, sp = win.state, win.controller, win.panels["sampling"]
    w.sampling_idle()
    w.shot("first_launch", "no model yet: the score field and both sampling views show the exact score")
    if guide is not None:
        win.grab().save(str(guide / "window.png"))

    win.panels["target"].choose_preset("8gaussians")
    w.sampling_idle()
    w.shot("preset_8gaussians", "a Gaussian mixture: its exact score is a closed form")

    win.act_play.trigger()  # Play (Space)
    _until(lambda: ctl.step > 0, 60)  # the trainer is built in the worker first
    _pump(train_seconds / 2)
    w.shot("training", f"training, step {ctl.step:,}: the sampling views follow it")
    if guide is not None:
        win.panels["training"].grab().save(str(guide / "training.png"))
    _pump(train_seconds / 2)
    win.act_play.trigger()  # Pause
    _until(lambda: not ctl.running, 10)
    w.sampling_idle()
    w.shot("paused", f"paused at step {ctl.step:,}: the views end on the final model")
    if guide is not None:
        sp.grab().save(str(guide / "sampling.png"))

    for t in (0.7, 0.3):
        st.set_time(t)
        _pump(0.5)
    w.shot("time_0.3", "the time bar at t = 0.3: forward diffusion, score field and the sampling replay follow")
    if guide is not None:
        from playground.app.dialogs.export.pictures import render_views

        views = [win.panels["forward"].plot, win.panels["score"].plot, sp.sides["sde"].plot]
        render_views(views, (1200, 400)).save(str(guide / "time.png"))

    win.request_settings({"sde_sampler": "pc", "sde_sampler_options": "snr=0.2",
                          "ode_sampler": "ddim", "ode_sampler_options": "eta=0.5"})
    w.sampling_idle()
    w.shot("samplers_pc_ddim", "predictor-corrector (snr 0.2) against DDIM (eta 0.5)")

    win.request_settings({"sde": "subvp", "sde_sampler": "annealed_langevin", "sde_sampler_options": "levels=300"})
    w.sampling_idle()
    w.shot("subvp_annealed_langevin", "sub-VP (the model goes into the undo stack): annealed Langevin with 300 levels "
                                      "cannot spend 200 steps and its view says why")

    for _ in range(2):
        win.undo_stack.undo()
    w.sampling_idle()
    w.shot("undo_sde_change", f"Edit > Undo twice: VP again, the model at step {ctl.step:,} is back")

    target = win.panels["target"]
    target.set_mode("Draw")
    target.draw_page.stroke([(-2.0, -1.0), (-1.0, 0.5), (0.0, 1.5), (1.0, 0.5), (2.0, -1.0)])
    w.sampling_idle()
    w.shot("drawing", "a drawn target: the model went into the undo stack, the views show the drawing's exact score")

    win.request_settings({"sde": "ve"})
    win.act_play.trigger()
    _until(lambda: ctl.step > 0, 60)
    _pump(train_seconds * 2 / 3)
    win.act_play.trigger()
    _until(lambda: not ctl.running, 10)
    w.sampling_idle()
    w.shot("ve_trained", "VE: the prior spans far beyond the data; the trajectories come in from outside")
    sp.fit("paths")
    w.shot("ve_fit_trajectories", "Fit > trajectories: the whole paths in view")

    for size in ((1280, 720), (1024, 700)):
        win.resize(*size)
        _pump(0.3)
        win.reset_layout()
        _pump(0.8)
        w.shot(f"layout_{size[0]}x{size[1]}", "View > Reset layout at this size")
    dialog = win.help.show_guide()
    _pump(0.5)
    path = out / f"{w.n + 1:02d}_guide.png"
    dialog.grab().save(str(path))
    print(f"{path.name}: Help > Getting started", flush=True)
    dialog.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size must be WxH, got {args.size!r}", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from playground.app import make_application

    make_application(["bench-walk"])
    from playground.app.window.main_window import MainWindow

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    guide = Path(args.guide) if args.guide else None
    if guide is not None:
        guide.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = QSettings(os.path.join(tmp, "walk.ini"), QSettings.Format.IniFormat)
        win = MainWindow(store=store, autosave_dir=os.path.join(tmp, "autosave"))
        win.resize(width, height)
        win.show()
        try:
            walk(win, out, guide, args.train_seconds)
        finally:
            win.close()
            from playground.app.workers.threads import wait_for_workers

            wait_for_workers()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
