"""Numbers and names as people read them: the one format and rounding rule for the CLI, the web pages, the
report and the API's display fields. Pure.

Stored values stay SI (metres, seconds); a runner reads them in kilometres or miles (`unit`, "km" or "mi",
a per-athlete setting whose default comes from the locale, see `default_unit`).

The rules, applied everywhere:
- Distances: one decimal (12.3 km, 7.6 mi); a single activity's own distance in tables and on its page: two
  (10.02 km), a lap's three (0.400 km: intervals are measured in metres). A sentence that compares
  distances which would read equal at one decimal shows two (risk.py).
- Pace for runs, walks and hikes (5:24/km, 8:41/mi), rounded once on whole seconds (5:59.6 -> 6:00, never
  truncated); speed for rides (24.3 km/h, 15.1 mph); time per 100 m for swims (2:05/100 m).
- Durations: m:ss under an hour, h:mm:ss from an hour (46:22, 1:05:00).
- Percentages: whole numbers with no space (+12%, 17%); more decimals only where a threshold needs them.
- Numbers round half away from zero on the shown digit (2.25 -> 2.3), not to the nearest even.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

# Readable sport names (ids stay in URLs, forms and JSON).
SPORT_LABELS = {
    "run": "Run",
    "trail_run": "Trail run",
    "treadmill": "Treadmill",
    "walk": "Walk",
    "hike": "Hike",
    "other": "Other",
}

# Cadence outside this band is a sensor glitch or standing still, not running or walking (steps per minute).
PLAUSIBLE_CADENCE_SPM = (60.0, 260.0)

# FIT files from test tools and some apps name no real device: manufacturer "development", product 0.
_MEANINGLESS_DEVICES = frozenset({"development", "development 0", "0", "unknown", "unknown 0"})

# ------------------------------------------------------------------------------------------------------------
# kilometres or miles

UNITS = ("km", "mi")
METRES_PER = {"km": 1000.0, "mi": 1609.344}
UNIT_NAMES = {"km": "kilometres", "mi": "miles"}
# Territories that measure road distance in miles and have not adopted the metric system for it (glibc's
# LC_MEASUREMENT is "US" for them): the United States, Liberia, Myanmar. Everywhere else: kilometres.
MILE_TERRITORIES = frozenset({"US", "LR", "MM"})
_LOCALE = re.compile(r"^[A-Za-z]{2,3}[_-]([A-Za-z]{2})\b")


def check_unit(unit: str) -> str:
    """'km' or 'mi' (also 'miles', 'kilometres', any case); ValueError for anything else."""
    text = unit.strip().lower()
    aliases = {"k": "km", "kms": "km", "kilometres": "km", "kilometers": "km", "mile": "mi", "miles": "mi"}
    text = aliases.get(text, text)
    if text not in UNITS:
        raise ValueError(f"{unit!r} is not a distance unit; use km or mi")
    return text


def unit_from_locale_name(name: str | None) -> str | None:
    """'en_US.UTF-8' -> 'mi', 'de_DE' -> 'km', 'en-US' (a browser's language) -> 'mi'; None without a
    territory ('C', 'POSIX', 'en')."""
    if not name:
        return None
    match = _LOCALE.match(name.strip())
    if match is None:
        return None
    return "mi" if match.group(1).upper() in MILE_TERRITORIES else "km"


def default_unit(environ: Mapping[str, str] | None = None) -> str:
    """The unit this machine's locale measures in: LC_ALL, then LC_MEASUREMENT, then LANG (POSIX order)."""
    env = os.environ if environ is None else environ
    for key in ("LC_ALL", "LC_MEASUREMENT", "LANG"):
        value = env.get(key)
        if value:
            return unit_from_locale_name(value) or "km"
    return "km"


def unit_from_accept_language(header: str | None) -> str | None:
    """The unit of the first language with a region in a browser's Accept-Language ('en-US,en;q=0.9')."""
    for part in (header or "").split(","):
        unit = unit_from_locale_name(part.split(";")[0])
        if unit is not None:
            return unit
    return None


# ------------------------------------------------------------------------------------------------------------
# numbers


def rounded(value: float, decimals: int = 0) -> float:
    """`value` rounded half away from zero on its shown digits (as a person rounds), not half to even."""
    if not math.isfinite(value):
        return value
    step = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP))


def number(value: float | None, decimals: int = 0) -> str:
    """A number with `decimals` decimals, rounded by `rounded`; blank when unknown; never '-0'."""
    if value is None or not math.isfinite(value):
        return ""
    shown = rounded(value, decimals)
    if shown == 0:
        shown = 0.0
    return f"{shown:.{decimals}f}"


def percent(value: float | None, decimals: int = 0, signed: bool = False) -> str:
    """12.4 -> '12%'; signed: '+12%', '-17%', '0%'."""
    if value is None or not math.isfinite(value):
        return ""
    text = number(value, decimals)
    if signed and rounded(value, decimals) > 0:
        text = "+" + text
    return text + "%"


def distance_value(distance_m: float, unit: str = "km") -> float:
    """Metres in km or mi (a float, for charts and JSON)."""
    return distance_m / METRES_PER[unit]


def to_metres(value: float, unit: str = "km") -> float:
    return value * METRES_PER[unit]


def distance_number(distance_m: float | None, unit: str = "km", decimals: int = 1) -> str:
    """Metres -> '12.3' in km or mi, for a table column headed by the unit; blank when unknown."""
    return "" if distance_m is None else number(distance_m / METRES_PER[unit], decimals)


def distance(distance_m: float | None, unit: str = "km", decimals: int = 1) -> str:
    """Metres -> '12.3 km' or '7.6 mi'; blank when unknown."""
    text = distance_number(distance_m, unit, decimals)
    return f"{text} {unit}" if text else ""


def activity_distance(distance_m: float | None, unit: str = "km") -> str:
    """One activity's own distance, with two decimals ('10.02 km')."""
    return distance(distance_m, unit, 2)


# ------------------------------------------------------------------------------------------------------------
# time, pace, speed


def duration(seconds: float | None) -> str:
    """Seconds -> 'm:ss' under an hour, 'h:mm:ss' from an hour; blank when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    whole = round(rounded(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def spoken_duration(seconds: float) -> str:
    """Seconds in words, as a duration was read: 65 -> '1 min 5 s', 3900 -> '1 h 5 min'."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def pace_seconds_per_km(distance_m: float | None, duration_s: float | None) -> int | None:
    """Whole seconds per km (rounded), or None when there is too little distance or no time."""
    return pace_seconds(distance_m, duration_s, "km")


def pace_seconds(distance_m: float | None, duration_s: float | None, unit: str = "km") -> int | None:
    """Whole seconds per km or mile (rounded), or None when there is too little distance or no time."""
    if not distance_m or not duration_s or distance_m < 10 or not math.isfinite(distance_m * duration_s):
        return None
    return round(rounded(duration_s / (distance_m / METRES_PER[unit])))


def format_pace_s(seconds_per_unit: float | None) -> str:
    """Seconds per km (or mile) -> 'm:ss' (rounded to the second); blank when unknown."""
    if seconds_per_unit is None or not math.isfinite(seconds_per_unit):
        return ""
    minutes, seconds = divmod(round(rounded(seconds_per_unit)), 60)
    return f"{minutes}:{seconds:02d}"


def format_pace(distance_m: float | None, duration_s: float | None, unit: str = "km") -> str:
    """Pace as '5:24/km' or '8:41/mi' from metres and seconds; blank when it cannot be computed."""
    per_unit = pace_seconds(distance_m, duration_s, unit)
    return "" if per_unit is None else f"{format_pace_s(per_unit)}/{unit}"


def pace_label(unit: str = "km") -> str:
    """The axis or column name of a pace: 'min/km' or 'min/mi'."""
    return f"min/{unit}"


def speed_label(unit: str = "km") -> str:
    return "km/h" if unit == "km" else "mph"


def format_speed(distance_m: float | None, duration_s: float | None, unit: str = "km") -> str:
    """Speed as '24.3 km/h' or '15.1 mph'; blank when it cannot be computed."""
    if not distance_m or not duration_s or not math.isfinite(distance_m * duration_s):
        return ""
    per_hour = distance_m / METRES_PER[unit] / (duration_s / 3600.0)
    return f"{number(per_hour, 1)} {speed_label(unit)}"


def format_swim_pace(distance_m: float | None, duration_s: float | None) -> str:
    """Time per 100 m ('2:05/100 m'), the pace swimmers read; blank when it cannot be computed."""
    if not distance_m or not duration_s or distance_m < 10 or not math.isfinite(distance_m * duration_s):
        return ""
    return f"{format_pace_s(duration_s / (distance_m / 100.0))}/100 m"


# Words in an activity's name that tell what an "other" activity was (StrideGuard stores rides, swims and
# the rest as "other"; the name is what the file or the export called it, e.g. Strava's "Morning Ride").
_SWIM_WORDS = re.compile(r"\b(swim\w*|pool|open water|schwimm\w*|natation|nage)\b", re.IGNORECASE)
FOOT_SPORTS = frozenset({"run", "trail_run", "treadmill", "walk", "hike"})


def rate_kind(sport: str | None, name: str | None = None) -> str:
    """How an activity's rate is read: 'pace' for runs, walks and hikes; for 'other' activities 'swim'
    (time per 100 m) when the name says swim, else 'speed' (rides, skiing, paddling, ...)."""
    if sport in FOOT_SPORTS:
        return "pace"
    if name and _SWIM_WORDS.search(name):
        return "swim"
    return "speed"


def rate_label(kind: str, unit: str = "km") -> str:
    """The unit a rate is read in: 'min/km', 'km/h' or 'min/100 m'."""
    return {"pace": pace_label(unit), "speed": speed_label(unit), "swim": "min/100 m"}[kind]


def format_rate(
    sport: str | None,
    distance_m: float | None,
    duration_s: float | None,
    unit: str = "km",
    name: str | None = None,
) -> str:
    """Pace for runs and walks, speed for rides and the rest, time per 100 m for swims."""
    kind = rate_kind(sport, name)
    if kind == "pace":
        return format_pace(distance_m, duration_s, unit)
    if kind == "swim":
        return format_swim_pace(distance_m, duration_s)
    return format_speed(distance_m, duration_s, unit)


# ------------------------------------------------------------------------------------------------------------
# names


def sport_label(sport: str | None) -> str:
    """'trail_run' -> 'Trail run'; an unknown id is shown with spaces for underscores."""
    if not sport:
        return ""
    return SPORT_LABELS.get(sport, sport.replace("_", " "))


def sport_list(sports: list[str] | tuple[str, ...]) -> str:
    """['run', 'trail_run'] -> 'run, trail run' (lower case inside a sentence)."""
    return ", ".join(sport_label(s).lower() for s in sports)


def device_label(device: str | None) -> str | None:
    """The recording device's name, or None when the file names no real device ('development 0')."""
    if device is None or device.strip().lower() in _MEANINGLESS_DEVICES:
        return None
    return device.strip()


def format_rpe(rpe: float | None) -> str:
    """RPE as typed: 6 -> '6', 5.5 -> '5.5' (the CLI and the web accept any number from 0 to 10)."""
    return "" if rpe is None else f"{rpe:g}"
