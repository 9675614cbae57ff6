"""A run the controller let go (Train > Reset, opening a workspace) writes nothing into the document that follows:
its trainer, step, time, rate, time-bin losses and model snapshots all stay the new document's (issue 15: the monkey
walk's rare 'reopened: differs in model'). Deterministic: the old run's optimiser step is held open while the
controller resets and adopts another model, then released."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from playground.app.state import AppState, Settings  # noqa: E402
from playground.app.workers.training_controller import TrainingController  # noqa: E402
from playground.data.targets.presets import make_preset  # noqa: E402
from tests.app.window_helpers import SMALL  # noqa: E402


def test_a_let_go_run_finishing_its_step_changes_nothing_of_the_next_document(qtbot):
    state = AppState(make_preset("moons"), Settings(**{**SMALL, "steps": 10_000}))
    c = TrainingController(state, in_process=False, preview_n=0)
    assert c.play(max_steps=2)
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)
    old = c.trainer
    opened_model = old.snapshot()  # stands for the model of the workspace opened next

    inside, release = threading.Event(), threading.Event()
    step = old.step

    def held_step():  # the old run's step in progress while the UI resets and opens
        inside.set()
        assert release.wait(30)
        return step()

    old.step = held_step
    assert c.play()
    run = c._thread
    assert inside.wait(30)
    c.reset()
    c.adopt(None, opened_model)
    release.set()
    assert run.wait(30_000)
    qtbot.wait(50)  # anything the old run queued is delivered now

    assert c.trainer is None and state.model is opened_model
    assert c.step == 0 and c.elapsed_before == 0.0 and c.its == 0.0
    assert c.bins.means() is None and not len(c.losses()[1])
    assert not c.running and old.step_count == 3  # the old run did finish its step, on its own trainer


class StartingWorker:
    """A worker process as a run sees it: `kill` is all a let-go run may do to it."""

    killed = False

    def kill(self) -> None:
        self.killed = True


@pytest.mark.parametrize("answered", [False, True])
def test_a_let_go_run_ends_a_worker_still_starting_and_keeps_one_that_answered(qtbot, answered):
    """Quick resets while a worker process imports torch must not leave one starting process per reset behind: a run
    let go before its process answered ends it; one already running stops by 'pause' and goes back to the pool."""
    from playground.app.workers.training_loop import TrainingLoop

    c = TrainingController(AppState(make_preset("moons"), Settings(**SMALL)), in_process=True)
    run = TrainingLoop(c, None)
    run.worker, run.answered = StartingWorker(), answered
    run.let_go()  # what the controller's reset does to the run (after marking it let go)
    assert run.stop_event.is_set()
    assert run.worker.killed is (not answered)
