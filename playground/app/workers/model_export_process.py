"""The model export in a worker PROCESS (`ModelExportProcess`), Qt-free: the spawned child loads the model file and runs
`playground.core.io.export.export_model`; the parent polls for its result.

Why a process and not a thread: torch's exporters cannot be interrupted mid-call, and the ONNX one (the dynamo
exporter: some 10 s of Python-level tracing and graph passes for a small MLP) holds the GIL for most of its run, so a
thread would slow the UI for as long and keep running after a Cancel. A spawned process has its own GIL (the UI stays
fluid), and Cancel terminates it at once. Starting it costs the child's imports (torch, onnx: a few seconds), small
next to an ONNX export.

No partial file: the child writes into a private temporary folder; only when it reports success does the parent copy
the checked file to its place (atomically, `atomic_write`), and the folder is removed whatever happens.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

MODEL_FILE = "model.safetensors"


def _child_main(conn, model_file: str, out: str, fmt: str) -> None:
    """Entry point of the export process: ('started',), then ('done', ExportReport) or ('error', message)."""
    import torch

    torch.set_num_threads(1)  # the UI process keeps the other core
    try:
        from playground.core.io.export import export_model
        from playground.core.training.model_file import load_model

        conn.send(("started",))
        report = export_model(load_model(model_file), out, fmt)
        conn.send(("done", report))
    except Exception as exc:  # noqa: BLE001 - ExportDependencyError included: a message
        conn.send(("error", " ".join(str(exc).split()) or type(exc).__name__))
    finally:
        conn.close()


class ModelExportProcess:
    """Export `model` to `path` as `fmt` in a spawned process; `poll()` until it returns the outcome, or `cancel()`."""

    def __init__(self, model, path: Path, fmt: str):
        import multiprocessing as mp

        from playground.core.io.export import EXPORT_FORMATS
        from playground.core.training.model_file import save_model

        self.path, self.fmt = Path(path), fmt
        self.started = False  # the child has imported the exporter and is exporting
        self.folder = Path(tempfile.mkdtemp(prefix="playground-export-"))
        try:
            save_model(self.folder / MODEL_FILE, model)
            self.out = self.folder / f"model{EXPORT_FORMATS.get(fmt, '.out')}"
            ctx = mp.get_context("spawn")
            self.conn, child = ctx.Pipe(duplex=False)
            self.proc = ctx.Process(target=_child_main, args=(child, str(self.folder / MODEL_FILE), str(self.out), fmt),
                                    daemon=True, name="playground-export")
            self.proc.start()
        except BaseException:
            self._remove_folder()
            raise
        child.close()

    def poll(self) -> tuple | None:
        """None while the export runs; then once ('done', ExportReport with path = the file written) or
        ('error', message). The temporary folder is gone after either."""
        msg = self._message()
        if msg is None and not self.proc.is_alive():
            msg = self._message() or ("error", f"the export process ended unexpectedly (exit code {self.proc.exitcode})")
        if msg is None:
            return None
        try:
            if msg[0] == "done":
                from playground.core.io.atomic import atomic_write

                report = msg[1]
                atomic_write(self.path, self.out.read_bytes())
                report.path = self.path
                return "done", report
            return msg
        except OSError as exc:
            return "error", f"{self.path}: cannot be written ({exc.strerror or exc})"
        finally:
            self._stop()  # the child has nothing left to do but its interpreter's teardown (a second or so)
            self._close()

    def _message(self) -> tuple | None:
        """The child's next outcome message ('started' is noted, not returned)."""
        try:
            while self.conn.poll():
                msg = self.conn.recv()
                if msg[0] == "started":
                    self.started = True
                else:
                    return msg
        except (EOFError, OSError):
            return None
        return None

    def cancel(self) -> None:
        """Stop the export now: the process is terminated, nothing is written, the temporary folder removed."""
        self._stop()
        self._close()

    def _stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(2.0)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(2.0)

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        self._remove_folder()

    def _remove_folder(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ["ModelExportProcess"]
