"""The trained network -> ONNX or a torch.export program (.pt2), exported in a worker process
(`playground.app.workers.model_export_process`) and checked against PyTorch (`playground.core.io.export.export_model`);
Cancel terminates the process at once and writes nothing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from playground.app.dialogs.export.items import FORMAT_LABELS
from playground.app.workers.export_worker import ModelExportJob


def model_unavailable(window) -> str:
    """'' when there is a model to export, else why not."""
    return "Train a model first (Train > Play) or open one." if window.state.model is None else ""


class ModelExport(QObject):
    """One model export in a ModelExportJob; `report` is its ExportReport once it has succeeded."""

    status = Signal(str)  # what it is doing
    finished = Signal(bool, str, object)  # ok, message, the file written (None when not)

    def __init__(self, model, path: Path, fmt: str, parent: QObject | None = None):
        super().__init__(parent)
        self.model, self.path, self.fmt = model, path, fmt
        self.worker: ModelExportJob | None = None
        self.report = None

    def start(self) -> None:
        job = ModelExportJob(self.model, self.path, self.fmt, parent=self)
        job.started.connect(lambda: self.status.emit(
            f"Exporting the model as {FORMAT_LABELS[self.fmt]} and checking it against PyTorch… (Cancel stops it)"))
        job.result.connect(self._on_done)
        self.worker = job
        self.status.emit("Starting the export process…")
        job.start()

    def cancel(self) -> None:
        """Stop the export now; nothing is written."""
        if self.worker is not None and self.worker.running:
            self.worker.cancel()
            self.finished.emit(False, "Cancelled: nothing was written.", None)

    def _on_done(self, result) -> None:
        if isinstance(result, str):
            self.finished.emit(False, f"Model export failed: {result}", None)
            return
        self.report = result
        diff = result.max_abs_diff
        check = (f"max abs difference vs PyTorch {diff:.3g} ({result.checked_with})" if diff is not None
                 else "not checked (no runtime installed)")
        self.finished.emit(True, f"Wrote {result.path.name} in {result.seconds:.1f} s; {check}.", result.path)
