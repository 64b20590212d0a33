"""Numbers and names as people read them, shared by the CLI and the web so both print the same text. Pure.

Pace is rounded once, on whole seconds per km (5:32.6 -> 5:33, 5:59.6 -> 6:00), never truncated.
"""

from __future__ import annotations

import math

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


def pace_seconds_per_km(distance_m: float | None, duration_s: float | None) -> int | None:
    """Whole seconds per km (rounded), or None when there is too little distance or no time."""
    if not distance_m or not duration_s or distance_m < 10 or not math.isfinite(distance_m * duration_s):
        return None
    return round(duration_s / (distance_m / 1000))


def format_pace_s(seconds_per_km: float | None) -> str:
    """Seconds per km -> 'm:ss' (rounded to the second); blank when unknown."""
    if seconds_per_km is None or not math.isfinite(seconds_per_km):
        return ""
    minutes, seconds = divmod(round(seconds_per_km), 60)
    return f"{minutes}:{seconds:02d}"


def format_pace(distance_m: float | None, duration_s: float | None, unit: str = " /km") -> str:
    """Pace as 'm:ss /km' from metres and seconds; blank when it cannot be computed."""
    per_km = pace_seconds_per_km(distance_m, duration_s)
    return "" if per_km is None else format_pace_s(per_km) + unit


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
