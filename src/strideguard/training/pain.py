"""Pain diary domain: body-map regions, sides, timings, and the pain-monitoring rule. Pure, no I/O.

Pain-monitoring model (Silbernagel et al. 2007, citation `load_silbernagel_2007`): pain during activity up to
5/10 is acceptable if it has settled by the next morning and does not rise from week to week. The study was
in Achilles tendinopathy; StrideGuard applies it to every region by extension and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Region:
    """One body-map region: id, plain label, which view of the body shows it, and whether it is hip/groin."""

    id: str
    label: str
    view: str  # front | back: which drawing of the body map shows it
    hip_or_groin: bool = False


REGIONS: dict[str, Region] = {
    r.id: r
    for r in (
        Region("groin-hip-front", "Groin / front of hip", "front", True),
        Region("hip-lateral", "Side of hip", "front", True),
        Region("buttock", "Buttock", "back", True),
        Region("thigh-front", "Front of thigh", "front"),
        Region("thigh-back", "Back of thigh (hamstring)", "back"),
        Region("knee-front", "Front of knee", "front"),
        Region("knee-side", "Side of knee", "front"),
        Region("knee-back", "Back of knee", "back"),
        Region("shin", "Shin", "front"),
        Region("calf", "Calf", "back"),
        Region("achilles", "Achilles tendon", "back"),
        Region("ankle", "Ankle", "front"),
        Region("foot", "Foot / heel", "front"),
        Region("lower-back", "Lower back", "back"),
    )
}
SIDES = ("left", "right", "both")
# When the pain was felt, relative to a run.
TIMINGS = ("before", "during", "after", "next-morning")
# Silbernagel 2007: up to 5/10 during activity is acceptable.
MAX_ACCEPTABLE_SCORE = 5
SCORE_MIN, SCORE_MAX = 0, 10


class PainInputError(ValueError):
    """A pain entry with an unknown region, side or timing, or a score outside 0-10."""


@dataclass(frozen=True, slots=True)
class PainEntry:
    """One diary entry: where, which side, how much (0-10), when relative to a run, on which local date."""

    day: date
    region: str
    side: str
    score: int
    timing: str
    activity_id: int | None = None
    note: str | None = None
    id: int | None = None
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        problem = validate(self.region, self.side, self.score, self.timing)
        if problem:
            raise PainInputError(problem)

    @property
    def label(self) -> str:
        return REGIONS[self.region].label


def validate(region: str, side: str, score: int, timing: str) -> str | None:
    """Why these values cannot make a pain entry (one line), or None when they can."""
    if region not in REGIONS:
        return f"unknown region {region!r}; see `strideguard pain regions` ({', '.join(REGIONS)})"
    if side not in SIDES:
        return f"unknown side {side!r}; use one of {', '.join(SIDES)}"
    if isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
        return f"pain score {score!r} must be a whole number from 0 to 10"
    if timing not in TIMINGS:
        return f"unknown timing {timing!r}; use one of {', '.join(TIMINGS)}"
    return None


@dataclass(frozen=True, slots=True)
class PainBreach:
    """One breach of the pain-monitoring model for a region and side.

    reason: over_limit (score > 5 during/after a run), not_settled (next-morning score above the score
    before that run), rising_weekly (mean score of the last 7 days above the 7 days before).
    """

    day: date
    region: str
    side: str
    reason: str
    score: float
    baseline: float | None
    activity_id: int | None
    hip_or_groin: bool
    timing: str | None = None
    baseline_logged: bool = True  # False: no before/next-morning entry in the 14 days before: "no pain"
    # The facts behind the explanation, so it can say only what the rule saw:
    # not_settled: the entry the settled level came from (None when there was none) ...
    baseline_entry: PainEntry | None = None
    # ... and every earlier entry of this region and side in the 14 days before (any timing).
    earlier: tuple[PainEntry, ...] = ()
    # rising_weekly: how many entries each 7-day mean is over.
    current_count: int = 0
    previous_count: int = 0


def _key(entry: PainEntry) -> tuple[str, str]:
    return entry.region, entry.side


BASELINE_DAYS = 14  # how far back a settled level (a before-run or morning score) still counts


def _earlier(entries: list[PainEntry], entry: PainEntry) -> list[PainEntry]:
    """Entries of the same region and side on the 14 days before `entry`'s day, oldest first."""
    first = entry.day - timedelta(days=BASELINE_DAYS)
    return [e for e in entries if _key(e) == _key(entry) and first <= e.day < entry.day]


def _baseline_entry(earlier: list[PainEntry]) -> PainEntry | None:
    """The settled level before a next-morning entry: the latest before/next-morning entry among `earlier`;
    None when there is none (a diary with no such entry means no pain, so callers take 0). Scores during
    or after a run are not a resting level and never count."""
    candidates = [e for e in earlier if e.timing in ("before", "next-morning")]
    if not candidates:
        return None
    return max(candidates, key=lambda e: (e.day, e.timing == "next-morning", e.id or 0))


def _window(entries: list[PainEntry], first: date, last: date) -> list[int]:
    return [e.score for e in entries if first <= e.day <= last]


def _weekly_scores(entries: list[PainEntry], day: date, days: int) -> tuple[list[int], list[int]]:
    """The scores of the `days` days ending `day`, and of the `days` days before those."""
    current = _window(entries, day - timedelta(days=days - 1), day)
    previous = _window(entries, day - timedelta(days=2 * days - 1), day - timedelta(days=days))
    return current, previous


def _mean(scores: list[int]) -> float | None:
    return sum(scores) / len(scores) if scores else None


def _weekly_means(entries: list[PainEntry], day: date, days: int) -> tuple[float | None, float | None]:
    current, previous = _weekly_scores(entries, day, days)
    return _mean(current), _mean(previous)


def check_pain(
    entries: Iterable[PainEntry],
    since: date | None = None,
    until: date | None = None,
    max_acceptable: int = MAX_ACCEPTABLE_SCORE,
    compare_days: int = 7,
) -> list[PainBreach]:
    """Breaches of the pain-monitoring model dated within [since, until] (history before `since` counts
    as baseline). Rising week to week is reported once per region and side: on the latest day it held."""
    all_entries = sorted(entries, key=lambda e: (e.day, e.id or 0))
    in_window = [
        e for e in all_entries if (since is None or e.day >= since) and (until is None or e.day <= until)
    ]
    breaches: list[PainBreach] = []
    for entry in in_window:
        hip = REGIONS[entry.region].hip_or_groin
        if entry.timing in ("during", "after") and entry.score > max_acceptable:
            breaches.append(
                PainBreach(
                    entry.day,
                    entry.region,
                    entry.side,
                    "over_limit",
                    entry.score,
                    None,
                    entry.activity_id,
                    hip,
                    entry.timing,
                )
            )
        if entry.timing == "next-morning":
            earlier = _earlier(all_entries, entry)
            source = _baseline_entry(earlier)
            baseline = 0.0 if source is None else float(source.score)
            if entry.score > baseline:
                breaches.append(
                    PainBreach(
                        entry.day,
                        entry.region,
                        entry.side,
                        "not_settled",
                        entry.score,
                        baseline,
                        entry.activity_id,
                        hip,
                        entry.timing,
                        baseline_logged=source is not None,
                        baseline_entry=source,
                        earlier=tuple(earlier),
                    )
                )
    groups: dict[tuple[str, str], list[PainEntry]] = {}
    for entry in all_entries:
        groups.setdefault(_key(entry), []).append(entry)
    for (region, side), group in groups.items():
        days = sorted(
            {e.day for e in group if (since is None or e.day >= since) and (until is None or e.day <= until)},
            reverse=True,
        )
        for day in days:
            now, before = _weekly_scores(group, day, compare_days)
            current, previous = _mean(now), _mean(before)
            if current is not None and previous is not None and current > previous:
                breaches.append(
                    PainBreach(
                        day,
                        region,
                        side,
                        "rising_weekly",
                        current,
                        previous,
                        None,
                        REGIONS[region].hip_or_groin,
                        current_count=len(now),
                        previous_count=len(before),
                    )
                )
                break
    breaches.sort(key=lambda b: (b.day, b.region, b.side, b.reason))
    return breaches


@dataclass(frozen=True, slots=True)
class PainTrend:
    """Mean score of a region and side, last 7 days against the 7 before: rising/falling/steady/new."""

    region: str
    side: str
    current_mean: float | None
    previous_mean: float | None
    latest_score: int
    latest_day: date
    entries: int
    direction: str


def pain_trends(
    entries: Iterable[PainEntry], today: date, days: int = 7, lookback_days: int = 28
) -> list[PainTrend]:
    """Per region and side with an entry in the last `lookback_days` days, the week-on-week direction."""
    groups: dict[tuple[str, str], list[PainEntry]] = {}
    for entry in entries:
        if today - timedelta(days=lookback_days) < entry.day <= today:
            groups.setdefault(_key(entry), []).append(entry)
    trends: list[PainTrend] = []
    for (region, side), group in sorted(groups.items()):
        group.sort(key=lambda e: (e.day, e.id or 0))
        current, previous = _weekly_means(group, today, days)
        if current is None:
            direction = "quiet"
        elif previous is None:
            direction = "new"
        elif current > previous:
            direction = "rising"
        elif current < previous:
            direction = "falling"
        else:
            direction = "steady"
        latest = group[-1]
        trends.append(
            PainTrend(region, side, current, previous, latest.score, latest.day, len(group), direction)
        )
    return trends
