"""Read FIT activity files into domain `Activity` objects.

Pipeline: ``read_fit(data, limits)`` tries the fast NumPy decoder (`fit_fast.decode_fast`) and falls back to
fitdecode (`decode_with_fitdecode`); both give a `FitMessages`; `build_activities` turns it into activities.

CRC and damage policy (a bad CRC is never accepted silently):
- Every chained FIT part's header and file CRC-16 is verified (`fit_crc.check_parts`; fitdecode's own CRC
  check is disabled because it is a third of its time in pure Python).
- A file that decodes to at least one activity (a session, or records with at least two timestamps) but has a
  bad CRC, is truncated, has a corrupt chained header or stops decoding early (e.g. a data message using an
  undefined local message) is **imported with `Activity.damaged` set**, e.g. "file CRC does not match:
  imported what decoded; data may be wrong". Rationale: these are real recordings (a watch that died, a
  flipped bit in a long file); refusing them loses a run from the training history, while the damaged mark
  keeps the problem visible in the summary and the database.
- A file that decodes to nothing usable (0 bytes, header only, no valid header, random bytes with a .FIT
  signature, truncated before the first session/record pair) is **rejected** with `CorruptFile` and a
  one-line reason.
- Valid files that are not activities (file_id.type settings, monitoring, workout, weight, course, ...) raise
  `NotAnActivity` ("settings file, not an activity").
- Semantic repairs are recorded: an absurd or missing session start falls back to the first valid record
  timestamp; timer time longer than elapsed time is swapped (recorded in `extra["fit_fixes"]`); records that
  jump by more than a day mark the activity damaged (elapsed time is then meaningless).
Limits: `limits.max_points` records and `limits.max_seconds` of CPU time (checked every 2,048 frames) raise
`LimitExceeded`. A header claiming an absurd data size allocates nothing: decoding streams frame by frame.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from typing import Any

import fitdecode
import numpy as np

from strideguard.activities.formats.cadence import steps_factor
from strideguard.activities.formats.dates import (
    GIVE_START_HINT,
    check_dates,
    given_offset_s,
    seconds_to_datetime,
)
from strideguard.activities.formats.errors import CorruptFile, LimitExceeded, NotAnActivity
from strideguard.activities.formats.fit_crc import check_parts
from strideguard.activities.formats.fit_decoded import (
    DEV_NATIVE_RECORD_COLUMNS,
    DEVICE_TIME_SUFFIX,
    RECORD_COLUMNS,
    FitMessages,
    developer_unit_divisor,
    merge_developer_columns,
)
from strideguard.activities.formats.fit_fast import FastDecodeUnsupported, decode_fast
from strideguard.activities.formats.fit_sports import NON_ACTIVITY_FILE_TYPES, STEP_CADENCE_SPORTS, map_sport
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.model import Activity, Lap, Streams

__all__ = [
    "FIT_EPOCH_S",
    "FIT_MIN_ABSOLUTE_TIME",
    "build_activities",
    "decode_with_fitdecode",
    "read_fit",
]

# FIT protocol: date_time counts seconds since 1989-12-31T00:00:00Z; values below 0x10000000 are "system time"
# (seconds since device power-up), not absolute dates.
FIT_EPOCH_S = 631_065_600
FIT_MIN_ABSOLUTE_TIME = 0x10000000
_MIN_EPOCH_S = FIT_EPOCH_S + FIT_MIN_ABSOLUTE_TIME  # 1998-07-04: earlier absolute times are not real dates
_SEMICIRCLE_DEG = 180.0 / 2**31
_TIME_FIELDS = frozenset({"timestamp", "start_time", "local_timestamp", "time_created"})
# A session start further than this from its first record is treated as a broken date.
_MAX_START_SKEW_S = 86_400.0
# A gap between consecutive records longer than this means the device clock jumped (27/31-day "activities").
_MAX_RECORD_GAP_S = 86_400.0
# Session totals shorter than the records by more than this (and this share) are checked against them.
_TOTALS_SLACK_S = 60.0
_TOTALS_SLACK_M = 100.0
_TOTALS_SLACK_SHARE = 0.03
# Offsets east/west of UTC go from -12 h to +14 h.
_MAX_UTC_OFFSET_S = 14 * 3600

# Global message numbers (FIT profile) of the messages we keep, and the FitMessages list each goes to.
_MESG_FILE_ID, _MESG_RECORD = 0, 20
_MESSAGE_LISTS = {
    0: "file_ids",
    12: "sports",
    18: "sessions",
    19: "laps",
    21: "events",
    23: "device_infos",
    34: "activities",
}
_NO_DATES = f"no calendar date in the file (only device-relative times): {GIVE_START_HINT}"
_DAMAGE_SUFFIX = ": imported what decoded; data may be wrong"
_TIME_CHECK_EVERY = 2048

# Record slots while decoding with fitdecode: RECORD_COLUMNS, then enhanced_* and developer power.
_SLOT = {name: i for i, name in enumerate(RECORD_COLUMNS)}
_ENH_SPEED, _ENH_ALT, _DEV_POWER = len(RECORD_COLUMNS), len(RECORD_COLUMNS) + 1, len(RECORD_COLUMNS) + 2
_RECORD_FIELD_SLOT = {
    "timestamp": _SLOT["timestamp"],
    "position_lat": _SLOT["position_lat"],
    "position_long": _SLOT["position_long"],
    "distance": _SLOT["distance"],
    "speed": _SLOT["speed"],
    "enhanced_speed": _ENH_SPEED,
    "altitude": _SLOT["altitude"],
    "enhanced_altitude": _ENH_ALT,
    "heart_rate": _SLOT["heart_rate"],
    "cadence": _SLOT["cadence"],
    "fractional_cadence": _SLOT["fractional_cadence"],
    "power": _SLOT["power"],
}
_N_BASE_SLOTS = len(RECORD_COLUMNS) + 3
# Then one slot per record column for developer fields declaring that native field (Connect IQ apps).
_DEV_NATIVE_SLOT = {name: _N_BASE_SLOTS + i for i, name in enumerate(RECORD_COLUMNS)}
_N_SLOTS = _N_BASE_SLOTS + len(RECORD_COLUMNS)


# ---------------------------------------------------------------------------------------------- decoding


def _fit_datetime(raw: int) -> datetime | None:
    """A FIT date_time (seconds since 1989-12-31Z) as aware UTC; None for relative ("system") times."""
    if raw < FIT_MIN_ABSOLUTE_TIME:
        return None
    return datetime.fromtimestamp(FIT_EPOCH_S + raw, UTC)


def _message_dict(frame: Any) -> dict[str, Any]:
    """Profile-named, non-invalid fields of a data message (developer fields left out).

    Subfields are stored under their own name and under the parent field's name ('avg_running_cadence' and
    'avg_cadence'; 'garmin_product' and 'product'). date_time fields become aware UTC datetimes.
    """
    out: dict[str, Any] = {}
    for fd in frame.fields:
        value = fd.value
        if value is None or fd.field is None:
            continue
        if fd.field_def is not None and fd.field_def.is_dev:
            continue
        if isinstance(value, tuple):
            if all(v is None for v in value):
                continue
        name = fd.name
        if name in _TIME_FIELDS and isinstance(value, int):
            value = _fit_datetime(value)
            if value is None:  # device-relative: kept apart for `import --start` (fit_decoded.py)
                out.setdefault(name + DEVICE_TIME_SUFFIX, float(FIT_EPOCH_S + fd.value))
                continue
        if name not in out:
            out[name] = value
        parent = fd.parent_field
        if parent is not None and parent.name not in out:
            out[parent.name] = value
    return out


def _record_row(frame: Any) -> list[float]:
    row = [math.nan] * _N_SLOTS
    slots = _RECORD_FIELD_SLOT
    for fd in frame.fields:
        value = fd.value
        if value is None:
            continue
        field_def = fd.field_def
        if field_def is not None and field_def.is_dev:
            # Stryd and other Connect IQ apps write running power as a developer field named "Power".
            if row[_DEV_POWER] != row[_DEV_POWER] and (fd.name or "").lower() == "power":
                try:
                    row[_DEV_POWER] = float(value)
                except (TypeError, ValueError):
                    pass
            native = DEV_NATIVE_RECORD_COLUMNS.get(getattr(fd.field, "native_field_num", None))
            if native is not None and isinstance(value, int | float) and not isinstance(value, bool):
                slot = _DEV_NATIVE_SLOT[native]
                if row[slot] != row[slot]:
                    divisor = developer_unit_divisor(getattr(fd.field, "units", None))
                    row[slot] = float(value) / divisor if divisor else float(value)
            continue
        slot = slots.get(fd.name)
        if slot is None or isinstance(value, tuple | str | bytes):
            continue
        row[slot] = float(value)
    return row


def _records_to_columns(rows: list[list[float]]) -> dict[str, np.ndarray]:
    table = np.array(rows, dtype=np.float64).reshape(len(rows), _N_SLOTS)
    columns = {name: table[:, i].copy() for i, name in enumerate(RECORD_COLUMNS)}
    # Raw FIT date_time -> Unix seconds, as written: relative ("system") times stay before 1998-07-04, where
    # build_activities treats them as no date.
    columns["timestamp"] += FIT_EPOCH_S
    columns["position_lat"] *= _SEMICIRCLE_DEG
    columns["position_long"] *= _SEMICIRCLE_DEG
    for name, slot in (("speed", _ENH_SPEED), ("altitude", _ENH_ALT), ("power", _DEV_POWER)):
        preferred = table[:, slot]
        column = columns[name]
        if name == "power":  # record power wins; developer power fills the gaps
            np.copyto(column, preferred, where=np.isnan(column))
        else:  # enhanced_* (wider range) wins over the 16-bit field
            np.copyto(column, preferred, where=~np.isnan(preferred))
    merge_developer_columns(
        columns, {name: table[:, slot] for name, slot in _DEV_NATIVE_SLOT.items() if name != "timestamp"}
    )
    return columns


def _describe_decode_error(exc: Exception, offset: int | None) -> str:
    """One line for a fitdecode exception: what went wrong and at which byte."""
    text = (str(exc).splitlines() or [""])[0]
    found = re.search(r"@ (\d+)(?::\s*(.*))?", text)
    if found:
        offset = int(found.group(1))
        text = found.group(2) or ""
    where = f" at byte {offset}" if offset is not None else ""
    if isinstance(exc, fitdecode.FitEOFError):
        return f"file ends in the middle of a message{where}"
    if isinstance(exc, fitdecode.FitHeaderError):
        return f"corrupt FIT header{where}"
    return f"decoding stopped{where} ({text.strip() or type(exc).__name__})"


def decode_with_fitdecode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> FitMessages:
    """Decode every chained part of a FIT file with fitdecode, keeping every frame read before a defect.

    Sets `damaged` (one line, ending "imported what decoded; data may be wrong") when the CRC does not match,
    the file is truncated or decoding stopped early. Raises LimitExceeded over `limits.max_points` records or
    `limits.max_seconds` of decoding.
    """
    msgs = FitMessages()
    rows: list[list[float]] = []
    problems: list[str] = []
    started = time.thread_time()
    frames = 0
    max_points = limits.max_points
    reader = fitdecode.FitReader(
        data,
        processor=None,  # we convert date_time ourselves; the default processor costs time per field
        check_crc=fitdecode.CrcCheck.DISABLED,  # verified below, vectorised
        error_handling=fitdecode.ErrorHandling.IGNORE,  # tolerant as WARN, without warnings on stderr
    )
    offset: int | None = None
    try:
        for frame in reader:
            frames += 1
            if frames % _TIME_CHECK_EVERY == 0 and time.thread_time() - started > limits.max_seconds:
                raise LimitExceeded(f"FIT decoding took longer than {limits.max_seconds:g} s")
            if frame.frame_type != fitdecode.FIT_FRAME_DATA:
                continue
            number = frame.def_mesg.global_mesg_num
            if number == _MESG_RECORD:
                rows.append(_record_row(frame))
                if len(rows) > max_points:
                    raise LimitExceeded(f"more than {max_points} records")
                continue
            target = _MESSAGE_LISTS.get(number)
            if target is None:
                continue
            message = _message_dict(frame)
            getattr(msgs, target).append(message)
            if number == _MESG_FILE_ID:
                file_type = message.get("type")
                msgs.file_types.append(file_type if isinstance(file_type, str) else "")
    except LimitExceeded:
        raise
    except Exception as exc:  # any defect: keep what was yielded before it
        offset = getattr(reader, "_read_offset", None)
        problems.append(_describe_decode_error(exc, offset))
    finally:
        reader.close()
    msgs.records = _records_to_columns(rows) if rows else {}
    _, crc_problems = check_parts(data)
    if crc_problems:
        # A decode error at a truncation or a bad chained header is the same defect: name the structural one.
        problems = crc_problems + [p for p in problems if p.startswith("decoding stopped")]
    if problems:
        msgs.damaged = "; ".join(problems) + _DAMAGE_SUFFIX
    return msgs


# ---------------------------------------------------------------------------------------------- building


def _num(message: dict[str, Any], *names: str) -> float | None:
    """First present, finite numeric value among `names`."""
    for name in names:
        value = message.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            return float(value)
    return None


def _time(message: dict[str, Any], name: str) -> datetime | None:
    value = message.get(name)
    if isinstance(value, datetime) and value.timestamp() >= _MIN_EPOCH_S:
        return value
    return None


def _cadence_spm(message: dict[str, Any], base: str, fraction: str, steps: bool) -> float | None:
    """FIT cadence (+ fractional part) as steps per minute: doubled when the sport counts one foot."""
    value = _num(message, base)
    if value is None:
        return None
    value += _num(message, fraction) or 0.0
    return value * 2 if steps else value


def _device_name(msgs: FitMessages) -> str | None:
    if not msgs.file_ids:
        return None
    file_id = msgs.file_ids[0]
    maker = file_id.get("manufacturer")
    product = file_id.get("product_name") or file_id.get("garmin_product") or file_id.get("product")
    words = [str(w) for w in (maker, product) if w is not None]
    return " ".join(words) or None


def _utc_offset_s(msgs: FitMessages) -> int | None:
    """activity.local_timestamp - activity.timestamp, rounded to 15 min (zones are whole quarter hours)."""
    for message in msgs.activities:
        local = message.get("local_timestamp")
        utc = message.get("timestamp")
        if isinstance(local, datetime) and isinstance(utc, datetime):
            offset = (local - utc).total_seconds()
            rounded = round(offset / 900.0) * 900
            if abs(rounded) <= _MAX_UTC_OFFSET_S:
                return rounded
    return None


def _haversine_m(lat: np.ndarray, lon: np.ndarray) -> float | None:
    ok = ~(np.isnan(lat) | np.isnan(lon))
    if ok.sum() < 2:
        return None
    la, lo = np.radians(lat[ok]), np.radians(lon[ok])
    dlat, dlon = np.diff(la), np.diff(lo)
    a = np.sin(dlat / 2) ** 2 + np.cos(la[:-1]) * np.cos(la[1:]) * np.sin(dlon / 2) ** 2
    return float(np.sum(2 * 6_371_000.0 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))))


def _present(column: np.ndarray | None) -> np.ndarray | None:
    if column is None or not np.any(~np.isnan(column)):
        return None
    return column


def _session_sport(session: dict[str, Any], msgs: FitMessages) -> tuple[object, object]:
    if session.get("sport") is not None:
        return session.get("sport"), session.get("sub_sport")
    for source in (msgs.sports, msgs.laps):
        for message in source:
            if message.get("sport") is not None:
                return message.get("sport"), message.get("sub_sport")
    return None, None


def _counts_one_foot(
    records: dict[str, np.ndarray], chosen: np.ndarray, session: dict[str, Any], sport: str
) -> bool:
    """Whether this file's cadence counts one foot (FIT's definition) rather than steps (see cadence.py)."""
    column = records.get("cadence")
    samples = None
    if column is not None and len(chosen):
        samples = column[chosen]
        fraction = records.get("fractional_cadence")
        if fraction is not None:
            samples = samples + np.nan_to_num(fraction[chosen])
    return steps_factor(samples, sport, summary=_num(session, "avg_cadence")) == 2.0


def _start_s(message: dict[str, Any], shift_s: float | None, from_end: bool = True) -> float | None:
    """A session's or lap's start (Unix seconds): its start_time, else (`from_end`) its end timestamp less its
    elapsed time; device-relative times count only when the runner dated the file (shifted by `shift_s`)."""
    elapsed = _num(message, "total_elapsed_time") if from_end else None
    for name, back in (("start_time", 0.0), ("timestamp", elapsed)):
        if back is None:
            continue
        stamp = _time(message, name)
        if stamp is not None:
            return stamp.timestamp() - back
        device = message.get(name + DEVICE_TIME_SUFFIX)
        if shift_s is not None and device is not None:
            return device + shift_s - back
    return None


def _device_start(msgs: FitMessages, first_record_s: float) -> float:
    """The device-relative time at which a file without dates starts: the first session's (or lap's) start
    when it is shortly before the first record (timers start before the first sample), else that record."""
    starts = [_start_s(m, 0.0, from_end=False) for m in msgs.sessions] + [_start_s(m, 0.0) for m in msgs.laps]
    start = next((s for s in starts if s is not None), None)
    if start is not None and first_record_s - _MAX_START_SKEW_S <= start < first_record_s:
        return start
    return first_record_s


def _laps_in(
    msgs: FitMessages, start: float, end: float, steps: bool, everything: bool, shift_s: float | None = None
) -> tuple[Lap, ...]:
    laps = []
    for message in msgs.laps:
        elapsed = _num(message, "total_elapsed_time")
        t = _start_s(message, shift_s)
        if t is None:
            continue
        if not everything and not (start - 1.0 <= t < end):
            continue
        laps.append(
            Lap(
                start_utc=datetime.fromtimestamp(t, UTC),
                elapsed_time_s=elapsed,
                moving_time_s=_num(message, "total_timer_time"),
                distance_m=_num(message, "total_distance"),
                avg_heart_rate_bpm=_num(message, "avg_heart_rate"),
                max_heart_rate_bpm=_num(message, "max_heart_rate"),
                avg_cadence_spm=_cadence_spm(message, "avg_cadence", "avg_fractional_cadence", steps),
                ascent_m=_num(message, "total_ascent"),
                descent_m=_num(message, "total_descent"),
            )
        )
    return tuple(laps)


def _reject_non_activity(msgs: FitMessages) -> None:
    types = [t for t in msgs.file_types if t]
    if types and all(t in NON_ACTIVITY_FILE_TYPES for t in types) and not msgs.sessions:
        raise NotAnActivity(f"{NON_ACTIVITY_FILE_TYPES[types[0]]}, not an activity")
    if any(t == "activity" for t in types):
        return
    if types and not msgs.sessions:
        raise NotAnActivity(f"{types[0]} file, not an activity")


def build_activities(msgs: FitMessages, *, start_utc: datetime | None = None) -> list[Activity]:
    """One Activity per session (each leg of a multisport file), or one from the records when the file has no
    session. Raises NotAnActivity for non-activity files, CorruptFile when nothing usable decoded.

    Reads these keys (fitdecode profile names; the fast decoder must produce the same):
    file_id: type, manufacturer, product/garmin_product/product_name; session: start_time, sport, sub_sport,
    total_elapsed_time, total_timer_time, total_distance, total_ascent, total_descent, avg_heart_rate,
    max_heart_rate, avg_cadence (+ avg_fractional_cadence); lap: start_time, timestamp, the same totals;
    sport: sport, sub_sport; activity: timestamp, local_timestamp (a datetime holding local wall time as UTC).
    """
    _reject_non_activity(msgs)
    records = msgs.records
    n = msgs.n_records
    timestamps = records["timestamp"] if n else np.empty(0)
    valid = ~np.isnan(timestamps) & (timestamps >= _MIN_EPOCH_S)
    shift_s: float | None = None  # added to device-relative times when the runner dated the file
    if start_utc is not None and n and not valid.any() and not np.isnan(timestamps).all():
        # Only device-relative times (seconds since power-on): the runner gave the start (`import --start`).
        # Records, sessions and laps keep their spacing; the run's start is at the given start.
        shift_s = start_utc.timestamp() - _device_start(msgs, float(np.nanmin(timestamps)))
        timestamps = timestamps + shift_s
        records = {**records, "timestamp": timestamps}
        valid = ~np.isnan(timestamps)
    order = np.flatnonzero(valid)
    device = _device_name(msgs)
    offset = _utc_offset_s(msgs)
    if offset is None and shift_s is not None and start_utc is not None:
        offset = given_offset_s(start_utc)  # the runner's local time

    sessions = [s for s in msgs.sessions if s]
    if not sessions:
        if len(order) < 2:
            if msgs.damaged:
                raise CorruptFile(msgs.damaged.removesuffix(_DAMAGE_SUFFIX) + "; no activity data decoded")
            if len(order) == 0 and n and not np.isnan(timestamps).all():
                raise CorruptFile(_NO_DATES)
            raise NotAnActivity("activity file without a session or timed records")
        sessions = [{}]  # one activity summarised from its records

    # Session windows: [start, min(start + elapsed, next session start)); fenix2 writes a first leg whose
    # elapsed time spans the whole multisport activity.
    starts: list[float | None] = []
    for session in sessions:
        starts.append(_start_s(session, shift_s, from_end=False))
    activities = []
    for index, session in enumerate(sessions):
        fixes: list[str] = []
        notes: list[str] = []
        elapsed = _num(session, "total_elapsed_time")
        timer = _num(session, "total_timer_time")
        start_s = starts[index]
        if len(sessions) == 1:
            chosen = order
            if start_s is not None and elapsed is not None and len(chosen):
                # Records dated more than a day outside the session are garbage (a record decoded from
                # damaged bytes, dated 2085): drop them rather than stretch the activity.
                t = timestamps[chosen]
                inside = (t >= start_s - _MAX_START_SKEW_S) & (t <= start_s + elapsed + _MAX_START_SKEW_S)
                if not inside.all() and inside.any():
                    fixes.append(f"dropped {int((~inside).sum())} records dated outside the session")
                    chosen = chosen[inside]
        else:
            if start_s is None:
                continue  # a leg without a start cannot be placed among the others
            later = [s for s in starts[index + 1 :] if s is not None and s > start_s]
            end_s = start_s + (elapsed if elapsed is not None else math.inf) + 1.0
            if later:
                end_s = min(end_s, min(later))
            t = timestamps[order]
            chosen = order[(t >= start_s) & (t < end_s)]
        first_record_s = float(timestamps[chosen[0]]) if len(chosen) else None
        if start_s is None or (
            first_record_s is not None and abs(start_s - first_record_s) > _MAX_START_SKEW_S
        ):
            if first_record_s is None:
                continue  # nothing to date this leg by
            if start_s is not None:
                fixes.append("session start time far from the records: used the first record time")
            start_s = first_record_s
        if elapsed is not None and timer is not None and timer > elapsed + 1.0:
            elapsed, timer = timer, elapsed
            fixes.append("timer time exceeded elapsed time: swapped")
        t_sel = timestamps[chosen]
        if elapsed is None and len(chosen) >= 2:
            elapsed = float(t_sel.max() - t_sel.min())
        if len(chosen) >= 2:
            gap = float(np.max(np.diff(t_sel)))
            if gap > _MAX_RECORD_GAP_S:
                notes.append(f"records jump {gap / 86_400:.0f} days mid-activity: elapsed time is wrong")
        session_cut_short = False
        if len(sessions) == 1 and not notes and len(chosen) >= 2 and elapsed is not None:
            checked = _check_totals_against_records(
                msgs, records, chosen, start_s, elapsed, timer, _num(session, "total_distance")
            )
            if checked is not None:
                elapsed, timer, stream_distance, why = checked
                session = {**session, "total_distance": stream_distance}
                for stale in ("avg_heart_rate", "max_heart_rate", "avg_cadence", "avg_fractional_cadence"):
                    session.pop(stale, None)
                fixes.append(why)
                session_cut_short = True

        fit_sport, fit_sub_sport = _session_sport(session, msgs)
        sport = map_sport(fit_sport, fit_sub_sport)
        steps = sport in STEP_CADENCE_SPORTS and _counts_one_foot(records, chosen, session, sport)

        streams = _streams(records, chosen, start_s, steps) if len(chosen) else None
        distance = _num(session, "total_distance")
        # A session distance of 0 next to records that moved is a device that measured none while a Connect IQ
        # app did (its developer field filled the records' distance).
        if not distance and streams is not None:
            if streams.distance_m is not None:
                distance = float(np.nanmax(streams.distance_m))
            elif streams.lat_deg is not None and streams.lon_deg is not None:
                distance = _haversine_m(streams.lat_deg, streams.lon_deg)
        # A session average of 0 bpm means "no heart-rate sensor", not a heart at rest.
        avg_hr = _num(session, "avg_heart_rate") or None
        max_hr = _num(session, "max_heart_rate") or None
        if streams is not None and streams.heart_rate_bpm is not None:
            beats = streams.heart_rate_bpm[streams.heart_rate_bpm > 0]
            if avg_hr is None and len(beats):
                avg_hr = float(np.mean(beats))
            if max_hr is None and len(beats):
                max_hr = float(np.max(beats))
        avg_cadence = _cadence_spm(session, "avg_cadence", "avg_fractional_cadence", steps)
        if avg_cadence is None and streams is not None and streams.cadence_spm is not None:
            moving = streams.cadence_spm[streams.cadence_spm > 0]
            avg_cadence = float(np.mean(moving)) if len(moving) else None
        start_utc = datetime.fromtimestamp(start_s, UTC)
        span_end = start_s + (elapsed or 0.0)
        check_dates(start_utc, seconds_to_datetime(span_end))
        laps = _laps_in(msgs, start_s, span_end + 1.0, steps, everything=len(sessions) == 1, shift_s=shift_s)
        if len(sessions) == 1 and laps and streams is not None and not notes:
            laps = _laps_covering(laps, streams, start_s, session_cut_short, fixes)
        damage = [msgs.damaged] if msgs.damaged else []
        if notes:
            damage.append("; ".join(notes))
        extra: dict[str, object] = {"fit_sport": str(fit_sport) if fit_sport is not None else None}
        if fit_sub_sport is not None:
            extra["fit_sub_sport"] = str(fit_sub_sport)
        if fixes:
            extra["fit_fixes"] = fixes
        if shift_s is not None:
            extra["start_given"] = "the file has no calendar date: start given at import"
        activities.append(
            Activity(
                sport=sport,
                start_utc=start_utc,
                source_format="fit",
                utc_offset_s=offset,
                distance_m=distance,
                moving_time_s=timer,
                elapsed_time_s=elapsed,
                ascent_m=_num(session, "total_ascent"),
                descent_m=_num(session, "total_descent"),
                avg_heart_rate_bpm=avg_hr,
                max_heart_rate_bpm=max_hr,
                avg_cadence_spm=avg_cadence,
                laps=laps,
                streams=streams,
                device=device,
                damaged="; ".join(damage) if damage else None,
                extra=extra,
            )
        )
    if not activities:
        if len(order) == 0 and n and not np.isnan(timestamps).all():
            raise CorruptFile(_NO_DATES)
        raise CorruptFile("FIT sessions without a usable start time or records")
    return activities


def _timer_time_from_events(msgs: FitMessages, first_s: float, last_s: float) -> float | None:
    """Seconds between timer start and stop events inside [first_s, last_s]; None without timer events."""
    running_since: float | None = None
    total = 0.0
    seen = False
    for event in msgs.events:
        if event.get("event") != "timer":
            continue
        stamp = event.get("timestamp")
        if not isinstance(stamp, datetime):
            continue
        t = min(max(stamp.timestamp(), first_s), last_s)
        kind = str(event.get("event_type") or "")
        if kind == "start":
            seen = True
            if running_since is None:
                running_since = t
        elif kind.startswith("stop") and running_since is not None:
            total += t - running_since
            running_since = None
    if not seen:
        return None
    if running_since is not None:  # the recording ends without a stop event: the timer ran to the end
        total += last_s - running_since
    return total


def _check_totals_against_records(
    msgs: FitMessages,
    records: dict[str, np.ndarray],
    chosen: np.ndarray,
    start_s: float,
    elapsed: float,
    timer: float | None,
    distance: float | None,
) -> tuple[float, float | None, float | None, str] | None:
    """(elapsed, timer, distance, why) from the records when the session totals leave out their end.

    Some watches (Suunto Ambit 3) write session totals that stop at the last lap but one, while the records
    and the timer events run on to the finish. The totals are replaced only when the records' time span and
    their last distance (or, without a distance, the timer events) both say the session ends too early.
    """
    t = records["timestamp"][chosen]
    record_end = float(np.max(t))
    span = record_end - start_s
    if span <= elapsed + max(_TOTALS_SLACK_S, _TOTALS_SLACK_SHARE * elapsed):
        return None
    column = records.get("distance")
    last_distance = None
    if column is not None and np.any(~np.isnan(column[chosen])):
        last_distance = float(np.nanmax(column[chosen]))
    events_timer = _timer_time_from_events(msgs, start_s, record_end)
    if last_distance is not None and distance is not None:
        if last_distance <= distance + max(_TOTALS_SLACK_M, _TOTALS_SLACK_SHARE * distance):
            return None  # the distance agrees with the session: records after the finish, not a lost lap
    elif events_timer is None or events_timer <= elapsed + _TOTALS_SLACK_S:
        return None
    if events_timer is not None and (timer is None or events_timer >= timer) and events_timer <= span + 1.0:
        new_timer: float | None = events_timer
    else:
        new_timer = None if timer is None else timer + (span - elapsed)
    why = (
        f"session totals stop at {elapsed:.0f} s but the records run {span:.0f} s: "
        "totals taken from the records and timer events"
    )
    return span, new_timer, last_distance if last_distance is not None else distance, why


def _laps_covering(
    laps: tuple[Lap, ...], streams: Streams, start_s: float, cut_short: bool, fixes: list[str]
) -> tuple[Lap, ...]:
    """The laps, plus one for the end of the records when the device's laps stop before it (a lost lap)."""
    ends = [lap.start_utc.timestamp() + (lap.elapsed_time_s or 0.0) for lap in laps]
    laps_end = max(ends) - start_s
    time_s = streams.time_s
    record_end = float(time_s[-1])
    if record_end <= laps_end + _TOTALS_SLACK_S:
        return laps
    tail = time_s >= laps_end
    distance = None
    if streams.distance_m is not None:
        column = streams.distance_m
        before = column[(time_s <= laps_end) & ~np.isnan(column)]
        after = column[tail & ~np.isnan(column)]
        if len(after):
            distance = float(np.max(after) - (np.max(before) if len(before) else 0.0))
        if not cut_short and (distance is None or distance < _TOTALS_SLACK_M):
            return laps  # records standing still after the last lap: nothing was left out
        # The added lap must close the gap between the laps' distance and the records' (lap times that are
        # not wall-clock times, as in sports-lib's inverted-times sample, would otherwise add a phantom lap).
        total = float(np.nanmax(column)) if np.any(~np.isnan(column)) else 0.0
        laps_distance = sum(lap.distance_m or 0.0 for lap in laps)
        if abs(laps_distance + (distance or 0.0) - total) > max(_TOTALS_SLACK_M, _TOTALS_SLACK_SHARE * total):
            return laps
    elif not cut_short:
        return laps
    hr = None
    if streams.heart_rate_bpm is not None:
        beats = streams.heart_rate_bpm[tail]
        beats = beats[beats > 0]
        hr = beats if len(beats) else None
    cadence = None
    if streams.cadence_spm is not None:
        steps = streams.cadence_spm[tail]
        steps = steps[steps > 0]
        cadence = float(np.mean(steps)) if len(steps) else None
    elapsed = record_end - laps_end
    fixes.append(f"the laps stop {elapsed:.0f} s before the records end: added a lap for the rest")
    last = Lap(
        start_utc=datetime.fromtimestamp(start_s + laps_end, UTC),
        elapsed_time_s=elapsed,
        moving_time_s=elapsed,
        distance_m=distance,
        avg_heart_rate_bpm=float(np.mean(hr)) if hr is not None else None,
        max_heart_rate_bpm=float(np.max(hr)) if hr is not None else None,
        avg_cadence_spm=cadence,
    )
    return (*laps, last)


def _streams(records: dict[str, np.ndarray], chosen: np.ndarray, start_s: float, steps: bool) -> Streams:
    def pick(name: str) -> np.ndarray | None:
        column = records.get(name)
        return None if column is None else _present(column[chosen])

    cadence = pick("cadence")
    if cadence is not None:
        fraction = pick("fractional_cadence")
        if fraction is not None:
            cadence = cadence + np.nan_to_num(fraction)
        if steps:
            cadence = cadence * 2.0
    lat, lon = pick("position_lat"), pick("position_long")
    if lat is None or lon is None:
        lat = lon = None
    return Streams(
        time_s=records["timestamp"][chosen] - start_s,
        lat_deg=lat,
        lon_deg=lon,
        altitude_m=pick("altitude"),
        distance_m=pick("distance"),
        speed_m_s=pick("speed"),
        heart_rate_bpm=pick("heart_rate"),
        cadence_spm=cadence,
        power_w=pick("power"),
    )


# ---------------------------------------------------------------------------------------------- entry point


def read_fit(
    data: bytes, limits: Limits = DEFAULT_LIMITS, *, start_utc: datetime | None = None
) -> list[Activity]:
    """Activities in one (gunzipped) FIT file: fast decoder first, fitdecode when it declines.

    Raises CorruptFile (nothing usable decoded), NotAnActivity (settings, monitoring, ... files) or
    LimitExceeded.
    """
    if not data:
        raise CorruptFile("empty file")
    if len(data) < 12 or data[8:12] != b".FIT":
        raise CorruptFile("not a FIT file (no .FIT signature in the header)")
    try:
        msgs = decode_fast(data)
        if msgs.n_records > limits.max_points:
            raise LimitExceeded(f"more than {limits.max_points} records")
        if msgs.damaged is None:
            _, problems = check_parts(data)
            if problems:
                msgs.damaged = "; ".join(problems) + _DAMAGE_SUFFIX
    except FastDecodeUnsupported:
        msgs = decode_with_fitdecode(data, limits)
    if not msgs.file_ids and not msgs.sessions and msgs.n_records == 0:
        reason = msgs.damaged.removesuffix(_DAMAGE_SUFFIX) if msgs.damaged else "no FIT messages"
        raise CorruptFile(f"not a readable FIT file ({reason})")
    return build_activities(msgs, start_utc=start_utc)
