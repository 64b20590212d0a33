"""Vega-Lite specs (built with Altair) for every load chart, and offline rendering by vl-convert.

Each `*_chart` function takes domain dataclasses and returns a Vega-Lite spec as a plain dict, so the CLI
report and the web dashboard draw the same charts. Rendering never touches the network: `html_page` inlines
the Vega/Vega-Lite/vega-embed bundle that vl-convert ships; `to_png`/`to_svg` render in-process.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import altair as alt
import vl_convert

from strideguard.training.load import DayLoad, FitnessPoint, SessionSpike, WeekVolume
from strideguard.training.pain import REGIONS, PainEntry
from strideguard.training.shoes import ShoeWear

WIDTH = 640
HEIGHT = 220
SPIKE_ORDER = ["none", "small", "moderate", "large"]
SPIKE_COLOURS = ["#9db4c0", "#f2c14e", "#f78154", "#b8336a"]
LEVEL_ORDER = ["ok", "check", "replace"]
LEVEL_COLOURS = ["#5b8e7d", "#f2c14e", "#b8336a"]


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return chart.to_dict()


def _empty(title: str, text: str) -> dict[str, Any]:
    chart = (
        alt.Chart(alt.Data(values=[{"t": text}]), title=title)
        .mark_text(size=14, color="#666")
        .encode(text="t:N")
        .properties(width=WIDTH, height=60)
    )
    return _spec(chart)


def weekly_volume_chart(weeks: Sequence[WeekVolume], spikes: Iterable[SessionSpike] = ()) -> dict[str, Any]:
    """Running km per ISO week; a week's bar is coloured by its largest session spike (Frandsen 2025)."""
    title = "Weekly running distance (km), coloured by the largest single-run spike that week"
    if not weeks:
        return _empty(title, "No runs yet")
    worst: dict[date, int] = {}
    labels: dict[date, str] = {}
    for spike in spikes:
        if spike.category is None:
            continue
        monday = date.fromordinal(spike.day.toordinal() - spike.day.weekday())
        rank = SPIKE_ORDER.index(spike.category)
        if rank > worst.get(monday, 0):
            worst[monday] = rank
            labels[monday] = f"{spike.day}: {spike.distance_m / 1000:.1f} km, +{spike.spike_pct:.0f}%"
    values = [
        {
            "week": w.monday.isoformat(),
            "label": w.label,
            "km": round(w.distance_m / 1000, 2),
            "runs": w.runs,
            "spike": SPIKE_ORDER[worst.get(w.monday, 0)],
            "spike_run": labels.get(w.monday, ""),
        }
        for w in weeks
    ]
    chart = (
        alt.Chart(alt.Data(values=values), title=title)
        .mark_bar()
        .encode(
            x=alt.X("week:O", title="week starting (Monday)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("km:Q", title="km"),
            color=alt.Color(
                "spike:N",
                title="spike",
                scale=alt.Scale(domain=SPIKE_ORDER, range=SPIKE_COLOURS),
            ),
            tooltip=["label:N", "km:Q", "runs:Q", "spike:N", "spike_run:N"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return _spec(chart)


def load_trend_chart(daily: Sequence[DayLoad], fitness: Sequence[FitnessPoint]) -> dict[str, Any]:
    """Daily session-RPE load (bars, AU) with CTL (42 d), ATL (7 d) and TSB lines (Banister/Foster)."""
    title = "Load trend: daily session-RPE load (AU), fitness CTL, fatigue ATL, balance TSB"
    if not daily:
        return _empty(title, "No runs yet")
    bars = [
        {"day": d.day.isoformat(), "load": round(d.load_au, 1), "km": round(d.distance_m / 1000, 2)}
        for d in daily
    ]
    lines: list[dict[str, Any]] = []
    for p in fitness:
        for metric, value in (("CTL (42-day)", p.ctl), ("ATL (7-day)", p.atl), ("TSB", p.tsb)):
            lines.append({"day": p.day.isoformat(), "metric": metric, "value": round(value, 2)})
    x = alt.X("day:T", title="date")
    bar = (
        alt.Chart(alt.Data(values=bars))
        .mark_bar(color="#c9d6df", opacity=0.8)
        .encode(x=x, y=alt.Y("load:Q", title="load (AU)"), tooltip=["day:T", "load:Q", "km:Q"])
    )
    line = (
        alt.Chart(alt.Data(values=lines))
        .mark_line(strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("value:Q"),
            color=alt.Color(
                "metric:N",
                title="",
                scale=alt.Scale(
                    domain=["CTL (42-day)", "ATL (7-day)", "TSB"], range=["#1f6f8b", "#e07a5f", "#81b29a"]
                ),
            ),
            tooltip=["day:T", "metric:N", "value:Q"],
        )
    )
    chart = alt.layer(bar, line, title=title).properties(width=WIDTH, height=HEIGHT)
    return _spec(chart)


def pain_load_chart(daily: Sequence[DayLoad], pain: Sequence[PainEntry]) -> dict[str, Any]:
    """Daily running km (bars, left axis) with pain scores 0-10 by region (points and lines, right axis)."""
    title = "Pain scores (0-10) against daily running distance"
    if not daily or not pain:
        return _empty(title, "No pain entries in this period")
    bars = [{"day": d.day.isoformat(), "km": round(d.distance_m / 1000, 2)} for d in daily]
    first, last = daily[0].day, daily[-1].day
    points = [
        {
            "day": e.day.isoformat(),
            "score": e.score,
            "where": f"{REGIONS[e.region].label} ({e.side}), {e.timing}",
            "timing": e.timing,
        }
        for e in pain
        if first <= e.day <= last
    ]
    x = alt.X("day:T", title="date")
    bar = (
        alt.Chart(alt.Data(values=bars))
        .mark_bar(color="#c9d6df")
        .encode(x=x, y=alt.Y("km:Q", title="km per day"), tooltip=["day:T", "km:Q"])
    )
    pain_layer = (
        alt.Chart(alt.Data(values=points))
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y(
                "score:Q", title="pain (0-10)", scale=alt.Scale(domain=[0, 10]), axis=alt.Axis(orient="right")
            ),
            color=alt.Color("where:N", title="pain"),
            tooltip=["day:T", "where:N", "timing:N", "score:Q"],
        )
    )
    # Silbernagel 2007: up to 5/10 during activity is acceptable.
    limit = (
        alt.Chart(alt.Data(values=points))
        .mark_rule(strokeDash=[4, 4], color="#b8336a")
        .encode(y=alt.datum(5))
    )
    chart = (
        alt.layer(bar, alt.layer(pain_layer, limit), title=title)
        .resolve_scale(y="independent")
        .properties(width=WIDTH, height=HEIGHT)
    )
    return _spec(chart)


def shoe_wear_chart(wears: Sequence[ShoeWear]) -> dict[str, Any]:
    """Distance per shoe (bars, km) against its retirement distance (tick), coloured ok/check/replace."""
    title = "Shoe wear: km run against each shoe's retirement distance"
    if not wears:
        return _empty(title, "No shoes yet: strideguard shoes add")
    values = [
        {
            "shoe": w.shoe.label + (" (retired)" if w.shoe.retired else ""),
            "km": round(w.distance_m / 1000, 1),
            "limit": round(w.shoe.retire_at_m / 1000, 1),
            "percent": round(w.percent, 0),
            "level": w.level,
        }
        for w in wears
    ]
    y = alt.Y("shoe:N", title="", sort=None)
    bar = (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("km:Q", title="km"),
            color=alt.Color("level:N", scale=alt.Scale(domain=LEVEL_ORDER, range=LEVEL_COLOURS), title=""),
            tooltip=["shoe:N", "km:Q", "limit:Q", "percent:Q", "level:N"],
        )
    )
    tick = (
        alt.Chart(alt.Data(values=values))
        .mark_tick(color="#333", thickness=2, size=24)
        .encode(y=y, x="limit:Q", tooltip=["shoe:N", "limit:Q"])
    )
    chart = alt.layer(bar, tick, title=title).properties(width=WIDTH, height=max(60, 40 * len(values)))
    return _spec(chart)


# ---------------------------------------------------------------------------------------------------------
# rendering, offline


@functools.cache
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (from vl-convert; no network). Sets window.vegaEmbed."""
    return vl_convert.javascript_bundle()


def to_png(spec: dict[str, Any], scale: float = 2.0) -> bytes:
    """PNG bytes of one spec, rendered in-process."""
    return bytes(vl_convert.vegalite_to_png(spec, scale=scale))


def to_svg(spec: dict[str, Any]) -> str:
    return vl_convert.vegalite_to_svg(spec)


def stack(specs: Sequence[dict[str, Any]], title: str | None = None) -> dict[str, Any]:
    """One spec drawing `specs` one under the other (for a single PNG)."""
    top: dict[str, Any] = {
        "$schema": specs[0].get("$schema", "https://vega.github.io/schema/vega-lite/v6.json"),
        "vconcat": [{k: v for k, v in s.items() if k not in ("$schema", "config")} for s in specs],
        "config": {"view": {"continuousWidth": WIDTH, "continuousHeight": HEIGHT}},
        "resolve": {"scale": {"color": "independent"}},
    }
    if title:
        top["title"] = {"text": title, "fontSize": 16}
    return top


@dataclass(frozen=True, slots=True)
class Section:
    """One part of an HTML page: a heading, plain-text paragraphs, and an optional chart."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    spec: dict[str, Any] | None = None


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/").replace("<!--", "<\\!--")


PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:760px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#666} .chart{margin:1em 0} .note{color:#555;font-size:.9em}
"""


def html_page(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """A self-contained HTML page: text and charts drawn by the inlined Vega bundle (no CDN, offline)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{PAGE_CSS}</style>",
        f"<script>{javascript_bundle()}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="sub">{html.escape(subtitle)}</p>')
    embeds: list[str] = []
    for index, section in enumerate(sections):
        parts.append(f"<section><h2>{html.escape(section.heading)}</h2>")
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        if section.spec is not None:
            parts.append(f'<div class="chart" id="chart-{index}"></div>')
            embeds.append(
                f"vegaEmbed('#chart-{index}', {_script_json(section.spec)}, "
                "{actions: false, renderer: 'svg'});"
            )
        parts.append("</section>")
    parts.append("<script>" + "\n".join(embeds) + "</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
