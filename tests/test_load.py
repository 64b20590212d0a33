"""Daily load series, session spikes, weekly change, ACWR, CTL/ATL/TSB, monotony and strain: pure functions
checked against hand-computed histories."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strideguard.model import Activity
from strideguard.training import load


def run(
    day: date | str,
    km: float,
    minutes: float = 50.0,
    rpe: float | None = None,
    offset_h: float = 0.0,
    hour: int = 12,
    sport: str = "run",
    id: int | None = None,
) -> Activity:
    """A run starting at `hour`:00 local time on local `day`, with a UTC offset of `offset_h` hours."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    local = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return Activity(
        sport=sport,
        start_utc=local - timedelta(hours=offset_h),
        utc_offset_s=int(offset_h * 3600),
        source_format="manual",
        distance_m=km * 1000,
        moving_time_s=minutes * 60,
        rpe=rpe,
        id=id,
    )


D0 = date(2026, 5, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def test_session_load_is_rpe_times_minutes():
    assert load.session_load(run(D0, 10, minutes=50, rpe=6)) == load.SessionLoad(300.0, "rpe", 6.0)


def test_unrated_run_falls_back_to_default_rpe_times_minutes():
    result = load.session_load(run(D0, 8, minutes=45))
    assert result.source == "default_rpe"
    assert result.load_au == pytest.approx(4.0 * 45)


def test_daily_series_fills_rest_days_and_sums_two_runs_on_one_day():
    series = load.daily_series(
        [run(d(0), 5, 30, rpe=5, hour=7), run(d(0), 10, 60, rpe=3, hour=18), run(d(3), 8, 40)]
    )
    assert [s.day for s in series] == [d(0), d(1), d(2), d(3)]
    first = series[0]
    assert (first.distance_m, first.duration_s, first.runs, first.rated_runs) == (15000, 5400, 2, 2)
    assert first.load_au == pytest.approx(5 * 30 + 3 * 60)
    assert first.longest_m == 10000
    assert series[1].runs == 0 and series[1].load_au == 0
    assert series[3].load_au == pytest.approx(4 * 40)


def test_daily_series_uses_local_date_across_midnight():
    # 23:30 local at UTC-5 is 04:30 UTC the next day; 00:30 local at UTC+9 is 15:30 UTC the day before.
    late_west = run(d(0), 10, hour=23, offset_h=-5)
    early_east = run(d(2), 6, hour=0, offset_h=9)
    assert late_west.start_utc.date() == d(1) and late_west.local_date == d(0)
    assert early_east.start_utc.date() == d(1) and early_east.local_date == d(2)
    series = load.daily_series([late_west, early_east])
    assert [(s.day, s.distance_m) for s in series] == [(d(0), 10000), (d(1), 0), (d(2), 6000)]


def test_treadmill_run_without_gps_counts_as_running():
    treadmill = run(d(0), 8, 45, sport="treadmill")
    walk = run(d(0), 5, 60, sport="walk")
    series = load.daily_series([treadmill, walk])
    assert series[0].distance_m == 8000 and series[0].runs == 1


@pytest.mark.parametrize(
    ("pct", "category"),
    [
        (-20.0, None),
        (0.0, None),
        (10.0, None),
        (10.0001, "small"),
        (30.0, "small"),
        (30.0001, "moderate"),
        (100.0, "moderate"),
        (100.0001, "large"),
    ],
)
def test_spike_category_boundaries_belong_to_the_lower_category(pct, category):
    assert load.spike_category(pct) == category


@pytest.mark.parametrize(
    ("km", "pct", "category"),
    [
        (11.0, 10.0, None),
        (13.0, 30.0, "small"),
        (20.0, 100.0, "moderate"),
        (11.5, 15.0, "small"),
        (20.5, 105.0, "large"),
    ],
)
def test_spike_percent_is_exact_at_round_distances(km, pct, category):
    spikes = load.session_spikes([run(d(0), 10, id=1), run(d(10), km, id=2)])
    assert spikes[1].spike_pct == pytest.approx(pct, abs=1e-9)
    assert spikes[1].category == category
    assert spikes[1].longest_prev_m == 10000 and spikes[1].longest_prev_id == 1


def test_first_run_ever_has_nothing_to_compare_with():
    (only,) = load.session_spikes([run(d(0), 10, id=1)])
    assert only.longest_prev_m is None and only.category is None and only.days_since_last_run is None


def test_window_is_the_previous_30_days_with_today_excluded():
    history = [run(d(0), 20, id=1), run(d(19), 10, id=2)]
    # d(30) is 30 days after d(0): still inside [day-30, day-1]; d(31) is not.
    inside = load.longest_before(history, d(30))
    outside = load.longest_before(history, d(31))
    assert inside is not None and inside.id == 1
    assert outside is not None and outside.id == 2
    assert load.longest_before(history, d(0)) is None  # today excluded


def test_two_runs_on_one_day_are_each_compared_with_the_days_before():
    spikes = load.session_spikes(
        [run(d(0), 10, id=1), run(d(5), 10, hour=7, id=2), run(d(5), 12, hour=18, id=3)]
    )
    assert spikes[1].category is None
    assert spikes[2].spike_pct == pytest.approx(20.0) and spikes[2].category == "small"
    assert spikes[2].longest_prev_id == 1


def brute_force_spikes(runs: list[Activity], window_days: int = 30) -> list[tuple]:
    """The definition, run by run and day by day: for a run on local day D, the longest run (the earliest
    start on a tie) with a distance dated D-window..D-1, and the days back to the latest earlier run day."""
    ordered = sorted(runs, key=lambda a: (a.start_utc, a.id or 0))
    out = []
    for current in ordered:
        day = current.local_date
        window = [
            r
            for r in ordered
            if day - timedelta(days=window_days) <= r.local_date < day and (r.distance_m or 0) > 0
        ]
        best = None
        for r in window:  # `ordered` is by start, so a strict > keeps the earliest of equal runs
            if best is None or r.distance_m > best.distance_m:
                best = r
        earlier = [r.local_date for r in ordered if r.local_date < day]
        gap = (day - max(earlier)).days if earlier else None
        longest = None if best is None else best.distance_m
        pct = None if best is None else load.spike_pct(current.distance_m or 0.0, best.distance_m)
        out.append(
            (
                current.id,
                day,
                longest,
                None if best is None else best.id,
                pct,
                None if pct is None else load.spike_category(pct),
                gap,
            )
        )
    return out


@st.composite
def histories(draw) -> list[Activity]:
    """Up to 60 runs over ~100 days: several a day, equal distances, zero-distance runs, walks (ignored),
    UTC offsets from -10 h to +12 h at hours that cross midnight in UTC, and gaps over 30 days."""
    count = draw(st.integers(0, 60))
    out = []
    for i in range(count):
        out.append(
            run(
                D0 + timedelta(days=draw(st.integers(0, 100))),
                draw(st.sampled_from([0.0, 5.0, 8.0, 10.0, 10.0, 11.0, 13.0, 21.1])),
                offset_h=draw(st.sampled_from([0.0, -10.0, 2.0, 12.0])),
                hour=draw(st.sampled_from([0, 6, 12, 23])),
                sport=draw(st.sampled_from(["run", "run", "run", "trail_run", "treadmill", "walk"])),
                id=i + 1,
            )
        )
    return out


@given(histories(), st.sampled_from([7, 30]))
@settings(max_examples=300, deadline=None)
def test_session_spikes_match_the_brute_force_definition(history, window_days):
    fast = load.session_spikes(history, window_days)
    runs = [a for a in history if a.sport in load.RUNNING_SPORTS]
    assert [
        (
            s.activity_id,
            s.day,
            s.longest_prev_m,
            s.longest_prev_id,
            s.spike_pct,
            s.category,
            s.days_since_last_run,
        )
        for s in fast
    ] == brute_force_spikes(runs, window_days)
    # The planned-run check and the spike of an existing run agree on the comparison run.
    for spike in fast:
        longest = load.longest_before(history, spike.day, window_days)
        assert (None if longest is None else longest.id) == spike.longest_prev_id


def test_remembered_spikes_follow_every_change_to_the_runs():
    """session_spikes remembers results for the same runs (a dashboard view asks three times); a changed
    distance, date or set of runs is a different question, and a caller changing its list changes nothing."""
    history = [run(d(0), 10, id=1), run(d(3), 12, id=2), run(d(6), 11, id=3)]
    first = load.session_spikes(history)
    assert [s.category for s in first] == [None, "small", None]
    first.clear()  # the caller's own list
    assert [s.category for s in load.session_spikes(history)] == [None, "small", None]
    longer = [history[0], replace(history[1], distance_m=25_000.0), history[2]]
    assert [s.category for s in load.session_spikes(longer)] == [None, "large", None]
    later = [history[0], history[1], replace(history[2], start_utc=history[2].start_utc + timedelta(days=40))]
    assert load.session_spikes(later)[2].longest_prev_m is None
    for changed in (history, longer, later):  # each equal to the definition, in any order asked
        spikes = load.session_spikes(changed)
        assert [(s.activity_id, s.longest_prev_id, s.category) for s in spikes] == [
            (row[0], row[3], row[5]) for row in brute_force_spikes(changed, load.SPIKE_WINDOW_DAYS)
        ]


def test_two_runs_on_one_day_are_not_each_others_comparison_and_today_is_excluded():
    history = [run(d(0), 10, id=1), run(d(3), 30, hour=6, id=2), run(d(3), 12, hour=18, id=3)]
    spikes = load.session_spikes(history)
    assert [(s.longest_prev_id, s.category) for s in spikes] == [(None, None), (1, "large"), (1, "small")]
    assert [s.days_since_last_run for s in spikes] == [None, 3, 3]


def test_session_spikes_scale_to_a_ten_year_history():
    """3,650 runs (one a day for 10 years) in well under a second; the old pairwise scan took minutes."""
    history = [run(D0 + timedelta(days=i), 5 + (i * 7919 % 13), id=i + 1) for i in range(3650)]
    started = time.perf_counter()
    spikes = load.session_spikes(history)
    elapsed = time.perf_counter() - started
    assert len(spikes) == 3650 and spikes[-1].longest_prev_m == 17000
    assert elapsed < 1.0, f"session_spikes took {elapsed:.2f} s for 3,650 runs"


def test_a_30_day_gap_leaves_no_comparison_and_reports_the_gap():
    spikes = load.session_spikes([run(d(0), 10, id=1), run(d(31), 12, id=2), run(d(33), 14, id=3)])
    assert spikes[1].longest_prev_m is None and spikes[1].days_since_last_run == 31
    assert spikes[2].longest_prev_id == 2 and spikes[2].spike_pct == pytest.approx(100 * (14 / 12 - 1))
    assert spikes[2].category == "small"


def test_check_planned_gives_longest_within_ten_percent_and_category():
    history = [run(d(0), 10, id=1), run(d(7), 14, id=2), run(d(9), 8, id=3)]
    check = load.check_planned(history, 16000, d(12))
    assert check.longest_prev_m == 14000 and check.longest_prev_id == 2 and check.longest_prev_day == d(7)
    assert check.max_within_m == pytest.approx(15400)
    assert check.spike_pct == pytest.approx(100 * (16 / 14 - 1))
    assert check.category == "small" and not check.returning
    assert load.check_planned(history, 15400, d(12)).category is None
    assert load.check_planned(history, 10000, d(60)).returning


def test_weekly_change_against_the_mean_of_the_two_weeks_before():
    # days -20..-14: 20 km; -13..-7: 20 km; last 7 days: 27 km -> +35%.
    history = [run(d(0), 20), run(d(7), 20), run(d(14), 13), run(d(20), 14)]
    change = load.weekly_change(load.daily_series(history), d(20))
    assert change.last7_m == 27000 and change.baseline_mean_m == 20000
    assert change.change_pct == pytest.approx(35.0)


def test_weekly_change_is_none_without_baseline_running():
    change = load.weekly_change(load.daily_series([run(d(20), 10)]), d(20))
    assert change.change_pct is None


def test_acwr_is_uncoupled_seven_days_against_the_21_before():
    # 28 days of 100 AU per day: acute 700, chronic 2100/3 = 700 -> 1.0. Double the last 7 days -> 2.0.
    history = [run(d(i), 5, minutes=25, rpe=4) for i in range(28)]
    daily = load.daily_series(history)
    assert load.acwr_uncoupled(daily, d(27)) == pytest.approx(1.0)
    doubled = [run(d(i), 5, minutes=25, rpe=8 if i >= 21 else 4) for i in range(28)]
    assert load.acwr_uncoupled(load.daily_series(doubled), d(27)) == pytest.approx(2.0)
    assert load.acwr_uncoupled(load.daily_series(history[21:]), d(27)) is None


def test_ctl_atl_tsb_follow_the_42_and_7_day_recurrence():
    # One session of 42 AU (RPE 6 x 7 min) then rest: CTL 1.0 then 1 - 1/42; ATL 6.0 then 6 - 6/7.
    points = load.fitness_fatigue(load.daily_series([run(d(0), 1, minutes=7, rpe=6)], end=d(1)))
    assert points[0].ctl == pytest.approx(1.0) and points[0].atl == pytest.approx(6.0)
    assert points[0].tsb == pytest.approx(-5.0)
    assert points[1].ctl == pytest.approx(1 - 1 / 42) and points[1].atl == pytest.approx(6 - 6 / 7)


def test_monotony_and_strain_by_hand():
    # Loads 100,0,100,0,100,0,100: mean 400/7, population SD sqrt(mean(x^2) - mean^2).
    history = [run(d(i), 5, minutes=25, rpe=4) for i in (0, 2, 4, 6)]
    result = load.monotony_strain(load.daily_series(history), d(6))
    mean = 400 / 7
    sd = math.sqrt(4 * 100**2 / 7 - mean**2)
    assert result.week_load_au == pytest.approx(400)
    assert result.monotony == pytest.approx(mean / sd)
    assert result.strain == pytest.approx(400 * mean / sd)


def test_monotony_is_undefined_when_every_day_is_alike():
    history = [run(d(i), 5, minutes=25, rpe=4) for i in range(7)]
    result = load.monotony_strain(load.daily_series(history), d(6))
    assert result.monotony is None and result.strain is None and result.week_load_au == pytest.approx(700)
