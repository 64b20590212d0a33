"""FIT import: real device files from ../shared/data checked against their own summaries, peers' expected
values (python-fitparse CSVs, tormoder golden dumps) and the documented behaviour for broken files."""

from __future__ import annotations

import csv
import gzip
import re
import struct
from datetime import UTC, datetime
from pathlib import Path

import fitdecode
import numpy as np
import pytest

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.errors import CorruptFile, FileRejected, LimitExceeded, NotAnActivity
from strideguard.activities.formats.fit import FIT_EPOCH_S, build_activities, decode_with_fitdecode, read_fit
from strideguard.activities.formats.fit_crc import check_parts, crc16
from strideguard.config import Limits
from strideguard.model import RUNNING_SPORTS, Activity, Streams

SEMICIRCLE_DEG = 180.0 / 2**31


@pytest.fixture(params=["fast", "fitdecode"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through read_fit's fast path, and again with the fast decoder declining (fitdecode path)."""
    if request.param == "fitdecode":
        from strideguard.activities.formats import fit

        def decline(data: bytes) -> None:
            raise fit.FastDecodeUnsupported("forced fallback in tests")

        monkeypatch.setattr(fit, "decode_fast", decline)
    return str(request.param)


def fit_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def sources_rows(data_dir: Path) -> list[dict[str, str]]:
    """The fit/ table of SOURCES.md: file, sport, duration s, records, notes."""
    rows = []
    for line in (data_dir / "SOURCES.md").read_text().splitlines():
        if line.startswith("| fit/"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append({"file": cells[0], "sport": cells[4], "duration": cells[5], "notes": cells[7]})
    return rows


def oracle_summary(data: bytes) -> tuple[list[dict], list[float]]:
    """Sessions and record timestamps as fitdecode (the reference decoder, default processor) reads them."""
    sessions, stamps = [], []
    with fitdecode.FitReader(
        data, check_crc=fitdecode.CrcCheck.DISABLED, error_handling=fitdecode.ErrorHandling.IGNORE
    ) as reader:
        try:
            for frame in reader:
                if frame.frame_type != fitdecode.FIT_FRAME_DATA:
                    continue
                if frame.name == "session":
                    sessions.append({f.name: f.value for f in frame.fields})
                elif frame.name == "record":
                    ts = frame.get_value("timestamp", fallback=None)
                    if isinstance(ts, datetime):
                        stamps.append(ts.timestamp())
        except fitdecode.FitError:
            pass
    return sessions, stamps


# Files whose sport column says running but which StrideGuard refuses, and why (asserted below).
NO_CALENDAR_DATE = {"fit/fitparse__antfs-dump.63.fit", "fit/fitparse__compressed-speed-distance.fit"}


def running_files(data_dir: Path) -> list[str]:
    return [r["file"] for r in sources_rows(data_dir) if r["sport"].startswith("running")]


def test_sources_lists_running_fit_files(data_dir: Path) -> None:
    assert len(running_files(data_dir)) >= 25


def test_every_running_file_agrees_with_its_session_summary(data_dir: Path, decoder: str) -> None:
    checked = 0
    for name in running_files(data_dir):
        data = fit_bytes(data_dir / name)
        if name in NO_CALENDAR_DATE:
            with pytest.raises(CorruptFile, match="no calendar date"):
                read_bytes(data, Path(name).name)
            continue
        activities = read_bytes(data, Path(name).name)
        sessions, stamps = oracle_summary(data)
        runs = [a for a in activities if a.sport in RUNNING_SPORTS]
        assert runs, name
        for activity, session in zip(activities, sessions, strict=True):
            # Same field read by two decoders: distance is stored in cm, times in ms, start in whole seconds,
            # so anything beyond float rounding is a bug.
            assert activity.distance_m == pytest.approx(session["total_distance"], abs=0.005), name
            assert activity.elapsed_time_s == pytest.approx(session["total_elapsed_time"], abs=0.0005), name
            assert activity.moving_time_s == pytest.approx(session["total_timer_time"], abs=0.0005), name
            assert activity.start_utc == session["start_time"], name
        row = next(r for r in sources_rows(data_dir) if r["file"] == name)
        # SOURCES.md lists the session elapsed time rounded to whole seconds.
        assert abs(activities[0].elapsed_time_s - float(row["duration"])) <= 1.0, name
        if activities[0].damaged:
            continue  # records stop where decoding stopped; the summary checks above still hold
        for activity in runs:
            streams = activity.streams
            assert streams is not None, name
            span = streams.time_s[-1] - streams.time_s[0]
            # Records are whole seconds while the session counts ms; devices log the first record up to 1 s
            # after the start and the last up to ~2 s before the stop (Suunto), so 3 s covers every file.
            assert abs(span - activity.elapsed_time_s) <= 3.0, name
            assert streams.time_s[0] <= 1.0, name
            if streams.distance_m is not None:
                # Suunto/COROS round record distance to whole metres and filter the session total separately:
                # the last record is within 0.2 % (max seen 5 m over 4.3 km) or 10 m of the session distance.
                last = float(np.nanmax(streams.distance_m))
                assert abs(last - activity.distance_m) <= max(10.0, 0.002 * activity.distance_m), name
            assert len(stamps) >= len(streams), name
        checked += 1
    assert checked >= 20


# ------------------------------------------------------------------------------------ peers' expected values


def parse_fitparse_time(text: str) -> float:
    """'Sun Sep 25 06:00:22 PDT 2011' (python-fitparse CSVs, US Pacific time) -> Unix seconds."""
    zones = {"PDT": "-0700", "PST": "-0800"}
    _day, month, date, clock, zone, year = text.split()
    return datetime.strptime(
        f"{month} {date} {year} {clock} {zones[zone]}", "%b %d %Y %H:%M:%S %z"
    ).timestamp()


def forward_filled(values: np.ndarray) -> np.ndarray:
    """Carry the last valid value forward, as the python-fitparse CSVs do for invalid (GPS-less) records."""
    index = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    filled[: np.argmax(~np.isnan(values))] = (
        np.nan if np.isnan(values).all() else values[: np.argmax(~np.isnan(values))]
    )
    return filled


def cell(value: str) -> float:
    return float("nan") if value in ("", "null", "None") else float(value)


@pytest.mark.parametrize(
    "fit_name, csv_name",
    [
        ("fitparse__garmin-edge-500-activity.fit", "fitparse__garmin-edge-500-activity-records.csv"),
        ("fitparse__garmin-edge-820-bike.fit", "fitparse__garmin-edge-820-bike-records.csv"),
        ("fitparse__garmin-fenix-5-bike.fit", "fitparse__garmin-fenix-5-bike-records.csv"),
        ("fitparse__garmin-fenix-5-run.fit", "fitparse__garmin-fenix-5-run-records.csv"),
        ("fitparse__garmin-fenix-5-walk.fit", "fitparse__garmin-fenix-5-walk-records.csv"),
    ],
)
def test_records_match_python_fitparse_expected_csv(
    data_dir: Path, fit_name: str, csv_name: str, decoder: str
) -> None:
    [activity] = read_bytes(fit_bytes(data_dir / "fit" / fit_name), fit_name)
    with open(data_dir / "expected" / csv_name, newline="") as handle:
        rows = list(csv.DictReader(handle))
    streams = activity.streams
    assert streams is not None and len(streams) == len(rows)
    start = activity.start_utc.timestamp()
    expected_time = np.array([parse_fitparse_time(r["timestamp"]) for r in rows])
    np.testing.assert_array_equal(start + streams.time_s, expected_time)
    for column, ours, tolerance in (
        ("heart_rate", streams.heart_rate_bpm, 0),
        ("speed", streams.speed_m_s, 1e-9),
        ("distance", streams.distance_m, 1e-9),
        ("altitude", streams.altitude_m, 1e-9),
    ):
        expected = np.array([cell(r[column]) for r in rows])
        got = forward_filled(ours) if ours is not None else np.full(len(rows), np.nan)
        np.testing.assert_allclose(got, expected, atol=tolerance, equal_nan=True, err_msg=column)
    for column, ours in (("position_lat", streams.lat_deg), ("position_long", streams.lon_deg)):
        expected = np.array([cell(r[column]) for r in rows])
        got = (
            forward_filled(np.round(ours / SEMICIRCLE_DEG))
            if ours is not None
            else np.full(len(rows), np.nan)
        )
        np.testing.assert_array_equal(got, expected, err_msg=column)
        if ours is not None:  # the gaps we leave are exactly the rows the CSV filled from the row before
            gaps = np.flatnonzero(np.isnan(ours))
            assert all(i > 0 and expected[i] == expected[i - 1] for i in gaps)
    expected_cadence = np.array([cell(r["cadence"]) for r in rows])
    got = (
        forward_filled(streams.cadence_spm) if streams.cadence_spm is not None else np.full(len(rows), np.nan)
    )
    if activity.sport in ("run", "walk"):
        got = np.floor(got / 2)  # steps/min back to the stored whole strides/min
    np.testing.assert_array_equal(got, expected_cadence)


def test_compressed_speed_distance_matches_python_fitparse(data_dir: Path) -> None:
    # The fr70 writes device-relative times, so the file is refused as an activity (asserted above); its
    # records still decode, and the bit-packed speed/distance must match fitparse's expected values.
    msgs = decode_with_fitdecode(fit_bytes(data_dir / "fit" / "fitparse__compressed-speed-distance.fit"))
    with open(
        data_dir / "expected" / "fitparse__compressed-speed-distance-records.csv", newline=""
    ) as handle:
        rows = list(csv.reader(handle))[1:]
    # The file's first record holds only a timestamp; the CSV starts at the second record.
    assert msgs.n_records == len(rows) + 1
    assert all(np.isnan(msgs.records[c][0]) for c in ("heart_rate", "speed", "distance", "cadence"))
    table = np.array([[cell(v.strip()) for v in row] for row in rows])
    records = {name: column[1:] for name, column in msgs.records.items()}
    np.testing.assert_array_equal(records["timestamp"] - FIT_EPOCH_S, table[:, 0])
    np.testing.assert_array_equal(records["heart_rate"], table[:, 1])
    np.testing.assert_allclose(records["speed"], table[:, 2], atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(records["distance"], table[:, 3], atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(records["cadence"], table[:, 4])


_GOLDEN_FIELDS = {
    # Go field -> (our column, scale, offset, invalid raw value); tormoder dumps raw stored integers.
    "PositionLat": ("position_lat", None, 0, 0x7FFFFFFF),
    "PositionLong": ("position_long", None, 0, 0x7FFFFFFF),
    "HeartRate": ("heart_rate", 1, 0, 0xFF),
    "Cadence": ("cadence", 1, 0, 0xFF),
    "Distance": ("distance", 100, 0, 0xFFFFFFFF),
    "Power": ("power", 1, 0, 0xFFFF),
    "EnhancedSpeed": ("speed", 1000, 0, 0xFFFFFFFF),
    "EnhancedAltitude": ("altitude", 5, 500, 0xFFFFFFFF),
}
_GO_EPOCH_TO_UNIX = 62_135_596_800  # Go time.Time ext (seconds since year 1) minus this = Unix seconds


def golden_records(path: Path) -> list[dict[str, float]]:
    """Record values from a tormoder/fit golden dump (gzip text of Go %#v output)."""
    text = gzip.decompress(path.read_bytes()).decode()
    section = text[text.index("Records: []*fit.RecordMsg{") :]
    section = section[: re.search(r"\n  [A-Z]\w*: ", section).start()]  # up to the next ActivityFile member
    records = []
    for block in section.split("&fit.RecordMsg{")[1:]:
        values: dict[str, float] = {}
        stamp = re.search(r"Timestamp: time\.Time\{\s*wall: uint64\(0x0\),\s*ext: int64\((\d+)\)", block)
        values["timestamp"] = int(stamp.group(1)) - _GO_EPOCH_TO_UNIX if stamp else float("nan")
        for go, (ours, scale, offset, invalid) in _GOLDEN_FIELDS.items():
            if go.startswith("Position"):
                found = re.search(rf"\n\s*{go}: fit\.\w+\{{\s*semicircles: int32\((-?\d+)\)", block)
            else:
                found = re.search(rf"\n\s*{go}: u?int\d+\((0x[0-9a-f]+|\d+)\)", block)
            raw = int(found.group(1), 0) if found else invalid
            if raw == invalid:
                values[ours] = float("nan")
            elif scale is None:
                values[ours] = raw * SEMICIRCLE_DEG
            else:
                values[ours] = raw / scale - offset
        records.append(values)
    return records


@pytest.mark.parametrize(
    "fit_name, golden_name",
    [
        ("tormoder__0134902991.fit", "tormoder__0134902991.fit.golden.gz"),
        ("fitparse__activity-small-fenix2-run.fit", "tormoder__activity-small-fenix2-run.fit.golden.gz"),
        ("tormoder__mornindew-broken.fit", "tormoder__mornindew-broken.fit.golden.gz"),
        ("fitparse__activity-unexpected-eof.fit", "tormoder__activity-unexpected-eof.fit.golden.gz"),
    ],
)
def test_records_match_tormoder_golden_files(data_dir: Path, fit_name: str, golden_name: str) -> None:
    expected = golden_records(data_dir / "expected" / golden_name)
    records = decode_with_fitdecode(fit_bytes(data_dir / "fit" / fit_name)).records
    assert len(expected) == len(records["timestamp"])
    for column in ("timestamp", *(v[0] for v in _GOLDEN_FIELDS.values())):
        want = np.array([r[column] for r in expected])
        got = records[column]
        if column == "power" and np.isnan(want).all():
            got = np.where(np.isnan(got), np.nan, np.nan)  # a developer "Power" field tormoder does not map
        np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True, err_msg=f"{fit_name} {column}")


# ----------------------------------------------------------------------------------------- sport mapping


@pytest.mark.parametrize(
    "name, sports",
    [
        ("sportslib__6860622783.fit", ["treadmill"]),
        ("sportslib__6909950168.fit", ["trail_run"]),
        ("fitparse__garmin-fenix-5-walk.fit", ["walk"]),
        ("fitparse__garmin-fenix-5-run.fit", ["run"]),
        ("fitparse__garmin-fenix-5-bike.fit", ["other"]),
        ("goldencheetah__FR55-CoreTemp-Walk.fit", ["walk"]),
        ("muktihari__activity_multisport.fit", ["other", "trail_run"]),
        (
            "fitparse__activity-large-fenxi2-multisport.fit",
            ["other", "other", "run", "other", "run", "other", "other"],
        ),
    ],
)
def test_sport_maps_from_fit_sport_and_sub_sport(
    data_dir: Path, name: str, sports: list[str], decoder: str
) -> None:
    activities = read_bytes(fit_bytes(data_dir / "fit" / name), name)
    assert [a.sport for a in activities] == sports
    assert [a.source_part for a in activities] == list(range(len(sports)))


def test_multisport_legs_keep_their_own_records_and_distance(data_dir: Path) -> None:
    name = "fitparse__activity-large-fenxi2-multisport.fit"
    activities = read_bytes(fit_bytes(data_dir / "fit" / name), name)
    runs = [a for a in activities if a.sport == "run"]
    # fitdecode's session totals for the two running legs (checked by hand against the file).
    assert [round(a.distance_m, 2) for a in runs] == [2245.23, 12740.37]
    for run in runs:
        assert run.streams is not None
        span = run.streams.time_s[-1] - run.streams.time_s[0]
        assert abs(span - run.elapsed_time_s) <= 3.0
        assert run.streams.time_s.min() >= 0
    starts = [a.start_utc for a in activities]
    assert starts == sorted(starts)


def test_running_cadence_is_doubled_with_its_fraction(data_dir: Path, decoder: str) -> None:
    name = "goldencheetah__Fr955v19.28andStryd.fit"
    data = fit_bytes(data_dir / "fit" / name)
    raw = []
    with fitdecode.FitReader(data, check_crc=fitdecode.CrcCheck.DISABLED) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "record":
                cadence = frame.get_value("cadence", fallback=None)
                fraction = frame.get_value("fractional_cadence", fallback=None) or 0.0
                raw.append(np.nan if cadence is None else (cadence + fraction) * 2)
    [activity] = read_bytes(data, name)
    assert activity.streams is not None and activity.streams.cadence_spm is not None
    np.testing.assert_allclose(activity.streams.cadence_spm, np.array(raw), equal_nan=True)
    # Session: avg_running_cadence 83 + avg_fractional_cadence 0.1875 strides/min.
    assert activity.avg_cadence_spm == pytest.approx((83 + 0.1875) * 2)
    assert 150 < np.nanmedian(activity.streams.cadence_spm) < 200  # steps/min of a runner, not strides


def test_stryd_developer_power_becomes_the_power_stream(data_dir: Path, decoder: str) -> None:
    name = "goldencheetah__Fr955v19.28andStryd.fit"
    [activity] = read_bytes(fit_bytes(data_dir / "fit" / name), name)
    assert activity.streams is not None and activity.streams.power_w is not None
    assert activity.streams.power_w[0] == 179  # first record's developer field "Power" (not "Form Power")
    assert 150 < np.nanmedian(activity.streams.power_w) < 400


def test_indoor_run_without_gps_uses_the_file_distance(data_dir: Path) -> None:
    name = "sportslib__6860622783.fit"
    [activity] = read_bytes(fit_bytes(data_dir / "fit" / name), name)
    assert activity.sport == "treadmill"
    assert activity.distance_m == pytest.approx(10630.37)
    assert activity.streams is not None and activity.streams.lat_deg is None


def test_utc_offset_and_device_come_from_the_file(data_dir: Path) -> None:
    name = "goldencheetah__Fr955v19.28andStryd.fit"
    [activity] = read_bytes(fit_bytes(data_dir / "fit" / name), name)
    # activity.local_timestamp - activity.timestamp = 3600 s in this file (summer time in the UK).
    assert activity.utc_offset_s == 3600
    assert activity.device == "garmin fr955"
    assert activity.start_utc == datetime(2024, 7, 9, 14, 12, 49, tzinfo=UTC)
    assert len(activity.laps) == 7
    assert sum(lap.distance_m or 0 for lap in activity.laps) == pytest.approx(activity.distance_m, abs=1.0)


# ------------------------------------------------------------------------------- malformed and anomalous

DAMAGED = "damaged"
OK = "ok"

BROKEN_FILES = [
    ("fitparse__activity-activity-filecrc.fit", DAMAGED, "file CRC does not match (part 2)"),
    ("fitparse__activity-filecrc.fit", DAMAGED, "file CRC does not match"),
    ("fitparse__activity-settings-corruptheader.fit", DAMAGED, "part 2 has no valid FIT header"),
    ("fitparse__activity-settings-nodata.fit", DAMAGED, "truncated"),
    ("fitparse__activity-unexpected-eof.fit", DAMAGED, "truncated"),
    ("fitparse__nick.fit", DAMAGED, "file CRC does not match"),
    ("fitparse__strava-android-app-201.10-b1218918.fit", DAMAGED, "local message 11 not defined"),
    ("sportslib__27-days-activity.fit", DAMAGED, "records jump 28 days"),
    ("sportslib__31-days-activity.fit", DAMAGED, "records jump 30 days"),
    ("sportslib__empty-activities.fit", CorruptFile, "not a readable FIT file"),
    ("sportslib__empty-sessions.fit", CorruptFile, "empty file"),
    ("fitparse__coros-pace-2-cycling-misaligned-fields.fit", OK, ""),
    ("fitparse__elemnt-bolt-no-application-id-inside-developer-data-id.fit", OK, ""),
    ("tormoder__mornindew-broken.fit", OK, ""),
    ("tormoder__unterminated-strings.fit", OK, ""),
    ("muktihari__activity_truncated.fit", OK, ""),
    ("sportslib__broken-dates.fit", OK, ""),
    ("sportslib__broken-start-latlng.fit", OK, ""),
    ("sportslib__inverted-times.fit", OK, ""),
]


def test_every_flagged_fit_file_has_a_documented_behaviour(data_dir: Path) -> None:
    flagged = {
        Path(r["file"]).name
        for r in sources_rows(data_dir)
        if re.match(r"(MALFORMED|ANOMALOUS|SEMANTIC)", r["notes"])
    }
    assert flagged <= {name for name, _, _ in BROKEN_FILES}


@pytest.mark.parametrize("name, outcome, text", BROKEN_FILES)
def test_broken_fit_file_gets_documented_behaviour(
    data_dir: Path, name: str, outcome: object, text: str, decoder: str
) -> None:
    data = (data_dir / "fit" / name).read_bytes()
    if isinstance(outcome, type):
        with pytest.raises(outcome) as caught:
            read_bytes(data, name)
        message = str(caught.value)
        assert text in message
        assert "\n" not in message and "Traceback" not in message
        return
    activities = read_bytes(data, name)
    assert activities
    for activity in activities:
        if outcome == DAMAGED:
            assert activity.damaged is not None and text in activity.damaged
            assert "\n" not in activity.damaged
        else:
            assert activity.damaged is None


def test_broken_session_date_falls_back_to_first_record(data_dir: Path) -> None:
    [activity] = read_bytes((data_dir / "fit" / "sportslib__broken-dates.fit").read_bytes(), "b.fit")
    # sports-lib expects this start for the file.
    assert activity.start_utc == datetime(2017, 3, 20, 19, 9, 28, tzinfo=UTC)


def test_inverted_timer_and_elapsed_times_are_swapped(data_dir: Path) -> None:
    [activity] = read_bytes((data_dir / "fit" / "sportslib__inverted-times.fit").read_bytes(), "i.fit")
    assert activity.elapsed_time_s == pytest.approx(21680.0)
    assert activity.moving_time_s == pytest.approx(2839.6)
    assert activity.extra["fit_fixes"] == ["timer time exceeded elapsed time: swapped"]


def test_garbage_record_after_a_decode_error_is_dropped(data_dir: Path) -> None:
    name = "fitparse__strava-android-app-201.10-b1218918.fit"
    [activity] = read_bytes((data_dir / "fit" / name).read_bytes(), name)
    assert activity.streams is not None
    assert activity.streams.time_s.max() <= activity.elapsed_time_s
    assert activity.extra["fit_fixes"] == ["dropped 1 records dated outside the session"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("fitparse__Settings.fit", "settings file, not an activity"),
        ("fitparse__Settings2.fit", "settings file, not an activity"),
        ("fitparse__MonitoringFile.fit", "monitoring file, not an activity"),
        ("fitparse__WorkoutIndividualSteps.fit", "workout file, not an activity"),
        ("fitparse__WorkoutRepeatSteps.fit", "workout file, not an activity"),
        ("fitparse__WeightScaleSingleUser.fit", "weight scale file, not an activity"),
        ("fitparse__WeightScaleMultiUser.fit", "weight scale file, not an activity"),
        ("fittrackee__example.fit", "course file, not an activity"),
        ("muktihari__valid_only_contain_fileid.fit", "activity file without a session or timed records"),
    ],
)
def test_non_activity_files_are_skipped_with_a_reason(
    data_dir: Path, name: str, reason: str, decoder: str
) -> None:
    with pytest.raises(NotAnActivity, match=reason):
        read_bytes((data_dir / "fit" / name).read_bytes(), name)


# ------------------------------------------------------------------------------------- generated bad input


def sample_fit(seconds: int = 600) -> bytes:
    t = np.arange(seconds, dtype=float)
    streams = Streams(
        time_s=t,
        lat_deg=46.0 + t * 2e-5,
        lon_deg=np.full(seconds, 7.0),
        distance_m=t * 3.0,
        speed_m_s=np.full(seconds, 3.0),
        heart_rate_bpm=np.full(seconds, 150.0),
        cadence_spm=np.full(seconds, 172.0),
    )
    activity = Activity(
        sport="run",
        start_utc=datetime(2025, 3, 1, 7, 0, tzinfo=UTC),
        source_format="fit",
        distance_m=float(t[-1] * 3.0),
        elapsed_time_s=float(t[-1]),
        moving_time_s=float(t[-1]),
        streams=streams,
    )
    return encode_activity(activity)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9, 0.999])
def test_truncated_fit_imports_what_decoded_and_is_marked_damaged(fraction: float, decoder: str) -> None:
    data = sample_fit()
    cut = data[: int(len(data) * fraction)]
    [activity] = read_bytes(cut, "cut.fit")
    assert activity.damaged is not None and activity.damaged.startswith("truncated")
    assert "imported what decoded" in activity.damaged
    assert activity.streams is not None and 1 < len(activity.streams) <= 600


@pytest.mark.parametrize("length", [1, 11, 12, 14, 40])
def test_fit_cut_before_any_activity_data_is_rejected(length: int) -> None:
    with pytest.raises(CorruptFile) as caught:
        read_bytes(sample_fit()[:length], "cut.fit")
    assert "\n" not in str(caught.value)


def test_flipped_crc_byte_is_never_accepted_silently() -> None:
    data = bytearray(sample_fit())
    data[-1] ^= 0xFF
    [activity] = read_bytes(bytes(data), "crc.fit")
    assert activity.damaged == "file CRC does not match: imported what decoded; data may be wrong"


def test_flipped_data_byte_is_caught_by_the_crc(decoder: str) -> None:
    good = sample_fit()
    data = bytearray(good)
    data[len(data) // 2] ^= 0x01  # a bit inside some record's values
    [activity] = read_bytes(bytes(data), "bit.fit")
    assert activity.damaged is not None and "file CRC does not match" in activity.damaged
    [clean] = read_bytes(good, "good.fit")
    assert clean.damaged is None


def test_header_claiming_absurd_data_size_is_bounded() -> None:
    data = bytearray(sample_fit())
    struct.pack_into("<I", data, 4, 0xFFFFFFF0)
    struct.pack_into("<H", data, 12, crc16(bytes(data[:12])))
    [activity] = read_bytes(bytes(data), "huge.fit")
    assert activity.damaged is not None and "header declares 4294967280 bytes" in activity.damaged


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_behind_a_fit_header_are_rejected(seed: int) -> None:
    body = np.random.default_rng(seed).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(body), b".FIT")
    header += struct.pack("<H", crc16(header))
    data = header + body + struct.pack("<H", crc16(header + body))
    with pytest.raises(FileRejected) as caught:
        read_bytes(data, "random.fit")
    assert isinstance(caught.value, CorruptFile | NotAnActivity)
    assert "\n" not in str(caught.value)


def test_empty_and_header_only_fit_are_corrupt() -> None:
    with pytest.raises(CorruptFile, match="empty file"):
        read_fit(b"")
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, 0, b".FIT")
    header += struct.pack("<H", crc16(header))
    with pytest.raises(CorruptFile, match="not a readable FIT file"):
        read_fit(header + struct.pack("<H", crc16(header)))


def test_too_many_records_exceed_the_limit() -> None:
    with pytest.raises(LimitExceeded, match="more than 100 records"):
        read_fit(sample_fit(), Limits(max_points=100))


def test_slow_decoding_exceeds_the_time_limit() -> None:
    with pytest.raises(LimitExceeded, match="took longer than"):
        decode_with_fitdecode(sample_fit(5000), Limits(max_seconds=0.0))


def test_crc16_matches_fitdecode_on_every_length() -> None:
    from fitdecode.utils import compute_crc

    rng = np.random.default_rng(7)
    for length in (1, 2, 100, 2047, 2048, 2049, 4096, 65_537, 300_001):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        assert crc16(data) == compute_crc(data), length


def test_check_parts_sees_every_chained_file(data_dir: Path) -> None:
    parts, problems = check_parts(
        (data_dir / "fit" / "muktihari__chained_Activity_activity_poolswim.fit").read_bytes()
    )
    assert len(parts) == 2 and problems == []
    assert all(p.crc_ok for p in parts)


def test_chained_activities_each_become_an_activity(data_dir: Path) -> None:
    name = "muktihari__chained_Activity_activity_poolswim.fit"
    activities = read_bytes((data_dir / "fit" / name).read_bytes(), name)
    assert [a.extra["fit_sport"] for a in activities] == ["stand_up_paddleboarding", "swimming"]


def test_build_activities_accepts_decoder_output_directly(data_dir: Path) -> None:
    msgs = decode_with_fitdecode((data_dir / "fit" / "fitparse__garmin-fenix-5-run.fit").read_bytes())
    [activity] = build_activities(msgs)
    assert activity.sport == "run" and activity.distance_m == pytest.approx(157.56)
