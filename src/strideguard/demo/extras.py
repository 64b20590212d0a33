"""Shoes, ratings, a session spike and a hip-pain episode for the demo athlete, so every chart and rule has
something to show. Called by `strideguard demo` after the year of runs is imported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy.orm import Session

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training import load
from strideguard.training.pain import PainEntry

DAILY_RETIRE_AT_M = 450_000.0
DAILY_TARGET_FRACTION = 0.93  # the daily trainer ends the year just past the 90% "check" alert
# The hip episode: 'during' scores on the runs after the spike, rising then settling (Silbernagel 2007
# allows up to 5/10 if it settles by next morning; the peak breaches that on purpose).
PAIN_PROFILE = (3, 4, 5, 6, 5, 4, 3, 2, 1)
# Next-morning scores relative to the run's score: not settled while rising, settled afterwards.
MORNING_LAG = (1, 2, 3, 4, 2, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class DemoExtras:
    """What was added: the shoe ids (daily, tempo), the spike run, and how many ratings and pain entries."""

    daily_shoe_id: int
    tempo_shoe_id: int
    spike_activity_id: int | None
    rated: int
    pain_entries: int


def _rpe_for(activity: Activity, rng: np.random.Generator) -> float:
    weekday = activity.local_date.weekday()
    if weekday == 1:  # quality session day in the demo plan
        return float(rng.choice([6, 7, 7, 8]))
    if weekday == 6:  # long run
        return float(rng.choice([4, 5, 5, 6]))
    return float(rng.choice([2, 3, 3, 4]))


def _add_spike(
    session: Session, athlete_id: int, runs: list[Activity], rng: np.random.Generator
) -> Activity | None:
    """A hand-entered 'long run with friends' ~2 weeks before the last run: a moderate spike (>30% over the
    30-day longest, Frandsen 2025)."""
    if not runs:
        return None
    last = runs[-1].local_date
    day = last - timedelta(days=14)
    day -= timedelta(days=(day.weekday() - 5) % 7)  # the Saturday on or before: no planned run then
    longest = load.longest_before(runs, day)
    longest_m = float(longest.distance_m or 0.0) if longest else 8000.0
    distance_m = round(max(longest_m * float(rng.uniform(1.42, 1.6)), 12_000.0), -2)
    offset_s = next((r.utc_offset_s for r in reversed(runs) if r.utc_offset_s is not None), 0) or 0
    local = datetime.combine(day, time(8, 30)).replace(tzinfo=timezone(timedelta(seconds=offset_s)))
    duration_s = distance_m / 1000 * 372.0
    activity = store.manual_activity(
        local.astimezone(UTC), distance_m, duration_s, "run", offset_s, 7.0, "Long run with friends"
    )
    outcome = store.save_activity(session, athlete_id, activity)
    store.update_activity(session, athlete_id, outcome.activity_id, feel="tired")
    return store.get_activity(session, athlete_id, outcome.activity_id, with_streams=False)


def add_demo_extras(
    session: Session, athlete_id: int, activities: list[Activity], rng: np.random.Generator
) -> DemoExtras:
    """Add two shoes (the daily one near retirement), default shoe, RPE/feel on most runs, one session
    spike and a two-week hip-pain episode after it. Runs in the caller's transaction."""
    runs = sorted((a for a in activities if a.sport in RUNNING_SPORTS), key=lambda a: a.start_utc)
    daily = shoe_store.add_shoe(
        session, athlete_id, "Daily trainer", "Asics", "Novablast 4", 0.0, DAILY_RETIRE_AT_M
    )
    tempo = shoe_store.add_shoe(
        session, athlete_id, "Tempo shoes", "Saucony", "Endorphin Speed", 40_000.0, 500_000.0
    )
    # Newest runs first: quality days go on the tempo shoes, the rest on the daily trainer until it nears
    # its limit (older runs were in a pair not logged here).
    daily_m = 0.0
    target_m = DAILY_TARGET_FRACTION * DAILY_RETIRE_AT_M - 21_000.0  # room for the spike run to come
    for run in reversed(runs):
        if daily_m >= target_m:
            break
        assert run.id is not None
        if run.local_date.weekday() == 1:
            shoe_store.assign(session, athlete_id, run.id, tempo.id)
        else:
            shoe_store.assign(session, athlete_id, run.id, daily.id)
            daily_m += run.distance_m or 0.0
    for sport in ("run", "treadmill"):
        shoe_store.set_default(session, athlete_id, daily.id, sport)
    rated = 0
    for run in runs:
        if rng.random() < 0.75:
            assert run.id is not None
            feel = str(rng.choice(["great", "good", "good", "ok", "ok", "tired"]))
            store.update_activity(session, athlete_id, run.id, rpe=_rpe_for(run, rng), feel=feel)
            rated += 1
    spike = _add_spike(session, athlete_id, runs, rng)
    entries = 0
    if spike is not None:
        after = [r for r in runs if spike.local_date < r.local_date <= spike.local_date + timedelta(days=16)]
        episode = [spike, *after][: len(PAIN_PROFILE)]
        for index, run in enumerate(episode):
            score, lag = PAIN_PROFILE[index], MORNING_LAG[index]
            pain_store.add_pain(
                session,
                athlete_id,
                PainEntry(run.local_date, "hip-lateral", "left", score, "during", run.id, None),
            )
            morning = max(0, min(10, score - 3 + lag))
            pain_store.add_pain(
                session,
                athlete_id,
                PainEntry(
                    run.local_date + timedelta(days=1), "hip-lateral", "left", morning, "next-morning", run.id
                ),
            )
            entries += 2
            if score >= 5 and run.id is not None:
                store.update_activity(session, athlete_id, run.id, feel="sore")
    return DemoExtras(daily.id, tempo.id, spike.id if spike else None, rated, entries)
