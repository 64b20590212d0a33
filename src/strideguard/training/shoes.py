"""Shoe wear: distance per shoe and retirement alerts. Pure, no I/O.

Default retirement distance 450 km per shoe, alerts at 90% ("check") and 100% ("replace") of each shoe's own
threshold. Evidence (clinical.md 1d; citations `load_shoe_mileage_guidance`, `load_verdejo_mills_2004`,
`load_malisoux_2015`): check at about 500 km, replace between 500 and 800 km; rotating two pairs helps;
no study links shoe mileage itself to injury.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from strideguard.model import Activity

DEFAULT_RETIRE_AT_M = 450_000.0  # low end of the 480-800 km practitioner band (clinical.md 1d)
CHECK_AT_FRACTION = 0.9
REPLACE_AT_FRACTION = 1.0
# One vocabulary for wear levels, on every page and in the CLI (the dashboard's shoe alerts use it too).
WEAR_LABELS = {"ok": "OK", "check": "Check", "replace": "Replace"}
# Why the default limit is below the ~500 km of the evidence: it prompts a check before that point.
LIMIT_HINT = (
    "StrideGuard's default limit is {default}: guidance is to check a shoe at about {check} and replace it "
    "between {replace_from} and {replace_to}, so the alerts come in time: Check at 90% of the limit, "
    "Replace at 100%. Set your own limit for each pair."
)


def limit_hint(unit: str = "km") -> str:
    """LIMIT_HINT in km or mi (450 km, about 280 mi; the evidence's 500-800 km, about 310-500 mi)."""
    if unit == "km":
        return LIMIT_HINT.format(default="450 km", check="500 km", replace_from="500", replace_to="800 km")
    return LIMIT_HINT.format(default="about 280 mi", check="310 mi", replace_from="310", replace_to="500 mi")


@dataclass(frozen=True, slots=True)
class Shoe:
    """A pair of shoes. `start_distance_m` is what it had run before it was logged here."""

    id: int
    name: str
    brand: str | None = None
    model: str | None = None
    start_distance_m: float = 0.0
    retire_at_m: float = DEFAULT_RETIRE_AT_M
    retired_at: datetime | None = None
    created_at: datetime | None = None
    in_use_from: date | None = None  # as the runner gave it (None: from its first run)
    in_use_until: date | None = None  # as the runner gave it (None: until retired)

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    @property
    def label(self) -> str:
        maker = " ".join(p for p in (self.brand, self.model) if p)
        return f"{self.name} ({maker})" if maker and maker != self.name else self.name


@dataclass(frozen=True, slots=True)
class InUse:
    """The dates a shoe was in use, as far as assigning runs goes: `start` to `end` (None: still in use)."""

    shoe_id: int
    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def shoe_on(day: date, sport: str, spans: Iterable[InUse], defaults: dict[str, int]) -> int | None:
    """The shoe a run of `sport` on `day` gets when no export or runner named one.

    The sport's default shoe when it was in use that day; else the one shoe in use that day that is not
    another sport's default (an older pair the default replaced); else none. A sport without a default
    gets no shoe, and a run before every shoe's dates gets none (a 2015 run never lands on today's pair).
    """
    default = defaults.get(sport)
    if default is None:
        return None
    in_use = [span.shoe_id for span in spans if span.covers(day)]
    if default in in_use:
        return default
    others = set(defaults.values())
    candidates = sorted({shoe_id for shoe_id in in_use if shoe_id not in others})
    return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True, slots=True)
class ShoeWear:
    """A shoe's total distance (start distance + assigned activities), share of its limit, and alert level."""

    shoe: Shoe
    distance_m: float
    activities: int
    last_used: date | None
    fraction: float
    level: str  # ok | check | replace

    @property
    def percent(self) -> float:
        return 100.0 * self.fraction


def wear_level(
    fraction: float, check_at: float = CHECK_AT_FRACTION, replace_at: float = REPLACE_AT_FRACTION
) -> str:
    """'replace' at or above 100% of the limit, 'check' at or above 90%, else 'ok'."""
    if fraction >= replace_at:
        return "replace"
    if fraction >= check_at:
        return "check"
    return "ok"


def shoe_wear(
    shoes: Iterable[Shoe],
    activities: Iterable[Activity],
    check_at: float = CHECK_AT_FRACTION,
    replace_at: float = REPLACE_AT_FRACTION,
) -> list[ShoeWear]:
    """Wear of every shoe, in the order given; every activity assigned to a shoe counts, any sport."""
    distance: dict[int, float] = {}
    count: dict[int, int] = {}
    last: dict[int, date] = {}
    for activity in activities:
        if activity.shoe_id is None:
            continue
        sid = activity.shoe_id
        distance[sid] = distance.get(sid, 0.0) + (activity.distance_m or 0.0)
        count[sid] = count.get(sid, 0) + 1
        if sid not in last or activity.local_date > last[sid]:
            last[sid] = activity.local_date
    return [
        wear_of(
            shoe, distance.get(shoe.id, 0.0), count.get(shoe.id, 0), last.get(shoe.id), check_at, replace_at
        )
        for shoe in shoes
    ]


def wear_of(
    shoe: Shoe,
    activities_m: float,
    activities: int,
    last_used: date | None,
    check_at: float = CHECK_AT_FRACTION,
    replace_at: float = REPLACE_AT_FRACTION,
) -> ShoeWear:
    """A shoe's wear from the totals of its activities (`activities_m` metres in `activities` of them)."""
    total = shoe.start_distance_m + activities_m
    fraction = total / shoe.retire_at_m if shoe.retire_at_m > 0 else 0.0
    return ShoeWear(shoe, total, activities, last_used, fraction, wear_level(fraction, check_at, replace_at))


def shoe_alerts(wears: Iterable[ShoeWear]) -> list[ShoeWear]:
    """Active (not retired) shoes at 'check' or 'replace' level, most worn first."""
    alerts = [w for w in wears if not w.shoe.retired and w.level != "ok"]
    return sorted(alerts, key=lambda w: -w.fraction)


def progress_bar(fraction: float, width: int = 20) -> str:
    """A text bar for terminals: '██████████░░░░░░░░░░' (capped at full)."""
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)
