"""TCX import: real files from ../shared/data/tcx checked against their own laps and a FIT twin."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import fitdecode
import numpy as np
import pytest

from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.errors import CorruptFile, LimitExceeded, NotAnActivity
from strideguard.activities.formats.tcx import read_tcx
from strideguard.activities.formats.track import parse_time, parse_times
from strideguard.config import Limits

TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
RUNNING = [
    "goldencheetah__10kUNLP2014-Garmin15.tcx",
    "sportslib__1604524853.tcx",
    "sportslib__6281425038.tcx",
    "sportslib__unknown_example.tcx",
    "goldencheetah__activity_165850259_multi-session.tcx",
]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _laps_by_activity(path: Path) -> list[dict[str, object]]:
    """Each activity's Sport, first lap start, summed lap distance and timer time, read with the stdlib."""
    root = ET.fromstring(path.read_bytes().lstrip())
    result = []
    for activity in (e for e in root.iter() if _local(e.tag) == "Activity"):
        laps = [e for e in activity if _local(e.tag) == "Lap"]
        result.append(
            {
                "sport": activity.get("Sport"),
                "start": datetime.fromisoformat(laps[0].get("StartTime").replace("Z", "+00:00")),
                "distance_m": sum(float(lap.findtext(f"{{{TCX_NS}}}DistanceMeters")) for lap in laps),
                "timer_s": sum(float(lap.findtext(f"{{{TCX_NS}}}TotalTimeSeconds")) for lap in laps),
                "laps": len(laps),
            }
        )
    return result


@pytest.mark.parametrize("name", RUNNING)
def test_running_tcx_agrees_with_its_own_laps(data_dir: Path, name: str) -> None:
    path = data_dir / "tcx" / name
    activities = read_tcx(path.read_bytes(), Limits())
    expected = _laps_by_activity(path)
    assert len(activities) == len(expected)
    for activity, laps in zip(activities, expected, strict=True):
        # Start, distance and timer time are the device's lap values, copied: equal up to float rounding.
        assert activity.start_utc == laps["start"]
        assert activity.distance_m == pytest.approx(laps["distance_m"], rel=1e-9)
        assert activity.moving_time_s == pytest.approx(laps["timer_s"], rel=1e-9)
        assert len(activity.laps) == laps["laps"]
        # Elapsed covers at least the timer time (pauses only add to it).
        assert activity.elapsed_time_s >= activity.moving_time_s - 1e-6


def test_laps_that_stop_before_the_track_give_way_to_the_trackpoints(data_dir: Path) -> None:
    # movescount.tcx: two laps of ~1 km / 625 s, but trackpoints go on to 2919 m at 17:10:50 (907 s).
    path = data_dir / "tcx" / "sportslib__movescount.tcx"
    [activity] = read_tcx(path.read_bytes())
    root = ET.fromstring(path.read_bytes())
    point_distances = [
        float(point.findtext(f"{{{TCX_NS}}}DistanceMeters")) for point in root.iter(f"{{{TCX_NS}}}Trackpoint")
    ]
    assert max(point_distances) == 2919.0
    assert activity.distance_m == pytest.approx(max(point_distances) - min(point_distances))
    assert activity.elapsed_time_s == 907
    # Moving time from the track (>= 0.5 m/s, gaps <= 30 s): this run barely stops.
    assert 880 <= activity.moving_time_s <= 907


def test_sportslib_movescount_expected_json_imports_as_the_file(data_dir: Path) -> None:
    # sports-lib's movescount.tcx.json is the sample itself with whitespace between tags removed
    # ({"tcx": "..."}), not parsed values: it must give exactly the same activity.
    embedded = json.loads((data_dir / "expected" / "sportslib__movescount.tcx.json").read_text())["tcx"]
    [from_json] = read_tcx(embedded.encode())
    [from_file] = read_tcx((data_dir / "tcx" / "sportslib__movescount.tcx").read_bytes())
    for field in (
        "start_utc",
        "distance_m",
        "elapsed_time_s",
        "moving_time_s",
        "ascent_m",
        "avg_heart_rate_bpm",
        "max_heart_rate_bpm",
        "avg_cadence_spm",
    ):
        assert getattr(from_json, field) == getattr(from_file, field)
    assert from_file.start_utc == datetime(2018, 2, 23, 16, 55, 43, tzinfo=UTC)
    # Lap HR 134/141 (313 s) and 140/149 (312 s): time-weighted average and max of the laps.
    assert from_file.avg_heart_rate_bpm == pytest.approx((134 * 313 + 140 * 312) / 625)
    assert from_file.max_heart_rate_bpm == 149


def test_run_cadence_counts_one_foot_so_steps_are_doubled(data_dir: Path) -> None:
    path = data_dir / "tcx" / "sportslib__movescount.tcx"
    [activity] = read_tcx(path.read_bytes())
    per_foot = [float(v) for v in re.findall(r"<RunCadence>(\d+)</RunCadence>", path.read_text())]
    assert np.array_equal(activity.streams.cadence_spm, 2 * np.array(per_foot))
    # Lap <Cadence> 89 and 88 (313 s, 312 s) are per foot too.
    assert activity.laps[0].avg_cadence_spm == 178


def test_garmin_tcx_agrees_with_the_fit_file_of_the_same_run(data_dir: Path) -> None:
    [activity] = read_tcx((data_dir / "tcx" / "goldencheetah__10kUNLP2014-Garmin15.tcx").read_bytes())
    session: dict[str, object] = {}
    records = 0
    with fitdecode.FitReader(
        data_dir / "fit" / "goldencheetah__10kUNLP2014-Garmin15.fit", check_crc=fitdecode.CrcCheck.DISABLED
    ) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage):
                if frame.name == "session":
                    session = {f.name: f.value for f in frame.fields}
                elif frame.name == "record":
                    records += 1
    assert activity.start_utc == session["start_time"]
    # TCX laps carry the FIT lap distances to the centimetre.
    assert activity.distance_m == pytest.approx(session["total_distance"], abs=0.01)
    # TCX lap times are the FIT lap timer times (ms precision).
    assert activity.moving_time_s == pytest.approx(session["total_timer_time"], abs=0.01)
    # Elapsed: TCX lap StartTimes are whole seconds while FIT keeps ms, so up to 1 s apart.
    assert activity.elapsed_time_s == pytest.approx(session["total_elapsed_time"], abs=1.0)
    assert len(activity.streams) == records
    # This Forerunner 15 recorded no heart rate or cadence: neither file has any.
    assert session.get("avg_heart_rate") is None and activity.avg_heart_rate_bpm is None
    assert activity.streams.heart_rate_bpm is None
    assert activity.sport == "run" and activity.device == "Forerunner 15"


def test_strava_tcx_with_leading_spaces_imports(data_dir: Path) -> None:
    data = (data_dir / "tcx" / "sportslib__6281425038.tcx").read_bytes()
    assert data.startswith(b"          <?xml")
    [activity] = read_bytes(data, "6281425038.tcx")
    assert activity.sport == "run"
    assert activity.distance_m == pytest.approx(4156.7, abs=0.01)
    assert activity.start_utc == datetime(2016, 9, 12, 11, 19, 55, tzinfo=UTC)
    assert activity.device == "Polar V800"
    assert activity.streams.heart_rate_bpm is not None


def test_multisport_session_gives_one_activity_per_leg_and_ignores_the_author_build_time(
    data_dir: Path,
) -> None:
    # The file's only non-ISO <Time> ("Jan 5 2012, 14:56:11") is the Author's build date, not activity data.
    activities = read_tcx(
        (data_dir / "tcx" / "goldencheetah__activity_165850259_multi-session.tcx").read_bytes()
    )
    assert [a.sport for a in activities] == ["run", "other", "run", "other"]
    assert [a.start_utc.date().isoformat() for a in activities] == [
        "2011-11-29",
        "2011-12-01",
        "2011-12-04",
        "2011-12-07",
    ]
    assert activities[0].avg_heart_rate_bpm == 161 and activities[0].max_heart_rate_bpm == 180
    # Read through read_bytes, the legs are parts 0..3 of the same source file.
    parts = read_bytes(
        (data_dir / "tcx" / "goldencheetah__activity_165850259_multi-session.tcx").read_bytes(), "multi.tcx"
    )
    assert [a.source_part for a in parts] == [0, 1, 2, 3]


def test_indoor_trackpoints_without_position_are_kept(data_dir: Path) -> None:
    path = data_dir / "tcx" / "goldencheetah__argmac_Garmin_FR910XT_2015_01_31_10_17_02.tcx"
    [activity] = read_tcx(path.read_bytes())
    assert activity.streams.lat_deg is None
    assert len(activity.streams) == path.read_text().count("<Trackpoint>")
    assert activity.streams.distance_m[-1] == 2000.0
    assert activity.distance_m == 2000.0


def test_tpx_extensions_read_with_prefix_or_default_namespace(data_dir: Path) -> None:
    [prefixed] = read_tcx((data_dir / "tcx" / "tcxreader__cross-country-skiing_activity_1.tcx").read_bytes())
    [default] = read_tcx((data_dir / "tcx" / "sportslib__1604524853.tcx").read_bytes())
    assert prefixed.streams.speed_m_s is not None and default.streams.speed_m_s is not None
    assert prefixed.streams.speed_m_s[0] == pytest.approx(0.56)
    assert default.streams.cadence_spm[0] == 108  # RunCadence 54, one foot


def _tcx(activities: str) -> bytes:
    return (
        f'<?xml version="1.0"?><TrainingCenterDatabase xmlns="{TCX_NS}">'
        f"<Activities>{activities}</Activities></TrainingCenterDatabase>"
    ).encode()


def _treadmill_activity(time_format: str) -> str:
    points = "".join(
        f"<Trackpoint><Time>{time_format.format(s=10 * i)}</Time><DistanceMeters>{30.0 * i}</DistanceMeters>"
        f"<HeartRateBpm><Value>{140 + i}</Value></HeartRateBpm>"
        f'<Extensions><TPX xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><RunCadence>85'
        "</RunCadence></TPX></Extensions></Trackpoint>"
        for i in range(6)
    )
    return f'<Activity Sport="Running"><Id>2024-03-01T18:00:00Z</Id>{_lapless(points)}</Activity>'


def _lapless(points: str) -> str:
    return f'<Lap StartTime="2024-03-01T18:00:00Z"><Track>{points}</Track></Lap>'


def test_treadmill_run_without_gps_uses_device_distance_and_loose_times() -> None:
    # Strava writes times without milliseconds; a non-ISO form is parsed too (as UTC).
    iso = _treadmill_activity("2024-03-01T18:00:{s:02d}Z")
    loose = _treadmill_activity("Mar 1 2024, 18:00:{s:02d}")
    first, second = read_tcx(_tcx(iso + loose))
    for activity in (first, second):
        assert activity.distance_m == 150.0
        assert activity.elapsed_time_s == 50
        assert activity.avg_cadence_spm == 170
        assert activity.streams.lat_deg is None
    assert second.start_utc == datetime(2024, 3, 1, 18, 0, tzinfo=UTC)


def test_unreadable_activity_is_left_out_and_named_next_to_good_ones() -> None:
    good = _treadmill_activity("2024-03-01T18:00:{s:02d}Z")
    bad = (
        '<Activity Sport="Running"><Id>garbage</Id><Lap StartTime="not a time"><TotalTimeSeconds>60'
        "</TotalTimeSeconds><Track><Trackpoint><Time>yesterday</Time></Trackpoint></Track></Lap></Activity>"
    )
    [activity] = read_tcx(_tcx(good + bad))
    assert activity.extra["skipped_parts"] == [
        "activity 2: no readable <Time> or lap StartTime in the activity"
    ]
    with pytest.raises(CorruptFile, match="no readable <Time>"):
        read_tcx(_tcx(bad))


def test_course_and_empty_files_are_not_activities() -> None:
    course = (
        f'<TrainingCenterDatabase xmlns="{TCX_NS}"><Courses><Course><Name>loop</Name></Course></Courses>'
        "</TrainingCenterDatabase>"
    )
    with pytest.raises(NotAnActivity, match="course, not a recorded activity"):
        read_tcx(course.encode())
    with pytest.raises(NotAnActivity, match="no activities"):
        read_tcx(_tcx(""))


def test_trackpoint_limit_applies_across_activities(data_dir: Path) -> None:
    data = (data_dir / "tcx" / "goldencheetah__activity_165850259_multi-session.tcx").read_bytes()
    with pytest.raises(LimitExceeded, match="more than 1000 track points"):
        read_tcx(data, Limits(max_points=1000))


def test_tcx_from_1901_is_rejected() -> None:
    activity = _treadmill_activity("1901-12-13T20:45:{s:02d}Z").replace(
        "2024-03-01T18:00:00Z", "1901-12-13T20:45:00Z"
    )
    with pytest.raises(CorruptFile, match="implausible date: starts on 1901"):
        read_tcx(_tcx(activity))


@pytest.mark.parametrize(
    ("text", "expected", "offset"),
    [
        ("2018-02-23T16:55:43Z", datetime(2018, 2, 23, 16, 55, 43, tzinfo=UTC), None),
        ("2014-10-11T18:08:45.000Z", datetime(2014, 10, 11, 18, 8, 45, tzinfo=UTC), None),
        ("2022-11-12T15:58:25.849800+00:00", datetime(2022, 11, 12, 15, 58, 25, 849800, tzinfo=UTC), None),
        ("2015-12-11T15:43:13.994+01:00", datetime(2015, 12, 11, 14, 43, 13, 994000, tzinfo=UTC), 3600),
        ("2020-01-01T08:00:00-0330", datetime(2020, 1, 1, 11, 30, tzinfo=UTC), -12600),
        ("2016-09-12 11:19:55", datetime(2016, 9, 12, 11, 19, 55, tzinfo=UTC), None),
        ("Jan 5 2012, 14:56:11", datetime(2012, 1, 5, 14, 56, 11, tzinfo=UTC), None),
    ],
)
def test_times_are_parsed_loosely(text: str, expected: datetime, offset: int | None) -> None:
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(expected.timestamp(), abs=1e-6)
    assert parsed[1] == offset
    values, found_offset = parse_times([text, None])
    assert values[0] == pytest.approx(expected.timestamp(), abs=1e-6) and np.isnan(values[1])
    assert found_offset == offset


@pytest.mark.parametrize("text", ["yesterday", "2020-13-01T00:00:00Z", "", "12:00"])
def test_unreadable_times_are_none(text: str) -> None:
    assert parse_time(text) is None


def test_activity_with_laps_but_no_trackpoints_keeps_the_lap_summary() -> None:
    laps = "".join(
        f'<Lap StartTime="2024-03-01T18:{5 * i:02d}:00Z"><TotalTimeSeconds>290</TotalTimeSeconds>'
        f"<DistanceMeters>1000</DistanceMeters><AverageHeartRateBpm><Value>{150 + i}</Value>"
        f"</AverageHeartRateBpm><MaximumHeartRateBpm><Value>{160 + i}</Value></MaximumHeartRateBpm>"
        "<Cadence>86</Cadence></Lap>"
        for i in range(3)
    )
    [activity] = read_tcx(_tcx(f'<Activity Sport="Running"><Id>2024-03-01T18:00:00Z</Id>{laps}</Activity>'))
    assert activity.streams is None
    assert activity.distance_m == 3000 and activity.moving_time_s == 870
    assert activity.elapsed_time_s == 10 * 60 + 290  # last lap starts at 18:10 and runs 290 s
    assert activity.avg_heart_rate_bpm == 151 and activity.max_heart_rate_bpm == 162
    assert activity.avg_cadence_spm == 172
    assert [lap.elapsed_time_s for lap in activity.laps] == [300, 300, 290]


def test_trackpoints_with_unreadable_times_mark_the_activity_damaged() -> None:
    activity = _treadmill_activity("2024-03-01T18:00:{s:02d}Z")
    activity = activity.replace("2024-03-01T18:00:20Z", "soon").replace("2024-03-01T18:00:30Z", "later")
    [read] = read_tcx(_tcx(activity))
    assert read.damaged == "2 of 6 trackpoints have no readable <Time>: kept the rest"
    assert len(read.streams) == 4
