"""Domain dataclasses shared by importers, store, analytics and interfaces. No I/O here.

Units are SI (metres, seconds, m/s, bpm) unless a name says otherwise; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is loaded by the code that makes or reads streams, not by every command
    import numpy as np

SPORTS = ("run", "trail_run", "treadmill", "walk", "hike", "other")
RUNNING_SPORTS = frozenset({"run", "trail_run", "treadmill"})
# Sports imported from archives unless the runner asks for everything: runs, trail runs, walks, hikes.
DEFAULT_IMPORT_SPORTS = frozenset({"run", "trail_run", "treadmill", "walk", "hike"})
SOURCE_FORMATS = ("fit", "gpx", "tcx", "manual")


def require_utc(value: datetime) -> datetime:
    """Return `value` converted to UTC; refuse naive datetimes (they hide time-zone bugs)."""
    if value.tzinfo is UTC:  # as the database gives them: the dashboard builds a few hundred a view
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {value!r}")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True, eq=False)
class Streams:
    """Per-sample columns of one activity, all the same length.

    `time_s` is seconds since the activity start. Optional columns are None when the file has no such data;
    inside a column, missing samples are NaN.
    """

    time_s: np.ndarray
    lat_deg: np.ndarray | None = None
    lon_deg: np.ndarray | None = None
    altitude_m: np.ndarray | None = None
    distance_m: np.ndarray | None = None
    speed_m_s: np.ndarray | None = None
    heart_rate_bpm: np.ndarray | None = None
    cadence_spm: np.ndarray | None = None
    power_w: np.ndarray | None = None

    COLUMNS = (
        "time_s",
        "lat_deg",
        "lon_deg",
        "altitude_m",
        "distance_m",
        "speed_m_s",
        "heart_rate_bpm",
        "cadence_spm",
        "power_w",
    )

    def __post_init__(self) -> None:
        n = len(self.time_s)
        for name in self.COLUMNS:
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise ValueError(f"stream {name} has {len(column)} samples, time_s has {n}")

    def __len__(self) -> int:
        return len(self.time_s)

    def columns(self) -> dict[str, np.ndarray]:
        """The present columns by name."""
        return {name: getattr(self, name) for name in self.COLUMNS if getattr(self, name) is not None}


@dataclass(frozen=True, slots=True)
class Lap:
    """One lap (or split) as the device recorded it."""

    start_utc: datetime
    elapsed_time_s: float | None = None
    moving_time_s: float | None = None
    distance_m: float | None = None
    avg_heart_rate_bpm: float | None = None
    max_heart_rate_bpm: float | None = None
    avg_cadence_spm: float | None = None
    ascent_m: float | None = None
    descent_m: float | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Activity:
    """One activity (a run, walk, ...) as read from a file or entered by hand."""

    sport: str
    start_utc: datetime
    source_format: str
    utc_offset_s: int | None = None
    distance_m: float | None = None
    moving_time_s: float | None = None
    elapsed_time_s: float | None = None
    ascent_m: float | None = None
    descent_m: float | None = None
    avg_heart_rate_bpm: float | None = None
    max_heart_rate_bpm: float | None = None
    avg_cadence_spm: float | None = None
    laps: tuple[Lap, ...] = ()
    streams: Streams | None = None
    name: str | None = None
    description: str | None = None
    device: str | None = None
    # SHA-256 of the decompressed source file; with source_part (the leg of a multisport file) the dedupe key.
    source_sha256: str | None = None
    source_part: int = 0
    source_name: str | None = None
    # Why the activity is only partly imported (e.g. "bad file CRC: kept what decoded"), else None.
    damaged: str | None = None
    commute: bool | None = None
    rpe: float | None = None
    feel: str | None = None
    gear_name: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # Set once stored.
    id: int | None = None
    shoe_id: int | None = None
    import_id: int | None = None
    # The shoe (or none) was chosen by its date and the sport's default, not named by an export or the
    # runner: changing a shoe's dates re-assigns it.
    shoe_auto: bool = False
    # Why the sport differs from what the file said (or was guessed when it said nothing); None once the
    # runner confirmed it. Such activities are stored as "other" (or walk/hike), out of the running load.
    sport_note: str | None = None
    # The runner's calendar day of the start: local offset when the file gives one, else UTC. Computed once
    # (the load rules read it a few thousand times a dashboard view), and again by `replace`.
    local_date: date = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sport not in SPORTS:
            raise ValueError(f"unknown sport {self.sport!r}; expected one of {', '.join(SPORTS)}")
        if self.source_format not in SOURCE_FORMATS:
            raise ValueError(f"unknown source format {self.source_format!r}")
        start = require_utc(self.start_utc)
        object.__setattr__(self, "start_utc", start)
        object.__setattr__(self, "local_date", (start + timedelta(seconds=self.utc_offset_s or 0)).date())

    @property
    def is_run(self) -> bool:
        return self.sport in RUNNING_SPORTS
