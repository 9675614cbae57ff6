"""The sampler race as a PNG without Qt (PIL): SWD ratio against NFE on a log axis, one line per sampler, the iid
floor (ratio 1) dashed."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from playground.core.io.atomic import atomic_write

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf")  # fmt: skip
SIZE = (900, 560)
MARGIN = (70, 30, 200, 55)  # left, top, right, bottom


def _ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks inside [lo, hi] on a log scale."""
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [m * 10**e for m in (1, 2, 5) if lo <= m * 10**e <= hi]
    return out


def race_chart_png(rows: Sequence[dict], title: str = "") -> bytes:
    """PNG bytes of rows {sampler, nfe, swd_ratio}: ratio (log, clipped to [0.5, 100]) vs NFE (log)."""
    if not rows:
        raise ValueError("the race has no results to draw")
    img = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = MARGIN
    w, h = SIZE[0] - left - right, SIZE[1] - top - bottom
    nfes = [r["nfe"] for r in rows]
    x_lo, x_hi = min(nfes) / 1.2, max(nfes) * 1.2
    ratios = [min(max(r["swd_ratio"], 0.5), 100.0) for r in rows if math.isfinite(r["swd_ratio"])] or [1.0]
    y_lo, y_hi = min(0.8, min(ratios) / 1.1), max(2.0, max(ratios) * 1.1)

    def px(nfe: float, ratio: float) -> tuple[float, float]:
        ratio = min(max(ratio, y_lo), y_hi) if math.isfinite(ratio) else y_hi
        fx = (math.log(nfe) - math.log(x_lo)) / (math.log(x_hi) - math.log(x_lo))
        fy = (math.log(ratio) - math.log(y_lo)) / (math.log(y_hi) - math.log(y_lo))
        return left + fx * w, top + (1 - fy) * h

    draw.rectangle([left, top, left + w, top + h], outline="black")
    for v in _ticks(x_lo, x_hi):
        x, _ = px(v, 1.0)
        draw.line([x, top + h, x, top + h + 5], fill="black")
        draw.text((x - 8, top + h + 8), f"{v:g}", fill="black")
    for v in _ticks(y_lo, y_hi):
        _, y = px(x_lo, v)
        draw.line([left - 5, y, left, y], fill="black")
        draw.text((left - 40, y - 6), f"{v:g}", fill="black")
    _, y_floor = px(x_lo, 1.0)
    for x in range(left, left + w, 12):
        draw.line([x, y_floor, min(x + 6, left + w), y_floor], fill="#555555")
    draw.text((left + w + 8, y_floor - 6), "iid floor (1)", fill="#555555")
    draw.text((left + w / 2 - 60, SIZE[1] - 25), "NFE (score evaluations, log)", fill="black")
    draw.text((8, top - 22), "SWD ratio (log)" + (f"    {title}" if title else ""), fill="black")
    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    for i, name in enumerate(samplers):
        color = COLORS[i % len(COLORS)]
        pts = sorted((r["nfe"], r["swd_ratio"]) for r in rows if r["sampler"] == name)
        xy = [px(n, q) for n, q in pts]
        if len(xy) > 1:
            draw.line(xy, fill=color, width=2)
        for x, y in xy:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
        ly = top + 10 + 18 * i
        draw.line([left + w + 10, ly + 6, left + w + 30, ly + 6], fill=color, width=3)
        draw.text((left + w + 36, ly), name, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_race_chart(path, rows: Sequence[dict], title: str = "") -> None:
    """`race_chart_png` written atomically."""
    atomic_write(path, race_chart_png(rows, title))
