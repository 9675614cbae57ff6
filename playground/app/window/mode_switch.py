"""2D / image mode in the window: which docks each mode shows, and the training settings each mode trains with.

Image mode (`state.images`, entered from Target > Images) hides the three 2D views and shows the image docks; each
mode remembers which of its own docks were open, and a dock taken out of a tab group rejoins it. Entering image mode
applies the image training defaults (IMAGE_TRAIN_DEFAULTS' lr, batch, output and weighting, a one-minute stop; the
velocity output under flow matching) and keeps the 2D values (`Settings.lr_2d`, ...), which leaving it restores.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget

from playground.app.window.docks import DOCKS_2D, IMAGE_DOCKS, DockLayout, tabify

IMAGE_STOP = {"steps": 100_000, "seconds": 60.0}  # image training stops after a minute (the steps are a backstop)


def image_output(objective: str) -> str:
    """The output kind image mode trains with: IMAGE_TRAIN_DEFAULTS' EDM denoiser, or the velocity v for flow
    matching (its natural output, as `train --objective fm` on images)."""
    from playground.core.training.image_training import IMAGE_TRAIN_DEFAULTS

    return "v" if objective == "fm" else str(IMAGE_TRAIN_DEFAULTS["output"])


class ModeSwitch(QObject):
    """The mode switching of one window. `shown`: the image docks (not the 2D views) are shown; `sync` shows the
    current mode's docks, `on_images_changed` follows `state.imagesChanged`."""

    def __init__(self, window, layout: DockLayout):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.layout = layout
        self.image_mode = self.state.image_mode  # the mode the training settings were last set up for
        self.shown = False
        self.open_docks: dict[bool, set[str]] = {}  # per mode: the keys of its own docks that were open
        self.reset_open_docks()
        self._sized_images = False  # the image docks got their default proportions once
        self._tab_partners: dict[str, QDockWidget] = {}  # a mode dock taken out of its tab group -> a dock to rejoin

    def reset_open_docks(self) -> None:
        """Every dock of each mode open but the optional ones (the default layout)."""
        self.open_docks = {False: set(DOCKS_2D), True: {k for k, _t, _n in IMAGE_DOCKS}}

    def images_shown(self) -> bool:
        """True when the window shows image docks: in image mode, or while an image model is shown without its
        dataset (File > Open model of a model whose dataset could not be loaded)."""
        model = self.state.model
        return self.state.image_mode or (model is not None and getattr(model, "image_shape", None) is not None)

    def mode_dock_widgets(self, images: bool) -> dict[str, QDockWidget]:
        """The docks only one mode shows: the image docks, or the 2D views (DOCKS_2D and the optional docks)."""
        if images:
            return dict(self.layout.image_docks)
        return {**{k: self.layout.docks[k] for k in DOCKS_2D}, **self.layout.optional_docks}

    def open_mode_docks(self, images: bool) -> set[str]:
        """The keys of the mode's own docks that are open (or were, when the other mode is shown)."""
        if images != self.shown:
            return set(self.open_docks[images])
        return {k for k, dock in self.mode_dock_widgets(images).items() if not dock.isHidden()}

    def set_open_docks(self, images: bool, keys) -> None:
        """Which of the mode's own docks are open (restored from the last run; unknown keys are dropped)."""
        self.open_docks[images] = set(keys) & set(self.mode_dock_widgets(images))

    def sync(self, *_args, force: bool = False) -> None:
        """Show the docks of the current mode (those of it the user had open) and hide the other mode's; force:
        apply it even when the mode did not change (start-up, Reset layout)."""
        images = self.images_shown()
        if images == self.shown and not force:
            return
        if images != self.shown:  # remember which of the leaving mode's docks were open
            self.open_docks[self.shown] = self.open_mode_docks(self.shown)
        self.shown = images
        for key, dock in self.mode_dock_widgets(not images).items():
            self._hide_mode_dock(key, dock)
        for key, dock in self.mode_dock_widgets(images).items():
            if key in self.open_docks[images]:
                self._show_mode_dock(key, dock)
            elif key in self.layout.optional_docks:  # closed: out of its tab group (`DockLayout.open_optional`)
                self._hide_mode_dock(key, dock)
            else:
                dock.hide()
        front = self.layout.image_docks["image_dataset"] if images else self.layout.docks["target"]
        if not front.isHidden():
            front.raise_()
        if images and not self._sized_images and not force:  # the image docks' first appearance: default sizes
            self._sized_images = True
            QTimer.singleShot(0, self.size_docks)

    def size_docks(self) -> None:
        """The default proportions for the docks the current mode shows."""
        self.layout.size_docks(self.shown)

    def _hide_mode_dock(self, key: str, dock: QDockWidget) -> None:
        """Hide a dock of the other mode; one in a tab group leaves the layout (a hidden tabbed dock would keep its
        tab) and remembers a partner to rejoin."""
        w = self.window
        partners = [p for p in w.tabifiedDockWidgets(dock) if not p.isHidden()]
        if partners:
            self._tab_partners[key] = partners[0]
            w.removeDockWidget(dock)
        dock.hide()

    def _show_mode_dock(self, key: str, dock: QDockWidget) -> None:
        """Show a dock of the mode entered, back in its tab group when it had left the layout."""
        w = self.window
        if w.dockWidgetArea(dock) == Qt.DockWidgetArea.NoDockWidgetArea and not dock.isFloating():
            partner = self._tab_partners.get(key)
            if partner is not None and w.dockWidgetArea(partner) != Qt.DockWidgetArea.NoDockWidgetArea:
                tabify(w, partner, dock)
            else:
                w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.show()

    def on_images_changed(self) -> None:
        """Entered or left image mode, or another dataset: reset training (a new dataset keeps training if it was
        running); a switch of mode swaps the training settings (`switch_training_settings`) and the docks."""
        st, c = self.state, self.window.controller
        was_running = c.running
        switched = st.image_mode != self.image_mode
        self.image_mode = st.image_mode
        if c.has_progress or c.trainer is not None or st.model is not None:
            c.reset()
        if switched and not self.window.workspace.loading:  # a workspace brings its own settings
            self.switch_training_settings(st.image_mode)
        self.sync()
        if was_running and not switched:
            c.play()
        self.window.status_info.refresh()

    def switch_training_settings(self, image_mode: bool) -> None:
        """Entering image mode keeps the 2D lr / batch / steps / seconds / output / weighting (Settings.lr_2d, ...)
        and applies the image defaults (IMAGE_TRAIN_DEFAULTS' lr, batch, output and weighting, IMAGE_STOP; flow
        matching keeps its velocity output: `image_output`); leaving it restores the kept 2D values."""
        s = self.state.settings
        if image_mode:
            from playground.core.training.image_training import IMAGE_TRAIN_DEFAULTS as D

            self.state.update_settings(lr_2d=s.lr, batch_2d=s.batch, steps_2d=s.steps, seconds_2d=s.seconds,
                                       output_2d=s.output, weighting_2d=s.weighting, lr=float(D["lr"]),
                                       batch=int(D["batch"]), output=image_output(s.objective),
                                       weighting=D["weighting"],
                                       **IMAGE_STOP)
        else:
            self.state.update_settings(lr=s.lr_2d, batch=s.batch_2d, steps=s.steps_2d, seconds=s.seconds_2d,
                                       output=s.output_2d, weighting=s.weighting_2d)
