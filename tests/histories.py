"""Fixed training histories for the screen tests: each builds a log as a runner would have it, ending on
TODAY (screens are shown with STRIDEGUARD_TODAY=TODAY, so every day reads the same).

- pain_rising: eight steady weeks, then hip pain that rises from run to run and a sore next morning.
- old_log: a runner who stopped in 2018 and opens StrideGuard today.
- spike_base: steady 10 km long runs, then a 15 km one 12 days ago (itself a moderate spike): tomorrow's
  ceiling is built on it.
- miles: a steady runner who reads miles, with a ride and a swim stored as "other", and a shoe.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training.pain import PainEntry

# A Wednesday. STRIDEGUARD_HISTORIES_TODAY moves it (e.g. to the real today, to run the screen tests against
# an older StrideGuard that cannot pretend another day); the snapshots hold for the default only.
TODAY = date.fromisoformat(os.environ.get("STRIDEGUARD_HISTORIES_TODAY", "2026-06-17"))


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


def add(
    session: Session,
    athlete_id: int,
    when: date,
    km: float,
    minutes: float | None = None,
    sport: str = "run",
    name: str | None = None,
    rpe: float | None = 5,
) -> int:
    start = datetime.combine(when, datetime.min.time(), UTC) + timedelta(hours=7)
    seconds = (minutes if minutes is not None else km * 5.5) * 60
    activity = store.manual_activity(start, km * 1000, seconds, sport, 0, rpe, name)
    return store.save_activity(session, athlete_id, activity).activity_id


def steady_weeks(session: Session, athlete_id: int, last: date, weeks: int, long_km: float = 14) -> None:
    """Four runs a week (Tue 8, Thu 8, Sat 10, Sun `long_km`) for `weeks` weeks ending the week of `last`."""
    monday = last - timedelta(days=last.weekday())
    for w in range(weeks):
        start = monday - timedelta(weeks=weeks - 1 - w)
        for offset, km in ((1, 8.0), (3, 8.0), (5, 10.0), (6, long_km)):
            when = start + timedelta(days=offset)
            if when <= last:
                add(session, athlete_id, when, km)


def pain_rising(session: Session, athlete_id: int) -> None:
    steady_weeks(session, athlete_id, day(0), 8)
    shoe = shoe_store.add_shoe(session, athlete_id, "Daily trainer", "Asics", "Novablast", 300_000)
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    for days_ago, score, timing in (
        (13, 2, "during"),
        (11, 2, "during"),
        (9, 3, "during"),
        (6, 3, "during"),
        (4, 4, "during"),
        (2, 4, "during"),
        (1, 3, "next-morning"),
    ):
        entry = PainEntry(day(days_ago), "hip-lateral", "left", score, timing)
        pain_store.add_pain(session, athlete_id, entry)


def old_log(session: Session, athlete_id: int) -> None:
    steady_weeks(session, athlete_id, date(2018, 6, 3), 10)


def spike_base(session: Session, athlete_id: int) -> None:
    # 10 km long runs, 6 km in the week, then a 15 km long run 12 days ago (50% over: a moderate spike).
    monday = day(0) - timedelta(days=day(0).weekday())
    for w in range(10):
        start = monday - timedelta(weeks=10 - w)
        for offset, km in ((1, 6.0), (3, 6.0), (6, 10.0)):
            add(session, athlete_id, start + timedelta(days=offset), km)
    add(session, athlete_id, day(12), 15.0)
    for days_ago in (9, 7, 5, 2):
        add(session, athlete_id, day(days_ago), 6.0)


def miles(session: Session, athlete_id: int) -> None:
    steady_weeks(session, athlete_id, day(0), 6)
    shoe = shoe_store.add_shoe(session, athlete_id, "Road pair", start_distance_m=200_000)
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    add(session, athlete_id, day(3), 40.0, 90, "other", "Morning Ride", None)
    add(session, athlete_id, day(2), 1.5, 30, "other", "Pool Swim", None)
    from strideguard.storage import settings as settings_store

    settings_store.set_distance_unit(session, athlete_id, "mi")


HISTORIES: dict[str, Callable[[Session, int], None]] = {
    "pain_rising": pain_rising,
    "old_log": old_log,
    "spike_base": spike_base,
    "miles": miles,
}


def build(name: str, session: Session, athlete_id: int) -> None:
    HISTORIES[name](session, athlete_id)
    session.commit()
