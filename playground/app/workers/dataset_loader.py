"""Image datasets off the UI thread: `DatasetLoader` reads one (`load_image_dataset`, its DataWarnings collected as
texts), `DatasetDownloader` fetches MNIST / Fashion-MNIST into the cache (`download_idx_dataset`, SHA-256 checked).
Both report a failure as a message, never an exception."""

from __future__ import annotations

import warnings

from PySide6.QtCore import QThread, Signal

from playground.data.targets.target import DataError


class DatasetLoader(QThread):
    """Loads one image dataset (`load_image_dataset`) off the UI thread; DataWarnings are collected as texts."""

    loaded = Signal(object, str, list)  # (ImageDataset, spec, warning texts)
    failed = Signal(str)

    def __init__(self, spec: str, size: int | None, rgb: bool):
        super().__init__()
        self.spec, self.size, self.rgb = spec, size, rgb

    def run(self) -> None:
        from playground.data.images.dataset import DataWarning
        from playground.data.images.spec import load_image_dataset

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DataWarning)
                dataset = load_image_dataset(self.spec, self.size, self.rgb)
        except DataError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a loader bug is a message, never a crash
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        notes = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
        self.loaded.emit(dataset, self.spec, notes)


class DatasetDownloader(QThread):
    """Downloads MNIST or Fashion-MNIST (`download_idx_dataset`, SHA-256 checked) off the UI thread; `cancel()` stops
    it at the next chunk (the partial file is deleted)."""

    progress = Signal(str, int, int)  # (file name, bytes done, bytes total)
    done = Signal(str)  # the folder
    failed = Signal(str)

    def __init__(self, kind: str, cache_dir: str | None = None):
        super().__init__()
        self.kind, self.cache_dir = kind, cache_dir
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def _progress(self, name: str, done: int, total: int) -> None:
        if self._cancelled:
            raise DataError("cancelled")
        self.progress.emit(name, done, total)

    def run(self) -> None:
        from playground.data.images.download import download_idx_dataset

        try:
            folder = download_idx_dataset(self.kind, self.cache_dir, splits=("train",), progress=self._progress)
        except Exception as exc:  # noqa: BLE001 - no network, a bad checksum or a full disk: a message
            self.failed.emit("Download cancelled." if self._cancelled else str(exc))
            return
        self.done.emit(str(folder))


__all__ = ["DatasetDownloader", "DatasetLoader"]
