"""A small FIT activity encoder, written from the public FIT protocol description (not Garmin SDK code).

Used by the demo athlete, tests and benchmarks to produce real FIT files: `encode_activity(activity)` returns
the bytes of one FIT activity file (gzip it yourself for a Strava-style ``.fit.gz``).

File layout, as devices write it:
file_id, device_info, event (timer start), record x N, event (timer stop_all),
lap x L, session, activity. All multi-byte values little-endian. The 14-byte header carries its own CRC, the
file ends with the CRC-16 of header + data. Records are packed as one NumPy structured array (one definition,
fixed row size), so a one-hour run encodes in about a millisecond.

Units in: SI, as in `model.Activity`/`Streams` (m, s, m/s, bpm, steps per minute, W, degrees). On the wire,
FIT units: semicircles, altitude (m + 500) * 5, distance cm, speed mm/s, time ms, cadence in strides
(one foot) per minute for running/walking/hiking with the half-stride remainder in
fractional_cadence (1/128 rpm).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from strideguard.activities.formats.fit_crc import crc16
from strideguard.activities.formats.fit_sports import STEP_CADENCE_SPORTS
from strideguard.model import Activity, Lap, Streams

FIT_EPOCH_S = 631_065_600  # 1989-12-31T00:00:00Z
PROTOCOL_VERSION = 0x20  # 2.0
PROFILE_VERSION = 2132  # 21.32
MANUFACTURER_DEVELOPMENT = 255
_SEMICIRCLES_PER_DEG = 2**31 / 180.0

# (FIT sport, FIT sub_sport) for each StrideGuard sport; FIT profile enum values.
_FIT_SPORT = {
    "run": (1, 0),  # running / generic
    "trail_run": (1, 3),  # running / trail
    "treadmill": (1, 1),  # running / treadmill
    "walk": (11, 0),  # walking
    "hike": (17, 0),  # hiking
    "other": (0, 0),  # generic
}

# FIT base types: (type byte, numpy dtype, invalid value).
_U8 = (0x02, "u1", 0xFF)
_ENUM = (0x00, "u1", 0xFF)
_U16 = (0x84, "<u2", 0xFFFF)
_U32 = (0x86, "<u4", 0xFFFFFFFF)
_U32Z = (0x8C, "<u4", 0)
_S32 = (0x85, "<i4", 0x7FFFFFFF)

# Message field lists: (field number, base type, scale, offset).
_FILE_ID = {
    "type": (0, _ENUM),
    "manufacturer": (1, _U16),
    "product": (2, _U16),
    "serial_number": (3, _U32Z),
    "time_created": (4, _U32),
}
_DEVICE_INFO = {
    "timestamp": (253, _U32),
    "device_index": (0, _U8),
    "manufacturer": (2, _U16),
    "product": (4, _U16),
}
_EVENT = {"timestamp": (253, _U32), "event": (0, _ENUM), "event_type": (1, _ENUM), "event_group": (4, _U8)}
_SUMMARY = {  # shared by lap (19) and session (18): name -> (lap field, session field, type, scale, offset)
    "timestamp": (253, 253, _U32, 1, 0),
    "event": (0, 0, _ENUM, 1, 0),
    "event_type": (1, 1, _ENUM, 1, 0),
    "start_time": (2, 2, _U32, 1, 0),
    "start_position_lat": (3, 3, _S32, 1, 0),
    "start_position_long": (4, 4, _S32, 1, 0),
    "total_elapsed_time": (7, 7, _U32, 1000, 0),
    "total_timer_time": (8, 8, _U32, 1000, 0),
    "total_distance": (9, 9, _U32, 100, 0),
    "avg_heart_rate": (15, 16, _U8, 1, 0),
    "max_heart_rate": (16, 17, _U8, 1, 0),
    "avg_cadence": (17, 18, _U8, 1, 0),
    "total_ascent": (21, 22, _U16, 1, 0),
    "total_descent": (22, 23, _U16, 1, 0),
    "sport": (25, 5, _ENUM, 1, 0),
    "sub_sport": (39, 6, _ENUM, 1, 0),
    "avg_fractional_cadence": (80, 92, _U8, 128, 0),
    "message_index": (254, 254, _U16, 1, 0),
}
_SESSION_ONLY = {"first_lap_index": (25, _U16), "num_laps": (26, _U16)}
_ACTIVITY = {
    "timestamp": (253, _U32),
    "total_timer_time": (0, _U32),
    "num_sessions": (1, _U16),
    "type": (2, _ENUM),
    "event": (3, _ENUM),
    "event_type": (4, _ENUM),
    "local_timestamp": (5, _U32),
}
# Record (20) fields: name -> (field number, type, scale, offset).
_RECORD = {
    "timestamp": (253, _U32, 1, 0),
    "position_lat": (0, _S32, 1, 0),
    "position_long": (1, _S32, 1, 0),
    "heart_rate": (3, _U8, 1, 0),
    "cadence": (4, _U8, 1, 0),
    "distance": (5, _U32, 100, 0),
    "power": (7, _U16, 1, 0),
    "fractional_cadence": (53, _U8, 128, 0),
    "enhanced_speed": (73, _U32, 1000, 0),
    "enhanced_altitude": (78, _U32, 5, 500),
}


def _fit_time(value: datetime | float) -> int:
    seconds = value.timestamp() if isinstance(value, datetime) else value
    return round(seconds) - FIT_EPOCH_S


def _definition(local: int, global_num: int, fields: Sequence[tuple[int, tuple[int, str, int]]]) -> bytes:
    out = bytearray((0x40 | local, 0, 0))
    out += struct.pack("<HB", global_num, len(fields))
    for number, (base, dtype, _) in fields:
        out += bytes((number, np.dtype(dtype).itemsize, base))
    return bytes(out)


def _encode_value(
    value: float | None, kind: tuple[int, str, int], scale: float = 1, offset: float = 0
) -> int:
    if value is None or value != value:
        return kind[2]
    raw = round((value + offset) * scale)
    info = np.iinfo(np.dtype(kind[1]))
    if raw < info.min or raw > info.max or raw == kind[2]:
        return kind[2]
    return int(raw)


class _Writer:
    """Accumulates definition and data messages, one local message number per global message."""

    def __init__(self) -> None:
        self.body = bytearray()
        self._next_local = 1  # 0 is reserved for records

    def message(self, global_num: int, values: dict[str, tuple[int, tuple[int, str, int], int]]) -> None:
        """values: name -> (field number, base type, raw value)."""
        local = self._next_local
        self._next_local = self._next_local % 15 + 1
        fields = [(number, kind) for number, kind, _ in values.values()]
        self.body += _definition(local, global_num, fields)
        row = bytearray((local,))
        for _, kind, raw in values.values():
            row += np.array([raw], dtype=kind[1]).tobytes()
        self.body += row


def _scaled_column(values: np.ndarray, kind: tuple[int, str, int], scale: float, offset: float) -> np.ndarray:
    info = np.iinfo(np.dtype(kind[1]))
    raw = np.round((values + offset) * scale)
    bad = np.isnan(raw) | (raw < info.min) | (raw > info.max)
    return np.where(bad, kind[2], np.where(bad, 0, raw)).astype(kind[1])


def _record_columns(streams: Streams, start_s: float, steps: bool) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {
        "timestamp": np.round(start_s + streams.time_s) - FIT_EPOCH_S,
    }
    if streams.lat_deg is not None and streams.lon_deg is not None:
        columns["position_lat"] = streams.lat_deg * _SEMICIRCLES_PER_DEG
        columns["position_long"] = streams.lon_deg * _SEMICIRCLES_PER_DEG
    if streams.altitude_m is not None:
        columns["enhanced_altitude"] = streams.altitude_m
    if streams.distance_m is not None:
        columns["distance"] = streams.distance_m
    if streams.speed_m_s is not None:
        columns["enhanced_speed"] = streams.speed_m_s
    if streams.heart_rate_bpm is not None:
        columns["heart_rate"] = streams.heart_rate_bpm
    if streams.cadence_spm is not None:
        rpm = streams.cadence_spm / 2.0 if steps else streams.cadence_spm
        whole = np.floor(rpm)
        columns["cadence"] = whole
        columns["fractional_cadence"] = rpm - whole
    if streams.power_w is not None:
        columns["power"] = streams.power_w
    return columns


def _records(streams: Streams, start_s: float, steps: bool) -> bytes:
    columns = _record_columns(streams, start_s, steps)
    names = [name for name in _RECORD if name in columns]
    dtype = np.dtype([("header", "u1")] + [(name, _RECORD[name][1][1]) for name in names])
    table = np.zeros(len(streams), dtype=dtype)
    table["header"] = 0  # normal header, local message 0
    for name in names:
        _, kind, scale, offset = _RECORD[name]
        table[name] = _scaled_column(np.asarray(columns[name], dtype=np.float64), kind, scale, offset)
    definition = _definition(0, 20, [(_RECORD[name][0], _RECORD[name][1]) for name in names])
    return definition + table.tobytes()


def _summary_values(
    which: int,
    *,
    start: datetime,
    end_s: float,
    elapsed_s: float | None,
    timer_s: float | None,
    distance_m: float | None,
    avg_hr: float | None,
    max_hr: float | None,
    avg_cadence_spm: float | None,
    ascent_m: float | None,
    descent_m: float | None,
    sport: str,
    index: int,
    steps: bool,
    start_position: tuple[float, float] | None,
) -> dict[str, tuple[int, tuple[int, str, int], int]]:
    fit_sport, fit_sub_sport = _FIT_SPORT[sport]
    rpm = None if avg_cadence_spm is None else (avg_cadence_spm / 2.0 if steps else avg_cadence_spm)
    whole = None if rpm is None else float(np.floor(rpm))
    plain: dict[str, float | None] = {
        "timestamp": _fit_time(end_s),
        "event": 8 if which == 1 else 9,  # session / lap
        "event_type": 1,  # stop
        "start_time": _fit_time(start),
        "start_position_lat": None if start_position is None else start_position[0] * _SEMICIRCLES_PER_DEG,
        "start_position_long": None if start_position is None else start_position[1] * _SEMICIRCLES_PER_DEG,
        "total_elapsed_time": elapsed_s,
        "total_timer_time": timer_s,
        "total_distance": distance_m,
        "avg_heart_rate": avg_hr,
        "max_heart_rate": max_hr,
        "avg_cadence": whole,
        "total_ascent": ascent_m,
        "total_descent": descent_m,
        "sport": fit_sport,
        "sub_sport": fit_sub_sport,
        "avg_fractional_cadence": None if rpm is None or whole is None else rpm - whole,
        "message_index": index,
    }
    out = {}
    for name, value in plain.items():
        lap_num, session_num, kind, scale, offset = _SUMMARY[name]
        raw = _encode_value(value, kind, scale, offset)
        if raw == kind[2] and name not in ("timestamp", "start_time"):
            continue  # leave absent values out rather than writing the invalid marker
        out[name] = (session_num if which == 1 else lap_num, kind, raw)
    return out


def encode_activity(
    activity: Activity,
    *,
    manufacturer: int = MANUFACTURER_DEVELOPMENT,
    product: int = 0,
    serial_number: int = 1,
    session_totals: dict[str, float] | None = None,
) -> bytes:
    """Encode one activity (summary, laps and streams) as a FIT activity file; returns the file's bytes.

    Start time, sport, totals, laps and streams come from `activity`; totals missing there are left out of the
    session. `activity.utc_offset_s` becomes activity.local_timestamp (local wall time), so readers
    recover the offset. Streams are written at their own times (rounded to
    whole seconds, the FIT record resolution). `session_totals` ("elapsed_time_s", "moving_time_s",
    "distance_m") overrides the session's totals only, to reproduce devices whose summaries disagree with
    their own records (tests).
    """
    steps = activity.sport in STEP_CADENCE_SPORTS
    start = activity.start_utc
    start_s = start.timestamp()
    streams = activity.streams
    elapsed = activity.elapsed_time_s
    if elapsed is None and streams is not None and len(streams):
        elapsed = float(streams.time_s[-1])
    end_s = start_s + (elapsed or 0.0)
    timer = activity.moving_time_s if activity.moving_time_s is not None else elapsed
    position = None
    if streams is not None and streams.lat_deg is not None and streams.lon_deg is not None:
        ok = np.flatnonzero(~(np.isnan(streams.lat_deg) | np.isnan(streams.lon_deg)))
        if len(ok):
            position = (float(streams.lat_deg[ok[0]]), float(streams.lon_deg[ok[0]]))

    writer = _Writer()

    def put(global_num: int, spec: dict, values: dict[str, float | None]) -> None:
        encoded = {}
        for name, value in values.items():
            number, kind = spec[name]
            encoded[name] = (number, kind, _encode_value(value, kind))
        writer.message(global_num, encoded)

    put(
        0,
        _FILE_ID,
        {
            "type": 4,  # activity
            "manufacturer": manufacturer,
            "product": product,
            "serial_number": serial_number,
            "time_created": _fit_time(start),
        },
    )
    put(
        23,
        _DEVICE_INFO,
        {
            "timestamp": _fit_time(start),
            "device_index": 0,
            "manufacturer": manufacturer,
            "product": product,
        },
    )
    # event 0 = timer; event_type 0 = start, 4 = stop_all
    put(21, _EVENT, {"timestamp": _fit_time(start), "event": 0, "event_type": 0, "event_group": 0})
    if streams is not None and len(streams):
        writer.body += _records(streams, start_s, steps)
    put(21, _EVENT, {"timestamp": _fit_time(end_s), "event": 0, "event_type": 4, "event_group": 0})

    laps: tuple[Lap, ...] = activity.laps or (
        Lap(
            start_utc=start,
            elapsed_time_s=elapsed,
            moving_time_s=timer,
            distance_m=activity.distance_m,
            avg_heart_rate_bpm=activity.avg_heart_rate_bpm,
            max_heart_rate_bpm=activity.max_heart_rate_bpm,
            avg_cadence_spm=activity.avg_cadence_spm,
            ascent_m=activity.ascent_m,
            descent_m=activity.descent_m,
        ),
    )
    for index, lap in enumerate(laps):
        lap_end = lap.start_utc.timestamp() + (lap.elapsed_time_s or 0.0)
        writer.message(
            19,
            _summary_values(
                0,
                start=lap.start_utc,
                end_s=lap_end,
                elapsed_s=lap.elapsed_time_s,
                timer_s=lap.moving_time_s,
                distance_m=lap.distance_m,
                avg_hr=lap.avg_heart_rate_bpm,
                max_hr=lap.max_heart_rate_bpm,
                avg_cadence_spm=lap.avg_cadence_spm,
                ascent_m=lap.ascent_m,
                descent_m=lap.descent_m,
                sport=activity.sport,
                index=index,
                steps=steps,
                start_position=position if index == 0 else None,
            ),
        )
    totals = session_totals or {}
    session = _summary_values(
        1,
        start=start,
        end_s=end_s,
        elapsed_s=totals.get("elapsed_time_s", elapsed),
        timer_s=totals.get("moving_time_s", timer),
        distance_m=totals.get("distance_m", activity.distance_m),
        avg_hr=activity.avg_heart_rate_bpm,
        max_hr=activity.max_heart_rate_bpm,
        avg_cadence_spm=activity.avg_cadence_spm,
        ascent_m=activity.ascent_m,
        descent_m=activity.descent_m,
        sport=activity.sport,
        index=0,
        steps=steps,
        start_position=position,
    )
    session["first_lap_index"] = (25, _U16, 0)
    session["num_laps"] = (26, _U16, len(laps))
    writer.message(18, session)
    activity_values: dict[str, float | None] = {
        "timestamp": _fit_time(end_s),
        "total_timer_time": None if timer is None else timer * 1000,
        "num_sessions": 1,
        "type": 0,  # manual
        "event": 26,  # activity
        "event_type": 1,  # stop
        "local_timestamp": None
        if activity.utc_offset_s is None
        else _fit_time(end_s + activity.utc_offset_s),
    }
    put(34, _ACTIVITY, {k: v for k, v in activity_values.items() if v is not None})

    body = bytes(writer.body)
    header = struct.pack("<BBHI4s", 14, PROTOCOL_VERSION, PROFILE_VERSION, len(body), b".FIT")
    header += struct.pack("<H", crc16(header))
    content = header + body
    return content + struct.pack("<H", crc16(content))
