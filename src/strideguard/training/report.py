"""The training report: four charts (weekly distance with spikes, load trend, pain against the 5/10 limit,
shoe wear) with short explanations, as a self-contained HTML page or one PNG, in km or mi.

The charts are the dashboard's (training/charts.py): one drawing for the web and the report. The HTML has
no script at all; the PNG is the same SVG rasterised by vl-convert's resvg (no browser, no network).
Takes domain dataclasses; no database.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from strideguard import units
from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.training import charts, load, risk
from strideguard.training.pain import PainEntry
from strideguard.training.shoes import Shoe, shoe_wear

DEFAULT_WEEKS = 26
DISCLAIMER = "Guidance, not diagnosis: see a clinician for pain that worries you."
CHART_KEYS = ("weekly_volume", "load_trend", "pain_load", "shoe_wear")
# The hip check, as the report (a file, opened anywhere) names it.
TRIAGE_HINT = "Hip or groin pain: check it for warning signs with the hip check (strideguard triage)."


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the report: a heading, plain-text paragraphs, and an optional chart (SVG)."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    chart: str = ""
    empty: str = ""  # said instead of the chart when there is nothing to draw


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows: the period, the four charts and the text around them."""

    today: date
    first_day: date
    charts: dict[str, str]
    sections: tuple[Section, ...]
    flags: tuple[risk.Flag, ...]
    unit: str = "km"

    @property
    def title(self) -> str:
        return "StrideGuard training report"

    @property
    def subtitle(self) -> str:
        return f"{self.first_day} to {self.today}, distances in {units.UNIT_NAMES[self.unit]}. {DISCLAIMER}"


def _warning_lines(flags: Sequence[risk.Flag], rules: risk.RiskRules) -> tuple[str, ...]:
    lines = []
    for f in flags:
        hint = f" {TRIAGE_HINT}" if f.details.get("triage") else ""
        lines.append(f"{f.title} ({f.day}): {f.message}{hint} {rules.source_line(f.citations)}.")
    return tuple(lines) or ("No warnings in the last 7 days.",)


def build_report(
    activities: Iterable[Activity],
    today: date,
    shoes: Sequence[Shoe] = (),
    pain: Sequence[PainEntry] = (),
    weeks: int = DEFAULT_WEEKS,
    rules: risk.RiskRules | None = None,
    unit: str = "km",
) -> Report:
    """The report for the `weeks` weeks ending `today`; CTL/ATL use the whole history so they start warm."""
    rules = rules or risk.default_rules()
    activities = [a for a in activities if a.local_date <= today]
    runs = [a for a in activities if a.sport in RUNNING_SPORTS]
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=weeks - 1)
    first = first_monday
    window = int(rules.number("session_spike", "window_days"))
    bounds = (
        rules.number("session_spike", "small_above_pct"),
        rules.number("session_spike", "moderate_above_pct"),
        rules.number("session_spike", "large_above_pct"),
    )
    spikes = load.session_spikes(runs, window, bounds)
    shown_spikes = [s for s in spikes if s.day >= first_monday]
    week_rows = load.calendar_weeks(runs, first_monday, this_monday)
    full = load.daily_series(runs, end=today)
    fitness = load.fitness_fatigue(
        full,
        int(rules.number("fitness_fatigue", "ctl_days")),
        int(rules.number("fitness_fatigue", "atl_days")),
    )
    fitness = [p for p in fitness if p.day >= first]
    pain_shown = [e for e in pain if first <= e.day <= today]
    wears = shoe_wear(shoes, activities)
    drawn = {
        "weekly_volume": charts.weekly_distance_chart(
            week_rows,
            unit,
            shown_spikes,
            this_monday,
            f"Running distance per week ({unit}); weeks with a long-run spike marked !",
        ),
        "load_trend": charts.load_chart(fitness, shown_spikes),
        "pain_load": charts.pain_chart(
            pain_shown, first, today, today, "Pain scores (0-10) by day, with the 5/10 limit"
        ),
        "shoe_wear": charts.shoe_wear_chart(wears, unit),
    }
    flags = tuple(risk.evaluate(activities, today, shoes=shoes, pain=pain, rules=rules, unit=unit))
    n_spikes = sum(1 for s in shown_spikes if s.category)
    rated = sum(1 for a in runs if a.local_date >= first and a.rpe is not None)
    total = sum(1 for a in runs if a.local_date >= first)
    info = risk.load_info(activities, today, rules)
    evidence = risk.evidence_distance
    sections = (
        Section(f"Warnings, the 7 days to {today}", _warning_lines(flags, rules)),
        Section(
            "Weekly distance and single-run spikes",
            (
                f"{n_spikes} run{'' if n_spikes == 1 else 's'} in this period "
                f"{'was' if n_spikes == 1 else 'were'} more than 10% longer than the longest run of the "
                "30 days before. A single run far beyond your recent longest is the best-supported warning "
                "sign (Frandsen et al. 2025); weekly totals matter less.",
            ),
            drawn["weekly_volume"],
            "No runs in this period.",
        ),
        Section(
            "Load trend",
            (
                f"Session-RPE load = RPE x minutes (Foster et al. 2001); {rated} of {total} runs were rated, "
                f"the others count with a default RPE of {load.DEFAULT_RPE:g}. Fitness (solid), fatigue "
                "(dashed) and form (dotted); triangles on the axis mark long-run spikes.",
                *info.messages.values(),
            ),
            drawn["load_trend"],
            "No load in this period.",
        ),
        Section(
            "Pain against the 5/10 limit",
            (
                "Pain during a run up to 5/10 (the dashed line) is acceptable if it settles by the next "
                "morning and does not rise week to week (Silbernagel et al. 2007). Solid line: pain during "
                "or after a run; dashed: before a run or the next morning. The weeks are those of the "
                "distance chart above.",
            ),
            drawn["pain_load"],
            "No pain logged in this period.",
        ),
        Section(
            "Shoe wear",
            (
                f"Check a shoe at about {evidence(500, unit)} and replace it between "
                f"{evidence(500, unit).split()[0]} and {evidence(800, unit)}; StrideGuard alerts at 90% and "
                f"100% of each shoe's limit (default {units.distance(450_000, unit, 0)}). No study links "
                "shoe mileage itself to injury; rotating two pairs went with fewer injuries "
                "(Malisoux et al. 2015).",
            ),
            drawn["shoe_wear"],
            "No shoes yet.",
        ),
    )
    return Report(today, first, drawn, sections, flags, unit)


PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:760px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#666} figure{margin:1em 0} .empty{color:#666;font-style:italic}
"""


def report_html(report: Report) -> str:
    """The report as one self-contained HTML page: text and inline SVG charts, no script, no network."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{PAGE_CSS}{charts.CHART_CSS}</style>",
        "</head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="sub">{html.escape(report.subtitle)}</p>',
    ]
    for section in report.sections:
        parts.append(f"<section><h2>{html.escape(section.heading)}</h2>")
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        if section.chart:
            parts.append(f'<figure class="chart-figure">{section.chart}</figure>')  # escaped by charts.py
        elif section.empty:
            parts.append(f'<p class="empty">{html.escape(section.empty)}</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _size(svg: str) -> tuple[float, float]:
    box = svg.split('viewBox="', 1)[1].split('"', 1)[0].split()
    return float(box[2]), float(box[3])


def report_svg(report: Report) -> str:
    """The four charts stacked under a title in one SVG (what the PNG shows)."""
    width = charts.WIDTH
    y = 40.0
    body = []
    for key in CHART_KEYS:
        svg = report.charts[key]
        if not svg:
            continue
        w, h = _size(svg)
        inner = svg.replace(
            '<svg class="chart"', f'<svg class="chart" x="0" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}"', 1
        )
        body.append(inner)
        y += h + 16
    title = html.escape(f"{report.title}: {report.first_day} to {report.today}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:.0f} {y:.0f}" '
        f'width="{width:.0f}" height="{y:.0f}"><style>{charts.CHART_CSS}</style>'
        f'<rect class="bg" x="0" y="0" width="{width:.0f}" height="{y:.0f}"/>'
        f'<text class="axis-label" x="10" y="24">{title}</text>{"".join(body)}</svg>'
    )


def report_png(report: Report, scale: float = 1.5) -> bytes:
    """The four charts stacked in one PNG (the report's SVG, rasterised in-process)."""
    import vl_convert  # resvg inside: only the PNG needs it

    return bytes(vl_convert.svg_to_png(report_svg(report), scale=scale))
