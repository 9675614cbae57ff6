"""File > Export from the window: the export dialog (samples, trajectories, pictures, animations, the model), and
`export(path)` by suffix for scripts and tests (samples as CSV / NPY, a panel as PNG / SVG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox


class WindowExport:
    """Exports of one window; the dialog is made once and reused."""

    def __init__(self, window):
        self.window = window
        self.dialog = None

    def open_dialog(self):
        """File > Export: samples, trajectories, pictures, animations and the model (`ExportDialog`)."""
        from playground.app.dialogs.export_dialog import ExportDialog

        if self.dialog is None:
            self.dialog = ExportDialog(self.window)
        dlg = self.dialog
        dlg.refresh(self.window.last_dock)
        dlg.show()
        dlg.raise_()
        return dlg

    def export(self, path: str, panel: str | None = None) -> bool:
        """Export by suffix: .csv / .npy -> samples of the current model (the target's samples when untrained);
        .png / .svg -> a picture of `panel` (default: the panel used last). Atomic writes. (File > Export opens
        `ExportDialog`, which offers more.)"""
        from playground.app.dialogs.export.pictures import save_widget_picture
        from playground.core.io.sample_files import save_samples

        w = self.window
        suffix = Path(path).suffix.lower()
        try:
            if suffix in (".png", ".svg"):
                key = panel or w.last_dock
                save_widget_picture(w.panels[key], path)  # atomic
            elif suffix in (".csv", ".npy"):
                x, what = self.samples()
                save_samples(path, x)  # atomic
                w.statusBar().showMessage(f"Exported {len(x):,} {what} to {Path(path).name}", 5000)
            else:
                raise ValueError("choose a file ending in .csv, .npy, .png or .svg")
        except Exception as exc:  # noqa: BLE001
            w.show_message("Cannot export", f"{Path(path).name}: {exc}", QMessageBox.Icon.Warning)
            return False
        w.store.setValue("files/last_dir", str(Path(path).parent))
        return True

    def samples(self) -> tuple[np.ndarray, str]:
        """(samples (n, 2), description): the model's reverse-SDE samples, or the target's when untrained."""
        st = self.window.state
        s = st.settings
        model = st.model
        if model is None:
            return np.asarray(st.target_samples[: s.n_particles], np.float32), "target samples"
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            x = model.sample(s.n_particles, sampler=s.sde_sampler, steps=s.sample_steps, seed=s.seed)
        finally:
            QApplication.restoreOverrideCursor()
        return np.asarray(x, np.float32), f"model samples ({s.sde_sampler}, {s.sample_steps} steps)"

    def close(self) -> None:
        """The window closes: stop a running export and close the dialog."""
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.close()
