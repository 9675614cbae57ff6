"""UI speed: `python -m playground bench ui [--particles 100000] [--seconds 3] [--rounds 3] [--size 800]`.

Offscreen, one 800 x 800 main window, the machine's cores (the target machine has 2). It measures, in one run:

1. Views at `--particles` particles (forward diffusion: that many particles; sampling: that many per side, after a
   real SDE and ODE sampling run with a briefly trained model): the time bar animates t and the views' repaints are
   counted from their paint events ("live fps": what a user sees; the frame clock paces them, ~60 Hz while the time
   bar plays with View > Smooth animation, the default, ~33 Hz otherwise), and
   "capacity fps" = 1 / (the time to recompute and repaint one frame at a new t, forced synchronously).
2. The same with training running in the app's worker (a worker process by default, see
   playground.app.workers.training_process; PLAYGROUND_TRAIN_IN_PROCESS=0 measures the in-thread worker): live fps, event-loop
   latency, and the trainer's it/s in the app against headless it/s (the same TrainConfig, a Trainer stepped in a plain loop on the main thread, one torch
   thread, no UI work), measured in alternating rounds of the same run so that background load hits both alike;
   also the trainer's it/s while the window shows training without animating t.
3. Event-loop latency: a 5 ms QTimer measures how late each of its ticks arrives (p50 / p99 in ms).
4. Training it/s with the Sampling panel following training (Follow: a refresh on fewer particles every ~3 s) against
   Follow off, in alternating order, and the longest gap between two refreshes (`--follow-seconds` each).
5. The same with View > Smooth animation off (frames every FRAME_MS, ~33 fps; phases 1-2 play smoothly, ~60 fps,
   the app's default): live fps of the views, idle and with training.
6. Per view, the UI thread's CPU per recomputed and repainted frame; the score view's as t steps at 60 fps with t
   evaluated at each frame and from its t ladder (what the time bar's playing uses); and the forward view's particles drawn as dots
   (the first 10,000) against a density image of all of them, at `--renderer-particles` (100k and 1M) particles.

Targets (issue 4): >= 30 fps at 100k particles; training keeps >= 70 % of headless it/s; latency p99 < 50 ms; (issue
20) Follow costs training <= 15 % of its it/s, with a refresh at least every ~3 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground bench ui", description=__doc__.split("\n")[0])
    p.add_argument("--particles", type=int, default=100_000, help="particles in the forward and sampling views")
    p.add_argument("--seconds", type=float, default=3.0, help="length of each measured phase")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (idle UI, UI + training, headless)")
    p.add_argument("--size", type=int, default=800, help="window width and height")
    p.add_argument("--sample-steps", type=int, default=30, help="steps of the sampling run shown in the view")
    p.add_argument("--pretrain", type=float, default=3.0, help="seconds of headless training before sampling")
    p.add_argument("--data", default="moons")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the UI side (the app uses 1)")
    p.add_argument("--follow-seconds", type=float, default=8.0,
                   help="length of each training phase with the sampling views following it, and without")
    p.add_argument("--renderer-particles", default="100000,1000000",
                   help="particle counts of the forward view's dots-vs-density comparison ('' skips it)")
    p.add_argument("--quick", action="store_true", help="a short smoke run (10k particles, 1 s phases)")
    return p


class _PaintCounter:
    """Counts paint events of some widgets (the plot viewports of a panel)."""

    def __init__(self, widgets):
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class Filter(QObject):
            def eventFilter(self, obj, ev):  # noqa: N802 - Qt override
                if ev.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self.filter = Filter()
        self.widgets = list(widgets)
        for w in self.widgets:
            w.installEventFilter(self.filter)

    def remove(self) -> None:
        for w in self.widgets:
            w.removeEventFilter(self.filter)


class _Latency:
    """A 5 ms precise timer recording how late each tick fires."""

    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000
        self.late: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self._last = None

    def start(self) -> None:
        self.late.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, now - self._last - self.interval))
        self._last = now


def _pump(seconds: float) -> None:
    """Run the Qt event loop for `seconds`."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _wait(cond, timeout: float) -> bool:
    from PySide6.QtWidgets import QApplication

    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            return False
        QApplication.processEvents()
        time.sleep(0.005)
    return True


def _views(panel):
    import pyqtgraph as pg

    return [v.viewport() if hasattr(v, "viewport") else v for v in panel.findChildren(pg.GraphicsView)]


def _capacity_fps(win, key: str, frames: int = 12) -> float:
    """1 / seconds per frame: set a new t, recompute the panel now (flush its throttle) and repaint it. Also sets
    `_capacity_fps.cpu_ms`: the UI thread's CPU per such frame (what the view costs, whatever the machine's load)."""
    from PySide6.QtWidgets import QApplication

    panel = win.panels[key]
    flush = getattr(getattr(panel, "_redraw", None), "flush", None) or getattr(panel, "redraw", None)
    dock = win.docks[key]
    ts = np.linspace(0.05, 0.95, frames)
    QApplication.processEvents()
    t0, c0 = time.perf_counter(), time.thread_time()
    for t in ts:
        win.state.set_time(float(t))
        if flush is not None:
            flush()
        dock.repaint()
    _capacity_fps.cpu_ms = 1000 * (time.thread_time() - c0) / frames
    return frames / (time.perf_counter() - t0)


def _capacities(win) -> dict:
    """Capacity fps and UI CPU ms per frame of the forward, sampling and score views."""
    out = {}
    for k in ("forward", "sampling", "score"):
        out[k] = _capacity_fps(win, k)
        out[f"{k}_ms"] = _capacity_fps.cpu_ms
    return out


def _playback_rows(win, frames: int = 60, fps: float = 60.0) -> list[str]:
    """The score view stepping t as the time bar plays at `fps` (speed 1x, from t = 0.3), each frame recomputed and
    repainted: UI-thread CPU per frame and grids evaluated per frame, t evaluated at every frame (the slider dragged)
    against the field's t ladder (the time bar playing: ScoreFieldPanel.set_animating)."""
    from playground.app.widgets.time_bar import SWEEP_SECONDS

    panel, dock = win.panels["score"], win.docks["score"]
    step = win.time_bar.T / (SWEEP_SECONDS * fps)
    lines = ["", f"{'score view, t stepped as played at %g fps' % fps:44s}{'t evaluated':>16s}{'t ladder':>16s}"
                 "  (UI CPU per frame, grids evaluated per frame)"]
    cells = []
    for animating in (False, True):
        panel.set_animating(animating)
        win.state.set_time(0.3)
        panel._redraw.flush()
        n0, c0 = panel.evaluations, time.thread_time()
        for k in range(1, frames + 1):
            win.state.set_time(0.3 + k * step)
            panel._redraw.flush()
            dock.repaint()
        ms = 1000 * (time.thread_time() - c0) / frames
        cells.append(f"{ms:.1f} ms {(panel.evaluations - n0) / frames:.2f}")
    panel.set_animating(False)
    lines.append(f"{'  one model snapshot':44s}" + "".join(f"{c:>16s}" for c in cells))
    return lines


def _renderer_rows(win, counts: list[int], frames: int) -> list[str]:
    """The forward view's particles drawn as dots (the current renderer: the first 10,000 as one 'pairs' curve) and
    as a density image of all of them (ParticleDensity), side by side: UI-thread CPU per frame (recompute + paint)
    and the fps that allows, at each particle count."""
    panel = win.panels["forward"]
    combo = panel.particle_style
    before = (int(win.state.settings.n_forward), combo.currentIndex())
    lines = ["", f"{'forward view, particles drawn as':44s}{'dots':>16s}{'density':>16s}  (UI CPU per frame, fps)"]
    for n in counts:
        win.state.update_settings(n_forward=n)
        cells = []
        for style in ("dots", "density"):
            combo.setCurrentIndex(combo.findData(style))
            _capacity_fps(win, "forward", 3)  # warm-up (histogram buffers, the image)
            _capacity_fps(win, "forward", frames)
            ms = _capacity_fps.cpu_ms
            cells.append(f"{ms:.1f} ms {1000 / ms:.0f} fps")
        label = f"  {n:,} particles"
        lines.append(f"{label:44s}" + "".join(f"{c:>16s}" for c in cells))
    win.state.update_settings(n_forward=before[0])
    combo.setCurrentIndex(before[1])
    return lines


def _headless_its(config, data, seconds: float, trainer=None) -> tuple[float, object]:
    """Steps per second of a Trainer stepped in a plain loop on this thread (one torch thread); also sets
    `_headless_its.per_cpu` (steps per CPU second of this thread)."""
    import torch

    from playground.core.training.trainer import Trainer

    if trainer is None:
        trainer = Trainer(config, data)
        for _ in range(20):  # warm-up
            trainer.step()
    torch.set_num_threads(1)
    n = 0
    t0, c0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
        n += 1
    _headless_its.per_cpu = n / max(time.thread_time() - c0, 1e-9)
    return n / (time.perf_counter() - t0), trainer


def _follow_phase(win, sampling, ctl, follow: bool, seconds: float) -> tuple[float, list[float]]:
    """Training it/s over `seconds` with the sampling panel's Follow on or off, and the seconds between the views'
    refreshes (finished comparisons) while it was on."""
    done: list[float] = []

    def on_done(_key, _out) -> None:
        if not sampling.running:
            done.append(time.perf_counter())

    sampling.follow.setChecked(follow)
    _wait(lambda: not sampling.running, timeout=60)
    sampling.threads.sideDone.connect(on_done)
    s0, t0 = ctl.step, time.perf_counter()
    _pump(seconds)
    its = (ctl.step - s0) / (time.perf_counter() - t0)
    sampling.threads.sideDone.disconnect(on_done)
    stamps = [t0] + done
    return its, [b - a for a, b in zip(stamps, stamps[1:])]


def _start_training(ctl) -> None:
    """Play, and wait until the worker's run has taken its first steps."""
    ctl.play()
    _wait(lambda: ctl.trainer is not None and ctl.step > 20 or not ctl.running, timeout=120)


def _stop_training(ctl, sampling) -> None:
    """Pause, and wait for the resample the pause starts (all particles, both sides, ~10 s here; scheduled once the
    run's end reaches the UI), or it runs beside the next measurements."""
    ctl.pause()
    _wait(lambda: not ctl.running, timeout=60)
    _pump(0.2)
    _wait(lambda: not sampling.running, timeout=300)


def _pct(a, q) -> float:
    return float(np.percentile(np.asarray(a) * 1000, q)) if len(a) else float("nan")


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - one linear script
    args = build_parser().parse_args(argv)
    if args.quick:
        args.particles, args.seconds, args.rounds, args.pretrain, args.sample_steps = 10_000, 1.0, 1, 1.0, 20
        args.follow_seconds = 4.0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    ui_threads = max(1, args.threads)

    from PySide6.QtCore import QSettings

    from playground.app import make_application

    app = make_application(["bench-ui"])
    torch.set_num_threads(ui_threads)
    from playground.app.state import AppState, Settings
    from playground.app.window.main_window import MainWindow
    from playground.app.workers.training_setup import train_config
    from playground.data.targets.spec import load_target

    print(
        f"bench ui: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Qt platform {app.platformName()}, window {args.size}x{args.size}, {args.particles:,} particles",
        flush=True,
    )
    tmp = tempfile.TemporaryDirectory()
    store = QSettings(os.path.join(tmp.name, "bench.ini"), QSettings.Format.IniFormat)
    settings = Settings(
        n_particles=args.particles, n_forward=args.particles, sample_steps=args.sample_steps, steps=10_000_000,
    )
    state = AppState(load_target(args.data), settings)
    win = MainWindow(state=state, store=store, restore=False)
    win.resize(args.size, args.size)
    win.show()
    _pump(0.5)

    # ---- a model to sample with, and the headless reference trainer -------------------------------------------
    cfg = train_config(state, threads=1)
    t0 = time.perf_counter()
    its, ref = _headless_its(cfg, state.target_samples, args.pretrain)
    print(f"pre-training {args.pretrain:g} s headless ({its:.0f} it/s, trainer built in "
          f"{time.perf_counter() - t0 - args.pretrain:.1f} s)", flush=True)
    torch.set_num_threads(ui_threads)
    sampling = win.panels["sampling"]
    state.set_model(ref.snapshot())  # the sampling panel samples both sides with the first model
    if not getattr(sampling, "running", False) and hasattr(sampling, "resample"):
        sampling.resample()
    t0 = time.perf_counter()
    done = _wait(lambda: not getattr(sampling, "running", False), timeout=600)
    print(f"sampling {args.particles:,} particles x {args.sample_steps} steps on both sides: "
          f"{time.perf_counter() - t0:.1f} s{'' if done else ' (timed out)'}", flush=True)
    _pump(0.5)

    counters = {k: _PaintCounter(_views(win.panels[k])[:1]) for k in ("forward", "sampling", "score", "training")}
    redraw_attr = {k: getattr(win.panels[k], "redraws", None) for k in counters}
    lat = _Latency()
    bar = win.time_bar
    bar.loop.setChecked(True)
    bar.direction.setCurrentIndex(1)  # T -> 0, the sampling direction

    def live_phase(seconds: float) -> dict:
        for c in counters.values():
            c.count = 0
        before = {k: getattr(win.panels[k], "redraws", 0) for k in counters}
        lat.start()
        bar.set_playing(True)
        t0, c0 = time.perf_counter(), time.thread_time()
        _pump(seconds)
        dt, cpu = time.perf_counter() - t0, time.thread_time() - c0
        bar.set_playing(False)
        lat.stop()
        out = {f"fps_{k}": c.count / dt for k, c in counters.items()}
        frames = max(counters["forward"].count, 1)
        out["ui_cpu_ms"] = 1000 * cpu / frames  # UI-thread CPU per frame of the animation
        out["ui_cpu_frac"] = cpu / dt
        for k in counters:
            if redraw_attr[k] is not None:
                out[f"redraws_{k}"] = (getattr(win.panels[k], "redraws", 0) - before[k]) / dt
        out["lat_p50"], out["lat_p99"], out["lat_max"] = _pct(lat.late, 50), _pct(lat.late, 99), _pct(lat.late, 100)
        return out

    ctl = win.controller
    follow_before = sampling.follow.isChecked()
    rows_idle, rows_train, heads, heads_cpu = [], [], [], []
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cap_idle, cap_train = [], []
    for r in range(args.rounds):
        # (a) the UI alone
        torch.set_num_threads(ui_threads)
        rows_idle.append(live_phase(args.seconds))
        cap_idle.append(_capacities(win))
        # (b) the UI while training runs in the app's worker
        _start_training(ctl)
        s0, t0, c0 = ctl.step, time.perf_counter(), ctl.time_split["cpu"]
        row = live_phase(args.seconds)
        row["its"] = (ctl.step - s0) / (time.perf_counter() - t0)
        row["its_per_cpu"] = (ctl.step - s0) / max(ctl.time_split["cpu"] - c0, 1e-9)
        cap_train.append(_capacities(win))
        # (b') training while the UI shows it without animating t (live loss, model updates, score field refresh)
        s1, t1 = ctl.step, time.perf_counter()
        lat.start()
        _pump(min(args.seconds, 2.0))
        lat.stop()
        row["its_static"] = (ctl.step - s1) / (time.perf_counter() - t1)
        row["lat_static_p99"] = _pct(lat.late, 99)
        # (b'') training with the sampling views following it (a refresh every few seconds) against not following,
        # in alternating order from round to round so that background load hits both alike
        for follow in ((False, True) if r % 2 == 0 else (True, False)):
            its, gaps = _follow_phase(win, sampling, ctl, follow, args.follow_seconds)
            row["its_follow" if follow else "its_nofollow"] = its
            if follow:
                row["refresh_gap_max"] = max(gaps) if gaps else float("nan")
                row["refreshes"] = len(gaps)
        sampling.follow.setChecked(follow_before)
        _stop_training(ctl, sampling)
        rows_train.append(row)
        # (c) headless, same config, same process, nothing else running
        h, ref = _headless_its(cfg, state.target_samples, min(args.seconds, 2.0), trainer=ref)
        heads.append(h)
        heads_cpu.append(_headless_its.per_cpu)
        print(f"round {r + 1}/{args.rounds}: headless {h:.0f} it/s, in app {row['its']:.0f} it/s; forward "
              f"{rows_idle[-1]['fps_forward']:.0f}/{row['fps_forward']:.0f} fps, sampling "
              f"{rows_idle[-1]['fps_sampling']:.0f}/{row['fps_sampling']:.0f} fps, UI CPU per frame "
              f"{rows_idle[-1]['ui_cpu_ms']:.1f}/{row['ui_cpu_ms']:.1f} ms (idle/training)", flush=True)

    # (d) the same with View > Smooth animation off (frames every FRAME_MS, ~33 fps; the rounds above play smoothly,
    # ~60 fps, the app's default), idle and with training in the worker
    bar.set_smooth(False)
    try:
        slow_idle = live_phase(args.seconds)
        _start_training(ctl)
        s0, t0 = ctl.step, time.perf_counter()
        slow_train = live_phase(args.seconds)
        slow_train["its"] = (ctl.step - s0) / (time.perf_counter() - t0)
        _stop_training(ctl, sampling)
    finally:
        bar.set_smooth(True)

    def med(rows, key):
        vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
        return statistics.median(vals) if vals else float("nan")

    ratios = [rt["its"] / h for rt, h in zip(rows_train, heads) if h > 0]
    follow_ratios = [rt["its_follow"] / rt["its_nofollow"] for rt in rows_train if rt.get("its_nofollow", 0) > 0]
    static_ratios = [rt["its_static"] / h for rt, h in zip(rows_train, heads) if h > 0]
    cpu_ratios = [rt["its_per_cpu"] / h for rt, h in zip(rows_train, heads_cpu) if h > 0]
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ui_ms = [med(rows_idle, "ui_cpu_ms"), med(rows_train, "ui_cpu_ms")]
    lines = [
        "",
        f"{'':44s}{'no training':>14s}{'training':>14s}",
        f"{'forward view fps, live (paints/s)':44s}{med(rows_idle, 'fps_forward'):14.1f}"
        f"{med(rows_train, 'fps_forward'):14.1f}",
        f"{'sampling view fps, live (paints/s)':44s}{med(rows_idle, 'fps_sampling'):14.1f}"
        f"{med(rows_train, 'fps_sampling'):14.1f}",
        f"{'score view fps, live (paints/s)':44s}{med(rows_idle, 'fps_score'):14.1f}"
        f"{med(rows_train, 'fps_score'):14.1f}",
        f"{'training view fps, live (paints/s)':44s}{med(rows_idle, 'fps_training'):14.1f}"
        f"{med(rows_train, 'fps_training'):14.1f}",
        f"{'forward view capacity fps (recompute+paint)':44s}{med(cap_idle, 'forward'):14.1f}"
        f"{med(cap_train, 'forward'):14.1f}",
        f"{'sampling view capacity fps (recompute+paint)':44s}{med(cap_idle, 'sampling'):14.1f}"
        f"{med(cap_train, 'sampling'):14.1f}",
        f"{'score view capacity fps (recompute+paint)':44s}{med(cap_idle, 'score'):14.1f}"
        f"{med(cap_train, 'score'):14.1f}",
        f"{'forward view UI CPU per frame (ms)':44s}{med(cap_idle, 'forward_ms'):14.1f}"
        f"{med(cap_train, 'forward_ms'):14.1f}",
        f"{'sampling view UI CPU per frame (ms)':44s}{med(cap_idle, 'sampling_ms'):14.1f}"
        f"{med(cap_train, 'sampling_ms'):14.1f}",
        f"{'score view UI CPU per frame (ms)':44s}{med(cap_idle, 'score_ms'):14.1f}"
        f"{med(cap_train, 'score_ms'):14.1f}",
        f"{'event-loop latency p50 (ms)':44s}{med(rows_idle, 'lat_p50'):14.1f}{med(rows_train, 'lat_p50'):14.1f}",
        f"{'event-loop latency p99 (ms)':44s}{med(rows_idle, 'lat_p99'):14.1f}{med(rows_train, 'lat_p99'):14.1f}",
        f"{'event-loop latency max (ms)':44s}{med(rows_idle, 'lat_max'):14.1f}{med(rows_train, 'lat_max'):14.1f}",
        f"{'UI thread CPU per animation frame (ms)':44s}{ui_ms[0]:14.1f}{ui_ms[1]:14.1f}",
        f"{'  = fps with a free core for the UI':44s}{1000 / ui_ms[0]:14.1f}{1000 / ui_ms[1]:14.1f}",
        f"{'UI thread busy (CPU s / wall s)':44s}{med(rows_idle, 'ui_cpu_frac'):14.2f}"
        f"{med(rows_train, 'ui_cpu_frac'):14.2f}",
        "",
        f"training it/s: headless {statistics.median(heads):.0f}; in the app while t animates "
        f"{med(rows_train, 'its'):.0f} (ratio {statistics.median(ratios) if ratios else float('nan'):.2f}, per round "
        + ", ".join(f"{x:.2f}" for x in ratios) + ")",
        f"               in the app, t still (live loss curve, model snapshots, score field) "
        f"{med(rows_train, 'its_static'):.0f} (ratio {statistics.median(static_ratios) if static_ratios else float('nan'):.2f}"
        f"), latency p99 {med(rows_train, 'lat_static_p99'):.1f} ms",
        f"               sampling views following training (Follow on) {med(rows_train, 'its_follow'):.0f} against off "
        f"{med(rows_train, 'its_nofollow'):.0f}: ratio {statistics.median(follow_ratios) if follow_ratios else float('nan'):.2f}"
        f" (per round " + ", ".join(f"{x:.2f}" for x in follow_ratios) + f"); the views refreshed "
        f"{med(rows_train, 'refreshes'):.0f} times in {args.follow_seconds:g} s, at most "
        f"{med(rows_train, 'refresh_gap_max'):.1f} s apart",
        f"training steps per CPU second of its thread (in the app: of the worker): headless {statistics.median(heads_cpu):.0f}, in the app "
        f"{med(rows_train, 'its_per_cpu'):.0f} (ratio {statistics.median(cpu_ratios) if cpu_ratios else float('nan'):.2f})",
        f"machine load average (1 min): {load0:.1f} at the start, {load1:.1f} at the end, on {os.cpu_count()} cores",
        f"config: {cfg.sde}, {cfg.output}, {cfg.objective}/{cfg.weighting}, MLP {cfg.hidden}x{cfg.depth}, "
        f"batch {cfg.batch}, trainer threads 1, UI threads {ui_threads}, trainer in a "
        f"{'worker process' if getattr(ctl, 'in_process', False) else 'thread of the UI process'}",
        "targets: >= 30 fps at 100k particles, training >= 70% of headless it/s, latency p99 < 50 ms; "
        "Follow costs training <= 15% (ratio >= 0.85) with a refresh at least every ~3 s",
    ]
    lines += [
        "",
        f"{'Smooth animation off (~33 fps):':44s}{'no training':>14s}{'training':>14s}",
        f"{'  forward / sampling / score view fps, live':44s}"
        + "".join(f"{r['fps_forward']:5.1f} /{r['fps_sampling']:5.1f} /{r['fps_score']:5.1f}".rjust(22)
                  for r in (slow_idle, slow_train)),
        f"{'  UI thread CPU per animation frame (ms)':44s}{slow_idle['ui_cpu_ms']:14.1f}{slow_train['ui_cpu_ms']:14.1f}",
        f"{'  UI thread busy (CPU s / wall s)':44s}{slow_idle['ui_cpu_frac']:14.2f}{slow_train['ui_cpu_frac']:14.2f}",
        f"{'  event-loop latency p99 (ms)':44s}{slow_idle['lat_p99']:14.1f}{slow_train['lat_p99']:14.1f}",
        f"  training in the app meanwhile: {slow_train['its']:.0f} it/s (headless {statistics.median(heads):.0f})",
    ]
    lines += _playback_rows(win)
    counts = [int(v) for v in args.renderer_particles.split(",") if v.strip()] if not args.quick else [args.particles]
    if counts:
        lines += _renderer_rows(win, counts, frames=12)
        lines.append("targets (issue 19): <= 8 ms UI CPU per frame in every view at 100k particles, the views at >= 60 fps "
                     "with training (Smooth animation); density >= 30 fps at 1M")
    print("\n".join(lines), flush=True)
    for c in counters.values():
        c.remove()
    win.close()
    from playground.app.workers.threads import wait_for_workers

    wait_for_workers()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
