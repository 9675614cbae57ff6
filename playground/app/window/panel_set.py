"""The window's panels, one per dock (2D and image mode side by side), the link between the sampling panel's
replay slider and the shared time bar, and the one from the Race dock's points to the sampling panel."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from playground.app.panels.settings_panel import SettingsPanel
from playground.app.panels.training_panel import TrainingPanel


def make_panels(state, undo_stack, controller, training_actions: dict) -> dict[str, QWidget]:
    """Every panel by dock key (see `docks.DOCKS`, `docks.IMAGE_DOCKS` and `docks.OPTIONAL_DOCKS`); training_actions:
    the Play, Step and Reset actions the training panel's buttons show."""
    from playground.app.panels.classes_panel import ClassesPanel
    from playground.app.panels.compare_panel import ComparePanel
    from playground.app.panels.density_panel import DensityPanel
    from playground.app.panels.forward_panel import ForwardPanel
    from playground.app.panels.image_dataset_panel import ImageDatasetPanel
    from playground.app.panels.image_forward_panel import ImageForwardPanel
    from playground.app.panels.image_sampling_panel import ImageSamplingPanel
    from playground.app.panels.inpaint_panel import InpaintPanel
    from playground.app.panels.race_panel import RacePanel
    from playground.app.panels.sampling_panel import SamplingPanel
    from playground.app.panels.score_panel import ScoreFieldPanel
    from playground.app.panels.target.panel import TargetPanel
    from playground.app.panels.target_canvas import TargetCanvasPanel

    panels: dict[str, QWidget] = {
        "target": TargetPanel(state, undo_stack),
        "forward": ForwardPanel(state),
        "score": ScoreFieldPanel(state),
        "density": DensityPanel(state),
        "sampling": SamplingPanel(state),
        "classes": ClassesPanel(state),
        "training": TrainingPanel(state, controller, training_actions),
        "image_dataset": ImageDatasetPanel(state),
        "image_forward": ImageForwardPanel(state),
        "image_sampling": ImageSamplingPanel(state),
        "inpaint": InpaintPanel(state),
        "compare": ComparePanel(state, controller),
        "race": RacePanel(state),
    }
    panels["canvas"] = TargetCanvasPanel(panels["target"])
    panels["settings"] = SettingsPanel(state)
    return panels


def link_sampling_time(state, panel: QWidget) -> None:
    """The sampling panel replays its stored frames with its own slider (left t = T, right t = 0); keep that slider
    and the shared time bar (`state.set_time`) in step, both ways."""
    slider = getattr(panel, "slider", None)
    if slider is None or not hasattr(panel, "playback_time"):
        return
    top = slider.maximum()
    syncing = [False]

    def from_state(t: float) -> None:
        v = int(round((1.0 - t) * top))
        if slider.value() != v:
            syncing[0] = True
            try:
                slider.setValue(v)
            finally:
                syncing[0] = False

    def to_state(v: int) -> None:
        if not syncing[0]:
            state.set_time(1.0 - v / top)

    state.timeChanged.connect(from_state)
    slider.valueChanged.connect(to_state)


def link_race(race: QWidget, sampling: QWidget, request_settings, show_sampling) -> None:
    """A point clicked in the Race dock (`loadRequested(changes, exact)`): its sampler and steps on the sampling
    panel's left side (one undoable settings change, `request_settings`), with the score the race used, and the
    Sampling dock in front (`show_sampling()`)."""

    def load(changes: dict, exact: bool) -> None:
        sampling.use_exact.setChecked(exact)
        request_settings(changes)
        show_sampling()

    race.loadRequested.connect(load)
