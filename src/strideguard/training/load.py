"""Training-load analytics over activities: pure functions, no I/O."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from strideguard.model import RUNNING_SPORTS, Activity


@dataclass(frozen=True, slots=True)
class WeekVolume:
    """Totals of one ISO week (Monday to Sunday, by the runner's local date)."""

    iso_year: int
    iso_week: int
    monday: date
    distance_m: float
    duration_s: float
    runs: int

    @property
    def label(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d}"


def weekly_volume(
    activities: Iterable[Activity], sports: frozenset[str] = RUNNING_SPORTS
) -> list[WeekVolume]:
    """Distance, moving time and count per ISO week for activities of `sports`, oldest week first.

    Weeks without a run between the first and last are included with zeros: a gap is information.
    """
    totals: dict[tuple[int, int], list[float]] = {}
    for activity in activities:
        if activity.sport not in sports:
            continue
        year, week, _ = activity.local_date.isocalendar()
        entry = totals.setdefault((year, week), [0.0, 0.0, 0])
        entry[0] += activity.distance_m or 0.0
        entry[1] += activity.moving_time_s or activity.elapsed_time_s or 0.0
        entry[2] += 1
    if not totals:
        return []
    first, last = min(totals), max(totals)
    monday = date.fromisocalendar(first[0], first[1], 1)
    end = date.fromisocalendar(last[0], last[1], 1)
    weeks: list[WeekVolume] = []
    while monday <= end:
        year, week, _ = monday.isocalendar()
        distance, duration, runs = totals.get((year, week), [0.0, 0.0, 0])
        weeks.append(WeekVolume(year, week, monday, distance, duration, int(runs)))
        monday = date.fromordinal(monday.toordinal() + 7)
    return weeks


def calendar_weeks(
    activities: Iterable[Activity],
    first_monday: date,
    last_monday: date,
    sports: frozenset[str] = RUNNING_SPORTS,
) -> list[WeekVolume]:
    """Every ISO week from `first_monday` to `last_monday` (Mondays), oldest first, weeks without a run as
    zeros: the calendar's weeks, whatever the log holds."""
    return fill_weeks(weekly_volume(activities, sports), first_monday, last_monday)


def fill_weeks(week_list: Iterable[WeekVolume], first_monday: date, last_monday: date) -> list[WeekVolume]:
    """`calendar_weeks` from week totals already summed (e.g. kept by the database)."""
    found = {w.monday: w for w in week_list}
    weeks: list[WeekVolume] = []
    monday = first_monday - timedelta(days=first_monday.weekday())
    while monday <= last_monday:
        year, week, _ = monday.isocalendar()
        weeks.append(found.get(monday) or WeekVolume(year, week, monday, 0.0, 0.0, 0))
        monday += timedelta(days=7)
    return weeks


# ---------------------------------------------------------------------------------------------------------
# Daily load, session spikes, weekly change, ACWR, CTL/ATL/TSB, monotony and strain.
# Formulas and their evidence: /work/shared/clinical/clinical.md section 1c; the citations and thresholds
# the risk rules use live in knowledge/risk_rules.yaml and knowledge/citations_load.yaml.

# Session-RPE load (Foster 2001): load (arbitrary units, AU) = CR-10 RPE x minutes.
# Fallback when a run has no RPE: the same formula with DEFAULT_RPE. Why this and not TRIMP from heart rate:
# it keeps one unit (AU) for every session so CTL/ATL and monotony can mix rated and unrated runs; TRIMP needs
# resting and maximum heart rate, which we do not have, and treadmill or hand-entered runs often have no HR.
# 4 is "somewhat hard" on CR-10, a typical easy-to-steady run; this is a design choice, not a study result.
DEFAULT_RPE = 4.0
# How a run felt, the tag `strideguard rate --feel` takes (alongside CR-10 RPE, 0-10).
FEELS = ("great", "good", "ok", "tired", "sore")
# Frandsen et al. 2025: the comparison window is the previous 30 days, today excluded.
SPIKE_WINDOW_DAYS = 30
# Frandsen et al. 2025 categories (percent above the 30-day longest run): >10 small, >30 moderate, >100 large.
SPIKE_BOUNDS_PCT = (10.0, 30.0, 100.0)
# Consumer CTL/ATL time constants (days); a convention with no obvious rationale (Lord 2018).
CTL_DAYS = 42
ATL_DAYS = 7


@dataclass(frozen=True, slots=True)
class SessionLoad:
    """Load of one session in arbitrary units (AU) and where it came from ('rpe' or 'default_rpe')."""

    load_au: float
    source: str
    rpe: float


def duration_s_of(activity: Activity) -> float:
    """Moving time if known, else elapsed time, else 0 (seconds)."""
    return float(activity.moving_time_s or activity.elapsed_time_s or 0.0)


def session_load(activity: Activity, default_rpe: float = DEFAULT_RPE) -> SessionLoad:
    """Session-RPE load (Foster 2001): RPE (0-10) x duration in minutes; DEFAULT_RPE when unrated."""
    minutes = duration_s_of(activity) / 60.0
    if activity.rpe is not None:
        return SessionLoad(float(activity.rpe) * minutes, "rpe", float(activity.rpe))
    return SessionLoad(default_rpe * minutes, "default_rpe", default_rpe)


@dataclass(frozen=True, slots=True)
class DayLoad:
    """Totals of one local day. `load_au` is session-RPE load; `rated_runs` counts runs with a real RPE."""

    day: date
    distance_m: float
    duration_s: float
    load_au: float
    runs: int
    rated_runs: int
    longest_m: float


def _runs(activities: Iterable[Activity], sports: frozenset[str]) -> list[Activity]:
    return sorted((a for a in activities if a.sport in sports), key=lambda a: (a.start_utc, a.id or 0))


def daily_series(
    activities: Iterable[Activity],
    start: date | None = None,
    end: date | None = None,
    sports: frozenset[str] = RUNNING_SPORTS,
    default_rpe: float = DEFAULT_RPE,
) -> list[DayLoad]:
    """One DayLoad per local date from `start` to `end` inclusive (rest days are zeros).

    Defaults: from the first to the last run. Days are the runner's local dates (Activity.local_date).
    """
    runs = _runs(activities, sports)
    by_day: dict[date, list[Activity]] = {}
    for run in runs:
        by_day.setdefault(run.local_date, []).append(run)
    if start is None:
        start = min(by_day) if by_day else end
    if end is None:
        end = max(by_day) if by_day else start
    if start is None or end is None or end < start:
        return []
    series: list[DayLoad] = []
    day = start
    while day <= end:
        todays = by_day.get(day, [])
        series.append(
            DayLoad(
                day=day,
                distance_m=sum(a.distance_m or 0.0 for a in todays),
                duration_s=sum(duration_s_of(a) for a in todays),
                load_au=sum(session_load(a, default_rpe).load_au for a in todays),
                runs=len(todays),
                rated_runs=sum(1 for a in todays if a.rpe is not None),
                longest_m=max((a.distance_m or 0.0 for a in todays), default=0.0),
            )
        )
        day += timedelta(days=1)
    return series


def longest_before(
    activities: Iterable[Activity],
    day: date,
    window_days: int = SPIKE_WINDOW_DAYS,
    sports: frozenset[str] = RUNNING_SPORTS,
) -> Activity | None:
    """The longest run (by distance) in the `window_days` days before `day`, `day` itself excluded."""
    first = day - timedelta(days=window_days)
    best: Activity | None = None
    for run in _runs(activities, sports):
        if first <= run.local_date < day and (run.distance_m or 0.0) > 0:
            if best is None or (run.distance_m or 0.0) > (best.distance_m or 0.0):
                best = run
    return best


def spike_category(spike_pct: float, bounds_pct: tuple[float, float, float] = SPIKE_BOUNDS_PCT) -> str | None:
    """Frandsen 2025 category for a distance `spike_pct` percent above the 30-day longest run.

    None for regression or an increase of at most 10%; 'small' >10-30%, 'moderate' >30-100%, 'large' >100%.
    Boundaries belong to the lower category (exactly 10% is no spike, exactly 30% is small).
    """
    small, moderate, large = bounds_pct
    if spike_pct > large:
        return "large"
    if spike_pct > moderate:
        return "moderate"
    if spike_pct > small:
        return "small"
    return None


def spike_pct(distance_m: float, longest_m: float) -> float:
    """Percent by which `distance_m` exceeds `longest_m` (negative for a shorter run)."""
    # Round to 1e-9 so that 11 km over 10 km is exactly 10%, not 10.000000000000009.
    return round(100.0 * (distance_m / longest_m - 1.0), 9)


@dataclass(frozen=True, slots=True)
class SessionSpike:
    """How one run compares with the longest run of the previous 30 days (Frandsen et al. 2025).

    `longest_prev_m` is None when there was no run in the window (first run, or back after a gap).
    """

    activity_id: int | None
    day: date
    distance_m: float
    longest_prev_m: float | None
    longest_prev_id: int | None
    spike_pct: float | None
    category: str | None
    days_since_last_run: int | None  # None: no earlier run at all


def session_spikes(
    activities: Iterable[Activity],
    window_days: int = SPIKE_WINDOW_DAYS,
    bounds_pct: tuple[float, float, float] = SPIKE_BOUNDS_PCT,
    sports: frozenset[str] = RUNNING_SPORTS,
) -> list[SessionSpike]:
    """Every run compared with the longest run of the previous `window_days` days, oldest first.

    Two runs on one day are each compared with the days before, not with each other (today is excluded).
    `days_since_last_run` counts back to the latest earlier local date with a run. The longest run of a
    window is the one `longest_before` picks (ties: the earliest start). O(n log n): one sort, then a
    sliding-window maximum over each day's longest run (a monotonic deque), since a 10-year history has
    ~3,000 runs and the dashboard computes this on every changed view.
    """
    runs = _runs(activities, sports)
    # What the result depends on: a dashboard view asks three times (its chart, its warnings, tomorrow's
    # ceiling) for the same runs, and the club server's views for the same runner often agree.
    key = (window_days, bounds_pct, sports, tuple((r.id, r.local_date, r.distance_m) for r in runs))
    found = _SPIKES.get(key)
    if found is None:
        found = _session_spikes(runs, window_days, bounds_pct)
        with _SPIKES_LOCK:
            if len(_SPIKES) >= _SPIKES_SIZE:
                _SPIKES.pop(next(iter(_SPIKES)), None)
            _SPIKES[key] = found
    return list(found)


_SPIKES: dict[tuple[Any, ...], tuple[SessionSpike, ...]] = {}
_SPIKES_SIZE = 16
_SPIKES_LOCK = threading.Lock()


def _session_spikes(
    runs: list[Activity], window_days: int, bounds_pct: tuple[float, float, float]
) -> tuple[SessionSpike, ...]:
    days = [run.local_date for run in runs]
    # Each day's longest run with a distance, as (distance, -index): the larger key wins, and on equal
    # distance the earlier run in start order (smaller index) wins, as in longest_before.
    day_best: dict[date, tuple[float, int]] = {}
    for index, run in enumerate(runs):
        distance = float(run.distance_m or 0.0)
        if distance > 0:
            key = (distance, -index)
            if days[index] not in day_best or key > day_best[days[index]]:
                day_best[days[index]] = key
    candidates = sorted(day_best.items())  # by day
    window: deque[tuple[date, tuple[float, int]]] = deque()  # days ascending, keys strictly descending
    next_candidate = 0
    longest_on: dict[date, tuple[float, int] | None] = {}
    previous_day: dict[date, date | None] = {}
    last_day: date | None = None
    for day in sorted(set(days)):
        first = day - timedelta(days=window_days)
        while next_candidate < len(candidates) and candidates[next_candidate][0] < day:
            entry = candidates[next_candidate]
            while window and window[-1][1] <= entry[1]:
                window.pop()
            window.append(entry)
            next_candidate += 1
        while window and window[0][0] < first:
            window.popleft()
        longest_on[day] = window[0][1] if window else None
        previous_day[day] = last_day
        last_day = day
    spikes: list[SessionSpike] = []
    for run, day in zip(runs, days, strict=True):
        before = previous_day[day]
        gap = (day - before).days if before is not None else None
        distance = float(run.distance_m or 0.0)
        best = longest_on[day]
        if best is None:
            spikes.append(SessionSpike(run.id, day, distance, None, None, None, None, gap))
            continue
        longest_m, longest_id = best[0], runs[-best[1]].id
        pct = spike_pct(distance, longest_m)
        spikes.append(
            SessionSpike(
                run.id, day, distance, longest_m, longest_id, pct, spike_category(pct, bounds_pct), gap
            )
        )
    return tuple(spikes)


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    """A planned run against the 30-day longest: the most that stays within +10%, and the category if over."""

    day: date
    planned_m: float
    longest_prev_m: float | None
    longest_prev_id: int | None
    longest_prev_day: date | None
    max_within_m: float | None
    spike_pct: float | None
    category: str | None
    returning: bool


def check_planned(
    activities: Iterable[Activity],
    planned_m: float,
    day: date,
    window_days: int = SPIKE_WINDOW_DAYS,
    bounds_pct: tuple[float, float, float] = SPIKE_BOUNDS_PCT,
) -> PlannedCheck:
    """Compare a planned run on `day` with the longest run of the 30 days before `day`."""
    longest = longest_before(activities, day, window_days)
    if longest is None or not longest.distance_m:
        return PlannedCheck(day, planned_m, None, None, None, None, None, None, True)
    longest_m = float(longest.distance_m)
    pct = spike_pct(planned_m, longest_m)
    return PlannedCheck(
        day,
        planned_m,
        longest_m,
        longest.id,
        longest.local_date,
        longest_m * (1 + bounds_pct[0] / 100.0),
        pct,
        spike_category(pct, bounds_pct),
        False,
    )


@dataclass(frozen=True, slots=True)
class WeeklyChange:
    """Distance of the 7 days ending `day` against the mean week of the `baseline_weeks` weeks before."""

    day: date
    last7_m: float
    baseline_mean_m: float
    change_pct: float | None  # None when the baseline weeks hold no running


def weekly_change(daily: list[DayLoad], day: date, baseline_weeks: int = 2) -> WeeklyChange:
    """Nielsen et al. 2014 style progression: km of days day-6..day vs the mean week of the weeks before.

    The baseline is the `baseline_weeks` whole weeks before those 7 days (days day-7 back to day-7*(n+1)+1).
    """
    km = {d.day: d.distance_m for d in daily}
    last7 = sum(km.get(day - timedelta(days=i), 0.0) for i in range(7))
    before = sum(km.get(day - timedelta(days=i), 0.0) for i in range(7, 7 + 7 * baseline_weeks))
    mean = before / baseline_weeks
    change = None if mean <= 0 else round(100.0 * (last7 / mean - 1.0), 9)
    return WeeklyChange(day, last7, mean, change)


def _load_by_day(daily: list[DayLoad]) -> dict[date, float]:
    return {d.day: d.load_au for d in daily}


def acwr_uncoupled(daily: list[DayLoad], day: date) -> float | None:
    """Acute:chronic ratio, uncoupled (Lolli 2019): load of days day-6..day over mean week of the 21 before.

    Informational only: contested as an injury predictor (Impellizzeri 2021; inverse in runners, Frandsen
    2025). None when the chronic weeks hold no load.
    """
    load = _load_by_day(daily)
    acute = sum(load.get(day - timedelta(days=i), 0.0) for i in range(7))
    chronic = sum(load.get(day - timedelta(days=i), 0.0) for i in range(7, 28)) / 3.0
    return None if chronic <= 0 else acute / chronic


@dataclass(frozen=True, slots=True)
class FitnessPoint:
    """Banister-style exponentially weighted load (AU/day): CTL (42 d), ATL (7 d), TSB = CTL - ATL."""

    day: date
    ctl: float
    atl: float
    tsb: float


def fitness_fatigue(
    daily: list[DayLoad], ctl_days: int = CTL_DAYS, atl_days: int = ATL_DAYS
) -> list[FitnessPoint]:
    """CTL_t = CTL_{t-1} + (load_t - CTL_{t-1}) / 42, ATL likewise with 7, both from 0 before the first day.

    TSB is the balance *after* the day's load (CTL - ATL of the same day). Informational, not an injury model.
    """
    ctl = atl = 0.0
    points: list[FitnessPoint] = []
    for d in daily:
        ctl += (d.load_au - ctl) / ctl_days
        atl += (d.load_au - atl) / atl_days
        points.append(FitnessPoint(d.day, ctl, atl, ctl - atl))
    return points


@dataclass(frozen=True, slots=True)
class MonotonyStrain:
    """Foster 1998 over the 7 days ending `day`: weekly load (AU), monotony = mean/SD, strain = load x
    monotony."""

    day: date
    week_load_au: float
    monotony: float | None  # None when every day has the same load (SD 0)
    strain: float | None


def monotony_strain(daily: list[DayLoad], day: date) -> MonotonyStrain:
    """Monotony and strain of the 7 days ending `day`; rest days count as 0.

    SD is the population SD of the 7 daily loads (Foster gives no estimator; a design choice).
    """
    load = _load_by_day(daily)
    values = [load.get(day - timedelta(days=i), 0.0) for i in range(7)]
    total = sum(values)
    mean = total / 7.0
    sd = (sum((v - mean) ** 2 for v in values) / 7.0) ** 0.5
    if sd <= 1e-12:
        return MonotonyStrain(day, total, None, None)
    monotony = mean / sd
    return MonotonyStrain(day, total, monotony, total * monotony)
