"""A monkey for the real window: seeded random sequences of user actions, with every failure recorded.

`Monkey(window, seed).run(n)` performs n actions on a shown `MainWindow` the way a user could: it clicks any enabled
button, check box, tab, list item, combo or spin box it finds in the visible docks (so new controls are covered
without code here), triggers menu actions, draws strokes and drags on the plots, places Gaussians, scrubs and plays
the time bar, switches to image mode and back, saves and reopens workspaces, opens dialogs and resizes the window.
Modal dialogs (questions, file choosers) are answered at random by a timer, as a user would.

What it records (`MonkeyReport`): unhandled exceptions (sys.excepthook, which PySide calls for exceptions in slots),
Qt warnings that signal misuse (a message handler; a short allow-list of harmless platform notes), the longest stall
of the event loop (a 20 ms heartbeat and each action's own duration) with the UI thread's stack during it (a watchdog
thread samples it while the heartbeat is late), the resident memory every 1,000 actions, and workspaces that do not
round-trip (saved, read back and compared with the window's state).
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QListWidget,
    QMessageBox,
    QSlider,
    QSpinBox,
    QTabBar,
    QWidget,
)

HARMLESS_QT_MESSAGES = (
    "propagateSizeHints",  # the offscreen platform's note on every top-level window
    "QFont::setPointSizeF",
    "This plugin does not support",
)
"""Qt messages that say nothing about the app (platform notes of the offscreen plugin)."""

PAUSE_WAIT_S = 60.0
"""How long a save-and-reopen waits for Pause to stop a run before it records that the run would not stop."""

SKIPPED_CONTROLS = ("download", "browse", "quit", "exit", "about qt")
"""Controls the monkey never presses: the network, native pickers it cannot answer, and leaving the app."""


def resident_mb() -> float:
    """This process's resident memory in MB (Linux /proc; the peak from getrusage elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_processes_mb(pid: int | None = None) -> tuple[int, float]:
    """How many processes this one started (recursively: training workers, their helpers) and their summed resident
    memory in MB (Linux /proc; (0, 0.0) elsewhere)."""
    root = Path(f"/proc/{pid or 'self'}")
    count, mb = 0, 0.0
    try:
        children = [int(c) for task in (root / "task").iterdir()
                    for c in (task / "children").read_text().split()]
    except OSError:
        return 0, 0.0
    for child in children:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    mb += int(line.split()[1]) / 1024
        except OSError:
            continue  # it ended while we looked
        sub_count, sub_mb = child_processes_mb(child)
        count, mb = count + 1 + sub_count, mb + sub_mb
    return count, mb


def in_use_mb() -> float:
    """Resident memory after a garbage collection and, on glibc, `malloc_trim` (the allocator hands its cached free
    pages back): what the process really holds, so that allocator caching is not mistaken for a leak."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return resident_mb()


@dataclass
class MonkeyReport:
    """What a walk found. `ok` when nothing went wrong."""

    seed: int
    actions: int = 0
    exceptions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    round_trip_failures: list[str] = field(default_factory=list)
    max_stall_s: float = 0.0
    stall_action: str = ""
    memory_mb: list[tuple[int, float]] = field(default_factory=list)  # (actions done, resident MB)
    in_use_mb: list[tuple[int, float]] = field(default_factory=list)  # (actions done, MB after gc + malloc_trim)
    children_mb: list[tuple[int, int, float]] = field(default_factory=list)  # (actions done, processes, their MB)
    counts: dict[str, int] = field(default_factory=dict)
    slowest: dict[str, float] = field(default_factory=dict)  # the longest stall (s) seen during each kind of action
    log: list[str] = field(default_factory=list)  # the last actions, for reproducing a failure
    stall_stack: str = ""  # where the UI thread was during the longest stall (sampled by a watchdog thread)

    @property
    def ok(self) -> bool:
        return not (self.exceptions or self.warnings or self.round_trip_failures) and self.max_stall_s <= 5.0

    def growth_mb_per_1000(self, in_use: bool = False, with_children: bool = False) -> float | None:
        """Resident-memory growth per 1,000 actions after the first 1,000 (warm-up), least squares; in_use: of the
        memory left after gc and malloc_trim; with_children: of this process and the processes it started."""
        series = self.in_use_mb if in_use else self.memory_mb
        if with_children:
            series = [(a, m + c) for (a, m), (_, _, c) in zip(series, self.children_mb)]
        pts = [(a, m) for a, m in series if a >= 1000]
        if len(pts) < 2:
            return None
        xs, ys = [a / 1000 for a, _ in pts], [m for _, m in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None

    def summary(self) -> str:
        growth = self.growth_mb_per_1000()
        return (f"seed {self.seed}: {self.actions} actions, {len(self.exceptions)} exceptions, {len(self.warnings)} "
                f"Qt warnings, {len(self.round_trip_failures)} workspace round-trip failures, longest stall "
                f"{self.max_stall_s:.2f} s ({self.stall_action or '-'}), memory "
                f"{self.memory_mb[0][1] if self.memory_mb else 0:.0f} -> {self.memory_mb[-1][1] if self.memory_mb else 0:.0f} MB"
                + (f" ({growth:+.1f} MB per 1,000 actions after warm-up)" if growth is not None else ""))


def differences(a, b) -> list[str]:
    """What differs between two Workspaces, as `Workspace.__eq__` compares them (dict entries by key)."""
    from playground.core.io.workspace.targets import arrays_equal
    from playground.core.training.model_file import same_model_file

    out = []
    for name in ("target", "t", "images"):
        if getattr(a, name) != getattr(b, name):
            out.append(f"{name}: {getattr(a, name)!r:.120} != {getattr(b, name)!r:.120}")
    for name in ("settings", "view"):
        x, y = getattr(a, name), getattr(b, name)
        out += [f"{name}[{k!r}]: {x.get(k)!r:.80} != {y.get(k)!r:.80}" for k in sorted(set(x) | set(y), key=str)
                if x.get(k) != y.get(k)]
    if not same_model_file(a.model, b.model):
        out.append("model")
    if not arrays_equal(a.history, b.history):
        out.append(f"history ({ {k: len(v) for k, v in (a.history or {}).items()} } vs "
                   f"{ {k: len(v) for k, v in (b.history or {}).items()} })")
    return out


class Monkey:
    """Random user actions on a shown MainWindow (seeded: the same seed repeats the same choices)."""

    def __init__(self, window, seed: int = 0, folder: Path | None = None, settle_ms: tuple[int, int] = (0, 60)):
        self.w = window
        self.rng = random.Random(seed)
        self.report = MonkeyReport(seed)
        self._tmp = None if folder is not None else tempfile.TemporaryDirectory(prefix="monkey-")
        self.folder = Path(folder) if folder is not None else Path(self._tmp.name)
        self.settle_ms = settle_ms
        self.saves = 0
        self._last_beat = time.perf_counter()
        self._stack_late = 0.0
        self._settled = 0.0  # seconds the current action spent letting the event loop run (settle)
        self.actions = {
            "poke a control": (40, self.poke_control),
            "trigger a menu action": (8, self.trigger_menu_action),
            "play or pause training": (6, self.play_pause),
            "step training once": (2, lambda: self.w.act_step.trigger() if hasattr(self.w, "act_step") else None),
            "choose a preset": (5, self.choose_preset),
            "draw a stroke": (4, self.draw_stroke),
            "undo or redo": (4, self.undo_redo),
            "place or move a Gaussian": (4, self.edit_gaussians),
            "scrub the time bar": (6, self.scrub_time),
            "play the time bar": (2, lambda: self.w.time_bar.toggle_playing()),
            "change a setting": (6, self.change_setting),
            "switch image mode": (1, self.switch_image_mode),
            "save and reopen the workspace": (2, self.save_and_reopen),
            "new session": (1, self.new_session),
            "open a dialog": (2, self.open_dialog),
            "close a dialog": (2, self.close_dialogs),
            "resize the window": (2, self.resize),
            "let time pass": (4, lambda: self.settle(self.rng.randint(100, 600))),
        }

    # ---- the walk --------------------------------------------------------------------------------------------------
    def run(self, n: int, memory_every: int = 1000, on_progress=None, seconds: float | None = None) -> MonkeyReport:
        """Perform n actions (fewer when `seconds` of walking run out first); returns the report (also
        `self.report`)."""
        deadline = None if seconds is None else time.perf_counter() + seconds
        previous_hook = sys.excepthook
        previous_handler = qInstallMessageHandler(self._qt_message)
        sys.excepthook = self._excepthook
        heartbeat, clock = QTimer(), QElapsedTimer()
        heartbeat.setInterval(20)
        heartbeat.timeout.connect(lambda: self._beat(clock))
        answerer = QTimer()
        answerer.setInterval(40)
        answerer.timeout.connect(self._answer_modal)
        clock.start()
        heartbeat.start()
        answerer.start()
        self._current = "start"
        self._last_beat = time.perf_counter()
        watchdog_stop = threading.Event()
        watchdog = threading.Thread(target=self._watch, args=(threading.get_ident(), watchdog_stop), daemon=True,
                                    name="monkey-watchdog")
        watchdog.start()
        try:
            self.report.memory_mb.append((0, resident_mb()))
            self.report.in_use_mb.append((0, in_use_mb()))
            self.report.children_mb.append((0, *child_processes_mb()))
            names = list(self.actions)
            weights = [self.actions[k][0] for k in names]
            for i in range(n):
                if deadline is not None and time.perf_counter() > deadline:
                    break
                name = self.rng.choices(names, weights)[0]
                self._current = name
                self.report.log = (self.report.log + [f"{i}: {name}"])[-40:]
                self.report.counts[name] = self.report.counts.get(name, 0) + 1
                t0 = self._last_beat = time.perf_counter()
                self._settled = 0.0
                try:
                    self.actions[name][1]()
                except Exception:  # noqa: BLE001 - a failure inside the action is the app's failure: record it
                    self._record_exception(*sys.exc_info())
                self._stall(time.perf_counter() - t0 - self._settled, name)  # time the action held the UI thread
                self._last_beat = time.perf_counter()
                self.settle(self.rng.randint(*self.settle_ms))
                self.report.actions = i + 1
                if (i + 1) % memory_every == 0:
                    self.report.memory_mb.append((i + 1, resident_mb()))
                    self.report.in_use_mb.append((i + 1, in_use_mb()))
                    self.report.children_mb.append((i + 1, *child_processes_mb()))
                    if on_progress is not None:
                        on_progress(self.report)
        finally:
            watchdog_stop.set()
            watchdog.join()
            heartbeat.stop()
            answerer.stop()
            sys.excepthook = previous_hook
            qInstallMessageHandler(previous_handler)
        if not self.report.memory_mb or self.report.memory_mb[-1][0] != self.report.actions:
            self.report.memory_mb.append((self.report.actions, resident_mb()))
        return self.report

    def settle(self, ms: int) -> None:
        """Let the event loop run for ms milliseconds (workers report, views repaint)."""
        start = time.perf_counter()
        end = start + ms / 1000
        app = QApplication.instance()
        while True:
            app.processEvents()
            if time.perf_counter() >= end:
                break
            time.sleep(0.002)
        self._settled += time.perf_counter() - start  # the event loop ran: the heartbeat measures stalls in here

    # ---- what is recorded ------------------------------------------------------------------------------------------
    def _excepthook(self, etype, value, tb) -> None:
        self._record_exception(etype, value, tb)

    def _record_exception(self, etype, value, tb) -> None:
        text = "".join(traceback.format_exception(etype, value, tb))
        self.report.exceptions.append(f"during '{self._current}':\n{text}")

    def _qt_message(self, kind, _context, message: str) -> None:
        if kind in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg):
            return
        if any(h in message for h in HARMLESS_QT_MESSAGES):
            return
        self.report.warnings.append(f"during '{self._current}': {message}")

    def _beat(self, clock: QElapsedTimer) -> None:
        self._last_beat = time.perf_counter()
        gap = clock.restart() / 1000
        self._stall(gap, self._current)

    def _watch(self, ui_thread: int, stop: threading.Event, after_s: float = 0.5) -> None:
        """Watchdog thread: while the UI thread has not beaten for `after_s` seconds, sample its stack; the sample
        taken latest in the longest stall so far is kept (the stack of a long stall is where it spends its time)."""
        while not stop.wait(0.1):
            late = time.perf_counter() - self._last_beat
            if late < after_s or late <= self._stack_late:
                continue
            frame = sys._current_frames().get(ui_thread)
            if frame is None:
                continue
            stack = "".join(traceback.format_stack(frame)[-14:])
            if late > self.report.max_stall_s * 0.9 or not self.report.stall_stack:
                self.report.stall_stack = f"{late:.1f} s into a stall during '{self._current}':\n{stack}"
                self._stack_late = late

    def _stall(self, seconds: float, what: str) -> None:
        self._stack_late = 0.0  # a stall ended (or the loop beat): the next stall samples again
        if seconds > self.report.slowest.get(what, 0.0):
            self.report.slowest[what] = seconds
        if seconds > self.report.max_stall_s:
            self.report.max_stall_s, self.report.stall_action = seconds, what

    def _answer_modal(self) -> None:
        """Answer whatever modal dialog is up: a random button of a message box, cancel for file choosers; close a
        popup menu (e.g. a sampler's options, opened by a click on its button: it runs its own event loop)."""
        popup = QApplication.activePopupWidget()
        if popup is not None:
            popup.close()
            return
        box = QApplication.activeModalWidget()
        if box is None:
            return
        if isinstance(box, QMessageBox):
            buttons = [b for b in box.buttons() if b.isEnabled()]
            if buttons:
                self.rng.choice(buttons).click()
                return
        if isinstance(box, (QFileDialog, QDialog)):
            box.reject()
        else:
            box.close()

    # ---- actions ---------------------------------------------------------------------------------------------------
    def _visible_controls(self) -> list[QWidget]:
        roots = [d.widget() for d in self.w.all_docks().values() if d.isVisible() and d.widget() is not None]
        roots += [d for d in QApplication.topLevelWidgets() if isinstance(d, QDialog) and d.isVisible()]
        kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QTabBar, QListWidget)
        found = []
        for root in roots:
            for c in [root, *root.findChildren(QWidget)]:
                if isinstance(c, kinds) and c.isVisible() and c.isEnabled() and not self._skipped(c):
                    found.append(c)
        return found

    @staticmethod
    def _skipped(c: QWidget) -> bool:
        text = (c.text() if isinstance(c, QAbstractButton) else "").lower().replace("&", "")
        return any(s in text for s in SKIPPED_CONTROLS)

    def poke_control(self) -> None:
        """Operate one enabled control of a visible dock or dialog, as a user's click or entry would."""
        controls = self._visible_controls()
        if not controls:
            return
        c = self.rng.choice(controls)
        r = self.rng
        if isinstance(c, QCheckBox) or isinstance(c, QAbstractButton):
            c.click()
        elif isinstance(c, QComboBox) and c.count():
            c.setCurrentIndex(r.randrange(c.count()))
            c.activated.emit(c.currentIndex())
        elif isinstance(c, QSpinBox):
            c.setValue(r.choice([c.minimum(), c.maximum(), r.randint(c.minimum(), min(c.maximum(), c.minimum() + 50))]))
            c.editingFinished.emit()
        elif isinstance(c, QDoubleSpinBox):
            c.setValue(r.choice([c.minimum(), c.maximum(), r.uniform(c.minimum(), c.maximum())]))
            c.editingFinished.emit()
        elif isinstance(c, QSlider):  # superqt's float sliders are QSliders with float ranges
            lo, hi = c.minimum(), c.maximum()
            c.setValue(r.randint(lo, hi) if isinstance(lo, int) and isinstance(hi, int) else r.uniform(lo, hi))
        elif isinstance(c, QTabBar) and c.count():
            c.setCurrentIndex(r.randrange(c.count()))
        elif isinstance(c, QListWidget) and c.count():
            item = c.item(r.randrange(c.count()))
            c.setCurrentItem(item)
            c.itemClicked.emit(item)

    def trigger_menu_action(self) -> None:
        actions = []

        def walk(menu) -> None:
            for a in menu.actions():
                if a.menu() is not None:
                    walk(a.menu())
                elif a.isEnabled() and a.text() and not a.isSeparator():
                    if not any(s in a.text().lower().replace("&", "") for s in SKIPPED_CONTROLS):
                        actions.append(a)

        walk(self.w.menuBar())
        if actions:
            self.rng.choice(actions).trigger()

    def play_pause(self) -> None:
        self.w.act_play.trigger()

    def choose_preset(self) -> None:
        from playground.data.targets.presets import PRESETS

        self.w.panels["target"].choose_preset(self.rng.choice(list(PRESETS)))

    def draw_stroke(self) -> None:
        page = self.w.panels["target"].draw_page
        r = self.rng
        x, y = r.uniform(-3.5, 3.5), r.uniform(-3.5, 3.5)
        points = [(x + r.uniform(-1, 1) * k / 5, y + r.uniform(-1, 1) * k / 5) for k in range(r.randint(1, 12))]
        page.stroke(points, erase=r.random() < 0.2)
        if r.random() < 0.5:
            page.use_drawing()

    def undo_redo(self) -> None:
        stack = self.w.undo_stack
        (stack.undo if self.rng.random() < 0.6 else stack.redo)()

    def edit_gaussians(self) -> None:
        page = self.w.panels["target"].gaussians_page
        editor = page.editor
        r = self.rng
        comps = editor.components
        if not comps or r.random() < 0.4:
            editor.add_component(r.uniform(-3, 3), r.uniform(-3, 3), sigma=r.uniform(0.1, 1.0))
        elif r.random() < 0.5:
            editor.move_component(r.randrange(len(comps)), r.uniform(-3.5, 3.5), r.uniform(-3.5, 3.5))
        elif r.random() < 0.5:
            editor.resize_component(r.randrange(len(comps)), r.uniform(0.5, 2.0))
        else:
            editor.select(r.randrange(len(comps)))
            editor.delete_selected()
        if r.random() < 0.5:
            page.use_mixture()

    def scrub_time(self) -> None:
        self.w.state.set_time(self.rng.uniform(0.0, 1.0))

    def change_setting(self) -> None:
        """One setting through the window's own path (asks before invalidating a trained model)."""
        r = self.rng
        options = {
            "sde": ["vp", "subvp", "ve"], "output": ["eps", "score", "x0", "edm"], "objective": ["dsm", "ssm"],
            "weighting": ["song", "likelihood", "edm"], "hidden": [16, 32, 64], "depth": [1, 2, 3],
            "lr": [1e-3, 3e-3, 6e-3], "batch": [64, 128, 256], "n_particles": [500, 2000, 5000],
            "sample_steps": [10, 40, 100], "seed": [0, 1, 2, 3],
        }
        from playground.app.state import SDE_NAMES

        options["sde"] = list(SDE_NAMES)
        name = r.choice(list(options))
        self.w.request_settings({name: r.choice(options[name])})

    def switch_image_mode(self) -> None:
        panel = self.w.panels["target"]
        if self.w.state.image_mode:
            panel.choose_preset(self.rng.choice(["moons", "8gaussians"]))
        else:
            panel.load_images("digits")

    def save_and_reopen(self) -> None:
        """Save the workspace, read the file back and compare it with the window's state; then reopen it."""
        from playground.core.io.workspace import load_workspace

        ws_ctl = self.w.workspace
        c = self.w.controller
        self.saves += 1
        path = self.folder / f"walk-{self.saves}.dpw"
        if c.running:  # a user pauses before comparing; Pause waits 2 s, and a run whose worker process is still
            c.pause()  # starting (importing torch: 10-20 s on a loaded 2-core machine) stops once it answers
            deadline = time.perf_counter() + PAUSE_WAIT_S
            while c.running and time.perf_counter() < deadline:
                self.settle(50)
            if c.running:
                self.report.round_trip_failures.append(
                    f"{path.name}: training did not stop within {PAUSE_WAIT_S:.0f} s of Pause")
                return
        if not self.w.save_workspace_to(str(path)):
            return
        saved = load_workspace(path)
        now = ws_ctl.current_workspace()
        if saved != now:
            self.report.round_trip_failures.append(f"{path.name}: differs in {differences(saved, now)}"
                                                   f" ({self._training_context()})")
        if self.rng.random() < 0.5 and self.w.open_workspace(str(path)):
            again = ws_ctl.current_workspace()
            if again != saved:
                self.report.round_trip_failures.append(f"{path.name} reopened: differs in {differences(saved, again)}"
                                                       f" ({self._training_context()})")

    def _training_context(self) -> str:
        """What the controller holds, for a round-trip failure's message."""
        c, st = self.w.controller, self.w.state
        return (f"running {c.running}, trainer {'yes' if c.trainer is not None else 'no'}, step {c.step}, model "
                f"{'yes' if st.model is not None else 'no'}, image mode {st.image_mode}")

    def new_session(self) -> None:
        self.w.new_session()

    def open_dialog(self) -> None:
        choice = self.rng.choice(["equations", "export"])
        if choice == "equations":
            self.w.show_equations()
        else:
            self.w.export_dialog()

    def close_dialogs(self) -> None:
        for d in QApplication.topLevelWidgets():
            if isinstance(d, QDialog) and d.isVisible() and not d.isModal():
                d.close()

    def resize(self) -> None:
        sizes = [(1024, 700), (1280, 720), (1366, 768), (1600, 1000), (900, 600)]
        self.w.resize(*self.rng.choice(sizes))
