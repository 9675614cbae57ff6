"""ConsoleProgress: the headless trainer's progress line (in place on a terminal, with bar, loss, it/s and ETA)."""

import io

from playground.core.training.console import ConsoleProgress
from playground.core.training.history import StepStats


def test_progress_bar_on_a_terminal():
    buf = io.StringIO()
    bar = ConsoleProgress(total_steps=100, stream=buf, tty=True, hz=1e9)
    for i in range(1, 101):
        bar(StepStats(i, 0.5, 1e-3, i * 0.01))
    bar.close()
    text = buf.getvalue()
    assert text.count("\r") >= 50 and text.endswith("\n")
    assert "step 100/100" in text and "100%" in text and "it/s" in text and "ETA" in text and "loss 0.5000" in text
