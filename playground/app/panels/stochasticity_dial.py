"""The Sampling panel's stochasticity dial: the λ option of Euler–Maruyama, the sampler of the family of reverse
processes dx = [f − (1 + λ²)/2 g² s] dt + λ g dw̄ that share the marginals p_t (Song et al. 2021, App. D.1).

Moving the dial (a `StochasticitySlider` under the left view) re-runs the LEFT view only, with the comparison's score,
x_T and seed, so with the same Brownian increments (EM draws them at every λ): only λ changes, and the paths go from
the PF-ODE's smooth curves (λ = 0) to jittery ones while the end distribution stays. The right view keeps its run. A
left run in flight is cancelled by the next value; while dragging, the slider previews at most ~3 values a second.

Only Euler–Maruyama has λ: with any other left sampler the dial is disabled and says why (their own noise options,
η or churn, sit in their options menu). The value is the left sampler's option in the settings (saved with them and
in workspaces, like every option); a released drag is one settings change, so one undo step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, SignalInstance

from playground.app.samplers import sampler_name, side_changes, side_choice
from playground.app.widgets.stochasticity_slider import StochasticitySlider

if TYPE_CHECKING:
    import torch
    from PySide6.QtWidgets import QLabel

    from playground.app.panels.side_threads import SideThreads
    from playground.app.sampling_plan import SamplingPlan, SideRun
    from playground.app.state import AppState
    from playground.app.widgets.playback_bar import PlaybackBar
    from playground.app.workers.sampling_worker import SamplingThread


class DialHost(Protocol):
    """What the dial uses of the Sampling panel it sits in (`SamplingPanel`)."""

    state: AppState
    plan: SamplingPlan | None
    x_T: torch.Tensor | None
    sides: dict
    threads: SideThreads
    playback: PlaybackBar
    status: QLabel
    changeRequested: SignalInstance

    def side_thread(self, run: SideRun, light: bool) -> SamplingThread: ...

    def sync_controls(self) -> None: ...

LAM = "stochasticity"
"""Euler–Maruyama's option (playground.app.samplers.SPECS['em']) that the dial sets."""


class StochasticityDial(QObject):
    """The dial of one SamplingPanel (`slider` is its widget); the panel asks `only_lam_changed` on every settings
    change and lets the dial re-run the left view when it is."""

    def __init__(self, panel: DialHost):
        super().__init__(panel)
        self.panel = panel
        self.slider = StochasticitySlider()
        self.slider.previewed.connect(self.rerun)
        self.slider.committed.connect(self.commit)

    def rerun(self, lam: float) -> None:
        """Re-run the left view at λ = lam with the comparison's score, x_T and seed; nothing when no comparison is
        shown, the left sampler has no λ, or that λ is already shown or running."""
        p = self.panel
        plan = p.plan
        run = plan.sides["sde"] if plan is not None else None
        if run is None or run.problem is not None or LAM not in run.options or p.x_T is None:
            return
        if run.options[LAM] == lam and (p.sides["sde"].outcome is not None or p.threads.current["sde"] is not None):
            return
        p.threads.cancel_side("sde")
        p.playback.pause()
        run = replace(run, options={**run.options, LAM: float(lam)})
        p.plan = replace(plan, sides={**plan.sides, "sde": run})
        p.threads.start("sde", p.side_thread(run, light=False))
        p.status.setText(f"Re-running the left view at λ = {lam:.2f} (same x_T, same noise)…")
        p.sync_controls()

    def commit(self, lam: float) -> None:
        """A released dial: run the left view at lam and store it as the left sampler's option (one settings change)."""
        self.rerun(lam)
        key, options = side_choice(self.panel.state.settings, "sde")
        if LAM in options and options[LAM] != lam:
            self.panel.changeRequested.emit(side_changes("sde", key, {**options, LAM: float(lam)}))

    def sync(self) -> None:
        """Show the settings' left λ, or disable the dial when the left sampler has none."""
        key, options = side_choice(self.panel.state.settings, "sde")
        if LAM in options:
            self.slider.show_value(options[LAM])
            self.slider.set_available(True)
        else:
            self.slider.set_available(False, f"The left sampler, {sampler_name(key)}, has no λ: the dial drives "
                                             "Euler–Maruyama (the sampler of the λ family). Pick it above the left view.")

    def only_lam_changed(self) -> bool:
        """Whether the settings' left side differs from the shown comparison's left run in λ alone."""
        plan = self.panel.plan
        if plan is None:
            return False
        key, options = side_choice(self.panel.state.settings, "sde")
        run = plan.sides["sde"]
        strip = lambda o: {k: v for k, v in o.items() if k != LAM}  # noqa: E731
        return key == run.sampler and LAM in options and strip(options) == strip(run.options)


__all__ = ["LAM", "StochasticityDial"]
