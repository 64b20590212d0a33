"""GPX import: real files from ../shared/data/gpx checked against an independent reading of each track."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.errors import CorruptFile, LimitExceeded, NotAnActivity
from strideguard.activities.formats.gpx import read_gpx
from strideguard.activities.formats.sports import sport_from_name
from strideguard.config import Limits

# Files that hold a recorded track (times on the points); every other GPX in data/gpx is a route, metadata,
# waypoints, a single point or deliberately broken, and is checked by the edge-case tests below.
RECORDED = [
    "fittrackee__test.gpx",
    "goldencheetah__1292585194-20906.gpx",
    "goldencheetah__Move_2014_01_16_19_48_44.gpx",
    "gpxpy__around-visnjan-with-car.gpx",
    "gpxpy__cerknicko-jezero.gpx",
    "gpxpy__cerknicko-jezero-no-creator.gpx",
    "gpxpy__cerknicko-jezero-with-elevations-zero.gpx",
    "gpxpy__cerknicko-jezero-without-elevations.gpx",
    "gpxpy__first_and_last_elevation.gpx",
    "gpxpy__korita-zbevnica.gpx",
    "gpxpy__track-with-empty-segment.gpx",
    "gpxpy__track-with-less-sec-time.gpx",
    "gpxpy__track_with_speed.gpx",
    "healthkit__route_2019-06-11_3.00pm.gpx",
    "sportslib__1681613317.gpx",
    "sportslib__2067489619.gpx",
    "sportslib__4623204522-1.gpx",
    "sportslib__6909258631.gpx",
    "sportslib__amazfit.gpx",
    "sportslib__garmin.gpx",
]

# WGS-84 ellipsoid, for an independent distance: our reader uses a sphere (haversine).
WGS84_A = 6_378_137.0
WGS84_E2 = 6.69437999014e-3


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ellipsoid_step_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Short-step distance on the WGS-84 ellipsoid (local radii of curvature M and N at the mid-latitude)."""
    phi = math.radians((lat1 + lat2) / 2)
    w = math.sqrt(1 - WGS84_E2 * math.sin(phi) ** 2)
    meridian = WGS84_A * (1 - WGS84_E2) / w**3
    normal = WGS84_A / w
    north = math.radians(lat2 - lat1) * meridian
    east = math.radians(lon2 - lon1) * normal * math.cos(phi)
    return math.hypot(north, east)


def _independent_track(path: Path) -> dict[str, float | datetime | int]:
    """First/last time, point count and ellipsoidal length of the timed points, read with the stdlib.

    Applies the reader's documented rule for clocks that jump back: a few (<= 5%, or 2) points stamped
    before an earlier point are dropped.
    """
    root = ET.fromstring(path.read_bytes().lstrip(b"\xef\xbb\xbf \t\r\n"))
    samples: list[tuple[datetime, float, float, int]] = []
    for number, segment in enumerate(e for e in root.iter() if _local(e.tag) == "trkseg"):
        for point in segment:
            stamp = next((c.text for c in point if _local(c.tag) == "time"), None)
            if _local(point.tag) == "trkpt" and stamp:
                moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
                samples.append((moment, float(point.get("lat")), float(point.get("lon")), number))
    latest = samples[0][0]
    forward = []
    for sample in samples:
        if sample[0] >= latest:
            forward.append(sample)
            latest = sample[0]
    assert len(samples) - len(forward) <= max(2, 0.05 * len(samples)), "only a few clock glitches expected"
    length = sum(
        _ellipsoid_step_m(a[1], a[2], b[1], b[2]) for a, b in itertools.pairwise(forward) if a[3] == b[3]
    )
    return {"start": forward[0][0], "end": forward[-1][0], "points": len(forward), "length_m": length}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_track_matches_an_independent_reading(data_dir: Path, name: str) -> None:
    path = data_dir / "gpx" / name
    [activity] = read_gpx(path.read_bytes(), Limits())
    expected = _independent_track(path)
    # Start and elapsed time come straight from the first/last <time>: equal to the microsecond
    # (the stdlib keeps 6 fractional digits, as we do).
    assert abs((activity.start_utc - expected["start"]).total_seconds()) < 1e-3
    assert activity.elapsed_time_s == pytest.approx(
        (expected["end"] - expected["start"]).total_seconds(), abs=1e-3
    )
    assert len(activity.streams) == expected["points"]
    # Distance: haversine on a sphere of mean radius vs the WGS-84 ellipsoid; the sphere's radius lies
    # within 0.5% of the ellipsoid's local radii anywhere, so the totals agree within 0.5% (+1 m rounding).
    assert activity.distance_m == pytest.approx(expected["length_m"], rel=0.005, abs=1.0)
    assert activity.moving_time_s is not None and 0 <= activity.moving_time_s <= activity.elapsed_time_s
    assert activity.source_format == "gpx"


def test_strava_gpx_with_numeric_type_9_is_a_run_with_heart_rate_and_cadence(data_dir: Path) -> None:
    [activity] = read_gpx((data_dir / "gpx" / "sportslib__1681613317.gpx").read_bytes())
    assert activity.sport == "run"
    assert activity.name == "Run avec Nico & Mag"
    assert activity.device == "StravaGPX Android"
    text = (data_dir / "gpx" / "sportslib__1681613317.gpx").read_text()
    root = ET.fromstring(text)
    hr = [float(e.text) for e in root.iter() if _local(e.tag) == "hr"]
    cad = [float(e.text) for e in root.iter() if _local(e.tag) == "cad"]
    assert activity.max_heart_rate_bpm == max(hr)
    # Strava writes one foot's cadence; steps per minute are twice that.
    assert np.array_equal(activity.streams.cadence_spm, 2 * np.array(cad))
    assert min(hr) <= activity.avg_heart_rate_bpm <= max(hr)
    assert activity.utc_offset_s is None  # 'Z' times say nothing about the runner's time zone


def test_strava_swim_type_16_is_other(data_dir: Path) -> None:
    [activity] = read_gpx((data_dir / "gpx" / "sportslib__4623204522-1.gpx").read_bytes())
    assert activity.sport == "other"


def test_sportslib_garmin_sample_matches_its_expected_json_source(data_dir: Path) -> None:
    # sports-lib's garmin.gpx.json holds the sample itself ({"gpx": "<file text>"}), not parsed values; so
    # the JSON text must import exactly as the file does, with the values a human read off the file:
    # 217 points from 15:54:34 to 16:17:31 (1377 s), Garmin Connect "running", HR 53..132 (ns3: prefix).
    embedded = json.loads((data_dir / "expected" / "sportslib__garmin.gpx.json").read_text())["gpx"]
    [from_json] = read_gpx(embedded.encode())
    [from_file] = read_gpx((data_dir / "gpx" / "sportslib__garmin.gpx").read_bytes())
    for field in (
        "start_utc",
        "distance_m",
        "elapsed_time_s",
        "moving_time_s",
        "ascent_m",
        "avg_heart_rate_bpm",
    ):
        assert getattr(from_json, field) == getattr(from_file, field)
    assert from_file.start_utc == datetime(2018, 4, 23, 15, 54, 34, tzinfo=UTC)
    assert from_file.elapsed_time_s == 1377
    assert len(from_file.streams) == 217
    assert from_file.sport == "run"
    assert from_file.max_heart_rate_bpm == 132
    assert np.nanmin(from_file.streams.heart_rate_bpm) == 53


def test_gpx_bom_comments_and_waypoint_only_files_parse_and_are_not_activities(data_dir: Path) -> None:
    for name in (
        "gpxpy__unicode_with_bom.gpx",
        "gpxpy__unicode_with_bom_noencoding.gpx",
        "gpxpy__unicode.gpx",
    ):
        with pytest.raises(NotAnActivity, match="no track points"):
            read_gpx((data_dir / "gpx" / name).read_bytes())
    with pytest.raises(NotAnActivity, match="only one timed track point"):
        read_gpx((data_dir / "gpx" / "gpxpy__gpx-with-node-with-comments.gpx").read_bytes())


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("gpxpy__route.gpx", "route, not a recorded activity"),
        ("goldencheetah__MetadataOnly.gpx", "no track points"),
        ("fittrackee__test_4-no-track.gpx", "no track points"),
        ("gpxpy__track-with-extremes.gpx", "no timestamps"),
        ("goldencheetah__A_ride_mapped_on_11_22_2011.gpx", "no timestamps"),
    ],
)
def test_files_without_a_recording_are_skipped_with_a_reason(data_dir: Path, name: str, reason: str) -> None:
    with pytest.raises(NotAnActivity, match=reason):
        read_gpx((data_dir / "gpx" / name).read_bytes())


def test_timestamps_from_1901_are_rejected_as_implausible(data_dir: Path) -> None:
    with pytest.raises(CorruptFile, match=r"implausible date: starts on 1901-12-13"):
        read_gpx((data_dir / "gpx" / "gpxpy__Mojstrovka.gpx").read_bytes())


def test_track_whose_times_were_mostly_stripped_is_rejected(data_dir: Path) -> None:
    with pytest.raises(CorruptFile, match=r"only 5 of 296 track points have a timestamp"):
        read_gpx((data_dir / "gpx" / "gpxpy__cerknicko-without-times.gpx").read_bytes())


def test_untimed_tracks_next_to_a_recorded_one_are_dropped(data_dir: Path) -> None:
    # korita-zbevnica holds a 358-point track without times and two timed tracks (176 + 337 points).
    [activity] = read_gpx((data_dir / "gpx" / "gpxpy__korita-zbevnica.gpx").read_bytes())
    assert len(activity.streams) == 513
    assert activity.sport == "other"  # its <type> is the made-up "jkljkl"


def test_points_without_elevation_give_no_climb(data_dir: Path) -> None:
    [without] = read_gpx((data_dir / "gpx" / "gpxpy__cerknicko-jezero-without-elevations.gpx").read_bytes())
    [zeros] = read_gpx((data_dir / "gpx" / "gpxpy__cerknicko-jezero-with-elevations-zero.gpx").read_bytes())
    [full] = read_gpx((data_dir / "gpx" / "gpxpy__cerknicko-jezero.gpx").read_bytes())
    assert without.ascent_m is None and without.streams.altitude_m is None
    assert zeros.ascent_m == 0 and zeros.descent_m == 0
    assert full.ascent_m > 100


def test_empty_segment_is_ignored(data_dir: Path) -> None:
    [activity] = read_gpx((data_dir / "gpx" / "gpxpy__track-with-empty-segment.gpx").read_bytes())
    assert len(activity.streams) == 9
    assert activity.elapsed_time_s == 76


def test_time_offset_in_the_file_gives_the_local_offset(data_dir: Path) -> None:
    [activity] = read_gpx((data_dir / "gpx" / "gpxpy__track-with-less-sec-time.gpx").read_bytes())
    assert activity.utc_offset_s == 3600
    assert activity.start_utc == datetime(2015, 12, 11, 14, 43, 13, tzinfo=UTC)
    assert activity.elapsed_time_s == pytest.approx(0.994)


def test_read_bytes_fills_the_source_fields(data_dir: Path) -> None:
    data = (data_dir / "gpx" / "sportslib__amazfit.gpx").read_bytes()
    [activity] = read_bytes(data, "folder/amazfit.gpx")
    assert activity.source_name == "amazfit.gpx"
    assert activity.source_sha256 is not None and len(activity.source_sha256) == 64
    # Amazfit writes HR twice (<heartrate> and ns3:hr): both are read as the same heart rate.
    assert activity.max_heart_rate_bpm == 160


def _gpx(points: list[str], track_extra: str = "", root_extra: str = "") -> bytes:
    body = "".join(points)
    return (
        '<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"'
        f" {root_extra}><trk>{track_extra}<trkseg>{body}</trkseg></trk></gpx>"
    ).encode()


def _point(t: datetime, lat: float, lon: float = 10.0, ele: float | None = None, ext: str = "") -> str:
    ele_text = f"<ele>{ele}</ele>" if ele is not None else ""
    ext_text = f"<extensions>{ext}</extensions>" if ext else ""
    return f'<trkpt lat="{lat}" lon="{lon}">{ele_text}<time>{t:%Y-%m-%dT%H:%M:%SZ}</time>{ext_text}</trkpt>'


T0 = datetime(2024, 5, 1, 7, 0, 0, tzinfo=UTC)
DEG_PER_M = 1 / 111_195.0  # one metre of latitude on the mean sphere


def test_moving_time_leaves_out_a_standing_pause() -> None:
    # 10 min at 3 m/s (1 point per 10 s), a 5 min stop (points every 10 s, not moving), 10 min more.
    points = []
    lat = 45.0
    for i in range(61):
        lat += 30 * DEG_PER_M if i else 0.0
        points.append(_point(T0 + timedelta(seconds=10 * i), lat))
    for i in range(1, 31):
        points.append(_point(T0 + timedelta(seconds=600 + 10 * i), lat))
    for i in range(1, 61):
        lat += 30 * DEG_PER_M
        points.append(_point(T0 + timedelta(seconds=900 + 10 * i), lat))
    [activity] = read_gpx(_gpx(points))
    assert activity.elapsed_time_s == 1500
    assert activity.moving_time_s == pytest.approx(1200, abs=1)
    assert activity.distance_m == pytest.approx(3600, rel=1e-3)


def test_gap_longer_than_30_s_is_not_moving_time() -> None:
    points = [_point(T0, 45.0), _point(T0 + timedelta(seconds=10), 45.0 + 30 * DEG_PER_M)]
    points.append(_point(T0 + timedelta(seconds=130), 45.0 + 400 * DEG_PER_M))  # 120 s gap at 3.1 m/s
    [activity] = read_gpx(_gpx(points))
    assert activity.moving_time_s == pytest.approx(10)


def test_altitude_noise_below_the_hysteresis_is_not_climbing() -> None:
    noise = [100, 101, 99.5, 101.5, 100, 99, 101, 100]
    points = [_point(T0 + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M, ele=e) for i, e in enumerate(noise)]
    [flat] = read_gpx(_gpx(points))
    assert flat.ascent_m == 0 and flat.descent_m == 0
    hill = [100, 101, 102, 103, 104, 105, 104, 103, 102, 101, 100]
    points = [_point(T0 + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M, ele=e) for i, e in enumerate(hill)]
    [climb] = read_gpx(_gpx(points))
    # A real 5 m climb and descent count in full once past the 3 m threshold.
    assert climb.ascent_m == pytest.approx(5) and climb.descent_m == pytest.approx(5)


def test_extensions_are_matched_by_local_name_in_any_namespace() -> None:
    ext = (
        '<ext:TrackPointExtension xmlns:ext="urn:any"><ext:hr>150</ext:hr><ext:cad>88</ext:cad>'
        "</ext:TrackPointExtension><power>250</power>"
    )
    points = [_point(T0 + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M, ext=ext) for i in range(5)]
    [activity] = read_gpx(_gpx(points))
    assert activity.avg_heart_rate_bpm == 150
    assert activity.avg_cadence_spm == 176
    assert list(activity.streams.power_w) == [250.0] * 5


def test_missing_type_means_run_and_a_ride_type_means_other() -> None:
    points = [_point(T0 + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M) for i in range(5)]
    assert read_gpx(_gpx(points))[0].sport == "run"
    assert read_gpx(_gpx(points, "<type>cycling</type>"))[0].sport == "other"
    assert read_gpx(_gpx(points, "<type>TrailRun</type>"))[0].sport == "trail_run"
    assert read_gpx(_gpx(points, "<name>Evening</name><desc>easy</desc>"))[0].description == "easy"


def test_several_tracks_are_one_activity_without_bridging_the_gap() -> None:
    first = "".join(_point(T0 + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M) for i in range(5))
    second = "".join(_point(T0 + timedelta(seconds=60 + i), 46 + i * 3 * DEG_PER_M) for i in range(5))
    data = (
        '<gpx xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{first}</trkseg></trk><trk><trkseg>{second}</trkseg></trk></gpx>"
    ).encode()
    [activity] = read_gpx(data)
    assert len(activity.streams) == 10
    assert activity.distance_m == pytest.approx(24, rel=1e-3)  # 2 x 4 steps of 3 m, not the 111 km jump


@pytest.mark.parametrize(
    ("text", "sport"),
    [
        ("9", "run"),
        ("Run", "run"),
        ("running", "run"),
        ("Trail Run", "trail_run"),
        ("VirtualRun", "treadmill"),
        ("treadmill_running", "treadmill"),
        ("Walk", "walk"),
        ("hiking", "hike"),
        ("Ride", "other"),
        ("16", "other"),
        ("Swim", "other"),
        ("", "other"),
    ],
)
def test_sport_names_map_to_model_sports(text: str, sport: str) -> None:
    assert sport_from_name(text) == sport


def test_future_timestamps_are_rejected() -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    points = [_point(later + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M) for i in range(5)]
    with pytest.raises(CorruptFile, match="in the future"):
        read_gpx(_gpx(points))


def test_point_limit_stops_a_long_track(data_dir: Path) -> None:
    data = (data_dir / "gpx" / "sportslib__amazfit.gpx").read_bytes()
    with pytest.raises(LimitExceeded, match="more than 100 track points"):
        read_gpx(data, Limits(max_points=100))


def test_time_limit_stops_parsing(data_dir: Path) -> None:
    data = (data_dir / "gpx" / "goldencheetah__1292585194-20906.gpx").read_bytes()
    with pytest.raises(LimitExceeded, match="parsing took longer than"):
        read_gpx(data, Limits(max_seconds=0.0))


def test_utf16_gpx_with_bom_is_read() -> None:
    points = [_point(T0 + timedelta(seconds=i), 45 + i * 3 * DEG_PER_M) for i in range(5)]
    text = _gpx(points, "<name>Lauf über Stock</name>").decode().replace('<?xml version="1.0"?>', "")
    data = ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16")
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    [activity] = read_bytes(data, "utf16.gpx")
    assert activity.name == "Lauf über Stock"
    assert len(activity.streams) == 5


def test_gzipped_strava_gpx_reads_like_the_plain_file(data_dir: Path) -> None:
    data = (data_dir / "gpx" / "sportslib__1681613317.gpx").read_bytes()
    [plain] = read_bytes(data, "1681613317.gpx")
    [zipped] = read_bytes(gzip.compress(data), "1681613317.gpx.gz")
    assert zipped.distance_m == plain.distance_m
    assert zipped.source_sha256 == plain.source_sha256  # the hash is of the decompressed file
