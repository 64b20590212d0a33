"""Training load and injury-risk commands: risk, plan, status, report, rate."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from strideguard.cli.common import (
    DATE,
    AppContext,
    InputError,
    console,
    err_console,
    parse_distance_m,
    pass_app,
    plural,
)
from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage import triage as triage_store
from strideguard.training import load, risk
from strideguard.training.pain import REGIONS, PainEntry, pain_trends
from strideguard.training.shoes import Shoe, progress_bar, shoe_wear

SEVERITY_STYLE = {"warning": "bold red", "watch": "yellow", "info": "cyan"}


def today_local() -> date:
    """This machine's local calendar date."""
    return datetime.now(UTC).astimezone().date()


REPORT_WEEKS = 26  # report.DEFAULT_WEEKS, kept here so that loading this module does not load Altair


def resolve_activity(session: Session, athlete_id: int, ref: str) -> int:
    """An activity id from 'ID', '#ID' or 'last' (the most recent activity); a one-line error otherwise."""
    text = ref.strip().lstrip("#").lower()
    if text == "last":
        latest = store.latest_activity_id(session, athlete_id)
        if latest is None:
            raise click.ClickException("no activities yet, so there is no 'last' one")
        return latest
    if not text.isdigit():
        raise click.BadParameter(
            f"{ref!r} is not an activity id; use a number from `strideguard runs` or 'last'"
        )
    activity_id = int(text)
    try:
        store.get_activity(session, athlete_id, activity_id, with_streams=False)
    except store.NotFound as exc:
        raise InputError(f"{exc}; see `strideguard runs`") from None
    return activity_id


def _rules() -> risk.RiskRules:
    try:
        return risk.default_rules()
    except risk.RiskRulesError as exc:
        raise click.ClickException(f"the risk rules are broken: {exc.errors[0]}") from None


def _history(session: Session, athlete_id: int, until: date) -> list[Activity]:
    """Every activity up to `until`, oldest first (shoes need the whole history, rules 30+ days)."""
    return store.list_activities(session, athlete_id, until=until, newest_first=False)


def _source_line(ids: tuple[str, ...] | list[str], rules: risk.RiskRules) -> str:
    """Citations as a reader sees them ("Frandsen et al. (2025)"), not as knowledge-file ids."""
    shown = []
    for cid in ids:
        source = rules.sources.get(cid)
        if source is None:
            shown.append(cid)
            continue
        who = source.text.split(". ")[0].strip()
        if "," in who:  # an author list: the first author is enough to find it
            who = who.split(",")[0].strip() + " et al."
        if len(who) > 60:
            who = who[:57].rsplit(" ", 1)[0] + "..."
        shown.append(f"{who} ({source.year})" if source.year else who)
    return "Source: " + "; ".join(shown)


def _log_start(history: list[Activity]) -> date | None:
    """The first run's local date in a whole history (oldest first, as `_history` returns it)."""
    return next((a.local_date for a in history if a.sport in RUNNING_SPORTS), None)


def _flag_table(flags: list[risk.Flag], title: str, rules: risk.RiskRules) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("date", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("run", justify="right")
    table.add_column("what it means")
    for flag in flags:
        style = SEVERITY_STYLE[flag.severity]
        label = flag.rule.replace("_", " ") + (
            f"\n({flag.category.replace('_', ' ')})" if flag.category else ""
        )
        table.add_row(
            flag.day.isoformat(),
            f"[{style}]{label}[/]",
            f"#{flag.activity_id}" if flag.activity_id else "",
            escape(flag.message) + f"\n[dim]{escape(_source_line(flag.citations, rules))}[/]",
        )
    return table


@click.command("risk")
@click.option("--since", type=DATE, help="Show flags from this local date on (default: the last 7 days).")
@click.option("--until", type=DATE, help="Last day to evaluate (default: today).")
@click.option("--json", "as_json", is_flag=True, help='Print JSON: {"flags": [...]}.')
@pass_app
def risk_command(app: AppContext, since: date | None, until: date | None, as_json: bool) -> None:
    """Injury-risk warnings: single-run spikes, returning after a break, weekly increase, shoes, pain.

    A run more than 10% longer than your longest run of the previous 30 days is the main warning
    (Frandsen et al. 2025). Each flag explains itself and names its source.

    \b
    Example:
      strideguard risk
      strideguard risk --since 2026-01-01 --json
    """
    until = until or today_local()
    if since is not None and since > until:
        raise click.BadParameter(f"--since {since} is after {until}")
    rules = _rules()
    with app.session() as (session, athlete_id):
        activities = _history(session, athlete_id, until)
        shoes = shoe_store.list_shoes(session, athlete_id)
        entries = pain_store.list_pain(session, athlete_id, until=until)
    flags = risk.evaluate(activities, until, since, shoes, entries, rules, _log_start(activities))
    first = since or until - timedelta(days=risk.DEFAULT_WINDOW_DAYS - 1)
    if as_json:
        payload = {
            "since": first.isoformat(),
            "until": until.isoformat(),
            "flags": [f.to_json() for f in flags],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if not flags:
        console.print(f"No warnings from {first} to {until}.")
        return
    console.print(_flag_table(flags, f"{plural(len(flags), 'warning')} from {first} to {until}", rules))


@click.command("plan")
@click.argument("distance")
@click.option("--date", "day", type=DATE, help="Day of the planned run (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def plan_command(app: AppContext, distance: str, day: date | None, as_json: bool) -> None:
    """Check a planned run against your longest run of the previous 30 days, before you go.

    Tells you the longest run that stays within 10% of it, and the spike category if the plan is longer.

    \b
    Example:
      strideguard plan 16km
      strideguard plan 21.1km --date 2026-06-01 --json
    """
    distance_m = parse_distance_m(distance)
    if distance_m <= 0:
        raise click.BadParameter(f"distance {distance!r} must be more than zero")
    day = day or today_local()
    rules = _rules()
    with app.session() as (session, athlete_id):
        activities = store.list_activities(
            session, athlete_id, since=day - timedelta(days=31), until=day, sports=RUNNING_SPORTS
        )
        entries = pain_store.list_pain(session, athlete_id, since=day - timedelta(days=21), until=day)
        triage = triage_store.latest_triage(session, athlete_id, until=day)
    result = risk.plan(activities, distance_m, day, rules)
    pain_flags = risk.evaluate([], day, pain=entries, rules=rules)
    held = risk.hold_back(pain_flags, day, rules, triage)
    if as_json:
        data = result.to_json()
        data["hold_back"] = held.to_json() if held else None
        click.echo(json.dumps(data, indent=2))
        return
    if held is not None:  # the pain or the hip check comes before any distance
        console.print(f"[bold red]{escape(held.message)}[/]")
        console.print(f"[dim]{escape(_source_line(held.citations, rules))}[/]\n")
    style = "green" if result.check.category is None and not result.check.returning else "bold yellow"
    console.print(f"[{style}]{escape(result.message)}[/]")
    console.print(f"[dim]{escape(_source_line(result.citations, rules))}[/]")


@click.command("rate")
@click.argument("activity")
@click.option(
    "--rpe",
    type=click.FloatRange(0, 10),
    help="How hard it felt, 0-10 (CR-10: 3 moderate, 5 hard, 7 very hard).",
)
@click.option("--feel", type=click.Choice(load.FEELS, case_sensitive=False), help="How the run felt.")
@pass_app
def rate_command(app: AppContext, activity: str, rpe: float | None, feel: str | None) -> None:
    """Record how hard a run felt (RPE, 0-10) and how it felt (great, good, ok, tired, sore).

    RPE x minutes is the run's session load (Foster 2001); unrated runs count with a default RPE of 4.

    \b
    Example:
      strideguard rate last --rpe 6 --feel good
      strideguard rate 42 --rpe 8 --feel tired
    """
    if rpe is None and feel is None:
        raise click.UsageError("give --rpe, --feel or both")
    changes: dict[str, Any] = {}
    if rpe is not None:
        changes["rpe"] = rpe
    if feel is not None:
        changes["feel"] = feel.lower()
    with app.session() as (session, athlete_id):
        activity_id = resolve_activity(session, athlete_id, activity)
        store.update_activity(session, athlete_id, activity_id, **changes)
        saved = store.get_activity(session, athlete_id, activity_id, with_streams=False)
    parts = []
    if saved.rpe is not None:
        minutes = load.duration_s_of(saved) / 60
        parts.append(f"RPE {saved.rpe:g} (load {saved.rpe * minutes:.0f})")
    if saved.feel:
        parts.append(f"felt {saved.feel}")
    console.print(f"Rated #{activity_id} ({saved.local_date}): {', '.join(parts)}.")


# ---------------------------------------------------------------------------------------------------------
# status


def build_status(
    activities: list[Activity],
    shoes: list[Shoe],
    entries: list[PainEntry],
    day: date,
    rules: risk.RiskRules,
    shoe_defaults: dict[str, int] | None = None,
    triage: tuple[date, str] | None = None,
) -> dict[str, Any]:
    """Everything `status` shows, as JSON-ready data (`triage`: the latest hip check's date and level)."""
    runs = [a for a in activities if a.sport in RUNNING_SPORTS]
    weeks = [w for w in load.weekly_volume(runs) if w.monday <= day][-5:]
    daily = load.daily_series(runs, end=day)
    change = load.weekly_change(daily, day, int(rules.number("weekly_increase", "baseline_weeks")))
    flags = risk.evaluate(activities, day, None, shoes, entries, rules, _log_start(activities))
    safe = risk.plan(activities, 0.0, day + timedelta(days=1), rules).check
    held = risk.hold_back(flags, day + timedelta(days=1), rules, triage)
    info = risk.load_info(activities, day, rules)
    wears = shoe_wear(shoes, activities)
    defaults = shoe_defaults or {}
    trends = pain_trends(entries, day)
    return {
        "date": day.isoformat(),
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
        "longest_safe_run_tomorrow_m": None if safe.max_within_m is None else round(safe.max_within_m, 1),
        "hold_back": held.to_json() if held else None,
        "longest_30d_m": safe.longest_prev_m,
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


def _print_status(data: dict[str, Any], rules: risk.RiskRules) -> None:
    day = data["date"]
    console.print(f"[bold]StrideGuard status on {day}[/]  [dim](guidance, not diagnosis)[/]\n")
    if data["weeks"]:
        table = Table(title="This week against recent weeks", title_justify="left")
        for header in ("week", "from", "km", "runs"):
            table.add_column(header, justify="right" if header in {"km", "runs"} else "left")
        for index, w in enumerate(data["weeks"]):
            current = index == len(data["weeks"]) - 1
            style = "bold" if current else ""
            table.add_row(
                w["week"] + (" (this week)" if current else ""),
                w["monday"],
                f"{w['distance_m'] / 1000:.1f}",
                str(w["runs"]),
                style=style,
            )
        console.print(table)
        change = data["last7_change_pct"]
        trend = "" if change is None else f", {change:+.0f}% against your mean week before"
        console.print(f"Last 7 days: {data['last7_m'] / 1000:.1f} km{trend}.\n")
    else:
        console.print("No runs yet. Try `strideguard import FILE` or `strideguard add-run`.\n")
    flags = data["flags"]
    if flags:
        console.print(f"[bold]Warnings (last 7 days): {len(flags)}[/]")
        for f in flags:
            style = SEVERITY_STYLE[f["severity"]]
            console.print(f"  [{style}]{f['rule'].replace('_', ' ')}[/] {f['date']}: {escape(f['message'])}")
            console.print(f"    [dim]{escape(_source_line(f['citations'], rules))}[/]")
        console.print()
    else:
        console.print("[green]No warnings in the last 7 days.[/]\n")
    safe = data["longest_safe_run_tomorrow_m"]
    held = data["hold_back"]
    if held is not None:  # pain or a recent urgent hip check: no distance that could read as a target
        console.print(f"[bold red]{escape(held['message'])}[/]")
        console.print(f"[dim]{escape(_source_line(held['citations'], rules))}[/]\n")
    elif safe is None:
        console.print(
            "Longest run for tomorrow: no run in the last 30 days - start short and build gradually.\n"
        )
    else:
        console.print(
            f"Longest run for tomorrow that stays within 10% of your 30-day longest "
            f"({data['longest_30d_m'] / 1000:.1f} km): [bold]{safe / 1000:.1f} km[/] "
            "(a ceiling, not a target).\n"
        )
    for message in data["load"]["messages"].values():
        console.print(f"[cyan]Trend[/] {escape(message)}")
    console.print()
    if data["shoes"]:
        table = Table(title="Shoes", title_justify="left")
        for header in ("id", "shoe", "km", "wear", "%", "default for"):
            table.add_column(header, justify="right" if header in {"id", "km", "%"} else "left")
        for s in data["shoes"]:
            colour = {"ok": "green", "check": "yellow", "replace": "red"}[s["level"]]
            table.add_row(
                str(s["id"]),
                escape(s["name"]),
                f"{s['distance_m'] / 1000:.0f}",
                f"[{colour}]{progress_bar(s['percent'] / 100)}[/]",
                f"{s['percent']:.0f}",
                ", ".join(s["default_for"]),
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
                "" if p["mean_last7"] is None else f"{p['mean_last7']:.1f}",
                "" if p["mean_prev7"] is None else f"{p['mean_prev7']:.1f}",
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
    rules = _rules()
    with app.session() as (session, athlete_id):
        activities = _history(session, athlete_id, day)
        shoes = shoe_store.list_shoes(session, athlete_id)
        defaults = shoe_store.defaults(session, athlete_id)
        entries = pain_store.list_pain(session, athlete_id, until=day)
        triage = triage_store.latest_triage(session, athlete_id, until=day)
    data = build_status(activities, shoes, entries, day, rules, defaults, triage)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    _print_status(data, rules)


@click.command("report")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the report: .html (interactive, offline) or .png (one image).",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 520),
    default=REPORT_WEEKS,
    show_default=True,
    help="How many weeks to show.",
)
@click.option("--date", "day", type=DATE, help="Last day of the report (default: today).")
@pass_app
def report_command(app: AppContext, out: Path, weeks: int, day: date | None) -> None:
    """Write a report with four charts: weekly volume with spikes marked, load trend (CTL/ATL/TSB),
    pain scores against load, and shoe wear. Works offline: the chart library is inside the file.

    \b
    Example:
      strideguard report --out report.html
      strideguard report --out report.png --weeks 12
    """
    suffix = out.suffix.lower()
    if suffix not in {".html", ".htm", ".png"}:
        raise click.BadParameter(
            f"{out}: the report is written as .html or .png, not {suffix or 'no suffix'}"
        )
    day = day or today_local()
    rules = _rules()
    with app.session() as (session, athlete_id):
        activities = _history(session, athlete_id, day)
        shoes = shoe_store.list_shoes(session, athlete_id)
        entries = pain_store.list_pain(session, athlete_id, until=day)
    if not activities:
        err_console.print(f"warning: no activities on or before {day}; the report is empty.", markup=False)
    from strideguard.training import (
        report,  # Altair and vl-convert: only this command needs them (~0.8 s to load)
    )

    built = report.build_report(activities, day, shoes, entries, weeks, rules)
    try:
        if suffix == ".png":
            out.write_bytes(report.report_png(built))
        else:
            out.write_text(report.report_html(built), encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    console.print(
        f"Wrote {out} ({out.stat().st_size / 1024:.0f} KiB): {built.first_day} to {built.today}.",
        markup=False,
    )


def register(group: click.Group) -> None:
    for command in (risk_command, plan_command, status_command, report_command, rate_command):
        group.add_command(command)
