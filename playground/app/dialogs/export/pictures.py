"""Pictures of the app: a widget as PNG (QWidget.grab) or SVG (QSvgGenerator), and pyqtgraph scenes rendered at a
chosen size (the frames of the animations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from playground.core.io.atomic import atomic_write


def image_bytes(image: QImage, fmt: str = "PNG") -> bytes:
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, fmt):
        raise OSError(f"could not encode the image as {fmt}")
    return bytes(buf.data())


def svg_bytes(widget: QWidget, title: str = "") -> bytes:
    """The widget painted into an SVG document (vector where Qt paints vectors: plot curves, text, axes)."""
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    size = widget.size()
    gen.setSize(size)
    gen.setViewBox(QRectF(0, 0, size.width(), size.height()))
    gen.setTitle(title or "Diffusion Playground")
    gen.setDescription("Exported from Diffusion Playground")
    p = QPainter()
    if not p.begin(gen):
        raise OSError("could not start the SVG painter")
    try:
        widget.render(p, QPoint())
    finally:
        p.end()
    buf.close()
    return bytes(data)


def save_widget_picture(widget: QWidget, path, title: str = "") -> Path:
    """A widget as PNG or SVG (by suffix), written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = image_bytes(widget.grab().toImage(), "PNG")
    elif suffix == ".svg":
        data = svg_bytes(widget, title)
    else:
        raise ValueError(f"{path.name}: pictures are saved as .png or .svg")
    atomic_write(path, data)
    return path


def export_picture(window, key: str, path: Path, title: str) -> str:
    """Write the picture a 'panel:<name>' key names (a dock's panel, or the whole window); returns the message."""
    name = key.split(":", 1)[1]
    widget = window if name == "window" else window.panels[name]
    save_widget_picture(widget, path, title)
    return f"Wrote {path.name} ({path.stat().st_size:,} bytes)."


def qimage_to_rgb(img: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage."""
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    a = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    return a[:, : w * 3].reshape(h, w, 3).copy()


def views_aspect(views) -> float:
    """Width / height of `views` side by side (what an animation keeps)."""
    w = sum(max(1, v.width()) for v in views)
    h = max((max(1, v.height()) for v in views), default=1)
    return w / h


def render_views(views, size: tuple[int, int]) -> QImage:
    """pyqtgraph views (GraphicsView / PlotWidget) side by side in `size` (w, h) in all, each drawn at its cell's size
    (the view is laid out at that size for the render and put back): text keeps its point size however small the
    picture, and a cell of another shape than the view shows more of the plot instead of a letterboxed strip."""
    w, h = int(size[0]), int(size[1])
    img = QImage(w, h, QImage.Format.Format_RGB32)
    bg = views[0].backgroundBrush().color() if views else QColor("white")
    img.fill(bg)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    try:
        cell = w / max(1, len(views))
        for i, v in enumerate(views):
            old = v.size()
            cw = int(round((i + 1) * cell)) - int(round(i * cell))
            v.resize(cw, h)
            try:
                scene = v.scene()
                src = QRectF(v.sceneRect() if hasattr(v, "sceneRect") else scene.sceneRect())
                if src.width() > 0 and src.height() > 0:
                    scene.render(p, QRectF(int(round(i * cell)), 0, cw, h), src, Qt.AspectRatioMode.IgnoreAspectRatio)
            finally:
                v.resize(old)
    finally:
        p.end()
    return img
