"""The document side of the main window: the current workspace file, unsaved changes, recent files, autosave and
recovery after a crash. The file format (`playground.core.io.workspace`) and the autosave files
(`playground.app.document.autosave`) are Qt-free; this module is their Qt glue.

    ctl = WorkspaceController(window, store, autosave_dir)   # MainWindow makes one: window.workspace
    ctl.save_to(path) / ctl.open_workspace(path)            # File > Save (As) / Open (a .dpw)
    ctl.maybe_save("close")                                 # True when the window may go: saved, discarded, clean
    ctl.close()                                             # clean exit: the autosave and its lock are removed

Image mode: the workspace records the image dataset ({spec, size, rgb}) next to the 2D target and reopening it
reloads the dataset (a dataset that cannot be loaded any more fails the open with one message, like a bad file).

Unsaved changes: a new target or image dataset, changed settings, training progress, a reset or an opened model mark
the document modified (`dirty`; the window title shows '*'); moving the time slider does not (t is saved, but as a
view). Saving or opening marks it clean.

Autosave: every `interval_ms` (60 s) while there are changes not yet autosaved, the workspace is written through
`AutosaveSession` into `autosave_dir` (atomic, on the UI thread; the trained model is read from the paused trainer,
or from the current snapshot while training runs, so training is never interrupted by an autosave). The autosave
that a crashed session left behind is looked up *before* this session takes its own lock and offered once the window
is up (`offer_recovery`); a clean close removes this session's autosave.

Prompts are attributes so tests (and embedders) can replace them: `ask_save(reason) -> 'save' | 'discard' |
'cancel'`, `ask_recover(found) -> True | False | None` (None: not now, keep the file), `choose_save_path() -> str |
None`. The default prompts (`playground.app.document.prompts`) do not block without a display: closing discards,
recovery is left for a later start. Recent files: `RecentFiles` (`ctl.recent`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from playground.app.document.autosave import AutosaveSession, find_recoverable_autosave
from playground.app.document.prompts import ask_recover_autosave, ask_save_changes
from playground.app.document.recent_files import RecentFiles
from playground.app.settings import Settings
from playground.core.io.workspace import (
    SUFFIX,
    Workspace,
    WorkspaceError,
    load_workspace,
    looks_like_workspace,
    make_workspace,
    model_bytes,
    save_workspace,
)

AUTOSAVE_INTERVAL_MS = 60_000
FILE_FILTER = f"Workspaces (*{SUFFIX});;All files (*)"
OPEN_FILTER = (f"Workspaces, models and targets (*{SUFFIX} *.safetensors *.png *.jpg *.jpeg *.csv *.npy *.json);;"
               f"Workspaces (*{SUFFIX});;Models (*.safetensors);;Targets (*.png *.jpg *.jpeg *.csv *.npy *.json);;"
               "All files (*)")


def default_autosave_dir(store: QSettings | None = None) -> Path:
    """Where autosaves go: $PLAYGROUND_AUTOSAVE_DIR; else, for a settings profile kept in an INI file, the folder
    '<ini name>-autosave' beside it (each profile, and each test, recovers only its own); else
    QStandardPaths.AppLocalDataLocation/autosave."""
    env = os.environ.get("PLAYGROUND_AUTOSAVE_DIR")
    if env:
        return Path(env)
    if store is not None and store.format() == QSettings.Format.IniFormat and store.fileName():
        ini = Path(store.fileName())
        return ini.with_name(f"{ini.stem}-autosave")
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base or Path.home() / ".diffusion-playground") / "autosave"


class WorkspaceController(QObject):
    """Current path, modified flag, recent files, autosave and recovery for one MainWindow."""

    dirtyChanged = Signal(bool)
    pathChanged = Signal(object)  # Path | None
    recentChanged = Signal()

    def __init__(self, window, store: QSettings, autosave_dir=None, interval_ms: int = AUTOSAVE_INTERVAL_MS,
                 parent: QObject | None = None):
        super().__init__(parent if parent is not None else window)
        self.window = window
        self.state = window.state
        self.store = store
        self.path: Path | None = None
        self.dirty = False
        self._loading = 0
        self._changes = 0  # bumped on every change; autosave writes when it moved since the last autosave
        self._autosaved = 0
        self.autosaves = 0
        self.last_autosave_error = ""
        self.ask_save = self._ask_save
        self.ask_recover = self._ask_recover
        self.choose_save_path = self._choose_save_path
        self.recent = RecentFiles(store, self.open_recent, self)
        self.recent.changed.connect(self.recentChanged)
        # recovery: look for a crashed session's autosave BEFORE this session takes its own lock
        self.autosave_dir = Path(autosave_dir) if autosave_dir is not None else default_autosave_dir(store)
        try:
            self.recoverable = find_recoverable_autosave(self.autosave_dir)
        except OSError:
            self.recoverable = None
        self.session: AutosaveSession | None = AutosaveSession(self.autosave_dir)
        try:
            self.session.start()
        except OSError as e:  # read-only home, full disk: the app works, without autosave
            self.last_autosave_error = str(e)
            self.session = None
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_ms))
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()

        st = self.state
        st.targetChanged.connect(self.mark_dirty)
        st.imagesChanged.connect(self.mark_dirty)
        st.settingsChanged.connect(self.mark_dirty)
        st.modelChanged.connect(self.mark_dirty)  # a new snapshot: the autosave must hold it, even after the last progress
        c = window.controller
        c.progressed.connect(self._on_progress)
        c.resetDone.connect(self.mark_dirty)

    # ---- modified flag -----------------------------------------------------------------------------------------
    def mark_dirty(self, *_args) -> None:
        if self._loading:
            return
        self._changes += 1
        if not self.dirty:
            self.dirty = True
            self.dirtyChanged.emit(True)

    def _on_progress(self, p) -> None:
        if len(getattr(p, "losses", ())):  # a reopened model reports its history without new steps: not a change
            self.mark_dirty()

    def mark_clean(self) -> None:
        self._autosaved = self._changes
        if self.dirty:
            self.dirty = False
            self.dirtyChanged.emit(False)

    @property
    def loading(self) -> bool:
        """True while a workspace replaces the state (its settings are applied as stored, not switched by mode)."""
        return self._loading > 0

    def set_path(self, path) -> None:
        self.path = None if path is None else Path(path)
        self.pathChanged.emit(self.path)

    def display_name(self) -> str:
        return self.path.name if self.path is not None else "Untitled"

    # ---- building a workspace from the window ----------------------------------------------------------------
    def view_state(self) -> dict:
        w = self.window
        view = {"last_dock": w.last_dock}
        sp = w.panels.get("sampling")
        if sp is not None and hasattr(sp, "seed"):
            view["sampling"] = {"seed": int(sp.seed.value()), "use_exact": bool(sp.use_exact.isChecked()),
                                "show_paths": bool(sp.show_paths.isChecked()), "follow": bool(sp.follow.isChecked())}
        return view

    def images_description(self) -> dict | None:
        """The image dataset as a workspace records it ({spec, size, rgb}), or None in 2D mode."""
        st = self.state
        if st.images is None or not st.image_spec:
            return None
        return {"spec": st.image_spec, "size": int(st.images.size), "rgb": st.images.channels == 3}

    def current_workspace(self, autosave: bool = False) -> Workspace:
        """The window's state as a Workspace. The trainer (optimizer state included, so training resumes) is read
        while it is paused: a run is paused for the save and continued after. An autosave during a run takes the
        latest model snapshot instead (inference weights; training is not interrupted)."""
        w, st = self.window, self.state
        c = w.controller
        if c.trainer is not None and not (autosave and c.running):
            was_running = c.running
            if was_running:
                c.pause()
            try:
                data = model_bytes(c.trainer)
                history = c.trainer.history
            finally:
                if was_running:
                    c.play()
            return make_workspace(st.target, st.settings.to_dict(), st.t, model=data, history=history,
                                  view=self.view_state(), images=self.images_description())
        model = model_bytes(st.model) if st.model is not None else None
        return make_workspace(st.target, st.settings.to_dict(), st.t, model=model, history=self._panel_history(),
                              view=self.view_state(), images=self.images_description())

    def _panel_history(self) -> dict | None:
        """The training panel's loss history (the controller's buffers) as workspace arrays."""
        c = self.window.controller
        steps, losses = c.losses()
        if not len(losses):
            return None
        out = {"step": np.asarray(steps, np.int64), "loss": np.asarray(losses, np.float64)}
        bins = c.bins.means()
        if bins is not None:
            out["bin_loss"] = np.asarray(bins, np.float64)
            out["bin_edges"] = np.linspace(0.0, 1.0, len(bins) + 1)
        return out

    # ---- save ----------------------------------------------------------------------------------------------------
    def save(self) -> bool:
        """File > Save: to the current file, or ask for one."""
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path = self.choose_save_path()
        if not path:
            return False
        if not str(path).lower().endswith(SUFFIX):
            path = f"{path}{SUFFIX}"
        return self.save_to(path)

    def save_to(self, path) -> bool:
        """Write the workspace (atomic); a failure says why and keeps the previous file."""
        path = Path(path)
        w = self.window
        try:
            ws = self.current_workspace()
            save_workspace(path, ws)
        except Exception as exc:  # noqa: BLE001 - a failed save is a message, never a crash
            w.show_message("Cannot save workspace", _one_line(exc), QMessageBox.Icon.Warning)
            return False
        self.set_path(path)
        self.mark_clean()
        if self.session is not None:
            self.session.discard()  # saved: nothing left to recover
        self.recent.add(path)
        self.store.setValue("files/last_dir", str(path.parent))
        w.statusBar().showMessage(f"Saved {path.name}", 5000)
        return True

    def _choose_save_path(self) -> str | None:
        start = str(self.path) if self.path is not None else str(Path(self.window._last_dir()) / f"untitled{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save workspace", start, FILE_FILTER)
        return path or None

    # ---- open ----------------------------------------------------------------------------------------------------
    def open_path(self, path) -> bool:
        """Open a workspace or a model file (looks_like_workspace decides), or import a target file (by its suffix:
        an image, points or a GMM); a bad file gets one message."""
        from playground.data.targets.spec import FILE_SUFFIXES

        if looks_like_workspace(path):
            return self.open_workspace(path)
        if Path(path).suffix.lower() in FILE_SUFFIXES:
            return bool(self.window.import_target(str(path)))
        return bool(self.window.open_model(str(path)))

    def open_workspace(self, path, *, recovered: bool = False, document=None) -> bool:
        """Replace the window's state with a workspace file. Everything that can fail (reading, checking, rebuilding
        the target and the model) happens before anything changes: a bad file leaves the current state as it was.
        recovered: an autosave (the document stays modified; `document` is the file it belonged to)."""
        path = Path(path)
        w, st = self.window, self.state
        try:
            ws = load_workspace(path, settings_defaults=Settings().to_dict())
            settings = Settings.from_dict(ws.settings)
            target = ws.build_target()
            images = ws.build_images()
            model = ws.load_model()
            trainer = None
            if model is not None:
                if images is not None:
                    data = images.images
                    labels = images.labels if model.num_classes else None
                elif model.num_classes and target.gmm is not None:  # a class-conditional 2D model: the components
                    from playground.data.targets.classes import sample_with_classes

                    data, labels = sample_with_classes(target, settings.target_samples, settings.seed)
                else:
                    data, labels = target.sample(settings.target_samples, settings.seed), None
                try:
                    trainer = ws.resume_trainer(data, labels=labels, threads=w.controller.threads)
                except Exception:  # noqa: BLE001 - an inference-only model: shown, training starts anew
                    trainer = None
        except Exception as exc:  # noqa: BLE001 - WorkspaceError, ModelFileError, DataError: one message
            text = _one_line(exc)
            if not isinstance(exc, WorkspaceError):
                text = f"{path}: {text}"
            w.show_message("Cannot open workspace", text, QMessageBox.Icon.Warning)
            return False
        self._loading += 1
        try:
            w.time_bar.set_playing(False)
            c = w.controller
            c.reset()
            w.undo_stack.clear()
            changes = {k: v for k, v in settings.to_dict().items() if getattr(st.settings, k) != v}
            if changes:
                st.update_settings(**changes)
            st.set_target(target)
            if images is not None or st.image_mode:
                st.set_images(images, ws.images["spec"] if images is not None else None)
            st.set_time(float(ws.t))
            c.adopt(trainer, model)
            if trainer is None and model is not None:
                self._restore_history(ws)
            self.apply_view(ws.view)
            w.model_path = None
        finally:
            self._loading -= 1
        if recovered:
            self.set_path(document if document and Path(document).exists() else None)
            self.mark_dirty()
            w.statusBar().showMessage("Recovered the autosaved session (not saved yet).", 8000)
        else:
            self.set_path(path)
            self.mark_clean()
            self.recent.add(path)
            self.store.setValue("files/last_dir", str(path.parent))
            w.statusBar().showMessage(f"Opened {path.name}", 5000)
        if trainer is not None and trainer.resume_notes:
            w.show_message("Training continues on another device", f"{path.name}: " + "; ".join(trainer.resume_notes))
        return True

    def _restore_history(self, ws: Workspace) -> None:
        """The loss curve of a workspace whose model carries no trainer state."""
        from playground.app.workers.training_progress import TrainProgress

        c = self.window.controller
        h = ws.history
        if "loss" in h and len(h["loss"]):
            loss = np.asarray(h["loss"], np.float64)
            step = np.asarray(h.get("step", np.arange(1, len(loss) + 1)), np.int64)
            c.loss_steps, c.loss_values = [step], [loss]
            c.last_loss = float(loss[-1])
            c.step = int(step[-1]) if len(step) else 0
        if "bin_loss" in h:
            c.bins.latest = np.asarray(h["bin_loss"], np.float64).copy()
        c.progressed.emit(TrainProgress(c.step, np.zeros(0, np.int64), np.zeros(0), c.bins.means(), 0.0,
                                        c.elapsed_before))

    def apply_view(self, view: dict) -> None:
        """The view state a workspace stores (`view_state`): the last dock, the sampling panel's choices."""
        w = self.window
        if not isinstance(view, dict):
            return
        if view.get("last_dock") in w.docks:
            w.last_dock = view["last_dock"]
        sp = w.panels.get("sampling")
        sv = view.get("sampling")
        if sp is not None and isinstance(sv, dict):
            if isinstance(sv.get("seed"), int):
                sp.seed.setValue(int(sv["seed"]))
            for name in ("show_paths", "use_exact", "follow"):
                if isinstance(sv.get(name), bool):
                    getattr(sp, name).setChecked(sv[name])

    # ---- new / close ---------------------------------------------------------------------------------------------
    def maybe_save(self, reason: str = "close") -> bool:
        """Before closing or starting over: True when it may go on (nothing unsaved, saved, or discarded)."""
        if not self.dirty:
            return True
        choice = self.ask_save(reason)
        if choice == "save":
            return self.save()
        return choice == "discard"

    def _ask_save(self, _reason: str) -> str:
        return ask_save_changes(self.window, self.display_name())

    def new_document(self) -> None:
        """After File > New: an untitled, unmodified document."""
        self.set_path(None)
        self.mark_clean()
        if self.session is not None:
            self.session.discard()

    def close(self) -> None:
        """Clean exit: stop autosaving and remove this session's autosave and lock."""
        self.timer.stop()
        if self.session is not None:
            self.session.close()
            self.session = None

    # ---- autosave and recovery -------------------------------------------------------------------------------
    def autosave_now(self) -> Path | None:
        """Write the autosave when there are changes it does not hold yet; returns its path (None: nothing done)."""
        if self.session is None or not self.dirty or self._changes == self._autosaved:
            return None
        mark = self._changes
        try:
            ws = self.current_workspace(autosave=True)
            path = self.session.write(ws, document=self.path)
        except Exception as exc:  # noqa: BLE001 - autosave never interrupts the user with a dialog
            self.last_autosave_error = _one_line(exc)
            self.window.statusBar().showMessage(f"Autosave failed: {self.last_autosave_error}", 8000)
            return None
        self._autosaved = mark
        self.autosaves += 1
        self.last_autosave_error = ""
        return path

    def offer_recovery(self) -> bool:
        """Offer the autosave a crashed session left (found at start-up); True when it was recovered."""
        found, self.recoverable = self.recoverable, None
        if found is None:
            return False
        answer = self.ask_recover(found)
        if answer is None:
            return False  # not now: keep it for the next start
        if answer and self.open_workspace(found.path, recovered=True, document=found.document):
            found.discard()
            return True
        if not answer:
            found.discard()
        return False

    def _ask_recover(self, found) -> bool | None:
        return ask_recover_autosave(self.window, found)

    # ---- recent files --------------------------------------------------------------------------------------------
    def fill_recent_menu(self, menu: QMenu) -> list[QAction]:
        """(Re)build File > Open Recent (`RecentFiles`)."""
        return self.recent.fill_menu(menu)

    def open_recent(self, path: str) -> bool:
        if not self.window.confirm_discard("open"):
            return False
        return self.open_path(path)


def _one_line(e: BaseException) -> str:
    return " ".join((str(e) or type(e).__name__).split())
