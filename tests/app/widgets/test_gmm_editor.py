"""The Gaussian editor's parts (pytest-qt, offscreen): the table edits and restores, the plot's hit test."""

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from playground.app.widgets.gmm_editor import GmmEditor  # noqa: E402
from playground.data.targets.gmm_components import Component  # noqa: E402


@pytest.fixture
def editor(qtbot):
    ed = GmmEditor(extent=4.0)
    qtbot.addWidget(ed)
    ed.resize(400, 500)
    ed.show()
    qtbot.waitExposed(ed)
    ed.set_components([Component(-1.0, 0.5, 0.4, 0.4, 1.0), Component(2.0, -1.0, 0.6, 0.3, 3.0)])
    return ed


def test_table_shows_components_and_typed_values_become_edits(editor):
    table = editor.table
    assert table.rowCount() == 2 and [table.item(1, j).text() for j in range(5)] == ["2", "-1", "0.6", "0.3", "3"]
    assert table.item(1, 4).toolTip() == "normalised weight 0.750"
    edits = []
    editor.editRequested.connect(lambda before, after, text, key: edits.append((after, text)))
    table.item(0, 0).setText("9")  # beyond the view: clipped to the extent
    assert edits[-1][1] == "Edit Gaussian" and editor.components[0].x == 4.0
    table.item(1, 4).setText("1")  # a weight typed in the table
    assert edits[-1][1] == "Change Gaussian weight" and np.isclose(editor.components[1].weight, 1.0)
    n = len(edits)
    for bad in ("abc", "nan"):
        table.item(0, 1).setText(bad)  # not a finite number: the old text comes back, nothing is edited
        assert table.item(0, 1).text() == "0.5" and len(edits) == n
    table.selectRow(1)
    assert editor.selected == 1 and editor.weight_spin.value() == pytest.approx(1.0)


def test_plot_hit_test_prefers_centres_then_the_innermost_ellipse(editor):
    assert editor.hit_test(2.0, -1.0) == 1  # on the centre
    assert editor.hit_test(-1.0 + 0.3, 0.5) == 0  # inside the 1-sigma ellipse of the first only
    assert editor.hit_test(0.5, 2.5) == -1  # outside every ellipse
    editor.set_components([])
    assert editor.hit_test(0.0, 0.0) == -1 and editor.plot.hint.isVisible()
