"""Commands over stored activities: runs, weeks, add-run, and the database itself."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from strideguard import units
from strideguard.activities.json_shape import activity_json
from strideguard.cli.common import (
    DATE,
    PAST_DATE,
    AppContext,
    InputError,
    console,
    display_unit,
    duration_reading,
    hms,
    parse_distance_m,
    parse_duration_s,
    pass_app,
    plural,
    resolve_activity,
    today_local,
)
from strideguard.model import RUNNING_SPORTS, SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import aggregates
from strideguard.storage import engine as db
from strideguard.storage import shoes as shoe_store
from strideguard.training import load

SPORT_CHOICES = click.Choice([*SPORTS, "all"], case_sensitive=False)


def _sports(sport: str | None) -> frozenset[str] | None:
    if sport is None:
        return None
    return None if sport == "all" else frozenset({sport})


def _rate(activity: Activity, unit: str) -> str:
    """Pace for runs and walks, speed for rides, time per 100 m for swims (strideguard.units, as the web)."""
    return units.format_rate(
        activity.sport,
        activity.distance_m,
        activity.moving_time_s or activity.elapsed_time_s,
        unit,
        activity.name or activity.source_name,
    )


@click.group("runs", invoke_without_command=True)
@click.option("--since", type=DATE, help="Only activities on or after this local date (YYYY-MM-DD).")
@click.option("--until", type=DATE, help="Only activities on or before this local date.")
@click.option("--sport", type=SPORT_CHOICES, default=None, help="Only this sport (default: all sports).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def runs_command(
    ctx: click.Context,
    since: date | None,
    until: date | None,
    sport: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List stored activities, newest first; `runs set-sport` corrects an activity's sport.

    The shoe column marks with "(auto)" a shoe StrideGuard chose by date and default (not you or an
    export); "?" after the sport marks a sport inferred from the file, kept out of your running load
    until you confirm it.

    \b
    Example:
      strideguard runs --since 2026-01-01 --sport run
      strideguard runs --json | jq '.[0]'
      strideguard runs set-sport 42 run
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(AppContext)
    assert app is not None
    _list_runs(app, since, until, sport, limit, as_json)


def _list_runs(
    app: AppContext,
    since: date | None,
    until: date | None,
    sport: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    if since and until and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")
    with app.session() as (session, athlete_id):
        activities = store.list_activities(session, athlete_id, since, until, _sports(sport), limit)
        any_stored = bool(activities) or bool(store.list_activities(session, athlete_id, limit=1))
        unit = display_unit(session, athlete_id)
        shoes = {shoe.id: shoe.name for shoe in shoe_store.list_shoes(session, athlete_id)}
    if as_json:
        click.echo(json.dumps([activity_json(a, unit) for a in activities], indent=2))
        return
    if not activities:
        if any_stored:
            console.print("No activities match these filters.")
        else:
            console.print(
                "No activities yet. Try [bold]strideguard import FILE[/] or [bold]strideguard demo[/]."
            )
        return
    table = Table(title=plural(len(activities), "activity"), title_justify="left")
    with_shoes = any(a.shoe_id for a in activities)  # no shoe column for a log without shoes
    for header, justify in (
        ("id", "right"),
        ("date", "left"),
        ("sport", "left"),
        (unit, "right"),
        ("time", "right"),
        ("pace or speed", "right"),
        ("HR", "right"),
        ("RPE", "right"),
        *([("shoe", "left")] if with_shoes else []),
        ("name", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for a in activities:
        shoe = Text(shoes.get(a.shoe_id, "") if a.shoe_id else "").append(
            " (auto)" if a.shoe_auto and a.shoe_id else "", style="dim"
        )
        table.add_row(
            str(a.id),
            a.local_date.isoformat(),
            units.sport_label(a.sport).lower() + (" ?" if a.sport_note else ""),
            units.distance_number(a.distance_m, unit, 2),
            hms(a.moving_time_s or a.elapsed_time_s),
            _rate(a, unit),
            f"{a.avg_heart_rate_bpm:.0f}" if a.avg_heart_rate_bpm else "",
            f"{a.rpe:g}" if a.rpe is not None else "",
            *([shoe] if with_shoes else []),
            # Names come from files and users: plain Text, never read as rich markup.
            Text(a.name or a.source_name or "").append(" [damaged]" if a.damaged else "", style="yellow"),
        )
    console.print(table)
    doubtful = [a for a in activities if a.sport_note]
    if doubtful:
        console.print(
            f"? {plural(len(doubtful), 'activity')} with a sport inferred from the file, kept out of your "
            "running load: see `strideguard runs set-sport ID run` if one really was a run.",
            markup=False,
        )


@runs_command.command("set-sport")
@click.argument("activity")
@click.argument("sport", type=click.Choice(SPORTS, case_sensitive=False))
@pass_app
def runs_set_sport_command(app: AppContext, activity: str, sport: str) -> None:
    """Set the sport of ACTIVITY (an id, or 'last'): your word overrules what StrideGuard inferred.

    \b
    Example:
      strideguard runs set-sport 42 run
      strideguard runs set-sport last other
    """
    sport = sport.lower()
    with app.session() as (session, athlete_id):
        try:
            activity_id = resolve_activity(session, athlete_id, activity)
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError):
                raise
            raise InputError(exc.message) from None
        before = store.get_activity(session, athlete_id, activity_id, with_streams=False)
        store.set_sport(session, athlete_id, activity_id, sport)
    counted = "counts in" if sport in RUNNING_SPORTS else "stays out of"
    console.print(
        f"#{activity_id} is now {units.sport_label(sport).lower()} "
        f"(was {units.sport_label(before.sport).lower()}); it {counted} your running load.",
        markup=False,
    )


DEFAULT_WEEKS = 12


@click.command("weeks")
@click.option(
    "--since",
    type=DATE,
    help="Weeks from this local date on; starts at the Monday of that date's week, so every week shown is "
    "whole (default: the last 12 weeks).",
)
@click.option("--until", type=DATE, help="The last week shown is the one of this date (default: today).")
@click.option("--all", "show_all", is_flag=True, help="Every week from your first run to your last.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def weeks_command(
    app: AppContext, since: date | None, until: date | None, show_all: bool, as_json: bool
) -> None:
    """Running distance, time and run count per ISO week (Monday to Sunday, your local dates).

    Shows the last 12 calendar weeks (weeks without a run as zeros) unless --since or --all asks for more.
    Runs, trail runs and treadmill runs count; walks and hikes do not.

    \b
    Example:
      strideguard weeks
      strideguard weeks --since 2026-01-01
      strideguard weeks --all --json
    """
    if show_all and since is not None:
        raise click.UsageError("give --since or --all, not both")
    until = until or today_local()
    last_monday = until - timedelta(days=until.weekday())
    if since is not None and since > until:
        raise click.UsageError(f"--since {since} is after {until}")
    first_monday = (
        since - timedelta(days=since.weekday())
        if since is not None
        else last_monday - timedelta(weeks=DEFAULT_WEEKS - 1)
    )
    with app.session() as (session, athlete_id):
        unit = display_unit(session, athlete_id)
        # From the week and day totals the database keeps (revision 0005), not by reading every run.
        found = aggregates.weeks_until(session, athlete_id, None if show_all else first_monday, until)
        any_runs = any(w.runs for w in found)
        first_run = store.first_activity_date(session, athlete_id, RUNNING_SPORTS)
        last_run = (
            None
            if any_runs
            else next(
                iter(store.list_activities(session, athlete_id, until=until, sports=RUNNING_SPORTS, limit=1)),
                None,
            )
        )
    if show_all:
        weeks = found
    else:
        # Weeks before the log began are not "weeks without running": start at the first run's week.
        if first_run is not None and first_run > first_monday:
            first_monday = first_run - timedelta(days=first_run.weekday())
        weeks = load.fill_weeks(found, first_monday, last_monday)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "week": w.label,
                        "monday": w.monday.isoformat(),
                        "distance_m": round(w.distance_m, 1),
                        "duration_s": round(w.duration_s, 1),
                        "runs": w.runs,
                    }
                    for w in weeks
                ],
                indent=2,
            )
        )
        return
    if first_run is None or first_run > until:
        console.print("No runs yet.")
        return
    more = (
        ""
        if show_all or first_monday <= first_run
        else f"Earlier weeks: --since DATE, or --all (your log starts on {first_run})."
    )
    if not any_runs:
        when = f"since {first_monday}" if since is not None else f"in the last {DEFAULT_WEEKS} weeks"
        last = f"; your last run was on {last_run.local_date}" if last_run is not None else ""
        console.print(f"No runs {when} ({first_monday} to {until}){last}.")
        if more:
            console.print(more)
        return
    title = (
        f"Running per week, the last {len(weeks)} weeks"
        if since is None and not show_all and len(weeks) == DEFAULT_WEEKS
        else "Running per week since your log began"
        if since is None and not show_all
        else "Running per week"
    )
    table = Table(title=title, title_justify="left")
    for header in ("week", "from", unit, "time", "runs"):
        table.add_column(header, justify="left" if header in {"week", "from"} else "right")
    for w in weeks:
        table.add_row(
            w.label,
            w.monday.isoformat(),
            units.distance_number(w.distance_m, unit),
            hms(w.duration_s),
            str(w.runs),
        )
    console.print(table)
    if more:
        console.print(more)


def _parse_offset(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        parsed = datetime.strptime(text.replace("Z", "+00:00"), "%z")
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a UTC offset; use e.g. +02:00 or -05:00") from None
    offset = parsed.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    if not -12 * 3600 <= seconds <= 14 * 3600:  # the offsets in use on Earth
        raise click.BadParameter(f"{text!r} is not a UTC offset in use; the range is -12:00 to +14:00")
    return seconds


def _parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a time of day; use HH:MM") from None


@click.command("add-run")
@click.option(
    "--date", "day", type=PAST_DATE, required=True, help="Local date of the run (YYYY-MM-DD, 1990 to today)."
)
@click.option("--distance", required=True, help="Distance, e.g. 10km, 5000m, 6.2mi.")
@click.option("--duration", required=True, help="Moving time, e.g. 55min, 1h05m, 1:05:00.")
@click.option("--rpe", type=click.FloatRange(0, 10), help="How hard it felt, 0-10 (CR-10 scale).")
@click.option("--sport", type=click.Choice(SPORTS, case_sensitive=False), default="run", show_default=True)
@click.option("--time", "start_time", default="12:00", show_default=True, help="Local start time, HH:MM.")
@click.option("--utc-offset", help="Your UTC offset on that day, e.g. +02:00 (default: this machine's).")
@click.option("--name", help="A name for the run.")
@click.option("--force", is_flag=True, help="Add it even if the same run (start, sport, distance) is logged.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored run as JSON.")
@pass_app
def add_run_command(
    app: AppContext,
    day: date,
    distance: str,
    duration: str,
    rpe: float | None,
    sport: str,
    start_time: str,
    utc_offset: str | None,
    name: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Log a run without a file (treadmill, forgotten watch).

    \b
    Example:
      strideguard add-run --date 2026-05-01 --distance 10km --duration 55min --rpe 6
      strideguard add-run --date 2026-05-02 --distance 8km --duration 48:00 --sport treadmill
    """
    with app.session() as (session, athlete_id):
        unit = display_unit(session, athlete_id)
    distance_m = _option(lambda text: parse_distance_m(text, unit), distance, "--distance")
    duration_s = _option(parse_duration_s, duration, "--duration")
    if distance_m <= 0 or duration_s <= 0:
        raise click.BadParameter("distance and duration must be more than zero")
    if distance_m / duration_s > 12.5:  # faster than the 100 m world record pace: a typo, not a run
        raise click.BadParameter(
            f"{distance} in {duration} ({duration_reading(duration, duration_s)}) is faster than any human "
            "runs; check the units",
            param_hint="--duration",
        )
    offset_s = _option(_parse_offset, utc_offset, "--utc-offset")
    local_start = datetime.combine(day, _option(_parse_time, start_time, "--time"))
    if offset_s is None:
        offset_s = int((local_start.astimezone().utcoffset() or timedelta()).total_seconds())
    start_utc = local_start.replace(tzinfo=timezone(timedelta(seconds=offset_s))).astimezone(UTC)
    activity = store.manual_activity(start_utc, distance_m, duration_s, sport, offset_s, rpe, name)
    with app.session() as (session, athlete_id):
        if not force:
            same = _same_run(store.list_activities(session, athlete_id, since=day, until=day), activity)
            if same is not None:
                raise click.ClickException(f"already logged as #{same} (use --force to add it anyway)")
        outcome = store.save_activity(session, athlete_id, activity)
        saved = store.get_activity(session, athlete_id, outcome.activity_id, with_streams=False)
    if as_json:
        click.echo(json.dumps(activity_json(saved, unit), indent=2))
    else:
        rate = _rate(saved, unit)
        console.print(
            f"Added #{saved.id}: {units.sport_label(saved.sport).lower()} on {saved.local_date}, "
            f"{units.activity_distance(distance_m, unit)} in {hms(duration_s)}"
            + (f" ({rate})." if rate else ".")
        )


def _option(parse: Any, text: Any, option: str) -> Any:
    """Run a parser and name the option in its error, as click does for typed options."""
    try:
        return parse(text)
    except click.BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


def _same_run(stored: list[Activity], new: Activity) -> int | None:
    """The id of a stored activity with the same start (to the minute), sport and distance (to 10 m)."""
    for other in stored:
        if (
            other.sport == new.sport
            and abs((other.start_utc - new.start_utc).total_seconds()) < 60
            and other.distance_m is not None
            and new.distance_m is not None
            and abs(other.distance_m - new.distance_m) < 10
        ):
            return other.id
    return None


@click.group("db")
def db_group() -> None:
    """Database maintenance.

    \b
    Example:
      strideguard db upgrade
      strideguard --db postgresql://coach@localhost/strideguard db upgrade
    """


@db_group.command("upgrade")
@pass_app
def db_upgrade_command(app: AppContext) -> None:
    """Create or upgrade the database schema to the latest version.

    \b
    Example:
      strideguard db upgrade
    """
    engine = app.engine  # opening upgrades already; say what happened
    console.print(f"Database {app.shown_url} is at schema version {db.current_revision(engine)}.")


def register(group: click.Group) -> None:
    for command in (runs_command, weeks_command, add_run_command, db_group):
        group.add_command(command)
