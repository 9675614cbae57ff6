"""The trained network -> ONNX or a torch.export program (.pt2), exported in a worker thread from a copy of the
model and checked against PyTorch (`playground.core.io.export.export_model`)."""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from playground.app.dialogs.export.items import FORMAT_LABELS
from playground.app.workers.export_worker import ModelExportThread


def model_unavailable(window) -> str:
    """'' when there is a model to export, else why not."""
    return "Train a model first (Train > Play) or open one." if window.state.model is None else ""


class ModelExport(QObject):
    """One model export in a ModelExportThread; `report` is its ExportReport once it has succeeded."""

    status = Signal(str)  # what it is doing
    finished = Signal(bool, str, object)  # ok, message, the file written (None when not)

    def __init__(self, model, path: Path, fmt: str, threads: list, parent: QObject | None = None):
        """Started threads join `threads` (the dialog's list, waited for on shutdown)."""
        super().__init__(parent)
        self.model, self.path, self.fmt, self.threads = model, path, fmt, threads
        self.worker: ModelExportThread | None = None
        self.report = None

    def start(self) -> None:
        model = copy.deepcopy(self.model)  # the worker owns its copy; the app's snapshot stays free
        th = ModelExportThread(model, self.path, self.fmt)
        th.result.connect(self._on_done)
        self.worker = th
        self.threads.append(th)
        self.status.emit(f"Exporting the model as {FORMAT_LABELS[self.fmt]} and checking it against PyTorch…")
        th.start()

    def _on_done(self, result) -> None:
        self.worker.wait(2000)
        if isinstance(result, BaseException):
            self.finished.emit(False, "Model export failed: "
                               f"{' '.join(str(result).split()) or type(result).__name__}", None)
            return
        self.report = result
        diff = result.max_abs_diff
        check = (f"max abs difference vs PyTorch {diff:.3g} ({result.checked_with})" if diff is not None
                 else "not checked (no runtime installed)")
        self.finished.emit(True, f"Wrote {result.path.name} in {result.seconds:.1f} s; {check}.", result.path)
