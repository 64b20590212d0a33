"""Pain-diary entries in the database. Every query is athlete-scoped; functions never commit."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage.activities import NotFound
from strideguard.storage.engine import plain_rows
from strideguard.storage.tables import ActivityRow, PainRow
from strideguard.training.pain import PainEntry


def _to_entry(row: PainRow | sa.Row[Any]) -> PainEntry:
    return PainEntry(
        day=row.local_date,
        region=row.region,
        side=row.side,
        score=row.score,
        timing=row.timing,
        activity_id=row.activity_id,
        note=row.note,
        id=row.id,
        recorded_at=row.recorded_at,
    )


def add_pain(session: Session, athlete_id: int, entry: PainEntry) -> PainEntry:
    """Store `entry` (validated by PainEntry itself); a linked activity must be this athlete's."""
    if entry.activity_id is not None:
        owner = session.scalar(
            sa.select(ActivityRow.id).where(
                ActivityRow.id == entry.activity_id, ActivityRow.athlete_id == athlete_id
            )
        )
        if owner is None:
            raise NotFound(f"no activity #{entry.activity_id}")
    row = PainRow(
        athlete_id=athlete_id,
        region=entry.region,
        side=entry.side,
        score=entry.score,
        timing=entry.timing,
        local_date=entry.day,
        activity_id=entry.activity_id,
        note=entry.note,
    )
    if entry.recorded_at is not None:
        row.recorded_at = entry.recorded_at
    session.add(row)
    session.flush()
    return _to_entry(row)


def list_pain(
    session: Session,
    athlete_id: int,
    since: date | None = None,
    until: date | None = None,
    region: str | None = None,
) -> list[PainEntry]:
    """The athlete's pain entries, oldest first."""
    parameters = {"athlete": athlete_id, "since": since, "until": until, "region": region}
    query = _list_statement(since is not None, until is not None, region is not None)
    return [_to_entry(row) for row in plain_rows(session, query, parameters)]


@functools.lru_cache(maxsize=8)
def _list_statement(since: bool, until: bool, region: bool) -> sa.Select[Any]:
    """`list_pain`'s statement for one shape of filter, built once, read as plain rows (the dashboard
    lists a year of entries on every view; ORM entities cost more than the query)."""
    query = sa.select(PainRow.__table__).where(PainRow.athlete_id == sa.bindparam("athlete"))
    if since:
        query = query.where(PainRow.local_date >= sa.bindparam("since"))
    if until:
        query = query.where(PainRow.local_date <= sa.bindparam("until"))
    if region:
        query = query.where(PainRow.region == sa.bindparam("region"))
    return query.order_by(PainRow.local_date, PainRow.id)


def get_pain(session: Session, athlete_id: int, entry_id: int) -> PainEntry:
    """One entry of this athlete's diary; NotFound for another athlete's or a missing one."""
    row = session.scalar(sa.select(PainRow).where(PainRow.id == entry_id, PainRow.athlete_id == athlete_id))
    if row is None:
        raise NotFound(f"no pain entry #{entry_id}")
    return _to_entry(row)


def delete_pain(session: Session, athlete_id: int, entry_id: int) -> None:
    """Remove one entry of this athlete's diary."""
    result = session.execute(
        sa.delete(PainRow).where(PainRow.id == entry_id, PainRow.athlete_id == athlete_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no pain entry #{entry_id}")
