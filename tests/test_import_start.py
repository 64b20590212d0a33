"""`import --start` (and the web form's start time): dating a file that holds no usable calendar date.

FIT files with only device-relative times (seconds since power-on) keep their laps, shifted like the records;
GPX and TCX files without times or with impossible ones are dated the same way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.fit import FIT_EPOCH_S, build_activities, decode_with_fitdecode
from strideguard.activities.formats.fit_fast import decode_fast
from strideguard.model import Activity, Lap, Streams
from strideguard.storage import activities as store

GIVEN = datetime(2026, 5, 1, 5, 30, tzinfo=UTC)
ANTFS = "fit/fitparse__antfs-dump.63.fit"  # Forerunner 70: only seconds since power-on (see SOURCES.md)


def device_relative_run() -> bytes:
    """A 30-minute run with three laps whose times are seconds since power-on (1990 on the FIT clock, which
    the FIT protocol calls device-relative): what a watch that never got the time writes."""
    power_on = datetime.fromtimestamp(FIT_EPOCH_S + 5_000, UTC)
    t = np.arange(1800, dtype=float)
    distance = np.cumsum(np.full(1800, 3.0))
    streams = Streams(
        time_s=t, distance_m=distance, speed_m_s=np.full(1800, 3.0), heart_rate_bpm=np.full(1800, 150.0)
    )
    laps = tuple(
        Lap(
            start_utc=power_on + timedelta(seconds=600 * i),
            elapsed_time_s=600.0 if i < 2 else 599.0,
            moving_time_s=600.0 if i < 2 else 599.0,
            distance_m=1800.0,
            avg_heart_rate_bpm=140.0 + 10 * i,
        )
        for i in range(3)
    )
    run = Activity(
        sport="run",
        start_utc=power_on,
        source_format="fit",
        distance_m=float(distance[-1]),
        elapsed_time_s=1799.0,
        moving_time_s=1799.0,
        laps=laps,
        streams=streams,
    )
    return encode_activity(run)


@pytest.mark.parametrize("decoder", [decode_fast, decode_with_fitdecode])
def test_laps_of_a_device_relative_fit_are_kept_and_shifted_like_the_records(decoder) -> None:
    data = device_relative_run()
    (activity,) = build_activities(decoder(data), start_utc=GIVEN)
    assert activity.start_utc == GIVEN
    assert [lap.start_utc for lap in activity.laps] == [GIVEN + timedelta(seconds=600 * i) for i in range(3)]
    assert [lap.avg_heart_rate_bpm for lap in activity.laps] == [140.0, 150.0, 160.0]
    assert activity.streams is not None and activity.streams.time_s[0] == 0.0
    # the laps end where the records end: nothing outside the run
    last = activity.laps[-1]
    assert last.start_utc.timestamp() + last.elapsed_time_s == pytest.approx(
        GIVEN.timestamp() + activity.streams.time_s[-1], abs=1.0
    )


def test_real_device_relative_fit_keeps_its_lap(data_dir: Path) -> None:
    """The Forerunner 70's session starts a second before its first record: the run starts at the given
    time, its one lap with it, and the records one second later, as in a dated file."""
    (activity,) = read_bytes((data_dir / ANTFS).read_bytes(), "antfs.fit", start_utc=GIVEN)
    assert activity.start_utc == GIVEN
    (lap,) = activity.laps
    assert lap.start_utc == GIVEN
    assert lap.elapsed_time_s == pytest.approx(3426.898)
    assert (lap.avg_heart_rate_bpm, lap.max_heart_rate_bpm) == (162.0, 195.0)
    assert activity.streams is not None and activity.streams.time_s[0] == pytest.approx(1.0)


def test_cli_start_stores_the_laps_of_a_device_relative_fit(
    run_cli, session, athlete_id, tmp_path: Path
) -> None:
    path = tmp_path / "old-watch.fit"
    path.write_bytes(device_relative_run())
    done = run_cli("import", str(path), "--no-progress", "--json", "--start", "2026-05-01T07:30:00+02:00")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["this_run"]["imported"] == 1
    (summary,) = store.list_activities(session, athlete_id)
    stored = store.get_activity(session, athlete_id, summary.id)
    assert stored.start_utc == GIVEN
    assert [lap.start_utc for lap in stored.laps] == [GIVEN + timedelta(seconds=600 * i) for i in range(3)]
