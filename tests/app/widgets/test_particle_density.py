"""The density renderers (pytest-qt, offscreen): ParticleDensity's image is np.histogram2d of the particles, and
FastImageItem paints each pixel the colour its level picks from the lookup table."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from playground.app.widgets.fast_image import FastImageItem, level_indices, rgb32_table
from playground.app.widgets.particle_density import FLOOR, ParticleDensity, alpha_ramp, shade


def qimage_array(img: QImage) -> np.ndarray:
    """A 32-bit QImage's pixels as (h, w) uint32 words."""
    img = img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    words = np.frombuffer(img.constBits(), np.uint32, img.width() * img.height())
    return words.reshape(img.height(), img.width()).copy()  # a copy: the converted QImage dies with this call


def plot(qtbot, size=None) -> pg.PlotWidget:
    holder = QWidget()
    qtbot.addWidget(holder)
    w = pg.PlotWidget(holder)
    if size:
        w.resize(*size)
        holder.show()
        qtbot.waitExposed(holder)
    return w


def test_the_density_image_is_the_histogram_of_all_particles(qtbot):
    layer = ParticleDensity(plot(qtbot).getPlotItem())
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.2, (200_000, 2))
    x[:7] = np.nan  # diverged particles are dropped, as are those outside the rectangle
    rect = (-3.0, 2.5, -2.0, 3.5)
    counts = layer.set_points(x, rect, bins=97)
    ok = np.isfinite(x).all(1)
    expected, _, _ = np.histogram2d(x[ok, 1], x[ok, 0], bins=97, range=[rect[2:], rect[:2]])
    assert np.array_equal(counts, expected)
    assert counts.sum() < ok.sum()  # some fell outside
    # the image shown: zero where no particle, the floor opacity for one, 1 at the fullest pixel, monotone
    img = layer.item.image
    assert np.array_equal(img == 0, counts == 0)
    assert np.isclose(img.max(), 1.0) and np.isclose(img[counts == 1], FLOOR + (1 - FLOOR) / np.sqrt(counts.max())).all()
    order = np.argsort(counts.ravel())
    assert (np.diff(img.ravel()[order]) >= -1e-7).all()
    # it covers the rectangle in data coordinates
    r = layer.item.mapRectToParent(layer.item.boundingRect())
    assert np.allclose([r.left(), r.right(), r.top(), r.bottom()], [-3.0, 2.5, -2.0, 3.5])


def test_bins_follow_the_view_pixels(qtbot):
    w = plot(qtbot, (300, 300))
    layer = ParticleDensity(w.getPlotItem())
    counts = layer.set_points(np.zeros((10, 2), np.float32), (-1, 1, -1, 1))
    box = w.getPlotItem().getViewBox().boundingRect()
    assert counts.shape[0] == int(min(box.width(), box.height())) and counts.sum() == 10
    assert shade(np.zeros((4, 4))).max() == 0.0


def test_fast_image_item_paints_the_colours_of_its_lookup_table(qtbot):
    lut = pg.colormap.get("magma").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
    img = np.linspace(-0.5, 2.5, 48 * 40, dtype=np.float32).reshape(40, 48)
    fast = FastImageItem(axisOrder="row-major")
    fast.setLookupTable(lut)
    fast.setImage(img, levels=(0.0, 2.0), autoLevels=False)
    fast.render()
    assert fast.qimage.format() == QImage.Format.Format_RGB32
    words = qimage_array(fast.qimage)
    idx = np.clip(np.round(img / 2.0 * 255), 0, 255).astype(int)
    expected = (0xFF << 24) | (lut[idx, 0].astype(np.uint32) << 16) | (lut[idx, 1].astype(np.uint32) << 8) | lut[idx, 2]
    assert np.array_equal(words, expected.astype(np.uint32))
    # a translucent table (the particle layer's alpha ramp) renders premultiplied
    words_a, fmt = rgb32_table(alpha_ramp((120, 230, 255)))
    assert fmt == QImage.Format.Format_ARGB32_Premultiplied and words_a[0] == 0 and words_a[-1] == 0xFF78E6FF
    assert np.array_equal(level_indices(np.array([[0, 255]], np.uint8), (0, 255), 256), [[0, 255]])
    # NaNs go through pyqtgraph's path (drawn transparent)
    fast.setImage(np.array([[np.nan, 1.0]], np.float32), levels=(0.0, 1.0), autoLevels=False)
    fast.render()
    assert fast.qimage is not None
