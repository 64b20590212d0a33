"""Hand-drawn SVG charts for pages (no JavaScript, no inline styles: colours come from CSS classes).

Every text is escaped here, so the returned markup can be embedded as-is. Each chart carries a <title> and
an aria-label; pages show the numbers in text or a table as well, so colour is never the only signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, HEIGHT = 640.0, 200.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 10.0, 20.0, 26.0


@dataclass(frozen=True, slots=True)
class Series:
    """One line: x and y values (NaN = gap), a CSS class for its colour, and a label for the legend."""

    x: np.ndarray
    y: np.ndarray
    css: str
    label: str


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Bucket means (NaN-aware) so a 4-hour run at 1 Hz draws as a few hundred points."""
    n = len(x)
    if n <= max_points:
        return x, y
    edges = np.linspace(0, n, max_points + 1).astype(int)
    xs = np.add.reduceat(x, edges[:-1]) / np.diff(edges)
    finite = np.isfinite(y)
    sums = np.add.reduceat(np.where(finite, y, 0.0), edges[:-1])
    counts = np.add.reduceat(finite.astype(float), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        ys = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return xs, ys


def _nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float, fmt: str) -> str:
    if fmt == "pace":  # seconds per km -> m:ss
        return f"{int(value // 60)}:{round(value % 60) % 60:02d}"
    if fmt == "hms":
        minutes = int(value // 60)
        return f"{minutes // 60}:{minutes % 60:02d}" if minutes >= 60 else f"{minutes}m"
    return f"{value:{fmt}}"


def _text(css: str, x: float, y: float, anchor: str, content: str) -> str:
    """An SVG text element at (x, y) with `content` escaped."""
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(content)}</text>'


def line_chart(
    series: Sequence[Series],
    title: str,
    x_label: str,
    y_label: str,
    x_fmt: str = ".0f",
    y_fmt: str = ".0f",
    invert_y: bool = False,
    zero_line: bool = False,
    width: float = WIDTH,
    height: float = HEIGHT,
) -> str:
    """A line chart of one or more series sharing axes; `invert_y` puts small values on top (pace)."""
    drawn = [(s, *downsample(np.asarray(s.x, float), np.asarray(s.y, float))) for s in series]
    ys = np.concatenate([y[np.isfinite(y)] for _, _, y in drawn]) if drawn else np.array([])
    xs = np.concatenate([x for _, x, _ in drawn]) if drawn else np.array([])
    if len(ys) == 0 or len(xs) == 0:
        return ""
    y0, y1 = float(np.percentile(ys, 1)), float(np.percentile(ys, 99))
    if zero_line:
        y0, y1 = min(y0, 0.0), max(y1, 0.0)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 1, y1 + 1
    pad = (y1 - y0) * 0.08
    y0, y1 = y0 - pad, y1 + pad
    x0, x1 = float(np.min(xs)), float(np.max(xs))
    if x1 <= x0:
        x1 = x0 + 1
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def sx(v: np.ndarray | float) -> np.ndarray | float:
        return LEFT + (v - x0) / (x1 - x0) * plot_w

    def sy(v: np.ndarray | float) -> np.ndarray | float:
        frac = (v - y0) / (y1 - y0)
        return TOP + (frac if invert_y else 1 - frac) * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>'
    ]
    for tick in _nice_ticks(y0, y1):
        y = sy(tick)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(_text("tick", LEFT - 4, y + 4, "end", _fmt(tick, y_fmt)))
    # The x-axis name sits at the bottom right; ticks that would run into it are left out.
    name_left = width - RIGHT - 6.5 * len(x_label) - 14
    for index, tick in enumerate(_nice_ticks(x0, x1, 6)):
        x = sx(tick)
        if x < name_left:
            # every other label is hidden on a phone, where the labels are drawn larger (app.css)
            css = "tick tick-alt" if index % 2 else "tick"
            out.append(_text(css, x, height - 8, "middle", _fmt(tick, x_fmt)))
    if zero_line and y0 < 0 < y1:
        out.append(
            f'<line class="zero" x1="{LEFT}" x2="{width - RIGHT}" y1="{sy(0.0):.1f}" y2="{sy(0.0):.1f}"/>'
        )
    out.append(_text("axis-label", LEFT, TOP - 6, "start", y_label))
    out.append(_text("axis-label axis-name-x", width - RIGHT, height - 8, "end", x_label))
    for s, x, y in drawn:
        yc = np.clip(y, y0, y1)
        parts: list[str] = []
        pen = False
        for xi, yi in zip(sx(x).tolist(), sy(yc).tolist(), strict=True):  # type: ignore[union-attr]
            if not math.isfinite(yi):
                pen = False
                continue
            parts.append(f"{'L' if pen else 'M'}{xi:.1f} {yi:.1f}")
            pen = True
        path = " ".join(parts)
        out.append(f'<path class="line {escape(s.css)}" d="{path}"><title>{escape(s.label)}</title></path>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    y_label: str,
    marked: Sequence[bool] = (),
    current: int | None = None,
    y_fmt: str = ".0f",
    width: float = WIDTH,
    height: float = HEIGHT,
) -> str:
    """Bars with their labels; `marked` bars get a warning class and a '!' above (shape, not only colour)."""
    if not values:
        return ""
    top = max(max(values), 1e-9) * 1.15
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / len(values)
    bar_w = max(2.0, slot * 0.72)
    out = [
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for tick in _nice_ticks(0, top):
        y = TOP + plot_h - tick / top * plot_h
        out.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(_text("tick", LEFT - 4, y + 4, "end", _fmt(tick, y_fmt)))
    out.append(f'<text class="axis-label" x="{LEFT}" y="{TOP - 6}">{escape(y_label)}</text>')
    label_every = max(1, math.ceil(len(values) / 10))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * slot + (slot - bar_w) / 2
        h = value / top * plot_h
        y = TOP + plot_h - h
        css = "bar"
        if i < len(marked) and marked[i]:
            css += " bar-warn"
        if current is not None and i == current:
            css += " bar-current"
        out.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0):.1f}">'
            f"<title>{escape(label)}: {escape(_fmt(value, y_fmt))} {escape(y_label)}</title></rect>"
        )
        if i < len(marked) and marked[i]:
            out.append(
                f'<text class="mark" x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">!</text>'
            )
        from_last = len(values) - 1 - i
        if from_last % label_every == 0:  # counted from the last bar, which is always labelled
            css = "tick tick-alt" if (from_last // label_every) % 2 else "tick"  # hidden on a phone
            if from_last == 0:  # the last label ends at its bar's right edge: centred, it would run off
                out.append(_text(css, min(x + bar_w, width - 1), height - 8, "end", label))
            else:
                out.append(_text(css, x + bar_w / 2, height - 8, "middle", label))
    out.append("</svg>")
    return "".join(out)
