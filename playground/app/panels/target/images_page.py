"""The Target panel's Images tab: choose an image dataset (digits, shapes, MNIST / Fashion-MNIST IDX files, a folder
of images), its size and colour, and load it off the UI thread.

    chooser = ImageDatasetChooser(state)
    chooser.loaded.connect(on_loaded)        # (ImageDataset, spec, [warning texts]) on the UI thread
    chooser.failed.connect(on_failed)        # a message naming the file and the problem (DataError or a loader bug)
    chooser.load()                           # the chosen dataset; or chooser.load_spec('digits', size=None, rgb=False)

The chooser never changes the state: the Target panel decides what to do with a loaded set (ask, then
`state.set_images`). `classesRequested(bool)` asks for `settings.image_classes` (the main window applies it, asking
first when it invalidates a trained model). Loading runs in a `DatasetLoader` QThread (workers.dataset_loader);
`shutdown()` waits up to a second for it and then leaves it to finish on its own (a loader cannot be interrupted),
its result dropped. For MNIST / Fashion-MNIST, Download… fetches the official files into the cache
(`DatasetDownloader`, a QThread with a cancellable progress dialog; its failures go out through `failed` too) and
fills in the path.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.app.state import AppState
from playground.app.workers.dataset_loader import DatasetDownloader, DatasetLoader

NATIVE_SIZE = 3  # the size spin box's minimum, shown as 'native': the set's own size


@dataclass(frozen=True)
class DatasetChoice:
    """One entry of the dataset list: its spec (a prefix 'kind:' when it needs a path), how the path is chosen
    ('' none, 'file' an IDX images file, 'folder' a folder) and what the set is."""

    key: str
    label: str
    spec: str
    path: str
    about: str


CHOICES: tuple[DatasetChoice, ...] = (
    DatasetChoice("digits", "8×8 digits (scikit-learn)", "digits", "",
                  "The 1,797 8×8 handwritten digits bundled with scikit-learn (UCI optical digits), labelled 0–9. "
                  "A U-Net learns them in about a minute on a CPU."),
    DatasetChoice("shapes8", "Shapes 8×8", "shapes8", "",
                  "4,000 procedural shapes (circle, square, triangle, cross, ring) in white on black, random position, "
                  "size and brightness, labelled by shape; drawn at 8×8."),
    DatasetChoice("shapes16", "Shapes 16×16", "shapes16", "",
                  "4,000 procedural shapes (circle, square, triangle, cross, ring), labelled by shape; drawn at 16×16."),
    DatasetChoice("shapes28", "Shapes 28×28", "shapes28", "",
                  "4,000 procedural shapes (circle, square, triangle, cross, ring), labelled by shape; drawn at 28×28 "
                  "(slow to train on a CPU: a smaller size trains much faster)."),
    DatasetChoice("shapes32", "Shapes 32×32", "shapes32", "",
                  "4,000 procedural shapes (circle, square, triangle, cross, ring), labelled by shape; drawn at 32×32. "
                  "With Colour: each shape in a random colour on a dark coloured background (an RGB set without "
                  "downloads; a GPU or a long CPU run)."),
    DatasetChoice("mnist", "MNIST IDX files…", "mnist:", "file",
                  "MNIST: 60,000 28×28 handwritten digits. Choose train-images-idx3-ubyte[.gz]; its labels file next to "
                  "it (train-labels-idx1-ubyte[.gz]) gives the classes 0–9. Size 14 trains 4× faster than 28."),
    DatasetChoice("fashion", "Fashion-MNIST IDX files…", "fashion:", "file",
                  "Fashion-MNIST: 60,000 28×28 clothing images in 10 classes. Choose train-images-idx3-ubyte[.gz]; its "
                  "labels file next to it gives the classes."),
    DatasetChoice("folder", "A folder of images…", "folder:", "folder",
                  "Every image (PNG, JPG, BMP, GIF, WebP, TIFF) in a folder, centre-cropped to a square and resized; "
                  "with sub-folders, one class per sub-folder. Other files are skipped (and named)."),
)
CHOICE_BY_KEY = {c.key: c for c in CHOICES}


class ImageDatasetChooser(QWidget):
    """Dataset list, path, size, colour, class-conditional switch and a Load button; see the module docstring."""

    loaded = Signal(object, str, list)  # (ImageDataset, spec, warning texts)
    failed = Signal(str)
    classesRequested = Signal(bool)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.loader: DatasetLoader | None = None

        self.choice = QComboBox()
        for c in CHOICES:
            self.choice.addItem(c.label, c.key)
            self.choice.setItemData(self.choice.count() - 1, c.about, Qt.ItemDataRole.ToolTipRole)
        self.choice.setToolTip("Which image dataset to train on (hover an entry for what it holds)")
        self.choice.currentIndexChanged.connect(self._choice_changed)

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("choose with Browse…")
        self.path_edit.setToolTip("The IDX images file (MNIST, Fashion-MNIST) or the folder of images to load")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip("Choose the file or folder with a file dialog")
        self.browse_button.clicked.connect(self.browse)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Fetch the official training files (gzipped IDX, SHA-256 checked) into the "
                                        "cache folder\n(~/.cache/diffusion-playground or $DIFFUSION_PLAYGROUND_CACHE) "
                                        "and fill in the path; needs a network connection")
        self.download_button.clicked.connect(self.download)
        self.downloader: DatasetDownloader | None = None
        self.download_dialog: QProgressDialog | None = None
        path_row = QHBoxLayout()
        path_row.setContentsMargins(0, 0, 0, 0)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        path_row.addWidget(self.download_button)
        self.path_row = QWidget()
        self.path_row.setLayout(path_row)

        self.size_spin = QSpinBox()
        self.size_spin.setRange(NATIVE_SIZE, 128)
        self.size_spin.setSpecialValueText("native")
        self.size_spin.setSuffix(" px")
        self.size_spin.setValue(NATIVE_SIZE)
        self.size_spin.setToolTip(
            "Resize every image to size × size pixels ('native': the set's own size: 8 for digits, 28 for MNIST,\n"
            "the drawing size for shapes, the images' common square size for a folder). The U-Net's cost grows with\n"
            "the pixel count: halving the size trains about 4× faster."
        )
        self.colour = QComboBox()
        self.colour.addItem("grayscale", False)
        self.colour.addItem("RGB", True)
        self.colour.setToolTip("One grey channel, or three colour channels (grayscale sets are repeated into R, G, B)")

        self.classes_box = QCheckBox("class-conditional (labels)")
        self.classes_box.setToolTip(
            "Train s_θ(x, t, y) on the labels y (digits, shapes, MNIST with its labels file, a folder with one\n"
            "sub-folder per class), with label dropout 0.15, so sampling can be guided to one class:\n"
            "s = (1 + w) s_θ(x, t, y) − w s_θ(x, t, ∅) (classifier-free guidance, Ho & Salimans 2022).\n"
            "Disabled for an unlabelled set. Changing it resets a trained model."
        )
        self.classes_box.toggled.connect(self._classes_toggled)

        self.load_button = QPushButton("Load dataset")
        self.load_button.setToolTip("Load the chosen dataset and train on it (image mode); the 2D target is kept for "
                                    "when you pick one again")
        self.load_button.clicked.connect(self.load)

        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setToolTip("What the chosen dataset holds")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setToolTip("The dataset the app trains on now")

        self.form = QFormLayout()
        self.form.addRow("dataset", self.choice)
        self.form.addRow("files", self.path_row)
        self.form.addRow("size", self.size_spin)
        self.form.addRow("colour", self.colour)
        self.form.addRow("", self.classes_box)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.load_button)
        lay.addWidget(self.about)
        lay.addStretch(1)
        lay.addWidget(self.status)

        state.imagesChanged.connect(self.refresh)
        state.settingsChanged.connect(lambda names: self.refresh() if "image_classes" in names else None)
        self._choice_changed()
        self.refresh()

    # ---- choosing ----------------------------------------------------------------------------------------------
    def current_choice(self) -> DatasetChoice:
        return CHOICE_BY_KEY[self.choice.currentData()]

    def set_choice(self, key: str) -> None:
        self.choice.setCurrentIndex(self.choice.findData(key))

    def _choice_changed(self, *_args) -> None:
        c = self.current_choice()
        self.form.setRowVisible(self.path_row, bool(c.path))
        self.download_button.setVisible(c.key in ("mnist", "fashion"))
        self.about.setText(c.about)

    def browse(self) -> None:
        """Ask for the chosen set's file or folder with a file dialog."""
        c = self.current_choice()
        start = self.path_edit.text().strip()
        if c.path == "folder":
            path = QFileDialog.getExistingDirectory(self, "Folder of images", start)
        elif c.path == "file":
            path, _ = QFileDialog.getOpenFileName(
                self, f"{c.label.rstrip('…')}: the images file", start,
                "IDX images (*idx3-ubyte *idx3-ubyte.gz *.idx3-ubyte *.gz);;All files (*)")
        else:
            return
        if path:
            self.path_edit.setText(path)

    def download(self, confirm: bool = True) -> bool:
        """Download the chosen IDX set (MNIST / Fashion-MNIST) with a progress dialog; the path is filled in when it
        is done. False when nothing started (not an IDX set, a download running, or the user said no)."""
        c = self.current_choice()
        if c.key not in ("mnist", "fashion") or self.downloader is not None:
            return False
        from playground.data.images.download import IDX_DOWNLOADS, default_cache_dir

        files = IDX_DOWNLOADS[c.key]["files"]
        megabytes = sum(size for name, (size, _sha) in files.items() if name.startswith("train")) / 1e6
        folder = default_cache_dir() / c.key
        if confirm and QMessageBox.question(
            self, "Download", f"Download the {c.label.rstrip('…')} training files ({megabytes:.0f} MB) into\n{folder}?"
        ) != QMessageBox.StandardButton.Yes:
            return False
        th = DatasetDownloader(c.key)
        dialog = QProgressDialog(f"Downloading {c.label.rstrip('…')}…", "Cancel", 0, 1000, self)
        dialog.setWindowTitle("Download")
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(th.cancel)
        th.progress.connect(self._download_progress)
        th.done.connect(self._downloaded)
        th.failed.connect(lambda text: self.failed.emit(f"the download failed: {text}"))
        th.finished.connect(lambda t=th: self._download_finished(t))
        self.downloader, self.download_dialog = th, dialog
        self.download_button.setEnabled(False)
        th.start()
        return True

    def _download_progress(self, name: str, done: int, total: int) -> None:
        if self.download_dialog is not None:
            self.download_dialog.setLabelText(f"{name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
            self.download_dialog.setValue(int(1000 * done / total) if total else 0)

    def _downloaded(self, folder: str) -> None:
        self.path_edit.setText(folder)
        self.status.setText(f"Downloaded into {folder}; press Load dataset.")

    def _download_finished(self, th: DatasetDownloader) -> None:
        if th is self.downloader:
            self.downloader = None
            self.download_button.setEnabled(True)
            if self.download_dialog is not None:
                self.download_dialog.reset()
                self.download_dialog.deleteLater()
                self.download_dialog = None
        th.deleteLater()

    def chosen_spec(self) -> str | None:
        """The spec of the chosen set ('digits', 'mnist:/path', ...), or None when its path is still missing."""
        c = self.current_choice()
        if not c.path:
            return c.spec
        path = self.path_edit.text().strip()
        return c.spec + path if path else None

    def chosen_size(self) -> int | None:
        v = int(self.size_spin.value())
        return None if v <= NATIVE_SIZE else v

    def chosen_rgb(self) -> bool:
        return bool(self.colour.currentData())

    # ---- loading -----------------------------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        return self.loader is not None

    def load(self) -> bool:
        """Load the chosen dataset in the background; False (with `failed` emitted) when there is nothing to load."""
        spec = self.chosen_spec()
        if spec is None:
            what = "folder" if self.current_choice().path == "folder" else "images file"
            self.failed.emit(f"Choose the {what} first (Browse…).")
            return False
        return self.load_spec(spec, self.chosen_size(), self.chosen_rgb())

    def load_spec(self, spec: str, size: int | None = None, rgb: bool = False) -> bool:
        """Load `spec` in the background (`loaded` or `failed` follows); False while another load runs."""
        if self.loader is not None:
            return False
        th = DatasetLoader(spec, size, rgb)
        th.loaded.connect(self._on_loaded)
        th.failed.connect(self._on_failed)
        th.finished.connect(lambda t=th: self._on_finished(t))
        self.loader = th
        self.load_button.setEnabled(False)
        self.load_button.setText("Loading…")
        th.start()
        return True

    def _on_loaded(self, dataset, spec: str, notes: list) -> None:
        self.loaded.emit(dataset, spec, notes)

    def _on_failed(self, text: str) -> None:
        self.failed.emit(text)

    def _on_finished(self, th: DatasetLoader) -> None:
        if th is self.loader:
            self.loader = None
            self.load_button.setEnabled(True)
            self.load_button.setText("Load dataset")
        th.deleteLater()

    def shutdown(self) -> None:
        """Stop waiting for a load or download (within a second); a loader still reading is left to finish, its
        result dropped; a download is cancelled."""
        down, self.downloader = self.downloader, None
        if down is not None:
            down.cancel()
            self._drop(down, (down.progress, down.done, down.failed))
        th, self.loader = self.loader, None
        if th is not None:
            self._drop(th, (th.loaded, th.failed))

    @staticmethod
    def _drop(th: QThread, signals: tuple) -> None:
        """Disconnect th's result signals and wait up to a second for it; then leave it to finish on its own."""
        for sig in signals:
            try:
                sig.disconnect()
            except (RuntimeError, TypeError):
                pass
        if not th.wait(1000):
            from playground.app.workers.threads import keep_until_finished

            th.setParent(None)
            keep_until_finished(th)

    # ---- state -------------------------------------------------------------------------------------------------
    def _classes_toggled(self, on: bool) -> None:
        if on != self.state.settings.image_classes:
            self.classesRequested.emit(on)

    def refresh(self) -> None:
        """Show the class-conditional setting (disabled for a loaded set without labels) and the loaded set."""
        images = self.state.images
        self.classes_box.blockSignals(True)
        try:
            self.classes_box.setChecked(self.state.settings.image_classes)
        finally:
            self.classes_box.blockSignals(False)
        self.classes_box.setEnabled(images is None or images.labels is not None)
        if images is None:
            self.status.setText("Now: a 2D target. Load a dataset to train on images.")
        else:
            c, h, w = images.shape
            self.status.setText(f"Now training on: {images.name} ({len(images):,} images {c}×{h}×{w}).")


__all__ = ["CHOICES", "DatasetChoice", "ImageDatasetChooser"]
