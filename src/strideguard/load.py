"""Training-load analytics over activities: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from strideguard.model import RUNNING_SPORTS, Activity


@dataclass(frozen=True, slots=True)
class WeekVolume:
    """Totals of one ISO week (Monday to Sunday, by the runner's local date)."""

    iso_year: int
    iso_week: int
    monday: date
    distance_m: float
    duration_s: float
    runs: int

    @property
    def label(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d}"


def weekly_volume(
    activities: Iterable[Activity], sports: frozenset[str] = RUNNING_SPORTS
) -> list[WeekVolume]:
    """Distance, moving time and count per ISO week for activities of `sports`, oldest week first.

    Weeks without a run between the first and last are included with zeros: a gap is information.
    """
    totals: dict[tuple[int, int], list[float]] = {}
    for activity in activities:
        if activity.sport not in sports:
            continue
        year, week, _ = activity.local_date.isocalendar()
        entry = totals.setdefault((year, week), [0.0, 0.0, 0])
        entry[0] += activity.distance_m or 0.0
        entry[1] += activity.moving_time_s or activity.elapsed_time_s or 0.0
        entry[2] += 1
    if not totals:
        return []
    first, last = min(totals), max(totals)
    monday = date.fromisocalendar(first[0], first[1], 1)
    end = date.fromisocalendar(last[0], last[1], 1)
    weeks: list[WeekVolume] = []
    while monday <= end:
        year, week, _ = monday.isocalendar()
        distance, duration, runs = totals.get((year, week), [0.0, 0.0, 0])
        weeks.append(WeekVolume(year, week, monday, distance, duration, int(runs)))
        monday = date.fromordinal(monday.toordinal() + 7)
    return weeks
