"""The stochasticity slider: a drag previews at most every PREVIEW_MS and commits once on release; key presses commit
once after a pause; `show_value` emits nothing."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("pytestqt")

from playground.app.widgets.stochasticity_slider import LAM_MAX, PREVIEW_MS, StochasticitySlider  # noqa: E402


def test_a_drag_previews_a_few_times_and_commits_once_on_release(qtbot, keep):
    w = keep(StochasticitySlider())
    previews, commits = [], []
    w.previewed.connect(previews.append)
    w.committed.connect(commits.append)
    w.slider.setSliderDown(True)
    start = time.perf_counter()
    for k in range(60):  # a drag of ~1.2 s across the range
        w.slider.setValue(LAM_MAX * k / 59)
        qtbot.wait(20)
    dragged_ms = (time.perf_counter() - start) * 1000
    assert 1 <= len(previews) <= dragged_ms / PREVIEW_MS + 1 and not commits
    w.slider.setSliderDown(False)
    assert commits == [LAM_MAX]
    qtbot.wait(PREVIEW_MS + 100)
    assert commits == [LAM_MAX]  # no late preview or commit after the release


def test_keys_commit_once_after_a_pause_and_show_value_is_silent(qtbot, keep):
    w = keep(StochasticitySlider())
    commits = []
    w.committed.connect(commits.append)
    w.show_value(0.5)
    qtbot.wait(500)
    assert commits == [] and w.value() == 0.5
    for v in (0.55, 0.6, 0.65):
        w.slider.setValue(v)
    qtbot.waitUntil(lambda: commits == [0.65], timeout=2000)
    w.set_available(False, "no λ here")
    assert not w.isEnabled() and w.toolTip().startswith("no λ here")
