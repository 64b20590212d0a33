"""`strideguard shoes`: add, edit (in-use dates), show, list, set-default, assign, retire, restore."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.cli.common import (
    PAST_DATE,
    AppContext,
    InputError,
    console,
    display_unit,
    parse_distance_m,
    pass_app,
    plural,
    resolve_activity,
)
from strideguard.model import SPORTS
from strideguard.storage import activities as store
from strideguard.storage import aggregates, shoe_use
from strideguard.storage import shoes as shoe_store
from strideguard.training.shoes import DEFAULT_RETIRE_AT_M, WEAR_LABELS, Shoe, progress_bar
from strideguard.units import sport_list


def _find(session: Session, athlete_id: int, ref: str) -> Shoe:
    try:
        return shoe_store.find_shoe(session, athlete_id, ref)
    except store.NotFound as exc:  # an unknown shoe given as an argument is bad input: exit 2
        raise InputError(str(exc)) from None


MAX_BARE_SHOE = 5000.0  # a shoe's distances run to hundreds: a bare number up to this is in the runner's unit


def _distance(text: str, option: str, unit: str) -> float:
    """A distance option; a bare number is in the runner's unit (km or mi)."""
    try:
        return parse_distance_m(text, unit, max_bare=MAX_BARE_SHOE)
    except click.BadParameter as exc:
        raise click.BadParameter(f"{option}: {exc.message}") from None


@click.group("shoes")
def shoes_group() -> None:
    """Track distance per pair of shoes and get told when one is worn out.

    Alerts "check" at 90% and "replace" at 100% of each shoe's limit. The default limit, 450 km, is set below
    the evidence (check a shoe at about 500 km, replace it between 500 and 800 km) so the check comes in
    time; rotating two pairs helps; no study links mileage itself to injury.

    \b
    Example:
      strideguard shoes add "Daily trainer" --brand Asics --model Novablast --default-for run
      strideguard shoes list
    """


@shoes_group.command("add")
@click.argument("name")
@click.option("--brand", help="Brand, e.g. Asics.")
@click.option("--model", help="Model, e.g. Novablast 4.")
@click.option(
    "--start-distance", default="0", show_default=True, help="Distance it had run before you logged it."
)
@click.option(
    "--retire-at",
    help="Retirement distance for this shoe, e.g. 450km or 280mi (default 450 km, about 280 mi; a bare "
    "number is in your unit, see `strideguard settings`).",
)
@click.option(
    "--default-for",
    type=click.Choice(SPORTS, case_sensitive=False),
    multiple=True,
    help="Use it for new imports of this sport (repeatable).",
)
@click.option(
    "--from",
    "in_use_from",
    type=PAST_DATE,
    help="In use from this date (when you bought it); default: its first run, else today.",
)
@click.option("--until", "in_use_until", type=PAST_DATE, help="In use until this date (retired then).")
@pass_app
def shoes_add_command(
    app: AppContext,
    name: str,
    brand: str | None,
    model: str | None,
    start_distance: str,
    retire_at: str | None,
    default_for: tuple[str, ...],
    in_use_from: date | None,
    in_use_until: date | None,
) -> None:
    """Add a pair of shoes.

    A run gets the shoe that was in use on its date: give --from when you bought it, so older imported
    runs stay off it (a run before every shoe's dates gets none).

    \b
    Example:
      strideguard shoes add "Daily trainer" --brand Asics --model "Novablast 4" --default-for run
      strideguard shoes add Racers --start-distance 120km --retire-at 350km --from 2026-03-01
    """
    with app.session() as (session, athlete_id):
        unit = display_unit(session, athlete_id)
        start_m = _distance(start_distance, "--start-distance", unit)
        retire_m = DEFAULT_RETIRE_AT_M if retire_at is None else _distance(retire_at, "--retire-at", unit)
        try:
            shoe = shoe_store.add_shoe(
                session, athlete_id, name, brand, model, start_m, retire_m, in_use_from, in_use_until
            )
            # Its dates' runs that StrideGuard assigned by date go on it now.
            moved = sum(shoe_store.set_default(session, athlete_id, shoe.id, s.lower()) for s in default_for)
        except shoe_store.ShoeInputError as exc:
            raise InputError(str(exc)) from None
    extra = f"; default for {', '.join(default_for)}" if default_for else ""
    since = in_use_from.isoformat() if in_use_from else "its first run (else today)"
    console.print(
        f"Added shoe #{shoe.id} {shoe.label}: {units.distance(start_m, unit, 0)} so far, retire at "
        f"{units.distance(retire_m, unit, 0)}{extra}; in use from {since}"
        + (f" until {in_use_until.isoformat()}" if in_use_until else "")
        + "."
        + (f" {plural(moved, 'run')} of those dates now on it." if moved else ""),
        markup=False,
    )


class _DateOrNone(click.ParamType):
    """A past date, or 'none' to clear it."""

    name = "DATE|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() == "none":
            return "none"
        return PAST_DATE.convert(value, param, ctx)


@shoes_group.command("edit")
@click.argument("shoe")
@click.option("--from", "in_use_from", type=_DateOrNone(), help="In use from (or 'none').")
@click.option("--until", "in_use_until", type=_DateOrNone(), help="In use until (or 'none').")
@pass_app
def shoes_edit_command(app: AppContext, shoe: str, in_use_from: Any, in_use_until: Any) -> None:
    """Change the dates SHOE (id or name) was in use; runs whose shoe StrideGuard chose by date move.

    Runs you put on a shoe yourself, or whose shoe an export named, never move. 'none' clears a date:
    from its first run, until it is retired.

    \b
    Example:
      strideguard shoes edit "Daily trainer" --from 2025-03-01 --until 2026-02-28
      strideguard shoes edit 2 --until none
    """
    if in_use_from is None and in_use_until is None:
        raise click.UsageError("give --from DATE and/or --until DATE (or 'none')")
    with app.session() as (session, athlete_id):
        found = _find(session, athlete_id, shoe)
        try:
            updated, moved = shoe_store.set_dates(
                session,
                athlete_id,
                found.id,
                _given(in_use_from),
                _given(in_use_until),
            )
        except shoe_store.ShoeInputError as exc:
            raise InputError(str(exc)) from None
        span = shoe_store.in_use(session, athlete_id)[found.id]
    console.print(
        f"#{updated.id} {updated.label} in use {_span_text(span)}; "
        f"{plural(moved, 'automatically assigned run')} changed shoe.",
        markup=False,
    )


def _given(value: Any) -> Any:
    """An option of `shoes edit`: not given (keep the date), 'none' (clear it) or a date."""
    return shoe_store.KEEP if value is None else (None if value == "none" else value)


NARROW_WIDTH = 100  # `shoes list` drops its wear bar on a terminal narrower than this


def _in_use_text(span: shoe_use.InUse) -> str:
    """The `shoes list` column: "since 2025-03-01", or "2025-03-01 to 2026-02-28" once it has an end."""
    if span.end is None:
        return f"since {span.start.isoformat()}"
    return f"{span.start.isoformat()} to {span.end.isoformat()}"


def _span_text(span: shoe_use.InUse) -> str:
    return f"from {span.start.isoformat()}" + (f" until {span.end.isoformat()}" if span.end else "")


@shoes_group.command("show")
@click.argument("shoe")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def shoes_show_command(app: AppContext, shoe: str, as_json: bool) -> None:
    """SHOE's dates and its runs; 'auto' marks runs StrideGuard put on it by date (not you or an export).

    \b
    Example:
      strideguard shoes show "Daily trainer"
    """
    with app.session() as (session, athlete_id):
        found = _find(session, athlete_id, shoe)
        span = shoe_store.in_use(session, athlete_id)[found.id]
        ids = set(shoe_store.shoe_activity_ids(session, athlete_id, found.id))
        runs = [a for a in store.list_activities(session, athlete_id, newest_first=False) if a.id in ids]
        unit = display_unit(session, athlete_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": found.id,
                    "name": found.name,
                    "in_use_from": span.start.isoformat(),
                    "in_use_until": span.end.isoformat() if span.end else None,
                    "from_given": found.in_use_from is not None,
                    "activities": [
                        {"id": a.id, "date": a.local_date.isoformat(), "sport": a.sport,
                         "distance_m": a.distance_m, "auto": a.shoe_auto}
                        for a in runs
                    ],
                },
                indent=2,
            )
        )  # fmt: skip
        return
    given = "" if found.in_use_from is not None else " (from its first run, else the day it was added)"
    console.print(f"#{found.id} {found.label}: in use {_span_text(span)}{given}.", markup=False)
    if not runs:
        console.print("No runs on it yet.")
        return
    table = Table(title=plural(len(runs), "activity"), title_justify="left")
    for header in ("id", "date", "sport", unit, "assigned"):
        table.add_column(header, justify="right" if header in {"id", unit} else "left")
    for a in runs:
        table.add_row(
            str(a.id),
            a.local_date.isoformat(),
            units.sport_label(a.sport).lower(),
            units.distance_number(a.distance_m, unit, 2),
            "auto (by date)" if a.shoe_auto else "by you or the export",
        )
    console.print(table)


@shoes_group.command("list")
@click.option("--active", is_flag=True, help="Hide retired shoes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def shoes_list_command(app: AppContext, active: bool, as_json: bool) -> None:
    """List shoes with their distance, share of the retirement distance and a wear bar.

    \b
    Example:
      strideguard shoes list
      strideguard shoes list --active --json
    """
    with app.session() as (session, athlete_id):
        defaults = shoe_store.defaults(session, athlete_id)
        # From the shoe totals the database keeps (revision 0005), not by reading every activity.
        wears = aggregates.shoes_with_wear(session, athlete_id, include_retired=not active)
        unit = display_unit(session, athlete_id)
        spans = shoe_store.in_use(session, athlete_id)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": w.shoe.id,
                        "name": w.shoe.name,
                        "brand": w.shoe.brand,
                        "model": w.shoe.model,
                        "start_distance_m": w.shoe.start_distance_m,
                        "retire_at_m": w.shoe.retire_at_m,
                        "distance_m": round(w.distance_m, 1),
                        "percent": round(w.percent, 1),
                        "level": w.level,
                        "activities": w.activities,
                        "last_used": w.last_used.isoformat() if w.last_used else None,
                        "retired": w.shoe.retired,
                        "in_use_from": spans[w.shoe.id].start.isoformat(),
                        "in_use_until": spans[w.shoe.id].end.isoformat() if spans[w.shoe.id].end else None,
                        "default_for": sorted(s for s, sid in defaults.items() if sid == w.shoe.id),
                    }
                    for w in wears
                ],
                indent=2,
            )
        )
        return
    if not wears:
        console.print('No shoes yet. Try [bold]strideguard shoes add "Daily trainer" --default-for run[/].')
        return
    # Under 100 columns the wear bar (the % says the same) and the column rules go, so that every column
    # keeps its room on an 80-column terminal.
    bar = console.width >= NARROW_WIDTH
    table = Table(title="Shoes", title_justify="left", **({} if bar else {"box": None, "pad_edge": False}))
    headers = ["id", "shoe", unit, "limit", *(["wear"] if bar else []), "%", "runs", "in use", "last used"]
    for header in [*headers, "default for", "status"]:
        table.add_column(
            header,
            justify="right" if header in {"id", unit, "limit", "%", "runs"} else "left",
            # A date never breaks inside: a narrow "in use" wraps after "since" or "to" instead.
            min_width=10 if header in {"in use", "last used"} else None,
        )
    for w in wears:
        colour = {"ok": "green", "check": "yellow", "replace": "red"}[w.level]
        status = "retired" if w.shoe.retired else ("" if w.level == "ok" else WEAR_LABELS[w.level].lower())
        table.add_row(
            str(w.shoe.id),
            Text(w.shoe.label),  # the runner's or the export's words: never rich markup
            units.distance_number(w.distance_m, unit, 0),
            units.distance_number(w.shoe.retire_at_m, unit, 0),
            *([f"[{colour}]{progress_bar(w.fraction)}[/]"] if bar else []),
            units.number(w.percent),
            str(w.activities),
            _in_use_text(spans[w.shoe.id]),
            w.last_used.isoformat() if w.last_used else "",
            ", ".join(sorted(s for s, sid in defaults.items() if sid == w.shoe.id)),
            status,
            style="dim" if w.shoe.retired else "",
        )
    console.print(table)


@shoes_group.command("set-default")
@click.argument("shoe")
@click.option(
    "--sport",
    type=click.Choice(SPORTS, case_sensitive=False),
    multiple=True,
    help="Sport (repeatable; default: run).",
)
@pass_app
def shoes_set_default_command(app: AppContext, shoe: str, sport: tuple[str, ...]) -> None:
    """Use SHOE (id or name) for new imported or added activities of a sport.

    \b
    Example:
      strideguard shoes set-default 2
      strideguard shoes set-default "Trail shoes" --sport trail_run
    """
    sports = [s.lower() for s in sport] or ["run"]
    with app.session() as (session, athlete_id):
        found = _find(session, athlete_id, shoe)
        before = shoe_store.defaults(session, athlete_id)
        try:
            for s in sports:
                shoe_store.set_default(session, athlete_id, found.id, s)
        except shoe_store.ShoeInputError as exc:
            raise InputError(str(exc)) from None
        previous = {
            s: shoe_store.get_shoe(session, athlete_id, before[s])
            for s in sports
            if before.get(s) not in (None, found.id)
        }
    message = f"New {', '.join(sports)} activities go on #{found.id} {found.label}"
    if previous:
        was = "; ".join(
            f"#{old.id} {old.label}" + (f" for {s}" if len(sports) > 1 else "") for s, old in previous.items()
        )
        message += f" (was: {was})"
    console.print(message + ".", markup=False)


@shoes_group.command("assign")
@click.argument("shoe")
@click.argument("activities", nargs=-1, required=True)
@pass_app
def shoes_assign_command(app: AppContext, shoe: str, activities: tuple[str, ...]) -> None:
    """Put one or more activities (ids, or 'last') on SHOE (id or name); use 'none' to clear.

    \b
    Example:
      strideguard shoes assign 2 last
      strideguard shoes assign "Daily trainer" 41 42 43
      strideguard shoes assign none 44
    """
    with app.session() as (session, athlete_id):
        found = None if shoe.lower() == "none" else _find(session, athlete_id, shoe)
        try:
            ids = [resolve_activity(session, athlete_id, ref) for ref in activities]
        except click.ClickException as exc:  # an unknown activity id is bad input (exit 2), not a failure
            if isinstance(exc, click.UsageError):
                raise
            raise InputError(exc.message) from None
        for activity_id in ids:
            shoe_store.assign(session, athlete_id, activity_id, found.id if found else None)
    target = f"#{found.id} {found.label}" if found else "no shoe"
    console.print(f"{plural(len(ids), 'activity')} now on {target}.", markup=False)


@shoes_group.command("retire")
@click.argument("shoe")
@pass_app
def shoes_retire_command(app: AppContext, shoe: str) -> None:
    """Retire SHOE (id or name): it keeps its history but gets no new runs and no alerts.

    \b
    Example:
      strideguard shoes retire 1
    """
    with app.session() as (session, athlete_id):
        found = _find(session, athlete_id, shoe)
        if found.retired:
            console.print(f"#{found.id} {found.label} is already retired.", markup=False)
            return
        cleared = shoe_store.default_sports(session, athlete_id, found.id)
        retired = shoe_store.retire(session, athlete_id, found.id)
    console.print(f"Retired #{retired.id} {retired.label}; its runs keep it in their history.", markup=False)
    if cleared:
        console.print(
            f"It was the default for {sport_list(cleared)}; choose another default: "
            f"strideguard shoes set-default SHOE --sport {cleared[0]}"
        )


@shoes_group.command("restore")
@click.argument("shoe")
@pass_app
def shoes_restore_command(app: AppContext, shoe: str) -> None:
    """Bring a retired SHOE (id or name) back into use.

    \b
    Example:
      strideguard shoes restore 1
    """
    with app.session() as (session, athlete_id):
        found = _find(session, athlete_id, shoe)
        if not found.retired:
            console.print(f"#{found.id} {found.label} is not retired.", markup=False)
            return
        try:
            restored = shoe_store.restore(session, athlete_id, found.id)
        except shoe_store.ShoeInputError as exc:
            raise InputError(str(exc)) from None
    console.print(
        f"Restored #{restored.id} {restored.label}. It is the default for no sport; "
        "use `strideguard shoes set-default` to make it one again.",
        markup=False,
    )


def register(group: click.Group) -> None:
    group.add_command(shoes_group)
