"""Training load and injury-risk commands: risk, plan, rate, report (status: cli/status.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from strideguard.cli import risk_text
from strideguard.cli.common import (
    DATE,
    AppContext,
    console,
    display_unit,
    err_console,
    parse_distance_m,
    pass_app,
    plural,
    resolve_activity,
    today_local,
)
from strideguard.model import RUNNING_SPORTS
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage import triage as triage_store
from strideguard.training import load, risk

REPORT_WEEKS = 26  # report.DEFAULT_WEEKS, kept here so that loading this module does not load the report


def _flag_table(flags: list[risk.Flag], title: str, rules: risk.RiskRules) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("date", no_wrap=True)
    table.add_column("warning")
    table.add_column("run", justify="right")
    table.add_column("what it means")
    for flag in flags:
        severity, name, day, lines, citations = risk_text.flag_parts(flag)
        table.add_row(
            day,
            f"[{risk_text.SEVERITY_STYLE[severity]}]{escape(name)}[/]",
            f"#{flag.activity_id}" if flag.activity_id else "",
            "\n".join(escape(line) for line in lines) + f"\n[dim]{escape(rules.source_line(citations))}[/]",
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
    rules = risk_text.rules()
    with app.session() as (session, athlete_id):
        activities = risk_text.history(session, athlete_id, until)
        shoes = shoe_store.list_shoes(session, athlete_id)
        entries = pain_store.list_pain(session, athlete_id, until=until)
        unit = display_unit(session, athlete_id)
    flags = risk.evaluate(
        activities, until, since, shoes, entries, rules, risk_text.log_start(activities), unit
    )
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
    day = day or today_local()
    rules = risk_text.rules()
    window = int(rules.number("session_spike", "window_days"))
    with app.session() as (session, athlete_id):
        unit = display_unit(session, athlete_id)
        # Two windows back: the 30-day longest, and the 30 days before it (was that run itself a spike?).
        activities = store.list_activities(
            session, athlete_id, since=day - timedelta(days=2 * window + 1), until=day, sports=RUNNING_SPORTS
        )
        entries = pain_store.list_pain(session, athlete_id, since=day - timedelta(days=21), until=day)
        triage = triage_store.latest_triage(session, athlete_id, until=day)
    try:
        distance_m = parse_distance_m(distance, unit)
    except click.BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint="DISTANCE") from None
    if distance_m <= 0:
        raise click.BadParameter(f"distance {distance!r} must be more than zero")
    result = risk.plan(activities, distance_m, day, rules, unit)
    pain_flags = risk.evaluate([], day, pain=entries, rules=rules)
    # The hold-back speaks of the day planned, and replaces the verdict: no ceiling, nothing "fine".
    held = risk.hold_back(pain_flags, day, rules, triage, for_day=day, when=f"your run on {day.isoformat()}")
    if as_json:
        data = result.to_json()
        data["hold_back"] = held.to_json() if held else None
        if held is not None:
            data["max_within_10pct_m"] = None
            data["message"] = held.message
            data["citations"] = list(held.citations)
        click.echo(json.dumps(data, indent=2))
        return
    if held is not None:
        console.print(risk_text.hold_markup(held.to_json(), rules))
        return
    style = "green" if result.check.category is None and not result.check.returning else "bold yellow"
    console.print(f"[{style}]{escape(result.message)}[/]")
    console.print(f"[dim]{escape(rules.source_line(result.citations))}[/]")


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
    rules = risk_text.rules()
    with app.session() as (session, athlete_id):
        activities = risk_text.history(session, athlete_id, day)
        shoes = shoe_store.list_shoes(session, athlete_id)
        entries = pain_store.list_pain(session, athlete_id, until=day)
        unit = display_unit(session, athlete_id)
    if not activities:
        err_console.print(f"warning: no activities on or before {day}; the report is empty.", markup=False)
    from strideguard.training import report  # the charts and the PNG renderer: only this command

    built = report.build_report(activities, day, shoes, entries, weeks, rules, unit)
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
    for command in (risk_command, plan_command, report_command, rate_command):
        group.add_command(command)
