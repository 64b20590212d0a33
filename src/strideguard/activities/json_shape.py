"""One JSON shape for an activity summary, shared by `strideguard runs --json` and `GET /api/activities`.

SI units (metres, seconds, bpm, steps/min); `date` is the runner's local date, the day load analytics use.
"""

from __future__ import annotations

from typing import Any

from strideguard.model import Activity


def activity_json(activity: Activity) -> dict[str, Any]:
    """The summary fields a script wants, in SI units."""
    return {
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
        "source_format": activity.source_format,
        "source_name": activity.source_name,
        "damaged": activity.damaged,
    }
