"""Shoes in the database: add, list, per-sport defaults, assign, retire, restore. Athlete-scoped.

Functions take an open Session and never commit (the caller owns the transaction), like activities.py.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.model import SPORTS
from strideguard.storage import activities as store
from strideguard.storage import shoe_use
from strideguard.storage.activities import NotFound
from strideguard.storage.engine import plain_rows
from strideguard.storage.tables import ActivityRow, ShoeDefaultRow, ShoeRow
from strideguard.training.shoes import DEFAULT_RETIRE_AT_M, Shoe


class ShoeInputError(ValueError):
    """A shoe value that cannot be stored (empty name, negative distance, unknown sport)."""


def to_shoe(row: ShoeRow | sa.Row[Any]) -> Shoe:
    return Shoe(
        id=row.id,
        name=row.name,
        brand=row.brand,
        model=row.model,
        start_distance_m=row.start_distance_m or 0.0,
        retire_at_m=row.retire_at_m or DEFAULT_RETIRE_AT_M,
        retired_at=row.retired_at,
        created_at=row.created_at,
        in_use_from=row.in_use_from,
        in_use_until=row.in_use_until,
    )


def _row(session: Session, athlete_id: int, shoe_id: int) -> ShoeRow:
    row = session.scalar(sa.select(ShoeRow).where(ShoeRow.id == shoe_id, ShoeRow.athlete_id == athlete_id))
    if row is None:
        raise NotFound(f"no shoe #{shoe_id}")
    return row


def _check(name: str, start_distance_m: float, retire_at_m: float) -> None:
    """Refuse an empty name, a negative start distance or a retirement distance of zero or less."""
    if not name.strip():
        raise ShoeInputError("a shoe needs a name")
    if not math.isfinite(start_distance_m) or start_distance_m < 0:
        raise ShoeInputError(f"start distance {start_distance_m / 1000:g} km cannot be negative")
    if not math.isfinite(retire_at_m) or retire_at_m <= 0:
        raise ShoeInputError(f"retirement distance {retire_at_m / 1000:g} km must be more than zero")


def _check_dates(in_use_from: date | None, in_use_until: date | None) -> None:
    if in_use_from is not None and in_use_until is not None and in_use_until < in_use_from:
        raise ShoeInputError(
            f"in use until {in_use_until.isoformat()} is before in use from {in_use_from.isoformat()}"
        )


def _check_name(session: Session, athlete_id: int, name: str, shoe_id: int | None = None) -> None:
    """Refuse a name that is only digits (it would read as a shoe id: ids win) or that another active shoe
    has already, ignoring case (then a name no longer picks one shoe)."""
    text = name.strip()
    if text.lstrip("#").isdigit():
        raise ShoeInputError(f"{text!r} looks like a shoe id; give the shoe a name with letters")
    query = sa.select(ShoeRow.id, ShoeRow.name).where(
        ShoeRow.athlete_id == athlete_id,
        ShoeRow.retired_at.is_(None),
        sa.func.lower(ShoeRow.name) == text.lower(),
    )
    if shoe_id is not None:
        query = query.where(ShoeRow.id != shoe_id)
    other = session.execute(query.limit(1)).first()
    if other is not None:
        raise ShoeInputError(f"shoe #{other.id} is already called {other.name!r}; choose another name")


def add_shoe(
    session: Session,
    athlete_id: int,
    name: str,
    brand: str | None = None,
    model: str | None = None,
    start_distance_m: float = 0.0,
    retire_at_m: float = DEFAULT_RETIRE_AT_M,
    in_use_from: date | None = None,
    in_use_until: date | None = None,
) -> Shoe:
    """Store a new shoe and return it (distances in metres). Without `in_use_from` it is in use from its
    first run, or from today: runs already stored keep their shoe, older imports get no shoe from it."""
    _check(name, start_distance_m, retire_at_m)
    _check_dates(in_use_from, in_use_until)
    _check_name(session, athlete_id, name)
    row = ShoeRow(
        athlete_id=athlete_id,
        name=name.strip(),
        brand=brand,
        model=model,
        start_distance_m=start_distance_m,
        retire_at_m=retire_at_m,
        in_use_from=in_use_from,
        in_use_until=in_use_until,
    )
    session.add(row)
    session.flush()
    if in_use_from is not None:  # automatic runs of its dates may now belong to it
        shoe_use.reassign(session, athlete_id, in_use_from, in_use_until)
    return to_shoe(row)


KEEP: Any = object()  # update_shoe: leave this field as it is


def set_dates(
    session: Session,
    athlete_id: int,
    shoe_id: int,
    in_use_from: date | None = KEEP,
    in_use_until: date | None = KEEP,
) -> tuple[Shoe, int]:
    """Change a shoe's in-use dates (None: from its first run / until retired) and choose the shoe again
    for the automatically assigned runs in the old and the new dates. Returns the shoe and how many runs
    changed shoe; runs whose shoe an export or the runner named are never moved."""
    row = _row(session, athlete_id, shoe_id)
    new_from = row.in_use_from if in_use_from is KEEP else in_use_from
    new_until = row.in_use_until if in_use_until is KEEP else in_use_until
    _check_dates(new_from, new_until)
    if (new_from, new_until) == (row.in_use_from, row.in_use_until):
        return to_shoe(row), 0
    before = _span(session, athlete_id, shoe_id)
    row.in_use_from, row.in_use_until = new_from, new_until
    session.flush()
    after = _span(session, athlete_id, shoe_id)
    since = min(before.start, after.start)
    until = None if before.end is None or after.end is None else max(before.end, after.end)
    moved = shoe_use.reassign(session, athlete_id, since, until)
    return to_shoe(row), moved


def _span(session: Session, athlete_id: int, shoe_id: int) -> shoe_use.InUse:
    return next(s for s in shoe_use.spans(session, athlete_id) if s.shoe_id == shoe_id)


def in_use(session: Session, athlete_id: int) -> dict[int, shoe_use.InUse]:
    """Each shoe's in-use dates as runs are assigned by them (given, else first run / retirement)."""
    return {span.shoe_id: span for span in shoe_use.spans(session, athlete_id)}


def update_shoe(
    session: Session,
    athlete_id: int,
    shoe_id: int,
    *,
    name: str,
    brand: str | None,
    model: str | None,
    start_distance_m: float,
    retire_at_m: float,
    in_use_from: date | None = KEEP,
    in_use_until: date | None = KEEP,
) -> Shoe:
    """Change a shoe's name, brand, model, start distance, retirement distance (metres) and, when given,
    its in-use dates (see set_dates); returns it.

    Raises NotFound for a shoe that is not the athlete's, ShoeInputError for a value add_shoe would refuse
    (then nothing is changed). Retirement state and defaults are untouched; only automatically assigned
    runs move, and only when the dates change.
    """
    _check(name, start_distance_m, retire_at_m)
    row = _row(session, athlete_id, shoe_id)
    _check_dates(
        row.in_use_from if in_use_from is KEEP else in_use_from,
        row.in_use_until if in_use_until is KEEP else in_use_until,
    )
    if row.retired_at is None:
        _check_name(session, athlete_id, name, shoe_id)
    row.name = name.strip()
    row.brand = brand
    row.model = model
    row.start_distance_m = start_distance_m
    row.retire_at_m = retire_at_m
    session.flush()
    set_dates(session, athlete_id, shoe_id, in_use_from, in_use_until)
    return to_shoe(row)


# Plain statements built once: the dashboard and the shoes page list every shoe on each view, and loading
# them as ORM entities cost more than the rest of the query (issue 13: a club runner has dozens).
_ALL_SHOES = (
    sa.select(ShoeRow.__table__).where(ShoeRow.athlete_id == sa.bindparam("athlete")).order_by(ShoeRow.id)
)
_ACTIVE_SHOES = _ALL_SHOES.where(ShoeRow.retired_at.is_(None))


def list_shoes(session: Session, athlete_id: int, include_retired: bool = True) -> list[Shoe]:
    """The athlete's shoes, oldest first."""
    query = _ALL_SHOES if include_retired else _ACTIVE_SHOES
    return [to_shoe(row) for row in plain_rows(session, query, {"athlete": athlete_id}).all()]


def get_shoe(session: Session, athlete_id: int, shoe_id: int) -> Shoe:
    return to_shoe(_row(session, athlete_id, shoe_id))


def find_shoe(session: Session, athlete_id: int, ref: str) -> Shoe:
    """A shoe by id ('3' or '#3') or by exact name (case-insensitive); NotFound otherwise."""
    text = ref.strip().lstrip("#")
    if text.isdigit():
        return get_shoe(session, athlete_id, int(text))
    rows = session.scalars(
        sa.select(ShoeRow).where(
            ShoeRow.athlete_id == athlete_id, sa.func.lower(ShoeRow.name) == text.lower()
        )
    ).all()
    if len(rows) == 1:
        return to_shoe(rows[0])
    if len(rows) > 1:
        raise NotFound(f"{len(rows)} shoes are called {ref!r}; use the id (see `strideguard shoes list`)")
    raise NotFound(f"no shoe {ref!r}; see `strideguard shoes list`")


def set_default(session: Session, athlete_id: int, shoe_id: int, sport: str) -> int:
    """Make `shoe_id` the shoe applied to activities of `sport` on its dates: new imports, and the runs
    already stored whose shoe StrideGuard chose by date. Returns how many of those changed shoe."""
    if sport not in SPORTS:
        raise ShoeInputError(f"unknown sport {sport!r}; use one of {', '.join(SPORTS)}")
    shoe = _row(session, athlete_id, shoe_id)
    if shoe.retired_at is not None:
        raise ShoeInputError(f"shoe #{shoe_id} is retired; restore it first")
    row = session.get(ShoeDefaultRow, (athlete_id, sport))
    if row is None:
        session.add(ShoeDefaultRow(athlete_id=athlete_id, sport=sport, shoe_id=shoe_id))
    else:
        row.shoe_id = shoe_id
    session.flush()
    span = _span(session, athlete_id, shoe_id)
    return shoe_use.reassign(session, athlete_id, span.start, span.end)


defaults = shoe_use.defaults  # sport -> default shoe id (one query, shared with the date rule)


def default_sports(session: Session, athlete_id: int, shoe_id: int) -> list[str]:
    """The sports this shoe is the default for, in SPORTS order (retiring it clears them: tell the runner)."""
    mine = {sport for sport, sid in defaults(session, athlete_id).items() if sid == shoe_id}
    return [s for s in SPORTS if s in mine]


def assign(session: Session, athlete_id: int, activity_id: int, shoe_id: int | None) -> None:
    """Put activity `activity_id` on shoe `shoe_id` (None: no shoe)."""
    if shoe_id is not None:
        _row(session, athlete_id, shoe_id)
    # The runner's choice: never moved when a shoe's dates change.
    store.update_activity(session, athlete_id, activity_id, shoe_id=shoe_id, shoe_auto=False)


def retire(session: Session, athlete_id: int, shoe_id: int, when: datetime | None = None) -> Shoe:
    """Retire a shoe: it keeps its history but is no longer a default and raises no alerts.

    Its defaults are deleted, and restoring does not bring them back: call `default_sports` first to tell
    the runner which sports now have no default shoe.
    """
    row = _row(session, athlete_id, shoe_id)
    row.retired_at = when or datetime.now(UTC)
    session.execute(
        sa.delete(ShoeDefaultRow).where(
            ShoeDefaultRow.athlete_id == athlete_id, ShoeDefaultRow.shoe_id == shoe_id
        )
    )
    session.flush()
    # Automatic runs after its retirement no longer go on it.
    shoe_use.reassign(session, athlete_id, since=row.in_use_until or row.retired_at.date())
    return to_shoe(row)


def restore(session: Session, athlete_id: int, shoe_id: int) -> Shoe:
    """Bring a retired shoe back into use (refused when an active shoe has taken its name meanwhile)."""
    row = _row(session, athlete_id, shoe_id)
    if row.retired_at is not None:
        _check_name(session, athlete_id, row.name, shoe_id)
    retired_on = row.retired_at.date() if row.retired_at is not None else None
    row.retired_at = None
    session.flush()
    if retired_on is not None and row.in_use_until is None:
        shoe_use.reassign(session, athlete_id, since=retired_on)
    return to_shoe(row)


def shoe_activity_ids(session: Session, athlete_id: int, shoe_id: int) -> list[int]:
    """Ids of the athlete's activities on this shoe, oldest first."""
    return list(
        session.scalars(
            sa.select(ActivityRow.id)
            .where(ActivityRow.athlete_id == athlete_id, ActivityRow.shoe_id == shoe_id)
            .order_by(ActivityRow.start_utc)
        )
    )
