"""The Target panel's Presets tab: a gallery of the built-in 2D targets (thumbnails made lazily after start-up), the
chosen preset's noise and the number of target samples. Choosing a preset or its noise is an undoable command."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.app.panels.target.command import TargetCommand, TargetHost
from playground.app.panels.target.previews import preset_thumbnail
from playground.data.targets.presets import DEFAULT_NOISE, PRESETS, make_preset
from playground.data.targets.target import DataError

PRESET_INFO = {
    "swissroll": "Swiss roll: a 2D spiral band (FFJORD)",
    "circles": "Two concentric circles (radii 3 and 1.5)",
    "rings": "Four concentric rings",
    "moons": "Two interleaving half-moons",
    "8gaussians": "8 Gaussians on a circle: an exact GMM (exact score everywhere)",
    "pinwheel": "Pinwheel: 5 curved arms",
    "2spirals": "Two interleaved spirals",
    "checkerboard": "Uniform on the black squares of a checkerboard (exact density)",
    "line": "The line y = x: a degenerate 1D manifold",
    "cos": "The curve y = 2.5 sin x: a degenerate 1D manifold",
    "25gaussians": "A 5x5 grid of Gaussians: an exact GMM",
}


class PresetsPage(QWidget):
    """Gallery, noise (with a reset to the preset's default) and the target sample count."""

    def __init__(self, host: TargetHost, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.state = host.state
        self._preset_noise: dict[str, float] = dict(DEFAULT_NOISE)
        self._syncing = False

        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(56, 56))
        self.gallery.setGridSize(QSize(94, 84))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setWrapping(True)
        self.gallery.setUniformItemSizes(True)
        self.gallery.setDragEnabled(False)
        self.gallery.setAcceptDrops(False)
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.gallery.setToolTip("Built-in targets: click one to train on it")
        blank = QPixmap(56, 56)
        blank.fill(QColor(30, 30, 36))
        for name in PRESETS:
            item = QListWidgetItem(QIcon(blank), name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(PRESET_INFO.get(name, name))
            self.gallery.addItem(item)
        self.gallery.itemClicked.connect(lambda it: self.choose_preset(it.data(Qt.ItemDataRole.UserRole)))
        self.gallery.itemActivated.connect(lambda it: self.choose_preset(it.data(Qt.ItemDataRole.UserRole)))
        self.gallery.currentItemChanged.connect(self._gallery_current_changed)

        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setRange(0.0, 5.0)
        self.noise_spin.setDecimals(3)
        self.noise_spin.setSingleStep(0.01)
        self.noise_spin.setKeyboardTracking(False)
        self.noise_spin.setToolTip(
            "The preset's noise parameter in FFJORD's units (e.g. the sd added to moons, the sd of each of\n"
            "the 8 Gaussians). Presets without one (checkerboard, line, cos) disable this."
        )
        self.noise_spin.valueChanged.connect(self._noise_changed)
        self.noise_reset = QToolButton()
        self.noise_reset.setText("default")
        self.noise_reset.setToolTip("Reset the noise to the preset's default")
        self.noise_reset.clicked.connect(self._noise_default)

        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(500, 1_000_000)
        self.samples_spin.setSingleStep(1000)
        self.samples_spin.setKeyboardTracking(False)
        self.samples_spin.setGroupSeparatorShown(True)
        self.samples_spin.setValue(self.state.settings.target_samples)
        self.samples_spin.setToolTip(
            "How many samples are drawn from the target (the training set and the reference for metrics);\n"
            "changing it re-draws the target's samples"
        )
        self.samples_spin.valueChanged.connect(self.set_sample_count)

        form = QFormLayout()
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.noise_spin, 1)
        noise_row.addWidget(self.noise_reset)
        form.addRow("noise", noise_row)
        form.addRow("samples", self.samples_spin)
        lay = QVBoxLayout(self)
        lay.addWidget(self.gallery, 1)
        lay.addLayout(form)

        self._thumb_queue = list(PRESETS)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._next_thumbnail)
        QTimer.singleShot(0, self._thumb_timer.start)  # after the window is up: startup stays fast

    # ---- thumbnails --------------------------------------------------------------------------------------------
    def _next_thumbnail(self) -> None:
        if not self._thumb_queue:
            self._thumb_timer.stop()
            return
        name = self._thumb_queue.pop(0)
        try:
            img = preset_thumbnail(name)
        except Exception:  # a thumbnail must never break the panel
            return
        for i in range(self.gallery.count()):
            it = self.gallery.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == name:
                it.setIcon(QIcon(QPixmap.fromImage(img)))

    def ensure_thumbnails(self) -> None:
        """Make every gallery thumbnail now (normally they are made lazily after start-up)."""
        while self._thumb_queue:
            self._next_thumbnail()
        self._thumb_timer.stop()

    # ---- choosing ----------------------------------------------------------------------------------------------
    def _gallery_current_changed(self, cur, _prev) -> None:
        if cur is not None and not self._syncing:
            self.choose_preset(cur.data(Qt.ItemDataRole.UserRole))

    def choose_preset(self, name: str, noise: float | None = None) -> bool:
        """Make preset `name` the target (undoable). noise None: the last noise used for it (or its default)."""
        if name not in PRESETS:
            self.host.report_error(f"Unknown preset {name!r}")
            return False
        if noise is None:
            noise = self._preset_noise.get(name)
        cur = self.state.target
        same = cur.name == name and cur.params.get("noise") == noise and cur.params.get("name") == name
        if same and not self.state.image_mode:
            return True  # already the target
        try:
            target = make_preset(name, noise)
        except DataError as e:
            self.host.report_error(str(e))
            return False
        self.host.undo_stack.push(TargetCommand(self.host, f"Preset {name}", cur, target_after=target))
        return True

    def _noise_changed(self, value: float) -> None:
        if self._syncing:
            return
        name = self.current_preset()
        if name is None:
            item = self.gallery.currentItem()
            name = item.data(Qt.ItemDataRole.UserRole) if item else None
        if name is None or name not in DEFAULT_NOISE:
            return
        try:
            target = make_preset(name, float(value))
        except DataError as e:
            self.host.report_error(str(e))
            return
        self._preset_noise[name] = float(value)
        cur = self.state.target
        key = ("noise", name) if self.current_preset() == name else None
        self.host.undo_stack.push(
            TargetCommand(self.host, f"Preset {name} noise {value:g}", cur, target_after=target, merge_key=key)
        )

    def _noise_default(self) -> None:
        name = self.current_preset()
        if name in DEFAULT_NOISE:
            self.noise_spin.setValue(DEFAULT_NOISE[name])

    def current_preset(self) -> str | None:
        """The preset the current target is (by name, with its noise), or None."""
        t = self.state.target
        p = t.params or {}
        if t.name in PRESETS and p.get("name") == t.name and "noise" in p:
            return t.name
        return None

    def set_sample_count(self, n: int) -> None:
        """Ask for settings' target_samples = n (applied, it re-draws the current target's samples)."""
        if self._syncing or n == self.state.settings.target_samples:
            return
        self.host.request_settings({"target_samples": int(n)})

    # ---- following the state -----------------------------------------------------------------------------------
    def sync(self) -> None:
        """Select the current target in the gallery (none in image mode) and show its noise."""
        self._syncing = True
        try:
            name = None if self.state.image_mode else self.current_preset()
            if name is None:
                self.gallery.setCurrentRow(-1)
                self.gallery.clearSelection()
            else:
                self.gallery.setCurrentRow(PRESETS.index(name))
                noise = self.state.target.params.get("noise")
                has_noise = name in DEFAULT_NOISE
                self.noise_spin.setEnabled(has_noise)
                self.noise_reset.setEnabled(has_noise)
                if has_noise and noise is not None:
                    self.noise_spin.setValue(float(noise))
                    self._preset_noise[name] = float(noise)
        finally:
            self._syncing = False

    def sync_sample_count(self) -> None:
        """Show settings' target_samples (no re-draw)."""
        self._syncing = True
        try:
            self.samples_spin.setValue(self.state.settings.target_samples)
        finally:
            self._syncing = False


__all__ = ["PRESET_INFO", "PresetsPage"]
