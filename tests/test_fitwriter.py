"""The FIT writer: files it writes are valid FIT (CRCs checked by fitdecode) and read back to the same values
with fitdecode and with StrideGuard's own reader, within the FIT field resolution."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import fitdecode
import numpy as np
import pytest

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.fit import read_fit
from strideguard.model import Activity, Lap, Streams

START = datetime(2025, 5, 1, 6, 0, tzinfo=UTC)


def hour_run(
    sport: str = "run", gps: bool = True, power: bool = True, seconds: int = 3600, cadence: float = 172.0
) -> Activity:
    t = np.arange(seconds, dtype=float)
    rng = np.random.default_rng(3)
    speed = 3.0 + 0.3 * np.sin(t / 120)
    distance = np.cumsum(speed)
    streams = Streams(
        time_s=t,
        lat_deg=47.3769 + distance / 111_000 if gps else None,
        lon_deg=8.5417 + t * 1e-6 if gps else None,
        altitude_m=410 + 12 * np.sin(t / 400),
        distance_m=distance,
        speed_m_s=speed,
        heart_rate_bpm=np.round(145 + 8 * np.sin(t / 700)),
        cadence_spm=np.round(cadence + rng.normal(0, 2, seconds)) + (t % 2) * 0.5,
        power_w=np.round(250 + rng.normal(0, 6, seconds)) if power else None,
    )
    half = seconds // 2
    laps = (
        Lap(
            start_utc=START,
            elapsed_time_s=float(half),
            moving_time_s=float(half),
            distance_m=float(distance[half - 1]),
        ),
        Lap(
            start_utc=START + timedelta(seconds=half),
            elapsed_time_s=float(seconds - 1 - half),
            moving_time_s=float(seconds - 1 - half),
            distance_m=float(distance[-1] - distance[half - 1]),
        ),
    )
    return Activity(
        sport=sport,
        start_utc=START,
        source_format="fit",
        utc_offset_s=7200,
        distance_m=float(distance[-1]),
        elapsed_time_s=float(seconds - 1),
        moving_time_s=float(seconds - 10),
        ascent_m=52.0,
        descent_m=51.0,
        avg_heart_rate_bpm=145.0,
        max_heart_rate_bpm=153.0,
        avg_cadence_spm=cadence + 0.5,
        laps=laps,
        streams=streams,
    )


def fitdecode_messages(data: bytes) -> dict[str, list[dict]]:
    """Every data message, decoded by fitdecode with CRC and format errors raising."""
    out: dict[str, list[dict]] = {}
    with fitdecode.FitReader(
        data, check_crc=fitdecode.CrcCheck.RAISE, error_handling=fitdecode.ErrorHandling.RAISE
    ) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                out.setdefault(frame.name, []).append({f.name: f.value for f in frame.fields})
    return out


def test_written_file_passes_fitdecode_strict_crc_and_format_checks() -> None:
    messages = fitdecode_messages(encode_activity(hour_run()))
    assert {name: len(items) for name, items in messages.items()} == {
        "file_id": 1,
        "device_info": 1,
        "event": 2,
        "record": 3600,
        "lap": 2,
        "session": 1,
        "activity": 1,
    }
    assert messages["file_id"][0]["type"] == "activity"
    assert [e["event_type"] for e in messages["event"]] == ["start", "stop_all"]


def test_fitdecode_reads_back_the_written_records() -> None:
    activity = hour_run()
    records = fitdecode_messages(encode_activity(activity))["record"]
    streams = activity.streams
    assert streams is not None
    first, last = records[0], records[-1]
    assert first["timestamp"] == START
    assert last["timestamp"] == START + timedelta(seconds=3599)
    assert first["heart_rate"] == streams.heart_rate_bpm[0]
    # FIT stores running cadence as strides/min (one foot) plus 1/128 fractions.
    assert (first["cadence"] + first["fractional_cadence"]) * 2 == streams.cadence_spm[0]
    assert last["distance"] == pytest.approx(streams.distance_m[-1], abs=0.005)
    assert last["enhanced_speed"] == pytest.approx(streams.speed_m_s[-1], abs=0.0005)
    assert last["enhanced_altitude"] == pytest.approx(streams.altitude_m[-1], abs=0.1)
    assert last["power"] == streams.power_w[-1]
    session = fitdecode_messages(encode_activity(activity))["session"][0]
    assert session["sport"] == "running" and session["start_time"] == START
    assert session["total_distance"] == pytest.approx(activity.distance_m, abs=0.005)
    assert session["total_timer_time"] == pytest.approx(3590.0)


@pytest.mark.parametrize("sport", ["run", "trail_run", "treadmill", "walk", "hike", "other"])
def test_read_fit_reads_back_what_was_written(sport: str) -> None:
    # A walker's cadence for walks and hikes: a file's typical per-foot value decides whether it counts one
    # foot (formats/cadence.py), and 86 per foot would be a runner's.
    cadence = 116.0 if sport in ("walk", "hike") else 172.0
    activity = hour_run(sport=sport, gps=sport != "treadmill", seconds=900, cadence=cadence)
    [back] = read_fit(encode_activity(activity))
    assert back.sport == sport
    assert back.start_utc == activity.start_utc
    assert back.utc_offset_s == 7200
    assert back.distance_m == pytest.approx(activity.distance_m, abs=0.005)
    assert back.elapsed_time_s == pytest.approx(activity.elapsed_time_s, abs=0.0005)
    assert back.moving_time_s == pytest.approx(activity.moving_time_s, abs=0.0005)
    assert back.ascent_m == 52.0 and back.descent_m == 51.0
    assert back.avg_heart_rate_bpm == 145.0 and back.max_heart_rate_bpm == 153.0
    # 172.5 spm = 86.25 strides/min: the 1/128 fraction keeps it exact for step sports; other sports store
    # whole rpm + fraction, also exact here.
    assert back.avg_cadence_spm == pytest.approx(cadence + 0.5)
    assert [lap.distance_m for lap in back.laps] == pytest.approx(
        [lap.distance_m for lap in activity.laps], abs=0.005
    )
    assert back.damaged is None
    ours, theirs = back.streams, activity.streams
    assert ours is not None and theirs is not None
    # Resolution of the FIT fields: position 1 semicircle (~5e-8 deg), altitude 0.2 m, distance 1 cm,
    # speed 1 mm/s, cadence 1/128 stride, heart rate and power whole units.
    for column, tolerance in (
        ("time_s", 0.0),
        ("lat_deg", 1e-7),
        ("lon_deg", 1e-7),
        ("altitude_m", 0.1),
        ("distance_m", 0.005),
        ("speed_m_s", 0.0005),
        ("heart_rate_bpm", 0.0),
        ("cadence_spm", 1 / 64),
        ("power_w", 0.0),
    ):
        expected = getattr(theirs, column)
        got = getattr(ours, column)
        if expected is None:
            assert got is None, column
        else:
            np.testing.assert_allclose(got, expected, atol=tolerance + 1e-9, err_msg=column)


def test_gzipped_written_file_imports_through_the_full_pipeline() -> None:
    data = gzip.compress(encode_activity(hour_run(seconds=300)))
    [activity] = read_bytes(data, "123456.fit.gz")
    assert activity.source_name == "123456.fit.gz" and activity.source_sha256
    assert activity.sport == "run" and len(activity.streams or ()) == 300


def test_missing_values_are_written_as_invalid_and_read_back_as_nan() -> None:
    activity = hour_run(seconds=120)
    assert activity.streams is not None
    heart = activity.streams.heart_rate_bpm.copy()
    heart[10:20] = np.nan
    streams = Streams(
        time_s=activity.streams.time_s, heart_rate_bpm=heart, distance_m=activity.streams.distance_m
    )
    minimal = Activity(sport="run", start_utc=START, source_format="fit", streams=streams)
    [back] = read_fit(encode_activity(minimal))
    assert back.streams is not None and back.streams.lat_deg is None and back.streams.power_w is None
    np.testing.assert_array_equal(np.isnan(back.streams.heart_rate_bpm), np.isnan(heart))
    assert back.elapsed_time_s == pytest.approx(119.0)  # taken from the stream when the activity has none
    assert back.utc_offset_s is None
