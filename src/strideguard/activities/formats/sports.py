"""Map the sport names found in activity files and exports to StrideGuard's `SPORTS`.

One table serves GPX `<type>`, TCX `Sport="..."`, Strava's activity types (`Run`, `TrailRun`, `VirtualRun`,
`activities.csv` "Activity Type") and Strava's numeric GPX types. Anything not foot-based (rides, swims,
skiing, paddling, workouts, ...) is "other": StrideGuard is a runners' log and only needs to tell runs,
walks and hikes apart from the rest.
"""

from __future__ import annotations

import re

from strideguard.model import SPORTS

# Strava writes its activity type as a number in the GPX `<type>` of its own exports ("StravaGPX" creator).
# Verified on the shared sample files: 9 = Run (sportslib__1681613317.gpx, "Run avec Nico & Mag") and
# 16 = Swim (sportslib__4623204522-1.gpx, "Morning Swim"); 1 = Ride, 4 = Hike and 10 = Walk follow Strava's
# legacy activity-type ids as used by community tools (unverified on a real export).
STRAVA_GPX_TYPE_CODES: dict[str, str] = {"1": "other", "4": "hike", "9": "run", "10": "walk", "16": "other"}

# Keys are normalised names: lower case, with spaces, '-', '_' and '/' removed.
_NAMES: dict[str, str] = {
    # running
    "run": "run",
    "running": "run",
    "streetrunning": "run",
    "roadrunning": "run",
    "trackrunning": "run",
    "ultrarun": "run",
    "ultrarunning": "run",
    "jogging": "run",
    "race": "run",
    "laufen": "run",
    "lauf": "run",
    "course": "run",
    "courseapied": "run",
    "correr": "run",
    "carrera": "run",
    "hardlopen": "run",
    # trail running
    "trailrun": "trail_run",
    "trailrunning": "trail_run",
    "runningtrail": "trail_run",
    "trail": "trail_run",
    "mountainrunning": "trail_run",
    "fellrunning": "trail_run",
    # treadmill / indoor running (Strava calls it VirtualRun when a treadmill app recorded it)
    "treadmill": "treadmill",
    "treadmillrunning": "treadmill",
    "runningtreadmill": "treadmill",
    "indoorrunning": "treadmill",
    "indoorrun": "treadmill",
    "virtualrun": "treadmill",
    # walking
    "walk": "walk",
    "walking": "walk",
    "casualwalking": "walk",
    "speedwalking": "walk",
    "racewalking": "walk",
    "indoorwalking": "walk",
    "nordicwalking": "walk",
    # hiking
    "hike": "hike",
    "hiking": "hike",
    "mountaineering": "hike",
    "snowshoe": "hike",
    "snowshoeing": "hike",
}

_SEPARATORS = re.compile(r"[\s\-_/]+")
FOOT_SPORTS = frozenset({"run", "trail_run", "treadmill", "walk", "hike"})


def normalise_name(text: str) -> str:
    """Lower case without spaces, '-', '_' or '/': 'Trail Run' -> 'trailrun'."""
    return _SEPARATORS.sub("", text.strip().lower())


def sport_from_name(text: str | None, default: str = "other") -> str:
    """Map a sport/type name from a file or export to one of `SPORTS`.

    `default` is returned for empty text; a non-empty name that is not known is "other" (it names some
    sport, just not one StrideGuard tells apart). Already-canonical names ("trail_run") map to themselves.
    """
    if default not in SPORTS:
        raise ValueError(f"default sport {default!r} is not one of {', '.join(SPORTS)}")
    if text is None or not text.strip():
        return default
    stripped = text.strip()
    if stripped in SPORTS:
        return stripped
    if stripped.isdigit():
        return STRAVA_GPX_TYPE_CODES.get(stripped.lstrip("0") or "0", "other")
    return _NAMES.get(normalise_name(stripped), "other")


def is_foot_sport(sport: str) -> bool:
    """True for sports whose cadence is counted in steps (runs, walks, hikes), not pedal revolutions."""
    return sport in FOOT_SPORTS


# Faster than any runner keeps up over a whole activity (the marathon record averages ~21 km/h); a "run"
# above this was recorded in a car, on a train or on a bike, and would wreck the load analytics.
MAX_FOOT_SPEED_KMH = 30.0


def implausible_foot_speed(sport: str, distance_m: float | None, duration_s: float | None) -> float | None:
    """The average speed in km/h when a foot sport's distance and duration give more than
    MAX_FOOT_SPEED_KMH, else None. Activities under 1 km are left alone (GPS jumps on short files)."""
    if not is_foot_sport(sport) or not distance_m or distance_m < 1000 or not duration_s or duration_s <= 0:
        return None
    kmh = distance_m / duration_s * 3.6
    return kmh if kmh > MAX_FOOT_SPEED_KMH else None
