"""The training report: four charts (weekly volume with spikes, load trend, pain against load, shoe wear)
with short explanations, as a self-contained HTML page or one PNG. Takes domain dataclasses; no database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.training import charts, load, risk
from strideguard.training.pain import PainEntry
from strideguard.training.shoes import Shoe, shoe_wear

DEFAULT_WEEKS = 26
DISCLAIMER = "Guidance, not diagnosis: see a clinician for pain that worries you."


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows: the period, the four chart specs and the text around them."""

    today: date
    first_day: date
    specs: dict[str, dict[str, Any]]
    sections: tuple[charts.Section, ...]
    flags: tuple[risk.Flag, ...]

    @property
    def title(self) -> str:
        return "StrideGuard training report"

    @property
    def subtitle(self) -> str:
        return f"{self.first_day} to {self.today}. {DISCLAIMER}"


def build_report(
    activities: Iterable[Activity],
    today: date,
    shoes: Sequence[Shoe] = (),
    pain: Sequence[PainEntry] = (),
    weeks: int = DEFAULT_WEEKS,
    rules: risk.RiskRules | None = None,
) -> Report:
    """The report for the `weeks` weeks ending `today`; CTL/ATL use the whole history so they start warm."""
    rules = rules or risk.default_rules()
    activities = [a for a in activities if a.local_date <= today]
    runs = [a for a in activities if a.sport in RUNNING_SPORTS]
    first = today - timedelta(weeks=weeks) + timedelta(days=1)
    first_monday = first - timedelta(days=first.weekday())
    bounds = (
        rules.number("session_spike", "small_above_pct"),
        rules.number("session_spike", "moderate_above_pct"),
        rules.number("session_spike", "large_above_pct"),
    )
    spikes = load.session_spikes(runs, int(rules.number("session_spike", "window_days")), bounds)
    shown_spikes = [s for s in spikes if s.day >= first_monday]
    week_rows = [w for w in load.weekly_volume(runs) if w.monday >= first_monday]
    full = load.daily_series(runs, end=today)
    fitness = load.fitness_fatigue(
        full,
        int(rules.number("fitness_fatigue", "ctl_days")),
        int(rules.number("fitness_fatigue", "atl_days")),
    )
    daily = [d for d in full if d.day >= first]
    fitness = [p for p in fitness if p.day >= first]
    pain_shown = [e for e in pain if first <= e.day <= today]
    wears = shoe_wear(shoes, activities)
    specs = {
        "weekly_volume": charts.weekly_volume_chart(week_rows, shown_spikes),
        "load_trend": charts.load_trend_chart(daily, fitness),
        "pain_load": charts.pain_load_chart(daily, pain_shown),
        "shoe_wear": charts.shoe_wear_chart(wears),
    }
    flags = tuple(risk.evaluate(activities, today, shoes=shoes, pain=pain, rules=rules))
    n_spikes = sum(1 for s in shown_spikes if s.category)
    rated = sum(1 for a in runs if a.local_date >= first and a.rpe is not None)
    total = sum(1 for a in runs if a.local_date >= first)
    info = risk.load_info(activities, today, rules)
    sections = [
        charts.Section(
            "This week's warnings",
            tuple(f"{f.rule.replace('_', ' ')}: {f.message}" for f in flags)
            or ("No warnings in the last 7 days.",),
        ),
        charts.Section(
            "Weekly volume and single-run spikes",
            (
                f"{n_spikes} run(s) in this period were more than 10% longer than the longest run of the 30 "
                "days "
                "before. A single run far beyond your recent longest is the best-supported warning sign "
                "(Frandsen et al. 2025); weekly totals matter less.",
            ),
            specs["weekly_volume"],
        ),
        charts.Section(
            "Load trend",
            (
                f"Session-RPE load = RPE x minutes (Foster 2001); {rated} of {total} runs were rated, the "
                "others "
                f"count with a default RPE of {load.DEFAULT_RPE:g}. Rate runs with `strideguard rate`.",
                *info.messages.values(),
            ),
            specs["load_trend"],
        ),
        charts.Section(
            "Pain against load",
            (
                "Pain during a run up to 5/10 (dashed line) is acceptable if it settles by the next "
                "morning and "
                "does not rise week to week (Silbernagel et al. 2007).",
            ),
            specs["pain_load"],
        ),
        charts.Section(
            "Shoe wear",
            (
                "Check a shoe at about 500 km and replace it between 500 and 800 km; StrideGuard alerts at "
                "90% "
                "and 100% of each shoe's limit (default 450 km). No study links shoe mileage itself to "
                "injury; "
                "rotating two pairs went with fewer injuries (Malisoux et al. 2015).",
            ),
            specs["shoe_wear"],
        ),
    ]
    return Report(today, first, specs, tuple(sections), flags)


def report_html(report: Report) -> str:
    """The report as one self-contained HTML page (the Vega bundle is inlined; no network needed)."""
    return charts.html_page(report.title, report.sections, report.subtitle)


def report_png(report: Report, scale: float = 1.5) -> bytes:
    """The four charts stacked in one PNG."""
    specs = [report.specs[k] for k in ("weekly_volume", "load_trend", "pain_load", "shoe_wear")]
    return charts.to_png(charts.stack(specs, f"{report.title}: {report.first_day} to {report.today}"), scale)
