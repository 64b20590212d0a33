"""`strideguard pain`: the pain diary (add, list, regions) with the pain-monitoring rule."""

from __future__ import annotations

import json
from datetime import date

import click
from rich.table import Table
from rich.text import Text

from strideguard.cli import risk_text
from strideguard.cli.common import (
    DATE,
    PAST_DATE,
    AppContext,
    InputError,
    console,
    pass_app,
    plural,
    resolve_activity,
    today_local,
)
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.training import risk
from strideguard.training.pain import REGIONS, SIDES, TIMINGS, PainEntry, PainInputError, check_pain

REGION_CHOICE = click.Choice(list(REGIONS), case_sensitive=False)


@click.group("pain")
def pain_group() -> None:
    """A pain diary: where it hurts, how much (0-10), and when (before, during, after a run, next morning).

    Pain during a run up to 5/10 is acceptable if it settles by the next morning and does not rise week to
    week (Silbernagel et al. 2007); StrideGuard warns when that is breached.

    \b
    Example:
      strideguard pain add --region hip-lateral --side left --score 4 --when during --activity last
      strideguard pain list --since 2026-05-01
    """


@pain_group.command("add")
@click.option("--region", required=True, type=REGION_CHOICE, help="Where (see `strideguard pain regions`).")
@click.option("--side", required=True, type=click.Choice(SIDES, case_sensitive=False), help="Which side.")
@click.option("--score", required=True, type=click.IntRange(0, 10), help="How much, 0 (none) to 10 (worst).")
@click.option(
    "--when",
    "timing",
    required=True,
    type=click.Choice(TIMINGS, case_sensitive=False),
    help="When you felt it, relative to a run.",
)
@click.option("--activity", help="The run it belongs to: an id or 'last'.")
@click.option(
    "--date", "day", type=PAST_DATE, help="Local date, 1990 to today (default: the run's date, else today)."
)
@click.option("--note", help="Anything else worth remembering.")
@pass_app
def pain_add_command(
    app: AppContext,
    region: str,
    side: str,
    score: int,
    timing: str,
    activity: str | None,
    day: date | None,
    note: str | None,
) -> None:
    """Record pain in one region.

    \b
    Example:
      strideguard pain add --region hip-lateral --side left --score 4 --when during --activity last
      strideguard pain add --region groin-hip-front --side right --score 2 --when next-morning
    """
    rules = risk.default_rules()
    with app.session() as (session, athlete_id):
        try:
            activity_id = resolve_activity(session, athlete_id, activity) if activity else None
        except click.ClickException as exc:  # an unknown id is bad input (exit 2), not a failure
            if isinstance(exc, click.UsageError):
                raise
            raise InputError(f"--activity: {exc.message}") from None
        if day is None:
            if activity_id is not None:
                linked = store.get_activity(session, athlete_id, activity_id, with_streams=False)
                day = linked.local_date
                if timing.lower() == "next-morning":
                    day = date.fromordinal(day.toordinal() + 1)
            else:
                day = today_local()
        try:
            entry = PainEntry(day, region.lower(), side.lower(), score, timing.lower(), activity_id, note)
        except PainInputError as exc:
            raise InputError(str(exc)) from None
        saved = pain_store.add_pain(session, athlete_id, entry)
        history = pain_store.list_pain(session, athlete_id, region=saved.region, until=saved.day)
    link = f", run #{saved.activity_id}" if saved.activity_id else ""
    console.print(
        f"Recorded #{saved.id}: {REGIONS[saved.region].label} ({saved.side}) {saved.score}/10 "
        f"{saved.timing} on {saved.day}{link}."
    )
    same_side = [e for e in history if e.side == saved.side]
    for breach in check_pain(same_side, saved.day, saved.day):
        console.print(risk_text.flag_markup(risk.pain_flag(breach, rules), rules, indent=""))


@pain_group.command("list")
@click.option("--since", type=DATE, help="Only entries on or after this local date.")
@click.option("--until", type=DATE, help="Only entries on or before this local date.")
@click.option("--region", type=REGION_CHOICE, help="Only this region.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def pain_list_command(
    app: AppContext, since: date | None, until: date | None, region: str | None, as_json: bool
) -> None:
    """List pain entries, oldest first.

    \b
    Example:
      strideguard pain list --since 2026-05-01 --region hip-lateral
    """
    if since and until and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")
    with app.session() as (session, athlete_id):
        entries = pain_store.list_pain(session, athlete_id, since, until, region.lower() if region else None)
        any_stored = bool(entries) or bool(pain_store.list_pain(session, athlete_id))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "date": e.day.isoformat(),
                        "region": e.region,
                        "side": e.side,
                        "score": e.score,
                        "when": e.timing,
                        "activity_id": e.activity_id,
                        "note": e.note,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return
    if not entries:
        if any_stored:
            console.print("No pain entries match these filters.")
        else:
            console.print("No pain entries. Add one with [bold]strideguard pain add[/].")
        return
    table = Table(title=plural(len(entries), "pain entry", "pain entries"), title_justify="left")
    for header in ("id", "date", "region", "side", "score", "when", "run", "note"):
        table.add_column(header, justify="right" if header in {"id", "score", "run"} else "left")
    for e in entries:
        colour = "red" if e.score > 5 else "yellow" if e.score >= 4 else ""
        score = f"[{colour}]{e.score}/10[/]" if colour else f"{e.score}/10"
        table.add_row(
            str(e.id),
            e.day.isoformat(),
            REGIONS[e.region].label,
            e.side,
            score,
            e.timing,
            f"#{e.activity_id}" if e.activity_id else "",
            Text(e.note or ""),  # the runner's own words: never rich markup
        )
    console.print(table)


@pain_group.command("regions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pain_regions_command(as_json: bool) -> None:
    """The body-map regions you can record pain in (front and back views).

    \b
    Example:
      strideguard pain regions
    """
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"id": r.id, "label": r.label, "view": r.view, "hip_or_groin": r.hip_or_groin}
                    for r in REGIONS.values()
                ],
                indent=2,
            )
        )
        return
    table = Table(title="Body-map regions", title_justify="left")
    for header in ("region", "what", "view", "hip triage"):
        table.add_column(header)
    for r in REGIONS.values():
        table.add_row(r.id, r.label, r.view, "yes" if r.hip_or_groin else "")
    console.print(table)
    console.print(f"Sides: {', '.join(SIDES)}. When: {', '.join(TIMINGS)}. Scores 0-10.")


def register(group: click.Group) -> None:
    group.add_command(pain_group)
