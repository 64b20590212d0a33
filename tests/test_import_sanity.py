"""Issue 11, import bugs: summaries checked against the records, developer fields, cadence units, GPX
extensions, TCX lap sanity checks and one date rule. Real files from ../shared/data where one of the kind
exists; otherwise small files of the same structure written here (the project's FIT writer, XML strings)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import read_bytes
from strideguard.model import Activity, Lap, Streams

START = datetime(2026, 5, 1, 6, 30, tzinfo=UTC)


def suunto_style_run() -> tuple[Activity, dict[str, float]]:
    """A 15.2 km run of 4,961 s in 1 km laps whose session totals (as a Suunto Ambit 3 writes them) stop
    at 12.7 km and 4,035 s, leaving out the last laps' worth of the records."""
    n = 4962
    time_s = np.arange(n, dtype=np.float64)
    distance = time_s * (15_200.0 / 4961.0)
    hr = 140.0 + 10.0 * (time_s / 4961.0)
    cadence = np.full(n, 172.0)
    streams = Streams(time_s=time_s, distance_m=distance, heart_rate_bpm=hr, cadence_spm=cadence)
    laps = []
    lap_length = 15_200.0 / 4961.0
    t = 0.0
    for _km in range(12):  # 12 whole laps, then a short 13th that ends at 12.7 km
        laps.append(
            Lap(
                start_utc=START + timedelta(seconds=t),
                elapsed_time_s=1000 / lap_length,
                moving_time_s=1000 / lap_length,
                distance_m=1000.0,
            )
        )
        t += 1000 / lap_length
    rest = 4035.0 - t
    laps.append(
        Lap(
            start_utc=START + timedelta(seconds=t),
            elapsed_time_s=rest,
            moving_time_s=rest,
            distance_m=rest * lap_length,
        )
    )
    activity = Activity(
        sport="run",
        start_utc=START,
        source_format="fit",
        distance_m=15_200.0,
        elapsed_time_s=4961.0,
        moving_time_s=4961.0,
        laps=tuple(laps),
        streams=streams,
    )
    short = {"elapsed_time_s": 4035.0, "moving_time_s": 4035.0, "distance_m": 12_700.0}
    return activity, short


def test_fit_session_totals_missing_final_lap_are_checked_against_records() -> None:
    activity, short = suunto_style_run()
    data = encode_activity(activity, manufacturer=23, session_totals=short)  # 23 = suunto
    (read,) = read_bytes(data, "ambit3.fit")
    assert read.elapsed_time_s == pytest.approx(4961.0, abs=2.0)
    assert read.moving_time_s == pytest.approx(4961.0, abs=2.0)
    assert read.distance_m == pytest.approx(15_200.0, rel=0.005)
    pace_s_per_km = read.moving_time_s / (read.distance_m / 1000)
    assert pace_s_per_km == pytest.approx(326.4, abs=2.0)  # 5:26/km, not 4:25/km
    # The laps cover the whole recording: a lap is added for what the device's laps left out.
    lap_distance = sum(lap.distance_m or 0.0 for lap in read.laps)
    assert lap_distance == pytest.approx(15_200.0, rel=0.01)
    last = read.laps[-1]
    assert last.start_utc.timestamp() + last.elapsed_time_s == pytest.approx(START.timestamp() + 4961, abs=2)
    assert any("session totals" in fix for fix in read.extra.get("fit_fixes", []))
    # Heart rate is the whole run's, not the first 4,035 s only.
    assert read.avg_heart_rate_bpm == pytest.approx(145.0, abs=0.5)


def test_fit_session_totals_kept_when_records_agree() -> None:
    """Records that agree with the session (the usual case) change nothing."""
    activity, _ = suunto_style_run()
    last_start = activity.laps[12].start_utc
    last = Lap(
        start_utc=last_start, elapsed_time_s=4961.0 - (last_start - START).total_seconds(), distance_m=3200.0
    )
    full_laps = (*activity.laps[:12], last)
    data = encode_activity(replace(activity, laps=full_laps))
    (read,) = read_bytes(data, "ok.fit")
    assert read.elapsed_time_s == pytest.approx(4961.0, abs=1.0)
    assert "fit_fixes" not in read.extra
