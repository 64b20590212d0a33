"""What the dashboard and `status` read for one day, so the two screens show the same facts: single runs
only for the last RUNS_DAYS days, the load series from the day totals, shoe wear from the shoe totals (what
they read scales with the recent weeks, not with the history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import aggregates
from strideguard.storage import shoes as shoe_store
from strideguard.training import load, risk
from strideguard.training.shoes import Shoe, ShoeWear, shoe_wear

RECENT_WEEKS = 16
# History of the load series: enough for 42-day fitness (CTL) to settle several times over. It comes from
# the day totals the database keeps; single runs are read only for the last RUNS_DAYS.
HISTORY_DAYS = 400
LOAD_CHART_DAYS = 112
# Runs read one by one: the spike marks of the weekly and load charts (RECENT_WEEKS weeks, LOAD_CHART_DAYS
# days) and the 30 days each spike is compared with.
RUNS_DAYS = max(7 * RECENT_WEEKS + 6, LOAD_CHART_DAYS) + 31


@dataclass(frozen=True, slots=True)
class Overview:
    """The athlete's rows both screens compute from, up to one day."""

    recent: list[Activity]  # the last RUNS_DAYS days and the last run before them, oldest first
    daily: list[load.DayLoad]  # HISTORY_DAYS of day totals
    shoes: list[Shoe]
    wears: list[ShoeWear]  # every run in each shoe, from the shoe totals
    log_start: date | None  # the first run's date
    last_run: date | None  # the last run on or before the day


def recent_runs(session: Session, athlete_id: int, day: date) -> list[Activity]:
    """Activities of the last RUNS_DAYS days, oldest first, and the last run before them (within
    HISTORY_DAYS), so the first of them knows how many days it came after a break."""
    return aggregates.recent_runs(session, athlete_id, day, RUNS_DAYS, HISTORY_DAYS)


def read(
    session: Session, athlete_id: int, day: date, rules: risk.RiskRules, whole_history: bool = False
) -> Overview:
    """The recent runs and the totals up to `day`, athlete-scoped. `whole_history`: every activity up to
    `day` instead of the recent runs, and shoe wear counted from them (the shoe totals count every run,
    also those after `day`): for a day in the past."""
    if whole_history:
        recent = store.list_activities(session, athlete_id, until=day, newest_first=False)
    else:
        recent = recent_runs(session, athlete_id, day)
    daily = aggregates.day_loads(session, athlete_id, day - timedelta(days=HISTORY_DAYS), day)
    check_at = rules.number("shoe_retirement", "check_at_fraction")
    replace_at = rules.number("shoe_retirement", "replace_at_fraction")
    if whole_history:
        shoes = shoe_store.list_shoes(session, athlete_id)
        wears = shoe_wear(shoes, recent, check_at, replace_at)
    else:
        wears = aggregates.shoes_with_wear(session, athlete_id, check_at=check_at, replace_at=replace_at)
        shoes = [w.shoe for w in wears]
    log_start = store.first_activity_date(session, athlete_id, RUNNING_SPORTS)
    runs = [a for a in recent if a.sport in RUNNING_SPORTS]
    last_run: date | None = runs[-1].local_date if runs else None
    if last_run is None and not whole_history:  # no run lately: the last one may be older
        latest = store.list_activities(session, athlete_id, until=day, sports=RUNNING_SPORTS, limit=1)
        last_run = latest[0].local_date if latest else None
    return Overview(recent, daily, shoes, wears, log_start, last_run)
