"""The Gaussian editor's table: one editable row per component (x, y, sigma_x, sigma_y, weight). It shows what it is
given and says what the user picked or typed (`rowSelected`, `valueEdited`); a bad number puts the old text back."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from playground.data.targets.gmm_components import Component

FIELDS = ("x", "y", "sx", "sy", "weight")  # the Component field of each column


class GmmTable(QTableWidget):
    """The components' table (see the module docstring)."""

    rowSelected = Signal(int)
    valueEdited = Signal(int, str, float)  # row, Component field, the finite number typed

    COLUMNS = ("x", "y", "σx", "σy", "weight")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(self.COLUMNS), parent)
        self._shown: tuple[list[Component], np.ndarray, int] = ([], np.zeros(0), -1)
        self._syncing = False
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMaximumHeight(130)
        self.setToolTip(
            "The components: mean (x, y), standard deviations σx, σy and weight. Double-click a cell to edit it;\n"
            "weights are normalised to sum to 1 (the label shows each normalised weight)."
        )
        self.itemSelectionChanged.connect(self._selection_changed)
        self.itemChanged.connect(self._edited)

    @property
    def editing(self) -> bool:
        return self.state() == QAbstractItemView.State.EditingState

    def show_components(self, comps: list[Component], weights: np.ndarray, selected: int) -> None:
        """One row per component (its normalised weight in the weight cell's tooltip), `selected` selected; left
        alone while a cell is being edited."""
        self._shown = (list(comps), weights, selected)
        if self.editing:
            return
        self._syncing = True
        try:
            self.setRowCount(len(comps))
            for i, c in enumerate(comps):
                for j, v in enumerate(getattr(c, f) for f in FIELDS):
                    item = self.item(i, j)
                    if item is None:
                        item = QTableWidgetItem()
                        self.setItem(i, j, item)
                    item.setText(f"{v:.3g}")
                    if j == 4:
                        item.setToolTip(f"normalised weight {weights[i]:.3f}")
            if 0 <= selected < len(comps):
                self.selectRow(selected)
            else:
                self.clearSelection()
        finally:
            self._syncing = False

    def _selection_changed(self) -> None:
        if self._syncing:
            return
        rows = {ix.row() for ix in self.selectedIndexes()}
        if rows:
            self.rowSelected.emit(min(rows))

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._syncing:
            return
        i, j = item.row(), item.column()
        if not (0 <= i < len(self._shown[0])):
            return
        try:
            v = float(item.text())
            if not math.isfinite(v):
                raise ValueError
        except ValueError:
            self.show_components(*self._shown)  # restore the old text
            return
        self.valueEdited.emit(i, FIELDS[j], v)


__all__ = ["FIELDS", "GmmTable"]
