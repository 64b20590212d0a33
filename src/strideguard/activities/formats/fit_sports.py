"""FIT sport/sub_sport (profile enum names, as fitdecode renders them) -> StrideGuard sport."""

from __future__ import annotations

# FIT profile `sub_sport` values that mean a run without ground under the runner's feet moving past.
_INDOOR_RUN_SUB_SPORTS = frozenset({"treadmill", "indoor_running", "virtual_activity"})
_TRAIL_SUB_SPORTS = frozenset({"trail"})

# Sports whose FIT cadence counts one foot (strides per minute): steps per minute is twice that.
# FIT profile: record.cadence is "rpm"; for running devices it is strides (one foot) per minute.
STEP_CADENCE_SPORTS = frozenset({"run", "trail_run", "treadmill", "walk", "hike"})


def map_sport(sport: object, sub_sport: object) -> str:
    """Map FIT `sport`/`sub_sport` to one of model.SPORTS.

    running -> run, running/trail -> trail_run,
    running/treadmill|indoor_running|virtual_activity -> treadmill,
    walking -> walk, hiking -> hike, anything else (cycling, swimming, transition, unknown numbers) -> other.
    """
    if sport == "running":
        if sub_sport in _TRAIL_SUB_SPORTS:
            return "trail_run"
        if sub_sport in _INDOOR_RUN_SUB_SPORTS:
            return "treadmill"
        return "run"
    if sport == "walking":
        return "walk"
    if sport == "hiking":
        return "hike"
    return "other"


# file_id.type values that are not activities, with the words users see ("settings file, not an activity").
NON_ACTIVITY_FILE_TYPES = {
    "device": "device description file",
    "settings": "settings file",
    "sport": "sport settings file",
    "workout": "workout file",
    "course": "course file",
    "schedules": "schedule file",
    "weight": "weight scale file",
    "totals": "totals file",
    "goals": "goals file",
    "blood_pressure": "blood pressure file",
    "monitoring_a": "monitoring file",
    "activity_summary": "activity summary file",
    "monitoring_daily": "monitoring file",
    "monitoring_b": "monitoring file",
    "segment": "segment file",
    "segment_list": "segment list file",
    "exd_configuration": "data screen configuration file",
    "mfg_range_min": "manufacturer-specific file",
    "mfg_range_max": "manufacturer-specific file",
}
