"""Saving many activities at once: duplicates prefetched per batch, laps and streams written per batch.

`bulk_saving(session, athlete_id, activities)` installs a `BulkSave` on the session for the length of a
block. Inside it, `store.save_activity` keeps its rules and its per-activity call, but:
- it asks the `BulkSave` whether an activity repeats a stored one (same file part, else a start within
  SAME_START_TOLERANCE_S in the same sport family): everything a batch could repeat is fetched in two
  queries (by content hash, by start windows) instead of two SELECTs per activity, and every activity
  saved in the block is added, so two copies inside one batch are still caught;
- it queues the activity's laps, streams and original-file rows, written with one executemany each by
  `write_pending()`
  (at the end of the block, or by a caller that commits item by item, before each item's savepoint ends).
A caller that rolls back one item's savepoint calls `discard_item()` so the index forgets the item's
activities and its queued rows; `begin_item()` marks where an item starts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import shoe_use
from strideguard.storage.tables import ActivityRow, LapRow, SourceFileRow, StreamRow

# Two recordings that start within this many seconds of each other, in the same sport family, are the same
# activity (e.g. the watch's FIT and the GPX a phone app exported of the same run).
SAME_START_TOLERANCE_S = 60

_KEY = "strideguard.bulk_save"
_WINDOWS_PER_QUERY = 400  # start windows ORed in one SELECT (2 bound parameters each)
_COLUMNS = (
    ActivityRow.id,
    ActivityRow.sport,
    ActivityRow.start_utc,
    ActivityRow.local_date,
    ActivityRow.distance_m,
    ActivityRow.source_sha256,
    ActivityRow.source_part,
)
_LAPS = LapRow.__table__
_STREAMS = StreamRow.__table__
_SOURCES = SourceFileRow.__table__


def sport_family(sport: str) -> str:
    return "run" if sport in RUNNING_SPORTS else sport


def label(activity_id: int, sport: str, local_date: date, distance_m: float | None) -> str:
    """A short label a runner recognises: '#12 run 2024-05-01 10.0 km'."""
    km = f" {distance_m / 1000:.1f} km" if distance_m else ""
    return f"#{activity_id} {sport} {local_date.isoformat()}{km}"


@dataclass(frozen=True, slots=True)
class Stored:
    """What duplicate detection needs of a stored activity."""

    id: int
    sport: str
    start_s: float  # start_utc as POSIX seconds
    label: str


class BulkSave:
    """Possible duplicates of one batch and the laps/streams rows waiting to be written."""

    def __init__(self, athlete_id: int) -> None:
        self.athlete_id = athlete_id
        self._by_source: dict[tuple[str, int], Stored] = {}
        self._by_minute: dict[int, list[Stored]] = {}  # start minute -> stored activities
        self._shoes: shoe_use.Picker | None = None
        self._hashes: frozenset[str] = frozenset()  # what the prefetch covered
        self._window_starts: list[datetime] = []
        self._window_ends: list[datetime] = []
        self._added: list[tuple[tuple[str, int] | None, int, Stored]] = []
        self._laps: list[dict[str, Any]] = []
        self._streams: list[dict[str, Any]] = []
        self._sources: list[dict[str, Any]] = []
        self._item_marks = (0, 0, 0)

    @classmethod
    def fetch(cls, session: Session, athlete_id: int, activities: Iterable[Activity]) -> BulkSave:
        """Everything stored that `activities` could repeat, and the athlete's default shoes."""
        bulk = cls(athlete_id)
        activities = list(activities)
        hashes = sorted({a.source_sha256 for a in activities if a.source_sha256})
        base = sa.select(*_COLUMNS).where(ActivityRow.athlete_id == athlete_id)
        rows = list(session.execute(base.where(ActivityRow.source_sha256.in_(hashes)))) if hashes else []
        windows = _merged_windows(a.start_utc for a in activities if a.source_format != "manual")
        for first in range(0, len(windows), _WINDOWS_PER_QUERY):
            part = windows[first : first + _WINDOWS_PER_QUERY]
            # The outer range lets the (athlete_id, start_utc) index narrow the scan to the batch's span.
            span = ActivityRow.start_utc.between(part[0][0], part[-1][1])
            near = sa.or_(*(ActivityRow.start_utc.between(lo, hi) for lo, hi in part))
            rows.extend(session.execute(base.where(span, near)))
        unique = {row.id: row for row in rows}  # a row can match by hash and by start
        for row in sorted(unique.values(), key=lambda r: r.id):
            bulk._add(row.id, row.sport, row.start_utc, row.local_date, row.distance_m, row.source_sha256,
                      row.source_part)  # fmt: skip
        bulk._shoes = shoe_use.Picker(session, athlete_id)
        bulk._hashes = frozenset(hashes)
        bulk._window_starts = [lo for lo, _ in windows]
        bulk._window_ends = [hi for _, hi in windows]
        bulk.begin_item()
        return bulk

    # -------------------------------------------------------------------------------- duplicates

    def covers(self, activity: Activity) -> bool:
        """Whether the prefetch fetched everything `activity` could repeat (else: ask the database)."""
        if activity.source_sha256 and activity.source_sha256 not in self._hashes:
            return False
        if activity.source_format == "manual":
            return True
        window = timedelta(seconds=SAME_START_TOLERANCE_S)
        at = bisect.bisect_right(self._window_starts, activity.start_utc - window) - 1
        return at >= 0 and self._window_ends[at] >= activity.start_utc + window

    def find(self, activity: Activity) -> Stored | None:
        """What `store.find_duplicate` finds, from the prefetched and the newly saved activities."""
        if activity.source_sha256:
            found = self._by_source.get((activity.source_sha256, activity.source_part))
            if found is not None:
                return found
        if activity.source_format == "manual":
            return None  # hand-entered runs carry no exact time; two on one day are two runs
        start_s = activity.start_utc.timestamp()
        family = sport_family(activity.sport)
        minute = int(start_s // 60)
        matches = [
            stored
            for m in (minute - 1, minute, minute + 1)
            for stored in self._by_minute.get(m, ())
            if abs(stored.start_s - start_s) <= SAME_START_TOLERANCE_S
            and sport_family(stored.sport) == family
        ]
        return min(matches, key=lambda s: s.id) if matches else None

    def shoe_on(self, sport: str, day: date) -> int | None:
        """The shoe in use on `day` for `sport` (see storage/shoe_use.py)."""
        return self._shoes.pick(sport, day) if self._shoes is not None else None

    def saved(self, activity_id: int, activity: Activity) -> None:
        """Note an activity just inserted, so later activities of the batch can repeat it."""
        self._add(activity_id, activity.sport, activity.start_utc, activity.local_date, activity.distance_m,
                  activity.source_sha256, activity.source_part)  # fmt: skip

    def _add(
        self,
        activity_id: int,
        sport: str,
        start_utc: datetime,
        local_date: date,
        distance_m: float | None,
        sha256: str | None,
        part: int,
    ) -> None:
        stored = Stored(
            activity_id, sport, start_utc.timestamp(), label(activity_id, sport, local_date, distance_m)
        )
        key = (sha256, part) if sha256 else None
        if key is not None:
            self._by_source.setdefault(key, stored)
        minute = int(stored.start_s // 60)
        self._by_minute.setdefault(minute, []).append(stored)
        self._added.append((key, minute, stored))

    # -------------------------------------------------------------------------------- rows

    def queue(
        self, laps: list[dict[str, Any]], stream: dict[str, Any] | None, source: dict[str, Any] | None = None
    ) -> None:
        self._laps.extend(laps)
        if stream is not None:
            self._streams.append(stream)
        if source is not None:
            self._sources.append(source)

    def write_pending(self, connection: Connection) -> None:
        """Write the queued laps, streams and original files rows (one executemany each)."""
        if self._laps:
            connection.execute(_LAPS.insert(), self._laps)
        if self._streams:
            connection.execute(_STREAMS.insert(), self._streams)
        if self._sources:
            connection.execute(_SOURCES.insert(), self._sources)
        self._laps, self._streams, self._sources = [], [], []
        self._item_marks = (0, 0, 0)

    # -------------------------------------------------------------------------------- items

    def begin_item(self) -> None:
        self._added.clear()
        self._item_marks = (len(self._laps), len(self._streams), len(self._sources))

    def discard_item(self) -> None:
        """Forget what the item begun last added (its savepoint was rolled back)."""
        for key, minute, stored in self._added:
            if key is not None and self._by_source.get(key) is stored:
                del self._by_source[key]
            self._by_minute[minute].remove(stored)
        self._added.clear()
        del self._laps[self._item_marks[0] :]
        del self._streams[self._item_marks[1] :]
        del self._sources[self._item_marks[2] :]


def _merged_windows(starts: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """The +-SAME_START_TOLERANCE_S windows around `starts`, overlapping ones merged, in time order."""
    window = timedelta(seconds=SAME_START_TOLERANCE_S)
    merged: list[tuple[datetime, datetime]] = []
    for start in sorted(starts):
        lo, hi = start - window, start + window
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


@contextmanager
def bulk_saving(session: Session, athlete_id: int, activities: Iterable[Activity]) -> Iterator[BulkSave]:
    """Within the block, `store.save_activity` on this session saves in bulk (see the module doc).

    `activities` are those the block will save (others are checked against the database one by one).
    Queued rows are written when the block ends without an exception.
    """
    bulk = BulkSave.fetch(session, athlete_id, activities)
    session.info[_KEY] = bulk
    try:
        yield bulk
        bulk.write_pending(session.connection())
    finally:
        session.info.pop(_KEY, None)


def current(session: Session, athlete_id: int) -> BulkSave | None:
    """The `BulkSave` installed on this session for this athlete, if any."""
    bulk: BulkSave | None = session.info.get(_KEY)
    return bulk if bulk is not None and bulk.athlete_id == athlete_id else None
