"""Totals the database keeps (revision 0005's triggers): per day, per ISO week and per shoe.

Each reader returns what the pure training functions return for the same activities, so a page can read a
few hundred small rows instead of every activity of a 10-year history:
- `day_loads(...)`  == `load.daily_series(runs dated since..until, end=until)`
- `week_volumes(...)` == `load.weekly_volume(runs dated since..until)`
- `shoe_wears(...)`  == `shoes.shoe_wear(shoes, every activity)`; `shoes_with_wear` reads the shoes too
(equal up to the order floating-point sums are added in; tests/test_aggregates.py holds them equal on the
demo athlete and a 10-year history, after imports and edits).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as activity_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.engine import plain_rows
from strideguard.storage.tables import ActivityDayRow, ActivityRow, ActivityWeekRow, ShoeRow, ShoeTotalRow
from strideguard.training import load
from strideguard.training import shoes as shoe_wear_model


@functools.lru_cache(maxsize=16)
def _day_statement(sports: tuple[str, ...]) -> sa.Select[Any]:
    """`day_loads`' statement, built once per set of sports (building it cost as much as running it): one
    row a day, its sports added up."""
    return (
        sa.select(
            ActivityDayRow.local_date,
            sa.func.sum(ActivityDayRow.activities),
            sa.func.sum(ActivityDayRow.distance_m),
            sa.func.sum(ActivityDayRow.duration_s),
            sa.func.max(ActivityDayRow.longest_m),
            sa.func.sum(ActivityDayRow.rated),
            sa.func.sum(ActivityDayRow.rated_load_au),
            sa.func.sum(ActivityDayRow.unrated_duration_s),
        )
        .where(
            ActivityDayRow.athlete_id == sa.bindparam("athlete"),
            ActivityDayRow.local_date >= sa.bindparam("since"),
            ActivityDayRow.local_date <= sa.bindparam("until"),
            ActivityDayRow.sport.in_(sports),
        )
        .group_by(ActivityDayRow.local_date)
    )


def day_loads(
    session: Session,
    athlete_id: int,
    since: date,
    until: date,
    sports: frozenset[str] = RUNNING_SPORTS,
    default_rpe: float = load.DEFAULT_RPE,
) -> list[load.DayLoad]:
    """One DayLoad per day from the first day with a run on or after `since` to `until` (rest days zero);
    just `until`, at zero, when there is no run in that span (as `load.daily_series(..., end=until)`)."""
    rows = plain_rows(
        session,
        _day_statement(tuple(sorted(sports))),
        {"athlete": athlete_id, "since": since, "until": until},
    ).all()
    by_day = {
        day: load.DayLoad(
            day,
            float(distance),
            float(duration),
            float(rated_load) + default_rpe * float(unrated_s) / 60.0,
            int(count),
            int(rated),
            float(longest),
        )
        for day, count, distance, duration, longest, rated, rated_load, unrated_s in rows
    }
    first = min(by_day, default=until)
    days = map(date.fromordinal, range(first.toordinal(), until.toordinal() + 1))
    return [by_day.get(day) or load.DayLoad(day, 0.0, 0.0, 0.0, 0, 0, 0.0) for day in days]


@functools.lru_cache(maxsize=16)
def _week_statement(sports: tuple[str, ...], since: bool, until: bool) -> sa.Select[Any]:
    """`week_volumes`' statement, built once per shape."""
    query = sa.select(
        ActivityWeekRow.monday,
        sa.func.sum(ActivityWeekRow.activities),
        sa.func.sum(ActivityWeekRow.distance_m),
        sa.func.sum(ActivityWeekRow.duration_s),
    ).where(ActivityWeekRow.athlete_id == sa.bindparam("athlete"), ActivityWeekRow.sport.in_(sports))
    if since:
        query = query.where(ActivityWeekRow.monday >= sa.bindparam("since"))
    if until:
        query = query.where(ActivityWeekRow.monday <= sa.bindparam("until"))
    return query.group_by(ActivityWeekRow.monday)


def week_volumes(
    session: Session,
    athlete_id: int,
    since: date | None = None,
    until: date | None = None,
    sports: frozenset[str] = RUNNING_SPORTS,
) -> list[load.WeekVolume]:
    """Distance, duration and count per ISO week whose Monday lies in [since, until], oldest first, from
    the first to the last week with an activity of `sports` (weeks between without one are zeros)."""
    query = _week_statement(tuple(sorted(sports)), since is not None, until is not None)
    parameters = {"athlete": athlete_id, "since": since, "until": until}  # those the shape lacks are ignored
    totals = {
        monday: (int(count), float(distance), float(duration))
        for monday, count, distance, duration in plain_rows(session, query, parameters)
    }
    if not totals:
        return []
    weeks: list[load.WeekVolume] = []
    monday, last = min(totals), max(totals)
    while monday <= last:
        count, distance, duration = totals.get(monday, (0, 0.0, 0.0))
        year, week, _ = monday.isocalendar()
        weeks.append(load.WeekVolume(year, week, monday, distance, duration, count))
        monday += timedelta(weeks=1)
    return weeks


def weeks_until(
    session: Session,
    athlete_id: int,
    since: date | None,
    until: date,
    sports: frozenset[str] = RUNNING_SPORTS,
) -> list[load.WeekVolume]:
    """`load.weekly_volume(activities of sports dated since..until)` for `since` a Monday (or None: from
    the first): whole weeks from the week totals, the last week only up to `until` from the day totals."""
    last_monday = until - timedelta(days=until.weekday())
    found = {
        w.monday: w
        for w in week_volumes(session, athlete_id, since, last_monday - timedelta(weeks=1), sports)
        if w.runs
    }
    count, distance, duration = session.execute(
        sa.select(
            sa.func.sum(ActivityDayRow.activities),
            sa.func.sum(ActivityDayRow.distance_m),
            sa.func.sum(ActivityDayRow.duration_s),
        ).where(
            ActivityDayRow.athlete_id == athlete_id,
            ActivityDayRow.local_date >= max(last_monday, since or last_monday),
            ActivityDayRow.local_date <= until,
            ActivityDayRow.sport.in_(sorted(sports)),
        )
    ).one()
    if count:
        year, week, _ = last_monday.isocalendar()
        found[last_monday] = load.WeekVolume(
            year, week, last_monday, float(distance), float(duration), int(count)
        )
    if not found:
        return []
    return load.fill_weeks(found.values(), min(found), max(found))


# Built once: the dashboard and the shoes page ask on every view.
_SHOE_TOTALS = sa.select(
    ShoeTotalRow.shoe_id, ShoeTotalRow.distance_m, ShoeTotalRow.activities, ShoeTotalRow.last_date
).where(ShoeTotalRow.athlete_id == sa.bindparam("athlete"))


def shoe_wears(
    session: Session,
    athlete_id: int,
    shoes: Iterable[shoe_wear_model.Shoe],
    check_at: float = shoe_wear_model.CHECK_AT_FRACTION,
    replace_at: float = shoe_wear_model.REPLACE_AT_FRACTION,
) -> list[shoe_wear_model.ShoeWear]:
    """Wear of each of `shoes` (in the order given) from its totals: every activity in it, any sport."""
    totals = {
        shoe_id: (float(distance), int(count), last)
        for shoe_id, distance, count, last in plain_rows(session, _SHOE_TOTALS, {"athlete": athlete_id}).all()
    }
    return [
        shoe_wear_model.wear_of(shoe, *totals.get(shoe.id, (0.0, 0, None)), check_at, replace_at)
        for shoe in shoes
    ]


@functools.lru_cache(maxsize=2)
def _shoes_with_totals(include_retired: bool) -> sa.Select[Any]:
    """Each shoe with its totals (a shoe without a run has no totals row), oldest first, built once."""
    shoes = ShoeRow.__table__
    totals = ShoeTotalRow.__table__
    joined = shoes.outerjoin(
        totals, sa.and_(totals.c.shoe_id == shoes.c.id, totals.c.athlete_id == shoes.c.athlete_id)
    )
    query = (
        sa.select(
            shoes,
            totals.c.distance_m.label("worn_m"),
            totals.c.activities.label("worn_activities"),
            totals.c.last_date.label("worn_last"),
        )
        .select_from(joined)
        .where(shoes.c.athlete_id == sa.bindparam("athlete"))
        .order_by(shoes.c.id)
    )
    return query if include_retired else query.where(shoes.c.retired_at.is_(None))


def shoes_with_wear(
    session: Session,
    athlete_id: int,
    include_retired: bool = True,
    check_at: float = shoe_wear_model.CHECK_AT_FRACTION,
    replace_at: float = shoe_wear_model.REPLACE_AT_FRACTION,
) -> list[shoe_wear_model.ShoeWear]:
    """The athlete's shoes (`list_shoes`' order) with their wear from the totals, in one statement where
    `list_shoes` and `shoe_wears` take two (the dashboard and the shoes page ask on every view)."""
    rows = plain_rows(session, _shoes_with_totals(include_retired), {"athlete": athlete_id}).all()
    return [
        shoe_wear_model.wear_of(
            shoe_store.to_shoe(row),
            float(row.worn_m or 0.0),
            int(row.worn_activities or 0),
            row.worn_last,
            check_at,
            replace_at,
        )
        for row in rows
    ]


@functools.lru_cache(maxsize=1)
def _recent_statement() -> sa.Select[Any]:
    """`recent_runs`' one statement, built once: the window's activities and, by its id, the last run
    before it; that run first, then the window by start (what two `list_activities` calls returned)."""
    last_before = (
        sa.select(ActivityRow.id)
        .where(
            ActivityRow.athlete_id == sa.bindparam("athlete"),
            ActivityRow.local_date >= sa.bindparam("history_since"),
            ActivityRow.local_date < sa.bindparam("since"),
            ActivityRow.sport.in_(sorted(RUNNING_SPORTS)),
        )
        .order_by(ActivityRow.start_utc.desc(), ActivityRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    in_window = ActivityRow.local_date >= sa.bindparam("since")
    return (
        sa.select(*activity_store.SUMMARY_COLUMNS)
        .where(
            ActivityRow.athlete_id == sa.bindparam("athlete"),
            sa.or_(
                sa.and_(in_window, ActivityRow.local_date <= sa.bindparam("until")),
                ActivityRow.id == last_before,
            ),
        )
        .order_by(in_window, ActivityRow.start_utc, ActivityRow.id)
    )


def recent_runs(
    session: Session, athlete_id: int, today: date, days: int, history_days: int
) -> list[Activity]:
    """Activities of the last `days` days, oldest first, and the last run before them (within
    `history_days`), so the first of them knows how many days it came after a break: what the risk rules
    read besides the day totals."""
    parameters = {
        "athlete": athlete_id,
        "since": today - timedelta(days=days),
        "until": today,
        "history_since": today - timedelta(days=history_days),
    }
    return activity_store.summaries(session, _recent_statement(), parameters)
