"""Every FIT, GPX and TCX file in ../shared/data, imported and checked for invariants that hold whatever the
device: moving time within elapsed time, laps that cover the recording, running cadence in steps per minute,
the summary's distance agreeing with the samples', and the expected values SOURCES.md gives.

Files flagged SEMANTIC in SOURCES.md (clocks that jump, inverted times) are exempt from the time invariants:
their times are wrong on purpose.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from strideguard.activities.formats import FileOutcome, read_file
from strideguard.model import Activity

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
RUNS = frozenset({"run", "trail_run", "treadmill"})
# Faster than this average pace (s/km) a "run" is running, so its cadence is a runner's (120-230 steps/min);
# slower ones in the samples are mostly walked (a 19 min/km mountain trail run averages 88 steps/min).
RUNNING_PACE_S_PER_KM = 540.0


@cache
def sources_table() -> dict[str, dict[str, str]]:
    """SOURCES.md rows by file ('fit/x.fit'): duration s, notes."""
    rows = {}
    text = (DATA / "SOURCES.md").read_text() if (DATA / "SOURCES.md").exists() else ""
    for line in text.splitlines():
        if line.startswith(("| fit/", "| gpx/", "| tcx/")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = {"duration": cells[5], "notes": cells[7]}
    return rows


def activity_files() -> list[str]:
    if not DATA.exists():
        return []
    return sorted(
        f"{p.parent.name}/{p.name}" for kind in ("fit", "gpx", "tcx") for p in (DATA / kind).iterdir()
    )


@cache
def outcome(name: str) -> FileOutcome:
    return read_file(DATA / name)


def flagged(name: str, flag: str) -> bool:
    return flag in sources_table().get(name, {}).get("notes", "")


FILES = activity_files()
pytestmark = pytest.mark.skipif(not FILES, reason="../shared/data is not available")


@pytest.mark.parametrize("name", FILES)
def test_each_file_gives_activities_or_one_clear_line(name: str) -> None:
    result = outcome(name)
    if result.failed or result.skipped:
        reason = result.failed or result.skipped or ""
        assert "\n" not in reason and "unexpected error" not in reason and len(reason) < 300
        return
    assert result.activities


def activities_of(name: str) -> tuple[Activity, ...]:
    return outcome(name).activities


@pytest.mark.parametrize("name", FILES)
def test_moving_time_never_exceeds_elapsed_time(name: str) -> None:
    for activity in activities_of(name):
        if activity.moving_time_s is not None and activity.elapsed_time_s is not None:
            assert activity.moving_time_s <= activity.elapsed_time_s + 1.0


@pytest.mark.parametrize("name", FILES)
def test_laps_cover_the_recording(name: str) -> None:
    activities = activities_of(name)
    if len(activities) != 1 or flagged(name, "SEMANTIC"):
        return
    (activity,) = activities
    streams = activity.streams
    if not activity.laps or streams is None or not len(streams):
        return
    start = activity.start_utc.timestamp()
    laps_end = max(lap.start_utc.timestamp() + (lap.elapsed_time_s or 0.0) for lap in activity.laps) - start
    assert float(streams.time_s[-1]) <= laps_end + 60.0


@pytest.mark.parametrize("name", FILES)
def test_running_cadence_is_in_steps_per_minute(name: str) -> None:
    for activity in activities_of(name):
        if activity.sport not in RUNS or activity.avg_cadence_spm is None:
            continue
        if not activity.distance_m or not activity.moving_time_s:
            continue
        if activity.moving_time_s / (activity.distance_m / 1000) > RUNNING_PACE_S_PER_KM:
            continue  # walked more than run
        assert 120 <= activity.avg_cadence_spm <= 230
        samples = activity.streams.cadence_spm if activity.streams is not None else None
        if samples is not None:
            moving = samples[np.isfinite(samples) & (samples > 0)]
            assert np.median(moving) < 260  # never doubled twice (350 spm)


@pytest.mark.parametrize("name", FILES)
def test_summary_distance_agrees_with_the_samples(name: str) -> None:
    activities = activities_of(name)
    if len(activities) != 1:
        return
    (activity,) = activities
    streams = activity.streams
    if activity.damaged or streams is None or streams.distance_m is None or not activity.distance_m:
        return
    if float(streams.time_s[0]) > 60.0:
        return  # the samples start after the activity did (a Suunto TCX starts its points 3 minutes in)
    sampled = float(np.nanmax(streams.distance_m))
    assert sampled == pytest.approx(activity.distance_m, abs=max(50.0, 0.03 * activity.distance_m))


@pytest.mark.parametrize("name", [f for f in FILES if f.startswith("fit/")])
def test_elapsed_time_matches_sources_duration(name: str) -> None:
    """SOURCES.md's duration is the FIT session's total_elapsed_time. Exempt: damaged and SEMANTIC files, and
    sessions StrideGuard repaired against their records (`fit_fixes`, e.g. timer and elapsed swapped). GPX/TCX
    durations there count the raw first-to-last timestamp, including points StrideGuard drops (clock glitches,
    untimed route segments), so they are not compared."""
    row = sources_table().get(name)
    activities = activities_of(name)
    if (
        not row
        or not row["duration"]
        or not activities
        or flagged(name, "MALFORMED")
        or flagged(name, "SEMANTIC")
    ):
        return
    first = activities[0]
    if first.elapsed_time_s is None or first.extra.get("fit_fixes"):
        return
    expected = float(row["duration"])
    assert first.elapsed_time_s == pytest.approx(expected, abs=max(2.0, 0.001 * expected))


def test_expected_values_from_sources() -> None:
    # python-fitparse asserts session avg_speed == 5.86 m/s for the Wahoo ELEMNT ride.
    (ride,) = activities_of("fit/fitparse__2019-02-17-062644-ELEMNT-297E-195-0.fit")
    assert ride.distance_m / ride.moving_time_s == pytest.approx(5.86, abs=0.005)
    # sports-lib expects broken-dates.fit to start at 2017-03-20T19:09:28Z.
    (broken,) = activities_of("fit/sportslib__broken-dates.fit")
    assert broken.start_utc == datetime(2017, 3, 20, 19, 9, 28, tzinfo=UTC)
    # gpxpy's Mojstrovka sample is dated 1901: refused by the date rule.
    assert "1901" in (outcome("gpx/gpxpy__Mojstrovka.gpx").failed or "")
    # A Connect IQ rowing app's distance (developer field declaring native field 5) is kept.
    (rowing,) = activities_of("fit/goldencheetah__RowingCIQspeed.FIT")
    assert rowing.distance_m is not None and not math.isclose(rowing.distance_m, 0.0)
