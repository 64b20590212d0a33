"""Athlete-scoped read queries the pages need beyond `store` (paging and sorting the activity list).

Kept here until `store` offers them; every query filters on the athlete first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage.engine import plain_rows
from strideguard.storage.tables import ActivityRow, ActivityWeekRow, PainRow, ShoeRow

SORTS = {
    "date": ActivityRow.start_utc,
    "distance": ActivityRow.distance_m,
    "duration": sa.func.coalesce(ActivityRow.moving_time_s, ActivityRow.elapsed_time_s),
    "pace": sa.func.coalesce(ActivityRow.moving_time_s, ActivityRow.elapsed_time_s)
    / sa.func.nullif(ActivityRow.distance_m, 0),
    "heart_rate": ActivityRow.avg_heart_rate_bpm,
    "ascent": ActivityRow.ascent_m,
}


@dataclass(frozen=True, slots=True)
class ActivityPage:
    """One page of the filtered, sorted activity list and the totals of the whole filtered set."""

    activities: list[Activity]
    total: int
    page: int
    pages: int
    distance_m: float
    duration_s: float


def activity_page(
    session: Session,
    athlete_id: int,
    *,
    sports: frozenset[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    text: str | None = None,
    sort: str = "date",
    descending: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> ActivityPage:
    """Activities matching the filters, sorted by `sort` (a key of SORTS), page `page` (1-based)."""
    conditions = [ActivityRow.athlete_id == athlete_id]
    if sports:
        conditions.append(ActivityRow.sport.in_(sorted(sports)))
    if since is not None:
        conditions.append(ActivityRow.local_date >= since)
    if until is not None:
        conditions.append(ActivityRow.local_date <= until)
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            sa.or_(
                ActivityRow.name.ilike(like, escape="\\"),
                ActivityRow.description.ilike(like, escape="\\"),
                ActivityRow.source_name.ilike(like, escape="\\"),
            )
        )
    if since is None and until is None and not text:
        # The whole list, or one sport's: from the week totals the database keeps (a tenth of the rows).
        weeks = [ActivityWeekRow.athlete_id == athlete_id]
        if sports:
            weeks.append(ActivityWeekRow.sport.in_(sorted(sports)))
        totals = sa.select(
            sa.func.coalesce(sa.func.sum(ActivityWeekRow.activities), 0),
            sa.func.coalesce(sa.func.sum(ActivityWeekRow.distance_m), 0.0),
            sa.func.coalesce(sa.func.sum(ActivityWeekRow.duration_s), 0.0),
        ).where(*weeks)
    else:
        # A duration is the moving time, else the elapsed time (a zero counts as unknown), as everywhere.
        moving = sa.func.nullif(ActivityRow.moving_time_s, 0)
        elapsed = sa.func.nullif(ActivityRow.elapsed_time_s, 0)
        totals = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(ActivityRow.distance_m), 0.0),
            sa.func.coalesce(sa.func.sum(sa.func.coalesce(moving, elapsed)), 0.0),
        ).where(*conditions)
    total, distance, duration = session.execute(totals).one()
    pages = max(1, -(-int(total) // per_page))
    page = min(max(1, page), pages)
    key = SORTS.get(sort, ActivityRow.start_utc)
    if key is ActivityRow.start_utc:  # never NULL: a plain order, which the (athlete, start) index gives
        order = [key.desc() if descending else key.asc()]
    else:
        order = [key.desc().nulls_last() if descending else key.asc().nulls_last()]
    order.append(ActivityRow.id.desc() if descending else ActivityRow.id.asc())
    # Plain columns, not ORM entities: loading 50 entities was 40% of the list page's time (issue 13).
    activities = store.summaries(
        session,
        sa.select(*store.SUMMARY_COLUMNS)
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page),
    )
    return ActivityPage(activities, int(total), page, pages, float(distance), float(duration))


def shoe_names(session: Session, athlete_id: int) -> dict[int, str]:
    """Shoe id -> name for the athlete (retired ones included, for labelling old runs)."""
    return names_of(shoe_rows(session, athlete_id))


def names_of(shoes: ShoeRows) -> dict[int, str]:
    """Shoe id -> name of `shoe_rows`' rows."""
    return {shoe_id: name for shoe_id, name, _retired in shoes}


ShoeRows = tuple[tuple[int, str, datetime | None], ...]  # (id, name, retired_at)
_ACTIVITY_ROW = sa.select(ActivityRow.__table__).where(
    ActivityRow.id == sa.bindparam("id"), ActivityRow.athlete_id == sa.bindparam("athlete")
)
_SHOE_ROWS = (  # in one order, so the same shoes make the same key
    sa.select(ShoeRow.id, ShoeRow.name, ShoeRow.retired_at)
    .where(ShoeRow.athlete_id == sa.bindparam("athlete"))
    .order_by(ShoeRow.id)
)
_DAY_PAIN = (
    sa.select(PainRow.__table__)
    .where(PainRow.athlete_id == sa.bindparam("athlete"), PainRow.local_date == sa.bindparam("day"))
    .order_by(PainRow.recorded_at, PainRow.id)
)


@dataclass(frozen=True, slots=True)
class ActivityPageRows:
    """Every row an activity's page shows besides its recording (laps and streams are written once, with
    the activity, and never changed): the activity's own row, the athlete's shoes (the shoe picker) and
    the pain entries of its day. The page cache keys the page on these (web/pagecache.py), and the page
    is built from the same rows when it is not cached."""

    activity: tuple[Any, ...] | None  # None: no such activity of this athlete
    shoes: ShoeRows
    pain: tuple[sa.Row[Any], ...]  # in the order they were recorded

    @property
    def key(self) -> tuple[object, ...]:
        if self.activity is None:
            return ()
        return (self.activity, self.shoes, tuple(map(tuple, self.pain)))


def activity_page_rows(session: Session, athlete_id: int, activity_id: int) -> ActivityPageRows:
    row = plain_rows(session, _ACTIVITY_ROW, {"id": activity_id, "athlete": athlete_id}).first()
    if row is None:
        return ActivityPageRows(None, (), ())
    return ActivityPageRows(
        tuple(row), shoe_rows(session, athlete_id), day_pain(session, athlete_id, row.local_date)
    )


def shoe_rows(session: Session, athlete_id: int) -> ShoeRows:
    """(id, name, retired_at) of the athlete's shoes, retired ones included."""
    return tuple(map(tuple, plain_rows(session, _SHOE_ROWS, {"athlete": athlete_id})))  # type: ignore[arg-type]


def active_shoes(shoes: ShoeRows) -> list[tuple[int, str]]:
    """(id, name) of the shoes not retired, by name, for pickers (sorted here: the same order on every
    database, whatever its collation)."""
    return sorted(((i, name) for i, name, retired in shoes if retired is None), key=lambda s: (s[1], s[0]))


def day_pain(session: Session, athlete_id: int, day: date) -> tuple[sa.Row[Any], ...]:
    """Pain-diary entries of one local day, in the order they were recorded."""
    return tuple(plain_rows(session, _DAY_PAIN, {"athlete": athlete_id, "day": day}))


def latest_in_shoe(session: Session, athlete_id: int, shoe_id: int, limit: int) -> list[Activity]:
    """The athlete's `limit` most recent activities in one shoe, newest first."""
    return store.summaries(
        session,
        sa.select(*store.SUMMARY_COLUMNS)
        .where(ActivityRow.athlete_id == athlete_id, ActivityRow.shoe_id == shoe_id)
        .order_by(ActivityRow.start_utc.desc(), ActivityRow.id.desc())
        .limit(limit),
    )
