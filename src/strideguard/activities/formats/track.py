"""Shared arithmetic for GPS tracks read from GPX and TCX: timestamps, distance, moving time, climb, averages.

All functions are pure and work on NumPy arrays; missing samples are NaN.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np

from strideguard.activities.formats.dates import GIVE_START_HINT, date_problem, seconds_to_datetime
from strideguard.activities.formats.errors import CorruptFile

# Mean Earth radius R1 = (2a + b) / 3 of the WGS-84/GRS-80 ellipsoid (Moritz, "Geodetic Reference System
# 1980", J. Geodesy 2000). A sphere is within ~0.3% of the ellipsoid; over a run's short steps the error
# is well below GPS noise.
EARTH_RADIUS_M = 6_371_008.8

# Moving time: a step counts when the runner moved at >= 0.5 m/s (1.8 km/h, well below walking pace, so
# GPS jitter while standing still does not count as moving) and the gap to the previous point is <= 30 s
# (a longer gap is a pause or a lost signal: the watch auto-pauses or stops recording).
MOVING_MIN_SPEED_M_S = 0.5
MOVING_MAX_GAP_S = 30.0

# Ascent/descent: altitude changes smaller than this reversal threshold are noise (barometric and GPS
# altitude wander by 1-3 m while standing still); see `climb_m`.
CLIMB_HYSTERESIS_M = 3.0

MAX_BACKWARD_SHARE = 0.05

_ISO_TIME = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_ZONE_SUFFIX = re.compile(r"(?<=\d)(Z|[+-]\d{2}:\d{2})$")
_LOOSE_FORMATS = ("%b %d %Y, %H:%M:%S", "%b %d, %Y %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y %H:%M:%S")


def parse_time(text: str | None) -> tuple[float, int | None] | None:
    """Parse a timestamp loosely: (seconds since 1970 UTC, local UTC offset in s or None), None if unreadable.

    Accepts ISO-8601 with 'T' or a space, any number of fractional digits, 'Z' or '+hh:mm'/'+hhmm'/'+hh'
    (Strava writes TCX times without milliseconds, Garmin with), and a few non-ISO forms seen in the wild
    ("Jan 5 2012, 14:56:11"). Times without a zone are UTC: GPX 1.1 and TCX define their times as UTC.
    An explicit zone other than UTC gives the local offset; 'Z' and '+00:00' say nothing about local time.
    """
    if not text:
        return None
    match = _ISO_TIME.match(text)
    if match is not None:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
            )
        except ValueError:
            return None
        seconds = moment.timestamp() + (float("0." + fraction) if fraction else 0.0)
        offset: int | None = None
        if zone and zone[0] in "+-":
            digits = zone[1:].replace(":", "")
            offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) >= 4 else 0)
            if zone[0] == "-":
                offset = -offset
            seconds -= offset
            if offset == 0:
                offset = None
        return seconds, offset
    for pattern in _LOOSE_FORMATS:
        try:
            moment = datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        return moment.timestamp(), None
    return None


def parse_times(texts: list[str | None]) -> tuple[np.ndarray, int | None]:
    """Parse many timestamps: (seconds since 1970 UTC as float64, NaN where missing or unreadable; offset).

    Fast path: when every present string is ISO-8601 with the same zone suffix ('Z', '+00:00', '+02:00'),
    NumPy parses them in one vectorised call. Otherwise each is parsed loosely (`parse_time`). The offset
    is the first explicit non-UTC zone found, else None.
    """
    present = [t for t in texts if t]
    suffix = _ZONE_SUFFIX.search(present[0]) if present else None
    if suffix is not None and all(t.endswith(suffix.group()) for t in present):
        cut = len(suffix.group())
        try:
            stamps = np.array([t[:-cut] if t else "NaT" for t in texts], dtype="datetime64[us]")
        except ValueError:
            pass
        else:
            values = stamps.astype("int64").astype(np.float64) / 1e6
            values[np.isnat(stamps)] = np.nan
            offset = parse_time("2000-01-01T00:00:00" + suffix.group())
            zone = offset[1] if offset else None
            return values - (zone or 0), zone
    values = np.full(len(texts), np.nan)
    offset: int | None = None
    for i, text in enumerate(texts):
        parsed = parse_time(text)
        if parsed is not None:
            values[i] = parsed[0]
            if offset is None and parsed[1] is not None:
                offset = parsed[1]
    return values, offset


def check_plausible_times(
    first_s: float, last_s: float, *, now: datetime | None = None, start_given: bool = False
) -> None:
    """The one date rule (dates.py): refuse tracks before 1990 or ending after tomorrow, naming the way out
    (the runner's start) unless the runner gave one."""
    problem = date_problem(seconds_to_datetime(first_s), seconds_to_datetime(last_s), now=now)
    if problem is not None:
        raise CorruptFile(problem if start_given else f"{problem}; {GIVE_START_HINT}")


def shift_to_given_start(first_s: float, last_s: float, start_utc: datetime | None) -> float | None:
    """Seconds to add to a track's times so that it starts at the runner's given start (`import --start`),
    when its own times break the date rule (a clock never set: 1970, 1901, 2099); None when no start was
    given or the track's dates are fine (the file's own times win)."""
    if start_utc is None or date_problem(seconds_to_datetime(first_s), seconds_to_datetime(last_s)) is None:
        return None
    return start_utc.timestamp() - first_s


# extra["start_given"] of an activity dated by the runner's start, by what the file lacked.
START_GIVEN_NO_TIMES = "the file has no times: start given at import, durations unknown"
START_GIVEN_LAPS_ONLY = "the file has no times: start given at import, the laps follow each other from it"
START_GIVEN_BAD_DATES = "the file's dates are impossible (a clock that was not set): start given at import"


def utc_datetime(seconds: float) -> datetime:
    """Seconds since 1970 -> aware UTC datetime (microsecond precision)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=round(seconds * 1e6))


def in_time_order(seconds: np.ndarray) -> np.ndarray | None:
    """Indices that put samples in time order, or None when they already are.

    A few samples stamped earlier than one before them are clock glitches (Garmin Edge 705 repeats a
    second now and then; gpxpy's first_and_last_elevation ends with a point an hour back): dropping them
    keeps the path as recorded. When more than MAX_BACKWARD_SHARE of the samples (and more than 2) go
    back, whole blocks were written out of order, and a stable sort by time restores them.
    """
    if len(seconds) < 2 or not np.any(np.diff(seconds) < 0):
        return None
    backwards = seconds < np.maximum.accumulate(seconds)
    if backwards.sum() <= max(2, MAX_BACKWARD_SHARE * len(seconds)):
        return np.flatnonzero(~backwards)
    return np.argsort(seconds, kind="stable")


def haversine_steps_m(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres from each point to the next (n-1 values; NaN for a missing position).

    Haversine formula on a sphere of radius EARTH_RADIUS_M:
    d = 2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2))), φ latitude, λ longitude, in radians.
    """
    if len(lat_deg) < 2:
        return np.zeros(0)
    phi = np.radians(lat_deg)
    lam = np.radians(lon_deg)
    dphi = np.diff(phi)
    dlam = np.diff(lam)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi[:-1]) * np.cos(phi[1:]) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def moving_time_s(time_s: np.ndarray, step_m: np.ndarray, breaks: np.ndarray | None = None) -> float:
    """Seconds spent moving: steps at >= MOVING_MIN_SPEED_M_S over gaps <= MOVING_MAX_GAP_S.

    `step_m[i]` is the distance from point i to i+1; `breaks[i]` True excludes that step (segment change).
    Steps with an unknown distance (NaN) do not count.
    """
    if len(time_s) < 2:
        return 0.0
    dt = np.diff(time_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = step_m / dt
    moving = (dt > 0) & (dt <= MOVING_MAX_GAP_S) & (speed >= MOVING_MIN_SPEED_M_S)
    if breaks is not None:
        moving &= ~breaks
    return float(dt[moving].sum())


def climb_m(altitude_m: np.ndarray, threshold_m: float = CLIMB_HYSTERESIS_M) -> tuple[float, float] | None:
    """Total ascent and descent in metres with hysteresis; None when there is no altitude.

    A climb starts once the altitude has risen `threshold_m` above the last turning point; from then on
    every further rise counts in full until the altitude falls `threshold_m` below the highest point (and
    the same for descents). Wobbles smaller than the threshold never count, real climbs count completely.
    """
    values = altitude_m[np.isfinite(altitude_m)]
    if len(values) == 0:
        return None
    ascent = descent = 0.0
    reference = float(values[0])
    direction = 0  # +1 climbing, -1 descending, 0 not yet known
    for value in values[1:].tolist():
        change = value - reference
        if direction > 0:
            if change > 0:
                ascent += change
                reference = value
            elif change <= -threshold_m:
                descent -= change
                reference = value
                direction = -1
        elif direction < 0:
            if change < 0:
                descent -= change
                reference = value
            elif change >= threshold_m:
                ascent += change
                reference = value
                direction = 1
        elif change >= threshold_m:
            ascent += change
            reference = value
            direction = 1
        elif change <= -threshold_m:
            descent -= change
            reference = value
            direction = -1
    return ascent, descent


def time_weighted_mean(values: np.ndarray, time_s: np.ndarray, *, positive_only: bool = True) -> float | None:
    """Mean of a sampled signal weighting each sample by the time to the next one (capped at 30 s).

    Devices with "smart recording" write a point only when something changes, so a plain sample mean
    over-weights busy stretches. Zero/negative values are treated as missing when `positive_only`
    (a heart rate of 0 is an absent sensor). None when no sample is usable.
    """
    if len(values) == 0:
        return None
    weights = np.clip(np.diff(time_s, append=time_s[-1]), 0.0, MOVING_MAX_GAP_S)
    usable = np.isfinite(values)
    if positive_only:
        usable &= values > 0
    if not usable.any():
        return None
    if weights[usable].sum() <= 0:
        return float(values[usable].mean())
    return float(np.average(values[usable], weights=weights[usable]))


def finite_max(values: np.ndarray, *, positive_only: bool = True) -> float | None:
    """Largest finite (and positive) value, else None."""
    usable = values[np.isfinite(values)]
    if positive_only:
        usable = usable[usable > 0]
    return float(usable.max()) if len(usable) else None


def column_or_none(values: list[float]) -> np.ndarray | None:
    """Float64 array of `values`, or None when no sample is present (all NaN)."""
    array = np.asarray(values, dtype=np.float64)
    return array if np.isfinite(array).any() else None
