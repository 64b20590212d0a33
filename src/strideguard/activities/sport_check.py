"""Is it a run? The sport an activity file shows, when it says none or says one it cannot be.

A GPX without `<type>` (or a TCX without `Sport`) is read as a run, and a car trip or a ride stored as a run
becomes the "longest run" that hides later spike warnings. So the importer looks at what the file shows:

- how fast it moved, from a glitch-proof speed (the median over 5 steps: one GPS jump is ignored);
- the activity's own name ("Cycling 10/2/17", "Evening Ride", "Walk") and the app that recorded it;
- cadence, to tell a walk (under 140 steps/min) from a slow run.

Two kinds of finding:

- impossible for anyone on foot (faster than the world record over that distance, or more than 2 minutes
  in one stretch above 30 km/h): the activity is "other" even when the file said run;
- doubtful (only when the file named no sport): a cyclist's median moving speed, a bike or car name, a bike
  computer, a walking pace. Stored as "other" (or walk/hike) with a note saying why.

Either way the note stays with the activity until the runner confirms or overrules it (`strideguard runs
set-sport ID run`, or one click on the activity page); until then it is kept out of the running load.
Pure: numbers in, a verdict out. `speed_profile` runs in the import's worker processes, where the streams are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strideguard.model import RUNNING_SPORTS, Activity

if TYPE_CHECKING:
    from strideguard.model import Streams

KMH = 3.6
MOVING_M_S = 0.5  # as moving time: slower than this is standing
MAX_STEP_S = 30.0  # a longer gap between samples is a pause, not movement
SMOOTH_STEPS = 5  # median of 5 step speeds: a GPS jump of one or two points never counts
# Outdoor world records as (distance m, average km/h), from 1500 m up: nobody on foot averages more over at
# least that distance (1500 m 3:26.00, 3000 m 7:20.67, 5000 m 12:35.36, 10,000 m 26:11.00, half marathon
# 57:30, marathon 2:00:35; World Athletics records, men).
RECORD_KMH = (
    (1500.0, 26.2),
    (3000.0, 24.5),
    (5000.0, 23.8),
    (10_000.0, 22.9),
    (21_097.5, 22.0),
    (42_195.0, 21.0),
)
SPRINT_KMH = 30.0  # nobody runs this fast for 2 minutes (the 800 m record averages 28.5 km/h)
SPRINT_LONGEST_S = 120.0
FAST_KMH = 25.0  # a fast 200 m or 400 m repetition reaches it for under a minute; a bike holds it for long
FAST_LONGEST_S = 100.0  # 800 m at 25 km/h takes 1:55, a time few runners ever run
CYCLIST_MEDIAN_KMH = 20.0  # a median moving speed few runners reach even in a race (3:00/km)
WALK_MEDIAN_KMH = 6.0  # a median moving speed, and a 90th percentile, of someone walking
WALK_P90_KMH = 7.5
MIN_MOVING_S = 300.0  # speed doubts need 5 minutes of movement
# Cadence: a file that names no sport is read as a run, so its cadence was doubled (per foot -> steps), and a
# cyclist's 80 rpm then reads 160 like a runner's; it only tells a walk (under 140 steps/min) apart.
WALK_CADENCE = 140.0

_CYCLING_WORDS = re.compile(
    r"\b(cycl\w*|bike|biking|bicycle|ride|riding|velo|vélo|rad|radfahrt|radtour|fahrrad|mtb|gravel|spinning)\b"
)
_DRIVE_WORDS = re.compile(r"\b(drive|driving|car|bus|train|tram|taxi|motorbike|motorcycle|flight|ferry)\b")
_WALK_WORDS = re.compile(r"\b(walk\w*|spaziergang|wandel\w*|promenade|marche)\b")
_HIKE_WORDS = re.compile(r"\b(hike|hiking|wanderung|randonn[ée]e|trek\w*)\b")
_RUN_WORDS = re.compile(r"\b(run\w*|jog\w*|lauf\w*|course|footing|parkrun|marathon|intervals?|track)\b")
_BIKE_APPS = re.compile(
    r"\b(edge\s?\d*|elemnt|wahoo|zwift|karoo|hammerhead|bryton|lezyne|rox|bike|cycl\w*)\b"
)


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """How an activity moved, from its streams (glitch-proof speeds, moving samples only)."""

    moving_s: float
    distance_m: float  # over the moving samples, from the smoothed speeds
    median_kmh: float
    p90_kmh: float
    longest_sprint_s: float  # the longest stretch above SPRINT_KMH
    longest_fast_s: float  # the longest stretch above FAST_KMH
    cadence: float | None  # median while moving, as stored (steps/min for foot sports)

    @property
    def average_kmh(self) -> float:
        return self.distance_m / self.moving_s * KMH if self.moving_s > 0 else 0.0

    def to_json(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: Any) -> SpeedProfile | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{name: data.get(name) for name in cls.__slots__})
        except TypeError:
            return None


def speed_profile(streams: Streams | None) -> SpeedProfile | None:
    """The profile of `streams`, or None without time and distance (or speed) samples."""
    import numpy as np  # numpy only where streams are

    if streams is None or len(streams) < SMOOTH_STEPS + 1:
        return None
    t = np.asarray(streams.time_s, dtype=np.float64)
    dt = np.diff(t)
    if streams.distance_m is not None and np.isfinite(streams.distance_m).sum() > SMOOTH_STEPS:
        d = np.asarray(streams.distance_m, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.diff(d) / dt
    elif streams.speed_m_s is not None:
        v = np.asarray(streams.speed_m_s, dtype=np.float64)[1:]
    else:
        return None
    ok = np.isfinite(v) & np.isfinite(dt) & (dt > 0) & (dt <= MAX_STEP_S)
    if ok.sum() < SMOOTH_STEPS:
        return None
    v, dt = v[ok], dt[ok]
    window = np.lib.stride_tricks.sliding_window_view(
        np.pad(v, (SMOOTH_STEPS // 2, SMOOTH_STEPS // 2), mode="edge"), SMOOTH_STEPS
    )
    smooth = np.median(window, axis=1)
    moving = smooth >= MOVING_M_S
    moving_s = float(dt[moving].sum())
    if moving_s <= 0:
        return None
    speeds, weights = smooth[moving], dt[moving]
    order = np.argsort(speeds)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    median = float(speeds[order][np.searchsorted(cumulative, 0.5)])
    p90 = float(speeds[order][min(len(order) - 1, int(np.searchsorted(cumulative, 0.9)))])
    longest, longest_fast = (
        _longest_above(smooth, dt, SPRINT_KMH / KMH),
        _longest_above(smooth, dt, FAST_KMH / KMH),
    )
    cadence = None
    if streams.cadence_spm is not None:
        values = np.asarray(streams.cadence_spm, dtype=np.float64)[1:][ok][moving]
        values = values[np.isfinite(values) & (values > 0)]
        if len(values) >= SMOOTH_STEPS:
            cadence = float(np.median(values))
    return SpeedProfile(
        moving_s=moving_s,
        distance_m=float((smooth[moving] * dt[moving]).sum()),
        median_kmh=median * KMH,
        p90_kmh=p90 * KMH,
        longest_sprint_s=longest,
        longest_fast_s=longest_fast,
        cadence=cadence,
    )


def _longest_above(speeds: Any, dt: Any, limit_m_s: float) -> float:
    """The longest time in one stretch of consecutive samples faster than `limit_m_s` (vectorised: it runs
    for every imported file)."""
    import numpy as np  # numpy only where streams are

    fast = np.asarray(speeds) > limit_m_s
    if not fast.any():
        return 0.0
    total = np.cumsum(np.where(fast, dt, 0.0))
    # At each slow sample the running total restarts: subtract the total reached at the last slow sample.
    return float((total - np.maximum.accumulate(np.where(fast, 0.0, total))).max())


def record_kmh(distance_m: float) -> float | None:
    """The world-record average speed for the longest standard distance within `distance_m` (None below
    1500 m: short files are left alone)."""
    best = None
    for distance, kmh in RECORD_KMH:
        if distance_m >= distance:
            best = kmh
    return best


@dataclass(frozen=True, slots=True)
class Verdict:
    """The sport to store and why (the note the runner sees)."""

    sport: str
    note: str


def _fmt(kmh: float) -> str:
    return f"{kmh:.0f} km/h"


def impossible_on_foot(activity: Activity, profile: SpeedProfile | None) -> str | None:
    """Why nobody on foot could have recorded this, or None."""
    if profile is not None and profile.longest_sprint_s >= SPRINT_LONGEST_S:
        return (
            f"{profile.longest_sprint_s / 60:.0f} minutes in one stretch above {_fmt(SPRINT_KMH)}, "
            "faster than anyone runs"
        )
    if profile is not None and profile.moving_s >= 60:
        distance, kmh, how = profile.distance_m, profile.average_kmh, "while moving"
    else:
        duration = activity.moving_time_s or activity.elapsed_time_s
        if not activity.distance_m or not duration:
            return None
        distance, kmh, how = activity.distance_m, activity.distance_m / duration * KMH, "on average"
    record = record_kmh(distance)
    if record is not None and kmh > record:
        return (
            f"{distance / 1000:.1f} km at {_fmt(kmh)} {how}, faster than the world record "
            f"({_fmt(record)} over that distance)"
        )
    return None


def named(activity: Activity) -> Verdict | None:
    """What the activity's own name or the app that recorded it says it was, when not a run."""
    name = (activity.name or "").lower()
    if name and not _RUN_WORDS.search(name):
        for words, sport, what in (
            (_CYCLING_WORDS, "other", "a ride"),
            (_DRIVE_WORDS, "other", "a trip by vehicle"),
            (_WALK_WORDS, "walk", "a walk"),
            (_HIKE_WORDS, "hike", "a hike"),
        ):
            if words.search(name):
                return Verdict(sport, f"the file names no sport and its name, {activity.name!r}, says {what}")
    device = (activity.device or "").lower()
    if device and _BIKE_APPS.search(device):
        return Verdict(
            "other", f"the file names no sport and was recorded by a bike computer ({activity.device})"
        )
    return None


def doubtful(profile: SpeedProfile | None) -> Verdict | None:
    """What the speeds of a file that named no sport show instead of a run, or None."""
    if profile is None or profile.moving_s < MIN_MOVING_S:
        return None
    if profile.longest_fast_s >= FAST_LONGEST_S:
        return Verdict(
            "other",
            f"the file names no sport and it moved above {_fmt(FAST_KMH)} for "
            f"{profile.longest_fast_s / 60:.0f} minutes in one stretch, a ride's speed, not a runner's",
        )
    if profile.median_kmh > CYCLIST_MEDIAN_KMH:
        return Verdict(
            "other",
            f"the file names no sport and its median moving speed, {_fmt(profile.median_kmh)}, is a "
            "cyclist's (few runners hold 3:00/km)",
        )
    cadence = profile.cadence
    if (
        profile.median_kmh < WALK_MEDIAN_KMH
        and profile.p90_kmh < WALK_P90_KMH
        and (cadence is None or cadence < WALK_CADENCE)
    ):
        return Verdict(
            "walk",
            f"the file names no sport and it moved at a walking pace ({_fmt(profile.median_kmh)} median, "
            f"{_fmt(profile.p90_kmh)} at its quicker moments)",
        )
    return None


def judge(activity: Activity, profile: SpeedProfile | None, declared: bool) -> Verdict | None:
    """The sport to store instead of `activity.sport`, with the reason, or None to keep it.

    `declared`: the file (or the export it came in) named the sport; then only the impossible changes it.
    """
    if not declared and activity.sport in RUNNING_SPORTS and (verdict := named(activity)) is not None:
        return verdict  # the runner's own words first
    if activity.sport in RUNNING_SPORTS or activity.sport in ("walk", "hike"):
        reason = impossible_on_foot(activity, profile)
        if reason is not None:
            said = (
                "the file says " + activity.sport.replace("_", " ") if declared else "the file names no sport"
            )
            return Verdict("other", f"{said}, but it shows {reason}")
    if declared or activity.sport not in RUNNING_SPORTS:
        return None
    return doubtful(profile)


def declared_sport(activity: Activity) -> bool:
    """Whether the file or its export named the sport (FIT always does; GPX `<type>`, TCX `Sport`)."""
    if activity.source_format in ("fit", "manual"):
        return True
    extra = activity.extra
    return bool(extra.get("source_type") or extra.get("declared_sport"))
