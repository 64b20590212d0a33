"""`strideguard status`: the runner's screen in the terminal, with one voice (the same facts as the web).

The weeks are the calendar's (this week is the week of the status date); a log whose last run is older says
when that run was. The longest-run figure and a hold-back never appear together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.cli import risk_text
from strideguard.cli.common import DATE, AppContext, console, display_unit, pass_app, today_local
from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import aggregates, overview
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage import triage as triage_store
from strideguard.training import load, risk
from strideguard.training.pain import REGIONS, PainEntry, pain_trends
from strideguard.training.shoes import Shoe, ShoeWear, progress_bar, shoe_wear

STATUS_WEEKS = 5  # this calendar week and the four before


@dataclass(frozen=True, slots=True)
class Totals:
    """What `status` reads from the totals the database keeps instead of from every activity."""

    weeks: list[load.WeekVolume]  # at least the STATUS_WEEKS weeks ending the status date's week
    daily: list[load.DayLoad]  # the running load series ending the status date
    wears: list[ShoeWear] | None  # None: count the activities given
    log_start: date | None
    last_run: date | None = None  # the last run on or before the status date, when none is recent


def read_totals(
    session: Session, athlete_id: int, day: date, rules: risk.RiskRules
) -> tuple[list[Activity], list[Shoe], Totals]:
    """The recent runs, the shoes and the totals `build_status` needs for `day`: what the dashboard reads
    (storage.overview), without reading the whole history unless `day` is in the past."""
    # The shoe totals count every run; a status of a past date counts the runs up to it.
    later = store.list_activities(session, athlete_id, since=day + timedelta(days=1), limit=1)
    read = overview.read(session, athlete_id, day, rules, whole_history=bool(later))
    monday = day - timedelta(days=day.weekday())
    weeks = aggregates.weeks_until(session, athlete_id, monday - timedelta(weeks=STATUS_WEEKS - 1), day)
    log_start = read.log_start if read.log_start is not None and read.log_start <= day else None
    return read.recent, read.shoes, Totals(weeks, read.daily, read.wears, log_start, read.last_run)


def build_status(
    activities: list[Activity],
    shoes: list[Shoe],
    entries: list[PainEntry],
    day: date,
    rules: risk.RiskRules,
    shoe_defaults: dict[str, int] | None = None,
    triage: tuple[date, str] | tuple[date, str, str] | None = None,
    unit: str = "km",
    totals: Totals | None = None,
) -> dict[str, Any]:
    """Everything `status` shows, as JSON-ready data (`triage`: the latest hip check's date and level).

    `activities` is the whole history up to `day`, or, with `totals` (what the database keeps), the
    recent runs that `overview.recent_runs` reads: the result is the same."""
    runs = [a for a in activities if a.sport in RUNNING_SPORTS and a.local_date <= day]
    monday = day - timedelta(days=day.weekday())
    first_monday = monday - timedelta(weeks=STATUS_WEEKS - 1)
    if totals is None:
        totals = Totals(
            load.weekly_volume(runs), load.daily_series(runs, end=day), None, risk_text.log_start(activities)
        )
    weeks = load.fill_weeks(totals.weeks, first_monday, monday)
    daily = totals.daily
    change = load.weekly_change(daily, day, int(rules.number("weekly_increase", "baseline_weeks")))
    wears = totals.wears if totals.wears is not None else shoe_wear(shoes, activities)
    flags = risk.evaluate(activities, day, None, shoes, entries, rules, totals.log_start, unit, wears=wears)
    tomorrow = day + timedelta(days=1)
    safe = risk.plan(activities, 0.0, tomorrow, rules, unit)
    held = risk.hold_back(flags, day, rules, triage, for_day=tomorrow)
    info = risk.load_info(activities, day, rules, daily=daily)
    defaults = shoe_defaults or {}
    trends = pain_trends(entries, day)
    last_run = runs[-1].local_date if runs else totals.last_run
    return {
        "date": day.isoformat(),
        "unit": unit,
        "this_week_monday": monday.isoformat(),
        "last_run_date": None if last_run is None else last_run.isoformat(),
        "weeks": [
            {
                "week": w.label,
                "monday": w.monday.isoformat(),
                "distance_m": round(w.distance_m, 1),
                "runs": w.runs,
            }
            for w in weeks
        ],
        "last7_m": round(change.last7_m, 1),
        "baseline_mean_week_m": round(change.baseline_mean_m, 1),
        "last7_change_pct": None if change.change_pct is None else round(change.change_pct, 1),
        "flags": [f.to_json() for f in flags],
        # Held back: no figure at all, so nothing can read it as a target.
        "longest_safe_run_tomorrow_m": None
        if held is not None or safe.check.max_within_m is None
        else round(safe.check.max_within_m, 1),
        "longest_safe_run_text": None
        if held is not None or safe.check.returning
        else " ".join(p for p in (safe.ceiling, safe.base_note) if p),
        "hold_back": held.to_json() if held else None,
        "longest_30d_m": safe.check.longest_prev_m,
        "longest_30d_was_spike": safe.to_json()["longest_30d_was_spike"],
        "load": info.to_json(),
        "shoes": [
            {
                "id": w.shoe.id,
                "name": w.shoe.label,
                "distance_m": round(w.distance_m, 1),
                "percent": round(w.percent, 1),
                "level": w.level,
                "default_for": sorted(s for s, sid in defaults.items() if sid == w.shoe.id),
            }
            for w in wears
            if not w.shoe.retired
        ],
        "pain": [
            {
                "region": t.region,
                "label": REGIONS[t.region].label,
                "side": t.side,
                "direction": t.direction,
                "mean_last7": None if t.current_mean is None else round(t.current_mean, 2),
                "mean_prev7": None if t.previous_mean is None else round(t.previous_mean, 2),
                "latest_score": t.latest_score,
                "latest_date": t.latest_day.isoformat(),
            }
            for t in trends
        ],
    }


def _print_weeks(data: dict[str, Any], unit: str) -> None:
    weeks = data["weeks"]
    last_run = data["last_run_date"]
    if last_run is None:
        console.print("No runs yet. Try `strideguard import FILE` or `strideguard add-run`.\n")
        return
    if not any(w["runs"] for w in weeks):  # an old log: no calendar week here has a run
        console.print(
            f"No runs in the last {len(weeks)} weeks ({weeks[0]['monday']} to {data['date']}); "
            f"your last run was on {last_run}.\n"
        )
        return
    table = Table(title="This week against the weeks before", title_justify="left")
    for header in ("week", "from", unit, "runs"):
        table.add_column(header, justify="right" if header in {unit, "runs"} else "left")
    for w in weeks:
        current = w["monday"] == data["this_week_monday"]
        table.add_row(
            w["week"] + (" (this week)" if current else ""),
            w["monday"],
            units.distance_number(w["distance_m"], unit),
            str(w["runs"]),
            style="bold" if current else "",
        )
    console.print(table)
    change = data["last7_change_pct"]
    trend = ""
    if change is not None:
        shown = units.percent(abs(change))
        baseline = units.distance(data["baseline_mean_week_m"], unit)
        trend = (
            f", about the same as your mean week of the 2 weeks before ({baseline})"
            if shown == "0%"
            else f", {shown} {'more' if change > 0 else 'less'} than your mean week of the 2 weeks before "
            f"({baseline})"
        )
    console.print(f"Last 7 days: {units.distance(data['last7_m'], unit)}{trend}.\n")


def print_status(data: dict[str, Any], rules: risk.RiskRules) -> None:
    unit = data["unit"]
    console.print(f"[bold]StrideGuard status on {data['date']}[/]  [dim](guidance, not diagnosis)[/]\n")
    _print_weeks(data, unit)
    flags = data["flags"]
    if flags:
        console.print(f"[bold]Warnings (last 7 days): {len(flags)}[/]")
        for f in flags:
            console.print(risk_text.flag_markup(f, rules))
        console.print()
    else:
        console.print("[green]No warnings in the last 7 days.[/]\n")
    held = data["hold_back"]
    tomorrow = (date.fromisoformat(data["date"]) + timedelta(days=1)).isoformat()
    if held is not None:  # pain or a recent urgent hip check: no distance that could read as a target
        console.print(risk_text.hold_markup(held, rules) + "\n")
    elif data["longest_safe_run_text"] is None:
        last = f" (your last run was on {data['last_run_date']})" if data["last_run_date"] else ""
        console.print(
            f"Longest run for tomorrow ({tomorrow}): no run in the last 30 days{last} - start short and "
            "build gradually.\n"
        )
    else:
        console.print(f"Longest run for tomorrow: {escape(data['longest_safe_run_text'])}\n")
    for message in data["load"]["messages"].values():
        console.print(f"[cyan]Trend[/] {escape(message)}")
    console.print()
    if data["shoes"]:
        table = Table(title="Shoes", title_justify="left")
        for header in ("id", "shoe", unit, "wear", "%", "default for"):
            table.add_column(header, justify="right" if header in {"id", unit, "%"} else "left")
        for s in data["shoes"]:
            colour = {"ok": "green", "check": "yellow", "replace": "red"}[s["level"]]
            table.add_row(
                str(s["id"]),
                escape(s["name"]),
                units.distance_number(s["distance_m"], unit, 0),
                f"[{colour}]{progress_bar(s['percent'] / 100)}[/]",
                units.number(s["percent"]),
                units.sport_list(s["default_for"]),
            )
        console.print(table)
    if data["pain"]:
        table = Table(title="Pain, last 7 days against the 7 before", title_justify="left")
        for header in ("region", "side", "trend", "mean now", "mean before", "latest"):
            table.add_column(header)
        for p in data["pain"]:
            colour = {"rising": "red", "new": "yellow", "falling": "green"}.get(p["direction"], "")
            table.add_row(
                escape(p["label"]),
                p["side"],
                f"[{colour}]{p['direction']}[/]" if colour else p["direction"],
                units.number(p["mean_last7"], 1),
                units.number(p["mean_prev7"], 1),
                f"{p['latest_score']}/10 on {p['latest_date']}",
            )
        console.print(table)


@click.command("status")
@click.option("--date", "day", type=DATE, help="Show the status as of this local date (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status_command(app: AppContext, day: date | None, as_json: bool) -> None:
    """Your training at a glance: this week against recent weeks, warnings with their reasons, the
    longest safe run for tomorrow, shoes near retirement, and pain trend by region.

    \b
    Example:
      strideguard status
      strideguard status --json
    """
    day = day or today_local()
    rules = risk_text.rules()
    with app.session() as (session, athlete_id):
        activities, shoes, totals = read_totals(session, athlete_id, day, rules)
        defaults = shoe_store.defaults(session, athlete_id)
        entries = pain_store.list_pain(session, athlete_id, until=day)
        triage = triage_store.latest_triage(session, athlete_id, until=day)
        unit = display_unit(session, athlete_id)
    data = build_status(activities, shoes, entries, day, rules, defaults, triage, unit, totals)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    print_status(data, rules)


def register(group: click.Group) -> None:
    group.add_command(status_command)
