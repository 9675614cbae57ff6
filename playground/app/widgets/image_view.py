"""ImageGridView: a batch of images (N, C, H, W) in [0, 1] shown as one tiled grid, the view every image panel uses.

    view = ImageGridView(title="Dataset")
    view.set_images(batch, columns=8, captions=["0", "1", ...])   # uint8 grid of io.image_grid.image_grid
    view.set_images(batch, columns=8, column_labels=["t=0", ...])  # labels above the columns instead
    view.set_message("Train a model first: Train > Play (Space)")  # hides the grid, shows the text centred
    view.blank()                                                   # nothing at all

One ImageItem holds the whole grid (`playground.core.io.image_grid.image_grid`: tiles on a mid-grey border), drawn
nearest-neighbour with fixed levels [0, 255] (no auto-levels), aspect locked, no axes, mouse pan/zoom off (see
`set_mouse_enabled`). Captions are small text labels on the tiles' top-left corners, column labels sit in a margin
above the grid; both are created once and only re-placed when their texts or the grid geometry change, so a
64-image 8x8 grid redraws at well over 30 Hz.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import QWidget

from playground.core.io.image_grid import image_grid

GRID_PAD = 1  # pixels of mid-grey border between tiles (image_grid's pad)
CAPTION_POINT_SIZE = 7
CAPTION_ROOM = 2.0  # tile captions are drawn when a tile is at least this many caption heights high
LABEL_MARGIN = 0.08  # the column labels' margin above the grid, as a fraction of the grid's height (at least 3 px)
MESSAGE_POINT_SIZE = 10


class ImageGridView(pg.GraphicsLayoutWidget):
    """A tiled grid of images with an optional title, per-tile captions and a centred message when empty."""

    def __init__(self, parent: QWidget | None = None, title: str = ""):
        super().__init__(parent)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # nearest-neighbour pixels
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.plot: pg.PlotItem = self.addPlot()
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setTitle(title or None, size="9pt")
        self.box: pg.ViewBox = self.plot.getViewBox()
        self.box.invertY(True)  # row 0 at the top, like a picture
        self.box.setAspectLocked(True)
        self.box.disableAutoRange()
        self.box.setDefaultPadding(0.0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self._message = pg.TextItem("", color=self._text_colour(), anchor=(0.5, 0.5))
        font = QFont()
        font.setPointSize(MESSAGE_POINT_SIZE)
        self._message.setFont(font)
        self._message.setZValue(100)
        self.plot.addItem(self._message, ignoreBounds=True)
        self._captions: list[pg.TextItem] = []
        self._caption_key: tuple | None = None  # (texts, geometry) the caption items show
        self._column_labels: list[pg.TextItem] = []
        self._label_key: tuple | None = None  # (texts, geometry) the column-label items show
        self._geometry: tuple | None = None  # (rows, cols, tile h, tile w, has column labels) shown
        self.picture: np.ndarray | None = None  # the uint8 grid shown (rows, cols) or (rows, cols, 3), or None
        self.box.sigResized.connect(self._fit_texts)
        self.set_mouse_enabled(False)
        self.set_message("")

    # ---- API -----------------------------------------------------------------------------------------------------
    def set_title(self, title: str) -> None:
        """Text above the grid (empty: no title row)."""
        self.plot.setTitle(title or None, size="9pt")

    def set_images(self, batch: np.ndarray, columns: int | None = None, captions: Sequence[str] | None = None,
                   column_labels: Sequence[str] | None = None) -> None:
        """Show batch (N, C in {1, 3}, H, W), values in [0, 1] (clipped), as one grid of `columns` tiles a row
        (default: about square); captions: one short text per tile (or None); column_labels: one text per column,
        written above the grid when they fit the columns' width (or None)."""
        batch = np.asarray(batch)
        if batch.ndim != 4 or len(batch) == 0:
            raise ValueError(f"ImageGridView needs a (N>0, C, H, W) batch, got shape {batch.shape}")
        n, _, h, w = batch.shape
        cols = max(1, min(int(columns or math.ceil(math.sqrt(n))), n))
        rows = math.ceil(n / cols)
        self.picture = image_grid(batch, cols, pad=GRID_PAD)
        self.image_item.setImage(self.picture, levels=(0, 255), autoLevels=False)
        self.image_item.setVisible(True)
        self._message.setVisible(False)
        labels = tuple(str(c) for c in column_labels[:cols]) if column_labels is not None else ()
        geometry = (rows, cols, h, w, bool(labels))
        if geometry != self._geometry:
            self._geometry = geometry
            ph, pw = self.picture.shape[:2]
            top = -max(3.0, LABEL_MARGIN * ph) if labels else 0.0
            self.box.setRange(xRange=(0, pw), yRange=(top, ph), padding=0.0)
        self._set_captions(captions, n)
        self._set_column_labels(labels)

    def set_message(self, text: str) -> None:
        """Hide the grid and show `text` centred (an empty text: a blank view)."""
        self.image_item.clear()
        self.image_item.setVisible(False)
        self.picture = None
        self._set_captions(None, 0)
        self._set_column_labels(())
        self._geometry = None
        self.box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.0)
        self._message.setHtml(f'<div style="text-align:center">{html.escape(text)}</div>')
        self._message.setPos(0.5, 0.5)
        self._message.setTextWidth(max(120.0, 0.8 * self.width()))
        self._message.setVisible(bool(text))

    def blank(self) -> None:
        """Show nothing (no grid, no message); not `clear`, which pyqtgraph sets on every GraphicsView."""
        self.set_message("")

    def set_mouse_enabled(self, on: bool) -> None:
        """Allow mouse pan and zoom on the grid (off by default)."""
        self.box.setMouseEnabled(x=on, y=on)

    @property
    def message(self) -> str:
        """The message shown, or '' when the grid (or nothing) is shown."""
        return self._message.toPlainText() if self._message.isVisible() else ""

    # ---- captions ------------------------------------------------------------------------------------------------
    def _set_captions(self, captions: Sequence[str] | None, n: int) -> None:
        texts = tuple(str(c) for c in captions[:n]) if captions is not None else ()
        key = (texts, self._geometry)
        if key == self._caption_key:
            return
        self._caption_key = key
        while len(self._captions) < len(texts):
            self._captions.append(self._text_item((255, 255, 160), (0, 0), pg.mkBrush(0, 0, 0, 150)))
        for k, item in enumerate(self._captions):
            if k >= len(texts) or self._geometry is None:
                item.setVisible(False)
                continue
            _, cols, h, w, _ = self._geometry
            r, q = divmod(k, cols)
            item.setText(texts[k])
            item.setPos(GRID_PAD + q * (w + GRID_PAD), GRID_PAD + r * (h + GRID_PAD))
        self._fit_captions()

    def _fit_captions(self) -> None:
        """Show the tile captions only when a tile is at least CAPTION_ROOM captions high on screen."""
        texts = self.captions
        if not texts or self._geometry is None:
            return
        units_per_px = self.box.viewPixelSize()[1]
        tile_px = self._geometry[2] / units_per_px if units_per_px > 0 else 0.0
        fits = tile_px >= CAPTION_ROOM * self._captions[0].textItem.boundingRect().height()
        for item, text in zip(self._captions, texts):
            item.setVisible(fits and bool(text))

    def _set_column_labels(self, texts: tuple[str, ...]) -> None:
        key = (texts, self._geometry)
        if key == self._label_key:
            return
        self._label_key = key
        while len(self._column_labels) < len(texts):
            self._column_labels.append(self._text_item(self._text_colour(), (0.5, 1.0)))
        for k, item in enumerate(self._column_labels):
            if k >= len(texts) or self._geometry is None:
                item.setVisible(False)
                continue
            w = self._geometry[3]
            item.setText(texts[k])
            item.setPos(GRID_PAD + k * (w + GRID_PAD) + w / 2, 0.0)
        self._fit_column_labels()

    def _fit_texts(self, *_) -> None:
        self._fit_captions()
        self._fit_column_labels()

    def _fit_column_labels(self) -> None:
        """Show the column labels only when every one fits its column's width on screen (a small dock: none)."""
        texts = self.column_labels
        if not texts or self._geometry is None:
            return
        units_per_px = self.box.viewPixelSize()[0]
        column_px = (self._geometry[3] + GRID_PAD) / units_per_px if units_per_px > 0 else 0.0
        items = self._column_labels[: len(texts)]
        fits = all(item.textItem.boundingRect().width() + 4 <= column_px for item in items)
        for item, text in zip(items, texts):
            item.setVisible(fits and bool(text))

    def _text_colour(self) -> tuple[int, int, int]:
        """Light text on a dark background, dark text on a light one."""
        return (48, 48, 52) if self.backgroundBrush().color().lightness() >= 128 else (225, 225, 225)

    def setBackground(self, background) -> None:  # pyqtgraph override: the app's theme switch calls it
        super().setBackground(background)
        if hasattr(self, "_message"):  # pyqtgraph's constructor sets the background before the items exist
            colour = self._text_colour()
            for item in (self._message, *self._column_labels):
                item.setColor(colour)

    def _text_item(self, color, anchor, fill=None) -> pg.TextItem:
        item = pg.TextItem("", color=color, fill=fill, anchor=anchor)
        font = QFont()
        font.setPointSize(CAPTION_POINT_SIZE)
        item.setFont(font)
        item.setZValue(50)
        self.plot.addItem(item, ignoreBounds=True)
        return item

    @property
    def column_labels(self) -> tuple[str, ...]:
        """The labels above the columns (drawn when they fit)."""
        return self._label_key[0] if self._label_key else ()

    @property
    def captions(self) -> tuple[str, ...]:
        """The captions shown, one per tile ('' where none)."""
        return self._caption_key[0] if self._caption_key else ()

    def resizeEvent(self, event) -> None:  # Qt override: keep a message wrapped to the view's width
        super().resizeEvent(event)
        message = getattr(self, "_message", None)  # None while pyqtgraph's constructor lays the view out
        if message is not None and not self.closed and message.isVisible():  # close() deletes the scene's items
            message.setTextWidth(max(120.0, 0.8 * self.width()))
