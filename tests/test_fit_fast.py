"""The fast NumPy FIT decoder agrees with fitdecode on every sample file both read, refuses only what it does
not support (so fitdecode takes over), and gives python-fitparse's expected values exactly."""

from __future__ import annotations

import csv
import functools
import gzip
import math
import os
import re
import struct
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from strideguard.activities.formats.errors import FileRejected
from strideguard.activities.formats.fit import build_activities, decode_with_fitdecode, read_fit
from strideguard.activities.formats.fit_crc import crc16
from strideguard.activities.formats.fit_decoded import RECORD_COLUMNS, FitMessages
from strideguard.activities.formats.fit_fast import FastDecodeUnsupported, decode_fast

SHARED = Path(os.environ.get("STRIDEGUARD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FIT_DIR = SHARED / "data" / "fit"
EXPECTED_DIR = SHARED / "data" / "expected"
FIT_FILES = sorted(p.name for p in FIT_DIR.glob("*") if p.name.lower().endswith((".fit", ".fit.gz")))

# Files the fast decoder hands to fitdecode, and why (each reason is a feature it does not support).
REFUSED = {
    "fitparse__activity-settings-corruptheader.fit": "trailing bytes after the last FIT part",
    "fitparse__activity-settings-nodata.fit": "truncated",
    "fitparse__activity-unexpected-eof.fit": "truncated",
    "fitparse__compressed-speed-distance.fit": "compressed speed/distance",
    "fitparse__nick.fit": "runs past the end of the data",
    "fitparse__null_compressed_speed_dist.fit": "compressed speed/distance",
    "fitparse__strava-android-app-201.10-b1218918.fit": "truncated",
    "sportslib__empty-activities.fit": "trailing bytes after the last FIT part",
    "sportslib__empty-sessions.fit": "empty file",
}
SEMICIRCLE_DEG = 180.0 / 2**31


def read_sample(name: str) -> bytes:
    data = (FIT_DIR / name).read_bytes()
    return gzip.decompress(data) if name.lower().endswith(".gz") else data


@functools.cache
def reference(name: str) -> FitMessages:
    """fitdecode's reading of a sample file (via the importer's fallback path), decoded once per run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return decode_with_fitdecode(read_sample(name))


def assert_same_messages(fast: FitMessages, ref: FitMessages) -> None:
    assert fast.n_records == ref.n_records
    for column in RECORD_COLUMNS if fast.n_records else ():
        # Same arithmetic on the same raw values: equal to the last bit, NaN where fitdecode has no value.
        np.testing.assert_array_equal(fast.records[column], ref.records[column], err_msg=column)
    for kind in (
        "file_types",
        "file_ids",
        "sessions",
        "laps",
        "sports",
        "events",
        "activities",
        "device_infos",
    ):
        assert getattr(fast, kind) == getattr(ref, kind), kind


# ---------------------------------------------------------------------------------------------- sample files


@pytest.mark.parametrize("name", FIT_FILES)
def test_fast_decoder_matches_fitdecode_or_refuses_for_a_named_reason(data_dir: Path, name: str) -> None:
    data = read_sample(name)
    try:
        fast = decode_fast(data)
    except FastDecodeUnsupported as exc:
        assert name in REFUSED, f"refused a file it should read: {exc}"
        assert REFUSED[name] in str(exc)
        return
    assert name not in REFUSED, "read a file it should have handed to fitdecode"
    ref = reference(name)
    assert ref.damaged is None or ref.damaged.startswith("file CRC does not match")  # data intact, CRC not
    assert_same_messages(fast, ref)


def _activities_or_error(build: object) -> object:
    try:
        activities = build()  # type: ignore[operator]
    except FileRejected as exc:
        return f"{type(exc).__name__}: {exc}"
    out = []
    for activity in activities:
        fields = {name: getattr(activity, name) for name in activity.__dataclass_fields__}
        streams = fields.pop("streams")
        out.append(fields)
        if streams is not None:
            for name in streams.__dataclass_fields__:
                column = getattr(streams, name)
                fields[f"streams.{name}"] = (
                    None if column is None else np.nan_to_num(column, nan=-1e300).tolist()
                )
    return out


@pytest.mark.parametrize("name", [name for name in FIT_FILES if name not in REFUSED])
def test_import_through_the_fast_decoder_equals_import_through_fitdecode(data_dir: Path, name: str) -> None:
    data = read_sample(name)
    fast = _activities_or_error(lambda: read_fit(data))
    slow = _activities_or_error(lambda: build_activities(reference(name)))
    assert fast == slow


def test_fast_decoder_reads_the_large_majority_of_running_files(data_dir: Path) -> None:
    running = [
        name for name in FIT_FILES if any(s.get("sport") == "running" for s in reference(name).sessions)
    ]
    refused = [name for name in running if name in REFUSED]
    assert len(running) >= 25
    assert len(refused) / len(running) < 0.2, refused  # 5 of 35 on the shared data
    # Every running file it refuses is damaged (fitdecode reads it up to the defect) or uses compressed
    # speed/distance; every intact running file without that feature takes the fast path.
    for name in refused:
        assert reference(name).damaged or REFUSED[name] == "compressed speed/distance", name


def test_session_totals_of_a_stryd_run_are_decoded(data_dir: Path) -> None:
    fast = decode_fast(read_sample("goldencheetah__Fr955v19.28andStryd.fit"))
    (session,) = fast.sessions
    assert session["sport"] == "running"
    assert session["start_time"].tzinfo is UTC
    assert (
        session["total_distance"]
        == reference("goldencheetah__Fr955v19.28andStryd.fit").sessions[0]["total_distance"]
    )
    # A running session's cadence is a subfield; the parent name is kept as an alias.
    assert session["avg_running_cadence"] == session["avg_cadence"]
    # Stryd writes power as a developer field; the watch records it too: the column has it.
    assert np.nanmax(fast.records["power"]) > 100


def test_developer_power_fills_records_without_native_power(data_dir: Path) -> None:
    fast = decode_fast(read_sample("fitparse__developer-types-sample.fit"))
    ref = reference("fitparse__developer-types-sample.fit")
    np.testing.assert_array_equal(fast.records["power"], ref.records["power"])


# ---------------------------------------------------------------------------------------------- fitparse CSVs


def _fitparse_time(text: str) -> float:
    # python-fitparse's expected CSVs print US Pacific local time: "Sun Jun 11 07:34:09 PDT 2017".
    text = text.replace("PDT", "-0700").replace("PST", "-0800")
    return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").timestamp()


def _number(text: str) -> float:
    return math.nan if text in ("", "null", "None") else float(text)


CSV_FILES = ["garmin-edge-500-activity", "garmin-edge-820-bike", "garmin-fenix-5-bike", "garmin-fenix-5-run"]
CSV_FILES.append("garmin-fenix-5-walk")


@pytest.mark.parametrize("stem", CSV_FILES)
def test_records_equal_python_fitparse_expected_values(data_dir: Path, stem: str) -> None:
    fast = decode_fast(read_sample(f"fitparse__{stem}.fit"))
    with open(EXPECTED_DIR / f"fitparse__{stem}-records.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = fast.records
    assert fast.n_records == len(rows)
    expect = {name: np.array([_number(row[name]) for row in rows]) for name in rows[0] if name != "timestamp"}
    np.testing.assert_array_equal(records["timestamp"], [_fitparse_time(row["timestamp"]) for row in rows])
    # The CSVs come from the ANT FIT SDK dump tool, which prints an invalid cadence as 0 and an invalid
    # position as the last valid one (python-fitparse's test applies the same two fix-ups).
    cadence = records["cadence"].copy()
    cadence[np.isnan(cadence) & (expect["cadence"] == 0)] = 0
    np.testing.assert_array_equal(cadence, expect["cadence"], err_msg="cadence")
    np.testing.assert_array_equal(records["heart_rate"], expect["heart_rate"])
    for name in ("speed", "distance", "altitude"):  # the dump tool prints altitude 75.20000000000005 as 75.2
        np.testing.assert_allclose(records[name], expect[name], rtol=0, atol=1e-9, err_msg=name)
    for name in ("position_lat", "position_long"):  # CSV in semicircles, ours in degrees
        semicircles = np.round(records[name] / SEMICIRCLE_DEG)
        valid = ~np.isnan(semicircles)
        last_valid = semicircles[valid][np.maximum(np.cumsum(valid) - 1, 0)]
        np.testing.assert_array_equal(np.where(valid, semicircles, last_valid), expect[name], err_msg=name)


def test_compressed_speed_distance_goes_to_fitdecode_which_gives_fitparse_values(data_dir: Path) -> None:
    name = "fitparse__compressed-speed-distance.fit"
    with pytest.raises(FastDecodeUnsupported, match="compressed speed/distance"):
        decode_fast(read_sample(name))
    with open(EXPECTED_DIR / "fitparse__compressed-speed-distance-records.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    ref = reference(name)
    # python-fitparse's test skips the first record (empty; it only sets the time) and compares the rest.
    assert ref.n_records == len(rows) + 1
    records = {column: values[1:] for column, values in ref.records.items()}
    stamps = records["timestamp"] - 631_065_600  # device-relative seconds in this file
    np.testing.assert_array_equal(stamps, [int(r[0]) for r in rows])
    np.testing.assert_array_equal(records["heart_rate"], [_number(r[1]) for r in rows])
    np.testing.assert_array_equal(records["cadence"], [_number(r[4]) for r in rows])
    np.testing.assert_allclose(records["speed"], [_number(r[2]) for r in rows], rtol=0, atol=1e-9)
    np.testing.assert_allclose(records["distance"], [_number(r[3]) for r in rows], rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------------------------- built files


def fit_file(messages: bytes, *, data_size: int | None = None) -> bytes:
    """A FIT file around `messages`: 14-byte header (with CRC) and the file CRC."""
    size = len(messages) if data_size is None else data_size
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, size, b".FIT")
    header += struct.pack("<H", crc16(header))
    body = header + messages
    return body + struct.pack("<H", crc16(body))


def definition(
    local: int, global_num: int, fields: list[tuple[int, int, int]], *, big: bool = False
) -> bytes:
    endian = ">" if big else "<"
    out = bytes([0x40 | local, 0, 1 if big else 0]) + struct.pack(endian + "HB", global_num, len(fields))
    return out + b"".join(bytes(f) for f in fields)


RECORD_DEF = [(253, 4, 0x86), (3, 1, 0x02), (6, 2, 0x84), (7, 2, 0x84)]  # timestamp, heart_rate, speed, power
FILE_ID = (
    definition(0, 0, [(0, 1, 0x00), (1, 2, 0x84)]) + b"\x00" + struct.pack("<BH", 4, 1)
)  # activity, garmin


def record(local: int, timestamp: int, hr: int, speed_mm_s: int, power: int, *, big: bool = False) -> bytes:
    return bytes([local]) + struct.pack((">" if big else "<") + "IBHH", timestamp, hr, speed_mm_s, power)


def decode_both(data: bytes) -> tuple[FitMessages, FitMessages]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return decode_fast(data), decode_with_fitdecode(data)


def test_big_endian_records_and_invalid_values_match_fitdecode() -> None:
    t0 = 1_000_000_000
    body = FILE_ID + definition(1, 20, RECORD_DEF, big=True)
    body += record(1, t0, 150, 3000, 250, big=True) + record(1, t0 + 1, 0xFF, 0xFFFF, 251, big=True)
    fast, ref = decode_both(fit_file(body))
    assert_same_messages(fast, ref)
    assert fast.records["timestamp"][0] == t0 + 631_065_600
    assert fast.records["speed"][0] == 3.0
    assert math.isnan(fast.records["heart_rate"][1]) and math.isnan(fast.records["speed"][1])


@pytest.mark.parametrize("local", [0, 1, 2, 3])
def test_compressed_timestamp_headers_follow_the_last_explicit_timestamp(local: int) -> None:
    t0 = 1_000_000_030  # low 5 bits = 30, so the offsets below wrap past 31
    compressed_def = definition(local, 20, [(3, 1, 0x02)])
    other = 5 + local  # the explicit-timestamp records use another local number
    body = FILE_ID + definition(other, 20, RECORD_DEF) + compressed_def + record(other, t0, 120, 2000, 200)
    for offset in (31, 1, 2, 20):  # t0+1, t0+3, t0+4, t0+22
        body += bytes([0x80 | (local << 5) | offset, 130])
    body += record(other, t0 + 40, 121, 2000, 200)
    body += bytes([0x80 | (local << 5) | ((t0 + 45) & 31), 131])
    fast, ref = decode_both(fit_file(body))
    assert_same_messages(fast, ref)
    times = fast.records["timestamp"] - 631_065_600
    assert times.tolist() == [t0, t0 + 1, t0 + 3, t0 + 4, t0 + 22, t0 + 40, t0 + 45]


def test_chained_files_are_read_in_order_with_their_own_definitions() -> None:
    t0 = 1_000_000_000
    first = fit_file(FILE_ID + definition(1, 20, RECORD_DEF) + record(1, t0, 100, 1000, 100))
    other_def = definition(1, 20, [(3, 1, 0x02), (253, 4, 0x86)])  # same local number, another layout
    second = fit_file(FILE_ID + other_def + bytes([1, 101]) + struct.pack("<I", t0 + 5))
    fast, ref = decode_both(first + second)
    assert_same_messages(fast, ref)
    assert fast.records["heart_rate"].tolist() == [100, 101]
    assert fast.file_types == ["activity", "activity"]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[:-5], "truncated"),
        (lambda d: d + b"\x00" * 3, "trailing bytes"),
        (lambda d: d[:4] + struct.pack("<I", 0xFFFFFFFF) + d[8:], "truncated: header declares 4294967295"),
        (lambda d: b"\x0c" + d[1:8] + b".FXT" + d[12:], "no valid FIT header"),
        (lambda d: d[: 14 + len(FILE_ID)] + bytes([5]) + d[15 + len(FILE_ID) :], "undefined local message"),
    ],
)
def test_damaged_files_are_refused_for_fitdecode_to_handle(damage: object, reason: str) -> None:
    good = fit_file(FILE_ID + definition(1, 20, RECORD_DEF) + record(1, 1_000_000_000, 100, 1000, 100))
    decode_fast(good)  # the undamaged file decodes
    with pytest.raises(FastDecodeUnsupported, match=re.escape(reason)):
        decode_fast(damage(good))  # type: ignore[operator]


@pytest.mark.parametrize("seed", range(3))
def test_damaged_bytes_never_crash_and_never_disagree_with_fitdecode(data_dir: Path, seed: int) -> None:
    """Random byte flips, cuts and insertions in real files: the fast decoder either refuses (fitdecode takes
    over) or gives what fitdecode gives when fitdecode reads the file to its end."""
    rng = np.random.default_rng(seed)
    sources = [
        "fitparse__garmin-fenix-5-run.fit",
        "goldencheetah__3386684871.fit",
        "fitparse__antfs-dump.63.fit",
    ]
    agreed = 0
    for _ in range(25):
        data = bytearray(read_sample(sources[int(rng.integers(len(sources)))]))
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(len(data)))
            choice = rng.random()
            if choice < 0.6:
                data[at] = int(rng.integers(256))
            elif choice < 0.8:
                del data[at : at + int(rng.integers(1, 16))]
            else:
                data[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 8)), dtype=np.uint8))
        try:
            fast = decode_fast(bytes(data))
        except FastDecodeUnsupported:
            continue
        ref = decode_with_fitdecode(bytes(data))
        problems = ref.damaged.split(":")[0].split("; ") if ref.damaged else []
        if not all("CRC does not match" in problem for problem in problems):
            continue  # fitdecode stopped early; the importer marks the activity damaged either way
        assert_same_messages(fast, ref)
        agreed += 1
    assert agreed >= 1  # the property was exercised on files both decoders read
