"""Dataset panel (image mode): a grid of 64 images of the current image dataset, reshuffled on demand, optionally
of one class, with a line describing the set (name, count, size, channels, classes)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from playground.app.widgets.image_view import ImageGridView

GRID_IMAGES = 64
GRID_COLUMNS = 8
NO_DATASET = "No image dataset: pick one in the Target panel's Images tab."


def dataset_summary(dataset, spec: str | None = None) -> str:
    """One line: name, image count, size, channels and classes of an ImageDataset."""
    n, c, h, w = dataset.images.shape
    name = dataset.name or spec or "images"
    channels = "1 channel (grayscale)" if c == 1 else f"{c} channels (RGB)"
    if dataset.labels is None:
        classes = "unlabelled"
    else:
        names = dataset.class_names
        shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        classes = f"{len(names)} classes: {shown}"
    return f"{name} — {n:,} images, {h}×{w} px, {channels}, {classes}"


class ImageDatasetPanel(QWidget):
    """64 dataset images as one grid (reshuffle, class filter, class captions) and a summary of the set."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Dataset")
        self.view = ImageGridView(title="Dataset")
        self.view.setToolTip("A random sample of the image dataset (pixels in [0, 1], drawn without smoothing).")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setToolTip("The image dataset: name, number of images, size, channels and classes.")
        self.reshuffle_btn = QPushButton("Reshuffle")
        self.reshuffle_btn.setToolTip(f"Show another random {GRID_IMAGES} images of the dataset (or of the class).")
        self.reshuffle_btn.clicked.connect(self.reshuffle)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("Show only images of one class (labelled datasets).")
        self.class_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.show_labels = QCheckBox("Labels")
        self.show_labels.setChecked(True)
        self.show_labels.setToolTip("Write each image's class name on its top-left corner (labelled datasets).")
        self.show_labels.toggled.connect(lambda _on: self.refresh())

        controls = QHBoxLayout()
        controls.addWidget(self.reshuffle_btn)
        controls.addWidget(self.class_combo)
        controls.addWidget(self.show_labels)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        layout.addLayout(controls)

        self._shuffles = 0  # reshuffle count: the sample is seeded by (settings.seed, shuffles)
        self.indices: np.ndarray = np.zeros(0, np.int64)  # the dataset indices shown
        state.imagesChanged.connect(self._on_images)
        self._on_images()

    # ---- state -----------------------------------------------------------------------------------------------
    def _on_images(self) -> None:
        ds = self.state.images
        self._shuffles = 0
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        labelled = ds is not None and ds.labels is not None
        if labelled:
            counts = np.bincount(ds.labels, minlength=len(ds.class_names))
            self.class_combo.addItem(f"All classes ({len(ds):,})", -1)
            for k, name in enumerate(ds.class_names):
                self.class_combo.addItem(f"{name} ({counts[k]:,})", k)
        else:
            self.class_combo.addItem("All images", -1)
        self.class_combo.blockSignals(False)
        self.class_combo.setEnabled(labelled)
        self.show_labels.setEnabled(labelled)
        self.reshuffle_btn.setEnabled(ds is not None)
        self.summary.setText(dataset_summary(ds, self.state.image_spec) if ds is not None else "")
        self.refresh()

    def reshuffle(self) -> None:
        """Show another random sample."""
        self._shuffles += 1
        self.refresh()

    def selected_class(self) -> int:
        """The class filter: a label, or -1 for all images."""
        data = self.class_combo.currentData()
        return -1 if data is None else int(data)

    def refresh(self) -> None:
        """Redraw the grid from the dataset, the class filter and the shuffle count."""
        ds = self.state.images
        if ds is None:
            self.indices = np.zeros(0, np.int64)
            self.view.set_title("Dataset")
            self.view.set_message(NO_DATASET)
            return
        k = self.selected_class()
        pool = np.arange(len(ds)) if k < 0 or ds.labels is None else np.flatnonzero(ds.labels == k)
        if len(pool) == 0:
            self.indices = np.zeros(0, np.int64)
            self.view.set_message("No images of this class.")
            return
        rng = np.random.default_rng([int(self.state.settings.seed), self._shuffles])
        self.indices = np.sort(rng.choice(pool, size=min(GRID_IMAGES, len(pool)), replace=False))
        captions = None
        if ds.labels is not None and self.show_labels.isChecked():
            captions = [ds.class_names[int(y)] for y in ds.labels[self.indices]]
        what = "all classes" if k < 0 or ds.labels is None else f"class {ds.class_names[k]}"
        self.view.set_title(f"{len(self.indices)} of {len(pool):,} images ({what})")
        self.view.set_images(ds.images[self.indices], GRID_COLUMNS, captions)

    def shutdown(self) -> None:
        """Nothing runs in the background here (kept for the panels' common interface; safe to call twice)."""
