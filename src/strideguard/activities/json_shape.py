"""One JSON shape for an activity summary, shared by `strideguard runs --json` and `GET /api/activities`.

SI units (metres, seconds, bpm, steps/min); `date` is the runner's local date, the day load analytics use.
With a `unit` (km or mi) a `display` object adds the text every screen shows (strideguard.units).
"""

from __future__ import annotations

from typing import Any

from strideguard import units
from strideguard.model import Activity


def display_json(activity: Activity, unit: str) -> dict[str, str]:
    """The activity's numbers as the screens write them in `unit`: distance, time, and pace, speed or time
    per 100 m (`rate_kind` says which)."""
    duration_s = activity.moving_time_s or activity.elapsed_time_s
    name = activity.name or activity.source_name
    return {
        "unit": unit,
        "distance": units.activity_distance(activity.distance_m, unit),
        "duration": units.duration(duration_s),
        "rate": units.format_rate(activity.sport, activity.distance_m, duration_s, unit, name),
        "rate_kind": units.rate_kind(activity.sport, name),
    }


def activity_json(activity: Activity, unit: str | None = None) -> dict[str, Any]:
    """The summary fields a script wants, in SI units (and their display text in `unit`, when given)."""
    data = {
        "id": activity.id,
        "date": activity.local_date.isoformat(),
        "start_utc": activity.start_utc.isoformat(),
        "utc_offset_s": activity.utc_offset_s,
        "sport": activity.sport,
        "name": activity.name,
        "distance_m": activity.distance_m,
        "moving_time_s": activity.moving_time_s,
        "elapsed_time_s": activity.elapsed_time_s,
        "ascent_m": activity.ascent_m,
        "descent_m": activity.descent_m,
        "avg_heart_rate_bpm": activity.avg_heart_rate_bpm,
        "max_heart_rate_bpm": activity.max_heart_rate_bpm,
        "avg_cadence_spm": activity.avg_cadence_spm,
        "rpe": activity.rpe,
        "feel": activity.feel,
        "shoe_id": activity.shoe_id,
        "shoe_auto": activity.shoe_auto,  # chosen by its date and the default shoe, not named
        "sport_note": activity.sport_note,  # why the sport was inferred; None once confirmed
        "source_format": activity.source_format,
        "source_name": activity.source_name,
        "damaged": activity.damaged,
    }
    if unit is not None:
        data["display"] = display_json(activity, unit)
    return data
