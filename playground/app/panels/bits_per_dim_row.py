"""BitsPerDimRow: the Sampling (images) panel's bits/dim button and result line.

It estimates the current image model's negative log-likelihood of BPD_IMAGES seeded dataset images in bits per
dimension (`playground.core.evaluation.image_likelihood.bits_per_dim`: the PF-ODE's change of variables, Song et
al. 2021 Sec. 4.3, with Hutchinson's trace estimator) in a `BitsPerDimThread`; the button cancels a running one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from playground.app.workers.image_sampling_worker import BitsPerDimOutcome, BitsPerDimThread

BPD_IMAGES = 64
BPD_TOL = 1e-4  # rtol = atol of the likelihood ODE


class BitsPerDimRow(QWidget):
    """A Bits/dim button (press again to cancel) and the estimate of the last run."""

    def __init__(self, state, problem: Callable[[], str | None], threads: list, parent: QWidget | None = None):
        """`problem()` says why no estimate can run now (None: it can); started threads join `threads` (the
        panel's list of workers to stop on shutdown)."""
        super().__init__(parent)
        self.state = state
        self.problem = problem
        self.threads = threads
        self.tol = BPD_TOL
        self.outcome: BitsPerDimOutcome | None = None
        self.worker: BitsPerDimThread | None = None
        self._model = None  # the snapshot the last estimate was for
        self.button = QPushButton("Bits/dim")
        self.button.setToolTip(
            f"Estimate the model's negative log-likelihood of {BPD_IMAGES} dataset images in bits per dimension:\n"
            "the PF-ODE's change of variables with Hutchinson's trace estimator (dequantised pixels, 8-bit offset),\n"
            f"rtol = atol = {BPD_TOL:g}. Runs in the background; press again to cancel.")
        self.button.clicked.connect(self._on_button)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setToolTip("Mean ± standard error over the images; an estimate (Hutchinson's estimator and the\n"
                              "ODE tolerance add noise and bias), comparable between models on the same images.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.label, 1)

    def _on_button(self) -> None:
        if self.worker is not None:
            self.cancel()
        else:
            self.start()

    def start(self) -> bool:
        """Estimate bits/dim of BPD_IMAGES seeded dataset images in a thread; False (with a message) when no model."""
        problem = self.problem()
        if problem is not None:
            self.label.setText(problem)
            return False
        ds = self.state.images
        rng = np.random.default_rng(int(self.state.settings.seed))
        idx = np.sort(rng.choice(len(ds), size=min(BPD_IMAGES, len(ds)), replace=False))
        self._model = self.state.model
        th = BitsPerDimThread(self._model, ds.images[idx], tol=self.tol, seed=int(self.state.settings.seed))
        th.done.connect(self._on_done)
        self.worker = th
        self.threads[:] = [t for t in self.threads if t.isRunning()]
        self.threads.append(th)
        th.start()
        self.outcome = None
        self.label.setText(f"Estimating bits/dim of {len(idx)} images through the PF-ODE…")
        self.sync()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
            self.label.setText("Bits/dim cancelled.")
        self.sync()

    def _on_done(self, out: BitsPerDimOutcome) -> None:
        if self.sender() is not self.worker:
            return
        self.worker = None
        self.outcome = out
        if out.error:
            self.label.setText(f"Bits/dim failed: {out.error}")
        elif not out.cancelled:
            older = "" if self._model is self.state.model else " (an earlier model snapshot)"
            self.label.setText(
                f"{out.bpd:.2f} ± {out.sem:.2f} bits/dim ({out.n} images, NFE {out.nfe}, {out.seconds:.1f} s){older}"
                " — an estimate: Hutchinson trace on the PF-ODE, dequantised pixels")
        self.sync()

    def sync(self) -> None:
        """The button: enabled when an estimate can run (or is running, to cancel it); its text says which."""
        self.button.setEnabled(self.problem() is None or self.worker is not None)
        self.button.setText("Cancel bits/dim" if self.worker is not None else "Bits/dim")
