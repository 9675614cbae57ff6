"""InpaintViews: what the Inpainting panel shows beside its canvas: the original, the masked input, the results and
a line on the results' L2 errors over the masked region.

    Original | Masked
    Results (live: the denoised estimate x̂₀ of the latest step; finished: captions "L2 <error>")
    L2 error on the <values> generated values: mean, best, worst, mean RMSE
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.app.widgets.image_view import ImageGridView
from playground.app.widgets.mask_canvas import MASK_RGBA


def masked_rgb(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The (C, H, W) [0, 1] image as RGB (1, 3, H, W) with the generated pixels (mask True) in the mask's colour."""
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image.copy()
    rgb[:, mask] = (np.asarray(MASK_RGBA[:3], np.float32) / 255)[:, None]
    return rgb[None]


def describe_errors(errors: np.ndarray, values: int) -> str:
    """One line on the results' L2 errors over `values` generated values: mean, best, worst and mean RMSE."""
    best, worst = int(np.argmin(errors)), int(np.argmax(errors))
    return (f"L2 error on the {values} generated values: mean {errors.mean():.3f}, best {errors[best]:.3f} "
            f"(#{best + 1}), worst {errors[worst]:.3f} (#{worst + 1}); mean RMSE "
            f"{errors.mean() / math.sqrt(values):.3f} a value (pixels in [0, 1]).")


def result_columns(n: int) -> int:
    """Columns of a grid of n results: about square, at least four wide."""
    return min(n, max(4, math.ceil(math.sqrt(n))))


class InpaintViews(QWidget):
    """The original and masked images over the results grid and the errors line."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.original = ImageGridView(title="Original")
        self.original.setToolTip("The dataset image x (the target of the error below).")
        self.masked = ImageGridView(title="Masked")
        self.masked.setToolTip("What the model sees: the kept pixels of x; the pink ones are generated.")
        self.results = ImageGridView(title="Results")
        self.results.setToolTip(
            "The inpainted images: the kept pixels equal the original exactly; the generated ones come from the\n"
            "model. While running: the denoised estimate x̂₀ = (x + σ² s_θ) / α of the latest step.\n"
            "Captions: each result's L2 error on the masked region.")
        self.errors = QLabel("")
        self.errors.setWordWrap(True)
        self.errors.setToolTip("L2 error of result k on the generated pixels: ‖(x̂_k − x) ⊙ m‖₂ over all\n"
                               "channels, pixel values in [0, 1]; RMSE = L2 / √(masked values).\n"
                               "A plausible fill need not match the original: it is a sample, not a guess.")
        inputs = QHBoxLayout()
        inputs.addWidget(self.original, 1)
        inputs.addWidget(self.masked, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(inputs, 2)
        layout.addWidget(self.results, 3)
        layout.addWidget(self.errors)

    def show_message(self, text: str) -> None:
        """The results view shows `text` instead of results; the errors line is emptied."""
        self.results.set_message(text)
        self.errors.setText("")

    def show_inputs(self, image: np.ndarray | None, mask: np.ndarray | None) -> bool:
        """Show the (C, H, W) image and its masked input; False (both views emptied) without an image or with a
        mask of another size."""
        if image is None or mask is None or mask.shape != image.shape[1:]:
            self.original.set_message("")
            self.masked.set_message("")  # not clear(): pyqtgraph's instance attribute shadows ImageGridView's
            return False
        self.original.set_images(image[None], 1)
        self.masked.set_images(masked_rgb(image, mask), 1)
        return True

    def show_live(self, pixels: np.ndarray, t: float) -> None:
        """A running batch's denoised estimate at time t (the step is in the panel's progress bar)."""
        self.results.set_images(pixels, result_columns(len(pixels)))
        self.results.set_title(f"x̂₀ at t = {t:.2f}")

    def show_results(self, results: np.ndarray, errors: np.ndarray, mask: np.ndarray) -> None:
        """Finished results with their L2 errors on the generated pixels of `mask` (steps and NFE: in the status)."""
        captions = [f"L2 {e:.2f}" for e in errors]
        self.results.set_images(results, result_columns(len(results)), captions)
        self.results.set_title(f"Results ({len(results)})")
        self.errors.setText(describe_errors(errors, int(mask.sum()) * results.shape[1]))
