"""Which shoe a run gets by its date: the shoes' in-use spans, and re-assigning automatic runs.

Shared by activities.py (saving picks a shoe) and shoes.py (changing a shoe's dates re-assigns), which must
not import each other. Only runs whose shoe StrideGuard chose (`shoe_auto`) are ever re-assigned: a shoe
named by an export's gear or by the runner stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage.tables import ActivityRow, ShoeDefaultRow, ShoeRow
from strideguard.training.shoes import InUse, shoe_on


def spans(session: Session, athlete_id: int) -> list[InUse]:
    """Every shoe's in-use dates: from its `in_use_from`, else its first run chosen by an export or the
    runner, else the day it was added; until its `in_use_until`, else the day it was retired."""
    first_named = (
        sa.select(ActivityRow.shoe_id, sa.func.min(ActivityRow.local_date).label("first"))
        .where(ActivityRow.athlete_id == athlete_id, ActivityRow.shoe_id.is_not(None))
        .where(ActivityRow.shoe_auto.is_(False))
        .group_by(ActivityRow.shoe_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(
            ShoeRow.id,
            ShoeRow.in_use_from,
            ShoeRow.in_use_until,
            ShoeRow.created_at,
            ShoeRow.retired_at,
            first_named.c.first,
        )
        .outerjoin(first_named, first_named.c.shoe_id == ShoeRow.id)
        .where(ShoeRow.athlete_id == athlete_id)
    )
    result = []
    for shoe_id, start, end, created_at, retired_at, first in rows:
        if start is None:
            start = min(d for d in (first, created_at.date() if created_at else None) if d is not None)
        if end is None and retired_at is not None:
            end = retired_at.date()
        result.append(InUse(shoe_id, start, end))
    return result


def defaults(session: Session, athlete_id: int) -> dict[str, int]:
    """sport -> default shoe id."""
    rows = session.execute(
        sa.select(ShoeDefaultRow.sport, ShoeDefaultRow.shoe_id).where(ShoeDefaultRow.athlete_id == athlete_id)
    )
    return {sport: shoe_id for sport, shoe_id in rows}


class Picker:
    """Picks the shoe for runs of one athlete from one read of the shoes and defaults."""

    def __init__(self, session: Session, athlete_id: int) -> None:
        self.spans = spans(session, athlete_id)
        self.defaults = defaults(session, athlete_id)

    def pick(self, sport: str, day: date) -> int | None:
        return shoe_on(day, sport, self.spans, self.defaults)


def reassign(
    session: Session,
    athlete_id: int,
    since: date | None = None,
    until: date | None = None,
    activity_ids: Iterable[int] | None = None,
) -> int:
    """Choose the shoe again for the athlete's automatically assigned runs dated in [since, until] (or the
    ids given); returns how many changed shoe. The aggregate triggers keep the shoe totals right."""
    picker = Picker(session, athlete_id)
    query = sa.select(ActivityRow.id, ActivityRow.sport, ActivityRow.local_date, ActivityRow.shoe_id).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.shoe_auto.is_(True)
    )
    if since is not None:
        query = query.where(ActivityRow.local_date >= since)
    if until is not None:
        query = query.where(ActivityRow.local_date <= until)
    if activity_ids is not None:
        query = query.where(ActivityRow.id.in_(list(activity_ids)))
    changes: dict[int | None, list[int]] = {}
    for activity_id, sport, day, shoe_id in session.execute(query):
        wanted = picker.pick(sport, day)
        if wanted != shoe_id:
            changes.setdefault(wanted, []).append(activity_id)
    for shoe_id, ids in changes.items():
        for first in range(0, len(ids), 500):
            chunk = ids[first : first + 500]
            session.execute(sa.update(ActivityRow).where(ActivityRow.id.in_(chunk)).values(shoe_id=shoe_id))
    session.flush()
    return sum(len(ids) for ids in changes.values())


def runs_without_shoe(session: Session, athlete_id: int, import_id: int) -> int:
    """Runs of one import that got no shoe by date although their sport has a default shoe (they are before,
    or after, the dates of every pair): worth telling the runner, who may give the shoes' dates."""
    sports = sorted(defaults(session, athlete_id))
    if not sports:
        return 0
    query = sa.select(sa.func.count()).where(
        ActivityRow.athlete_id == athlete_id,
        ActivityRow.import_id == import_id,
        ActivityRow.shoe_id.is_(None),
        ActivityRow.shoe_auto.is_(True),
        ActivityRow.sport.in_(sports),
    )
    return int(session.scalar(query) or 0)
