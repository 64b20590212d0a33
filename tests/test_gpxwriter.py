"""GPX writer: Strava/Garmin-style GPX 1.1 that StrideGuard's own reader (and lxml) read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from strideguard.activities.formats.gpx import read_gpx
from strideguard.activities.gpx_writer import GPX_NS, TPX_NS, encode_gpx
from strideguard.model import SPORTS, Activity, Streams

START = datetime(2025, 6, 1, 6, 30, tzinfo=UTC)


def _run(sport: str = "run", name: str | None = "Morning run", n: int = 600) -> Activity:
    """A 10-minute synthetic run at 3 m/s heading north, rolling terrain, HR and fractional cadence."""
    time_s = np.arange(n, dtype=np.float64)
    lat = 47.0 + time_s * 3.0 / 111_195.0
    return Activity(
        sport=sport,
        start_utc=START,
        source_format="gpx",
        name=name,
        description="easy & steady <zone 2>",
        streams=Streams(
            time_s=time_s,
            lat_deg=lat,
            lon_deg=np.full(n, 8.5),
            altitude_m=400 + 10 * np.sin(time_s / 60),
            heart_rate_bpm=np.round(140 + 10 * np.sin(time_s / 100)),
            cadence_spm=np.full(n, 172.0),
        ),
    )


def test_written_run_reads_back_with_the_same_summary() -> None:
    original = _run()
    [back] = read_gpx(encode_gpx(original))
    assert back.start_utc == START
    assert back.sport == "run"
    assert back.name == "Morning run"
    assert back.description == "easy & steady <zone 2>"
    assert back.elapsed_time_s == 599
    # 599 steps of 3 m; positions are written with 7 decimals (~1 cm), so the total is exact to ~1 cm/step.
    assert back.distance_m == pytest.approx(599 * 3.0, rel=1e-4)
    assert np.array_equal(back.streams.heart_rate_bpm, original.streams.heart_rate_bpm)
    # Elevation is written to 0.1 m.
    assert np.allclose(back.streams.altitude_m, original.streams.altitude_m, atol=0.05)
    assert np.array_equal(back.streams.cadence_spm, original.streams.cadence_spm)


def test_cadence_is_written_per_foot_like_garmin_and_strava() -> None:
    root = etree.fromstring(encode_gpx(_run()))
    cad = root.findall(f".//{{{TPX_NS}}}cad")
    assert len(cad) == 600 and {c.text for c in cad} == {"86"}


def test_output_is_gpx_1_1_with_trackpoint_extension() -> None:
    root = etree.fromstring(encode_gpx(_run()))
    assert root.tag == f"{{{GPX_NS}}}gpx" and root.get("version") == "1.1"
    first = root.find(f".//{{{GPX_NS}}}trkpt")
    assert first.get("lat") == "47.0000000" and first.get("lon") == "8.5000000"
    assert first.findtext(f"{{{GPX_NS}}}time") == "2025-06-01T06:30:00Z"
    assert first.find(f"{{{GPX_NS}}}extensions/{{{TPX_NS}}}TrackPointExtension/{{{TPX_NS}}}hr") is not None


@pytest.mark.parametrize("sport", SPORTS)
def test_every_sport_survives_a_round_trip(sport: str) -> None:
    [back] = read_gpx(encode_gpx(_run(sport=sport, n=20)))
    assert back.sport == sport


def test_fractional_seconds_are_kept_to_the_millisecond() -> None:
    activity = _run(n=5)
    streams = activity.streams
    shifted = Streams(time_s=streams.time_s * 1.5 + 0.25, lat_deg=streams.lat_deg, lon_deg=streams.lon_deg)
    moved = Activity(sport="run", start_utc=START, source_format="gpx", streams=shifted)
    text = encode_gpx(moved).decode()
    assert "2025-06-01T06:30:00.250Z" in text
    [back] = read_gpx(encode_gpx(moved))
    assert back.elapsed_time_s == pytest.approx(6.0)


def test_names_with_markup_and_control_characters_stay_valid_xml() -> None:
    activity = _run(name="Intervals <5x1k> & cool-down\x00\x07", n=5)
    [back] = read_gpx(encode_gpx(activity))
    assert back.name == "Intervals <5x1k> & cool-down"


def test_samples_without_position_are_left_out_and_no_gps_is_an_error() -> None:
    activity = _run(n=10)
    lat = activity.streams.lat_deg.copy()
    lat[3] = np.nan
    gappy = Activity(
        sport="run",
        start_utc=START,
        source_format="gpx",
        streams=Streams(time_s=activity.streams.time_s, lat_deg=lat, lon_deg=activity.streams.lon_deg),
    )
    [back] = read_gpx(encode_gpx(gappy))
    assert len(back.streams) == 9
    indoor = Activity(
        sport="treadmill", start_utc=START, source_format="tcx", streams=Streams(time_s=np.arange(10.0))
    )
    with pytest.raises(ValueError, match="no GPS positions"):
        encode_gpx(indoor)


def test_a_real_strava_run_round_trips(data_dir: Path) -> None:
    [original] = read_gpx((data_dir / "gpx" / "sportslib__1681613317.gpx").read_bytes())
    [back] = read_gpx(encode_gpx(original))
    for field in ("sport", "start_utc", "elapsed_time_s", "max_heart_rate_bpm", "name"):
        assert getattr(back, field) == getattr(original, field)
    # The writer keeps 7 decimals of the file's 7-decimal positions: same distance to the millimetre.
    assert back.distance_m == pytest.approx(original.distance_m, abs=1e-3)
    assert back.avg_cadence_spm == pytest.approx(original.avg_cadence_spm)
