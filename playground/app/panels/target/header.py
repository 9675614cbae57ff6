"""The Target panel's header: a preview picture and a description of what the app trains on now, a 2D target (its
histogram and what is known exactly about it) or an image dataset (its first images, size, shape and classes)."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QWidget

from playground.app.panels.target.previews import grid_image, histogram_image
from playground.core.diffusion.exact_score import exact_score_label
from playground.data.targets.presets import PRESETS
from playground.data.targets.target import Target

TARGET_TIP = "The current target: a 2D histogram of the samples the model trains on"


def describe_target(target: Target, n_samples: int | None = None) -> str:
    """Rich text: the target's name and what exact knowledge it carries."""
    name = target.name
    p = target.params or {}
    head = f"<b>{_html(name)}</b>"
    if p.get("noise") is not None and name in PRESETS:
        head += f" &middot; noise {p['noise']:g}"
    parts = [f"exact score: {exact_score_label(target)}"]
    if target.points is not None and (n_file := p.get("n_points_in_file")):
        parts.append(f"{len(target.points):,} of {n_file:,} points in the file, a random subset")
    if target.log_density is not None:
        if "raster" in p:
            r = p["raster"]
            parts.append(f"exact density (raster {r.shape[1]}×{r.shape[0]})")
        else:
            parts.append("exact density")
    if target.entropy is not None:
        parts.append(f"entropy {target.entropy:.3f} nats")
    tail = f"<br><span style='color:gray'>{n_samples} samples</span>" if n_samples else ""
    return head + "<br>" + " &middot; ".join(parts) + tail


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def describe_images(dataset, spec: str | None = None) -> str:
    """Rich text: the dataset's name, size, shape and classes."""
    c, h, w = dataset.shape
    parts = [f"{len(dataset):,} images {c}×{h}×{w}", "RGB" if c == 3 else "grayscale"]
    if dataset.labels is not None:
        names = list(dataset.class_names)
        shown = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
        parts.append(f"{dataset.num_classes} classes ({html.escape(shown)})")
    else:
        parts.append("unlabelled")
    where = f"<br><span style='color:gray'>{html.escape(spec)}</span>" if spec and ":" in spec else ""
    return (f"<b>{html.escape(dataset.name or 'images')}</b> &middot; " + " &middot; ".join(parts) + where
            + "<br><span style='color:gray'>Image mode: a U-Net trains on these images. Pick a 2D target to go "
              "back.</span>")


class TargetHeader(QWidget):
    """The preview (112 px) and the rich-text description beside it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.preview = QLabel()
        self.preview.setFixedSize(112, 112)
        self.preview.setScaledContents(True)
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview.setToolTip(TARGET_TIP)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.info.setToolTip(
            "The current target's name and what is known exactly about it. Its exact score (the Score field's\n"
            "green arrows, the Sampling panel's 'exact score'): the closed form of a Gaussian mixture, else the\n"
            "ideal denoiser of its point set (of 4,000 fixed samples for a continuous target, which it memorises);\n"
            "an exact density and entropy where the target has them."
        )
        self.info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.preview)
        lay.addWidget(self.info, 1)

    def show_target(self, target: Target, samples: np.ndarray) -> None:
        self.preview.setToolTip(TARGET_TIP)
        self.info.setText(describe_target(target, len(samples)))
        self.preview.setPixmap(QPixmap.fromImage(histogram_image(samples, bins=96)))

    def show_images(self, dataset, spec: str | None) -> None:
        self.info.setText(describe_images(dataset, spec))
        self.preview.setPixmap(QPixmap.fromImage(grid_image(dataset.images)))
        self.preview.setToolTip("The image dataset: its first 16 images")


__all__ = ["TargetHeader", "describe_images", "describe_target"]
