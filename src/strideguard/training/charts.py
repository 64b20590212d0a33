"""StrideGuard's one chart system: hand-drawn SVG for the web pages and the report alike. Pure.

Drawn on the server in about a millisecond per chart, no JavaScript and no inline styles: colours come from
CSS classes (CHART_CSS, served to the pages as /charts.css and embedded in the report), so the pages stay
inside their Content-Security-Policy. Every text is escaped here, so the returned markup can be embedded
as-is. Each chart carries a <title> and an aria-label; pages show the numbers in text or a table as well,
and shapes ("!", triangles, dash patterns) carry meaning besides colour.

Why not Vega-Lite rendered by vl-convert: measured by bench/chart_render.py on 2 cores, a Vega-Lite chart
took 60-240 ms (median) after a ~1.6 s start per process, 12 charts/s with 4 threads, against under 1 ms
and ~1,400 charts/s here; and two renderers of one chart drift apart. The report's PNG is this same SVG
rasterised (training/report.py).

Domain charts (weekly distance, load, pain, shoe wear) are built here once, for the dashboard, the pain
page and the report; `line_chart` and `bar_chart` are the drawing primitives (the activity page uses
`line_chart` for its streams).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING

from strideguard import units

if TYPE_CHECKING:
    import numpy as np

    from strideguard.training.load import FitnessPoint, SessionSpike, WeekVolume
    from strideguard.training.pain import PainEntry
    from strideguard.training.shoes import ShoeWear

WIDTH, HEIGHT = 640.0, 200.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 10.0, 20.0, 26.0

# The chart colours and line styles by CSS class: one stylesheet for the web pages and the report.
CHART_CSS = """
svg.chart { width: 100%; height: auto; display: block; font-family: system-ui, -apple-system, "Segoe UI",
  Roboto, "DejaVu Sans", sans-serif; }
.chart .bg { fill: #fff; }
.chart .grid { stroke: #e3e6e8; stroke-width: 1; }
.chart .zero { stroke: #8a949c; stroke-dasharray: 4 3; }
.chart .tick, .chart .axis-label, .chart .legend { fill: #5b6670; font-size: 11px; }
.chart .line { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
.chart .s-pace { stroke: #0b5cad; } .chart .s-hr { stroke: #b3261e; } .chart .s-cad { stroke: #6b3fa0; }
.chart .s-alt { stroke: #2e7d32; }
.chart .s-ctl { stroke: #0b5cad; stroke-width: 2.2; }
.chart .s-atl { stroke: #b3261e; stroke-dasharray: 5 3; }
.chart .s-tsb { stroke: #6b6b6b; stroke-dasharray: 1 3; stroke-width: 2; }
.chart .s-pain-run { stroke: #b3261e; stroke-width: 2; }
.chart .s-pain-rest { stroke: #6b3fa0; stroke-width: 2; stroke-dasharray: 5 3; }
.chart .dot { stroke: #fff; stroke-width: 1; } .chart .dot.s-pain-run { fill: #b3261e; }
.chart .dot.s-pain-rest { fill: #6b3fa0; }
.chart .limit { stroke: #9a5b00; stroke-width: 1.5; stroke-dasharray: 6 4; }
.chart .limit-label { fill: #9a5b00; font-size: 11px; font-weight: 600; }
.chart .bar { fill: #7fa7d1; } .chart .bar-day { fill: #c9d6df; }
.chart .bar-current { fill: #0b5cad; stroke: #000; stroke-width: 1.5; }
.chart .bar-warn { fill: #e0a040; stroke: #9a5b00; stroke-width: 1.5; }
.chart .bar-ok { fill: #5b8e7d; } .chart .bar-check { fill: #e0a040; } .chart .bar-replace { fill: #b3261e; }
.chart .bar-retired { fill: #b9c0c6; }
.chart .limit-tick { stroke: #1d2327; stroke-width: 2; }
.chart .mark { fill: #9a5b00; font-weight: 700; font-size: 13px; }
.chart .spike { fill: #9a5b00; stroke: #000; stroke-width: .8; }
"""


@dataclass(frozen=True, slots=True)
class Series:
    """One line: x and y values (NaN = gap), a CSS class for its colour, and a label for the legend.

    `dots` draws a point at each value as well (a few diary entries read better as points on a line)."""

    x: np.ndarray
    y: np.ndarray
    css: str
    label: str
    dots: bool = False


@dataclass(frozen=True, slots=True)
class Limit:
    """A labelled horizontal line at `y` (the 5/10 pain limit): the label says what the line is."""

    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Marker:
    """A triangle on the x axis at `x` (a long-run spike), with a tooltip title."""

    x: float
    title: str


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Bucket means (NaN-aware) so a 4-hour run at 1 Hz draws as a few hundred points."""
    import numpy as np

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


def percentile_range(values: np.ndarray, low: float = 1, high: float = 99) -> tuple[float, float]:
    """numpy's default ("linear") percentiles `low` and `high` of finite values, from one sort: np.percentile
    spends about 100 us a call on its generality, a fifth of a load chart."""
    import numpy as np

    ordered = np.sort(values).tolist()
    return _linear_percentile(ordered, low), _linear_percentile(ordered, high)


def _linear_percentile(ordered: list[float], q: float) -> float:
    # numpy's virtual index (n - 1) * q and its _lerp, which interpolates from the nearer end: same floats.
    index = (len(ordered) - 1) * (q / 100)
    below = min(max(math.floor(index), 0), len(ordered) - 1)
    above = min(below + 1, len(ordered) - 1)
    a, b = ordered[below], ordered[above]
    t = index - below
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def nice_ticks(lo: float, hi: float, count: int = 4) -> tuple[list[float], int]:
    """Round tick values covering [lo, hi], and the decimals their step needs (0.5 -> 1), so two ticks
    never print alike ("4, 4, 5" for 4, 4.5, 5)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [], 0
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks, decimals


Format = str | Callable[[float], str] | None


def _fmt(value: float, fmt: Format, decimals: int = 0) -> str:
    """A tick label: by a callable, a named format ('pace' m:ss, 'hms'), a format spec, or the tick step's
    decimals (None)."""
    if callable(fmt):
        return fmt(value)
    if fmt == "pace":  # seconds per km or mile -> m:ss
        return units.format_pace_s(value)
    if fmt == "hms":
        minutes = int(value // 60)
        return f"{minutes // 60}:{minutes % 60:02d}" if minutes >= 60 else f"{minutes}m"
    if fmt is None:
        return units.number(value, decimals)
    return f"{value:{fmt}}"


def _text(css: str, x: float, y: float, anchor: str, content: str) -> str:
    """An SVG text element at (x, y) with `content` escaped."""
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(content)}</text>'


def _open(title: str, width: float, height: float) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(title)}</title>"
    )


def line_chart(
    series: Sequence[Series],
    title: str,
    x_label: str,
    y_label: str,
    x_fmt: Format = ".0f",
    y_fmt: Format = None,
    invert_y: bool = False,
    zero_line: bool = False,
    width: float = WIDTH,
    height: float = HEIGHT,
    y_domain: tuple[float, float] | None = None,
    x_domain: tuple[float, float] | None = None,
    limits: Sequence[Limit] = (),
    markers: Sequence[Marker] = (),
    y_ticks: int = 4,
) -> str:
    """A line chart of one or more series sharing axes; `invert_y` puts small values on top (pace).

    `y_domain` fixes the y axis (a 0-10 pain score); otherwise it spans the 1st-99th percentile of the
    values. `limits` are labelled horizontal lines, `markers` triangles on the x axis.
    """
    import numpy as np

    drawn = [(s, *downsample(np.asarray(s.x, float), np.asarray(s.y, float))) for s in series]
    ys = np.concatenate([y[np.isfinite(y)] for _, _, y in drawn]) if drawn else np.array([])
    xs = np.concatenate([x for _, x, _ in drawn]) if drawn else np.array([])
    if len(ys) == 0 or len(xs) == 0:
        return ""
    if y_domain is not None:
        y0, y1 = y_domain
    else:
        y0, y1 = percentile_range(ys)
        if zero_line:
            y0, y1 = min(y0, 0.0), max(y1, 0.0)
        if y1 - y0 < 1e-9:
            y0, y1 = y0 - 1, y1 + 1
        pad = (y1 - y0) * 0.08
        y0, y1 = y0 - pad, y1 + pad
    x0, x1 = x_domain if x_domain is not None else (float(np.min(xs)), float(np.max(xs)))
    if x1 <= x0:
        x1 = x0 + 1
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def sx(v: np.ndarray | float) -> np.ndarray | float:
        return LEFT + (v - x0) / (x1 - x0) * plot_w

    def sy(v: np.ndarray | float) -> np.ndarray | float:
        frac = (v - y0) / (y1 - y0)
        return TOP + (frac if invert_y else 1 - frac) * plot_h

    out = [_open(title, width, height)]
    ticks, decimals = nice_ticks(y0, y1, y_ticks)
    for tick in ticks:
        y = sy(tick)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(_text("tick", LEFT - 4, y + 4, "end", _fmt(tick, y_fmt, decimals)))
    # The x-axis name sits at the bottom right; ticks that would run into it are left out.
    name_left = width - RIGHT - 6.5 * len(x_label) - 14
    x_ticks, x_decimals = nice_ticks(x0, x1, 6)
    for index, tick in enumerate(x_ticks):
        x = sx(tick)
        if x < name_left:
            # every other label is hidden on a phone, where the labels are drawn larger (app.css)
            css = "tick tick-alt" if index % 2 else "tick"
            out.append(_text(css, x, height - 8, "middle", _fmt(tick, x_fmt, x_decimals)))
    if zero_line and y0 < 0 < y1:
        out.append(
            f'<line class="zero" x1="{LEFT}" x2="{width - RIGHT}" y1="{sy(0.0):.1f}" y2="{sy(0.0):.1f}"/>'
        )
    out.append(_text("axis-label", LEFT, TOP - 6, "start", y_label))
    out.append(_text("axis-label axis-name-x", width - RIGHT, height - 8, "end", x_label))
    for limit in limits:
        y = sy(limit.y)
        out.append(
            f'<line class="limit" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}">'
            f"<title>{escape(limit.label)}</title></line>"
        )
        out.append(_text("limit-label", width - RIGHT - 2, y - 4, "end", limit.label))
    for s, x, y in drawn:
        yc = np.clip(y, min(y0, y1), max(y0, y1))
        parts: list[str] = []
        points: list[tuple[float, float]] = []
        pen = False
        for xi, yi in zip(sx(x).tolist(), sy(yc).tolist(), strict=True):  # type: ignore[union-attr]
            if not math.isfinite(yi):
                pen = False
                continue
            parts.append(f"{'L' if pen else 'M'}{xi:.1f} {yi:.1f}")
            points.append((xi, yi))
            pen = True
        path = " ".join(parts)
        out.append(f'<path class="line {escape(s.css)}" d="{path}"><title>{escape(s.label)}</title></path>')
        if s.dots:
            out.extend(
                f'<circle class="dot {escape(s.css)}" cx="{px:.1f}" cy="{py:.1f}" r="3.5"/>'
                for px, py in points
            )
    for marker in markers:
        px = float(sx(marker.x))
        y = height - 26
        out.append(
            f'<path class="spike" d="M{px:.1f} {y - 10:.1f} L{px - 5:.1f} {y:.1f} L{px + 5:.1f} {y:.1f} Z">'
            f"<title>{escape(marker.title)}</title></path>"
        )
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    y_label: str,
    marked: Sequence[bool] = (),
    current: int | None = None,
    y_fmt: Format = None,
    width: float = WIDTH,
    height: float = HEIGHT,
    value_fmt: Callable[[float], str] | None = None,
) -> str:
    """Bars with their labels; `marked` bars get a warning class and a '!' above (shape, not only colour).

    `value_fmt` writes a bar's value in its tooltip (default: one decimal)."""
    if not values:
        return ""
    top = max(max(values), 1e-9) * 1.15
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / len(values)
    bar_w = max(2.0, slot * 0.72)
    out = [_open(title, width, height)]
    ticks, decimals = nice_ticks(0, top)
    for tick in ticks:
        y = TOP + plot_h - tick / top * plot_h
        out.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(_text("tick", LEFT - 4, y + 4, "end", _fmt(tick, y_fmt, decimals)))
    out.append(_text("axis-label", LEFT, TOP - 6, "start", y_label))
    label_every = max(1, math.ceil(len(values) / 10))
    shown = value_fmt or (lambda v: units.number(v, 1))
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
            f"<title>{escape(label)}: {escape(shown(value))} {escape(y_label)}</title></rect>"
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


# ------------------------------------------------------------------------------------------------------------
# the domain charts: the same drawing on the dashboard, the pain page and in the report


def week_label(monday: date) -> str:
    """A week's label on an axis: the date of its Monday, '02 Nov'."""
    return monday.strftime("%d %b")


def weekly_distance_chart(
    weeks: Sequence[WeekVolume],
    unit: str = "km",
    spikes: Sequence[SessionSpike] = (),
    current: date | None = None,
    title: str | None = None,
) -> str:
    """Running distance per week in km or mi; a week with a long-run spike gets a '!' (Frandsen 2025)."""
    if not weeks or not any(w.distance_m for w in weeks):
        return ""
    spike_weeks = {s.day - timedelta(days=s.day.weekday()) for s in spikes if s.category}
    labels = [week_label(w.monday) for w in weeks]
    title = title or (
        f"Running distance per week ({unit}), last {len(weeks)} weeks; weeks with a long-run spike marked !"
    )
    return bar_chart(
        labels,
        [units.distance_value(w.distance_m, unit) for w in weeks],
        title,
        unit,
        marked=[w.monday in spike_weeks for w in weeks],
        current=next((i for i, w in enumerate(weeks) if w.monday == current), None),
    )


def load_chart(
    fitness: Sequence[FitnessPoint],
    spikes: Sequence[SessionSpike] = (),
    title: str = "Training load: fitness, fatigue and form",
) -> str:
    """CTL, ATL and TSB lines against days ago, spike days as triangles on the x axis (shape, not only
    colour); empty when there is no load to draw."""
    import numpy as np

    if not fitness or not any(p.ctl or p.atl for p in fitness):  # an empty chart would show only "0 0 0"
        return ""
    first, last = fitness[0].day, fitness[-1].day
    days_back = np.array([(p.day - last).days for p in fitness], float)
    series = [
        Series(days_back, np.array([p.ctl for p in fitness]), "s-ctl", "Fitness (CTL, 42 days)"),
        Series(days_back, np.array([p.atl for p in fitness]), "s-atl", "Fatigue (ATL, 7 days)"),
        Series(days_back, np.array([p.tsb for p in fitness]), "s-tsb", "Form (TSB = CTL - ATL)"),
    ]
    markers = [
        Marker(float((day - last).days), f"Long-run spike on {day.isoformat()}")
        for day in sorted({s.day for s in spikes if s.category and first <= s.day <= last})
    ]
    return line_chart(series, title, "days ago", "load AU/day", zero_line=True, markers=markers, y_fmt=".0f")


PAIN_LIMIT = 5  # Silbernagel 2007: up to 5/10 during activity is acceptable
PAIN_LIMIT_LABEL = "5/10: acceptable limit during a run"


def pain_chart(entries: Sequence[PainEntry], first: date, last: date, today: date, title: str) -> str:
    """Pain scores (0-10, a fixed axis) by day from `first` to `last`: one line for scores during or after
    a run, one for scores before a run or the next morning, and the labelled 5/10 limit (Silbernagel 2007).
    The x axis counts days from `today` (0)."""
    import numpy as np

    shown = [e for e in entries if first <= e.day <= last]
    if not shown:
        return ""
    series = []
    # One line per kind of score, so run-time pain and next-morning pain do not zigzag into one line.
    for timings, css, label in (
        (("during", "after"), "s-pain-run", "during or after a run"),
        (("before", "next-morning"), "s-pain-rest", "before a run or the next morning"),
    ):
        group = sorted((e for e in shown if e.timing in timings), key=lambda e: (e.day, e.id or 0))
        if group:
            x = np.array([(e.day - today).days for e in group], float)
            y = np.array([e.score for e in group], float)
            series.append(Series(x, y, css, label, dots=True))
    return line_chart(
        series,
        title,
        "days from today",
        "pain 0-10",
        y_domain=(0.0, 10.0),
        x_domain=(float((first - today).days), float((last - today).days)),
        limits=[Limit(PAIN_LIMIT, PAIN_LIMIT_LABEL)],
        y_ticks=5,
    )


def shoe_wear_chart(wears: Sequence[ShoeWear], unit: str = "km", width: float = WIDTH) -> str:
    """Distance per shoe (bars) against its retirement distance (a tick), coloured ok/check/replace, each
    bar labelled with its numbers (so colour is not the only signal)."""
    if not wears:
        return ""
    row_h = 46.0
    height = TOP + row_h * len(wears) + BOTTOM
    top = max(max(max(w.distance_m, w.shoe.retire_at_m) for w in wears), 1.0) * 1.1
    label_w = 170.0
    plot_w = width - label_w - RIGHT
    title = f"Shoe wear: distance run against each shoe's limit ({unit})"
    out = [_open(title, width, height)]
    ticks, decimals = nice_ticks(0, units.distance_value(top, unit))
    for tick in ticks:
        x = label_w + units.to_metres(tick, unit) / top * plot_w
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}"/>')
        out.append(_text("tick", x, height - 8, "middle", units.number(tick, decimals)))
    out.append(_text("axis-label axis-name-x", width - RIGHT, TOP - 6, "end", unit))
    for i, w in enumerate(wears):
        y = TOP + i * row_h + 4
        level = "retired" if w.shoe.retired else w.level
        name = w.shoe.label + (" (retired)" if w.shoe.retired else "")
        shown = (
            f"{units.distance(w.distance_m, unit, 0)} of {units.distance(w.shoe.retire_at_m, unit, 0)} "
            f"({units.percent(w.percent)})"
        )
        out.append(_text("tick", label_w - 6, y + 14, "end", name[:28]))
        bar_w = w.distance_m / top * plot_w
        out.append(
            f'<rect class="bar bar-{level}" x="{label_w:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="18">'
            f"<title>{escape(name)}: {escape(shown)}</title></rect>"
        )
        limit_x = label_w + w.shoe.retire_at_m / top * plot_w
        limit = escape(units.distance(w.shoe.retire_at_m, unit, 0))
        out.append(
            f'<line class="limit-tick" x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="{y - 3:.1f}" '
            f'y2="{y + 21:.1f}"><title>limit {limit}</title></line>'
        )
        out.append(_text("legend", label_w + 2, y + 33, "start", shown))
    out.append("</svg>")
    return "".join(out)


def standalone(svg: str) -> str:
    """The chart as a file of its own (the report, its PNG): the stylesheet inside the SVG."""
    head, _, rest = svg.partition(">")
    return f"{head}><style>{CHART_CSS}</style>{rest}"
