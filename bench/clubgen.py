"""A club for benchmarks: N athletes x Y years of runs (100 x 10 years is ~250,000 runs), written fast.

Every athlete has an account (`runner000@club.example` ... with the password PASSWORD), rotating shoes
(older pairs retired, two active), a short pain episode, and ~5 runs a week from the demo athlete's plan
with its own seed (doubles on some easy days). Runs are stored as summaries; the last STREAMS_PER_ATHLETE
of each athlete get 1 Hz streams so activity pages have samples to draw.

Rows go in with plain Core INSERTs into columns that every schema since revision 0002 has, so the same
generator fills a database for today's code and for an older checkout (figures before and after). The
schema itself is created by the code under test (`strideguard db upgrade`) before this runs.

Usage: python bench/clubgen.py --db postgresql://postgres@127.0.0.1:5432/club [--athletes 100] [--years 10]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_latency import summary

from strideguard.activities import streams as stream_codec
from strideguard.demo import athlete as demo
from strideguard.storage import engine as db
from strideguard.web import security

PASSWORD = "club-benchmark-pw"
STREAMS_PER_ATHLETE = 2
SHOE_LIFE_M = 700_000.0


def email(index: int) -> str:
    return f"runner{index:03d}@club.example"


def _runs(end: date, weeks: int, seed: int) -> list:
    """One athlete's history, oldest first (summaries; the last few simulated with streams)."""
    rng = random.Random(seed)
    sessions = demo.plan(end, weeks, seed)
    out = []
    for index, run in enumerate(sessions):
        if index >= len(sessions) - STREAMS_PER_ATHLETE:
            out.append(demo.simulate(run, index, seed))
            continue
        out.append(summary(run, rng))
        if run.kind == "easy" and rng.random() < 0.35:
            double = demo.PlannedRun(run.day, "easy", round(rng.uniform(3000, 6000), -1), run.start)
            evening = summary(double, rng)
            out.append(replace(evening, start_utc=evening.start_utc + timedelta(hours=10)))
    return out


def build(url: str, athletes: int = 100, years: int = 10, quiet: bool = False) -> dict[str, int]:
    """Fill an empty, migrated database with the club; returns counts."""
    engine = db.make_engine(url)
    meta = sa.MetaData()
    meta.reflect(
        engine, only=["users", "athletes", "shoes", "activities", "activity_streams", "pain_entries"]
    )
    users, athletes_t, shoes_t = meta.tables["users"], meta.tables["athletes"], meta.tables["shoes"]
    activities_t, streams_t, pain_t = (
        meta.tables["activities"],
        meta.tables["activity_streams"],
        meta.tables["pain_entries"],
    )
    password_hash = security.hash_password(PASSWORD)  # one hash for all: scrypt per user would take minutes
    end = datetime.now(UTC).date()
    now = datetime.now(UTC)
    weeks = 52 * years
    total = 0
    started = time.perf_counter()
    for index in range(athletes):
        runs = _runs(end, weeks, seed=1000 + index)
        with engine.begin() as connection:
            user_id = connection.execute(
                users.insert().values(
                    email=email(index), password_hash=password_hash, is_admin=False, created_at=now
                )
            ).inserted_primary_key[0]
            athlete_id = connection.execute(
                athletes_t.insert().values(name=f"Runner {index:03d}", user_id=user_id, created_at=now)
            ).inserted_primary_key[0]

            def new_shoe(number: int, athlete_id: int = athlete_id, connection=connection) -> int:
                return connection.execute(
                    shoes_t.insert().values(
                        athlete_id=athlete_id,
                        name=f"Pair {number}",
                        brand="Club",
                        model="Trainer",
                        start_distance_m=0.0,
                        retire_at_m=800_000.0,
                        created_at=now,
                    )
                ).inserted_primary_key[0]

            shoe, previous, pairs, worn = new_shoe(1), None, 1, 0.0
            rows, streams = [], []
            for activity in runs:
                if worn > SHOE_LIFE_M:
                    if previous is not None:
                        connection.execute(
                            shoes_t.update().where(shoes_t.c.id == previous).values(retired_at=now)
                        )
                    pairs += 1
                    previous, shoe, worn = shoe, new_shoe(pairs), 0.0
                worn += activity.distance_m or 0.0
                row = {
                    "athlete_id": athlete_id,
                    "sport": activity.sport,
                    "start_utc": activity.start_utc,
                    "utc_offset_s": activity.utc_offset_s,
                    "local_date": activity.local_date,
                    "distance_m": activity.distance_m,
                    "moving_time_s": activity.moving_time_s,
                    "elapsed_time_s": activity.elapsed_time_s,
                    "ascent_m": activity.ascent_m,
                    "descent_m": activity.descent_m,
                    "avg_heart_rate_bpm": activity.avg_heart_rate_bpm,
                    "max_heart_rate_bpm": activity.max_heart_rate_bpm,
                    "avg_cadence_spm": activity.avg_cadence_spm,
                    "name": activity.name,
                    "description": None,
                    "device": None,
                    "commute": None,
                    "rpe": activity.rpe,
                    "feel": None,
                    "shoe_id": shoe,
                    "source_format": activity.source_format,
                    "source_sha256": None,
                    "source_part": 0,
                    "source_name": None,
                    "damaged": None,
                    "import_id": None,
                    "created_at": now,
                }
                if activity.streams is not None:
                    new_id = connection.execute(activities_t.insert().values(**row)).inserted_primary_key[0]
                    streams.append(
                        {
                            "activity_id": new_id,
                            "n_samples": len(activity.streams),
                            "blob": stream_codec.encode(activity.streams),
                        }
                    )
                else:
                    rows.append(row)
            connection.execute(activities_t.insert(), rows)
            if streams:
                connection.execute(streams_t.insert(), streams)
            for k, score in enumerate((2, 3, 4, 2)):
                connection.execute(
                    pain_t.insert().values(
                        athlete_id=athlete_id,
                        region="knee-front",
                        side="left",
                        score=score,
                        timing="during",
                        local_date=end - timedelta(days=30 - 7 * k),
                        recorded_at=now,
                    )
                )
        total += len(runs)
        if not quiet and (index + 1) % 10 == 0:
            print(
                f"  club: {index + 1}/{athletes} athletes, {total} runs, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    engine.dispose()
    return {"athletes": athletes, "runs": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="database URL (migrated with `strideguard db upgrade`)")
    parser.add_argument("--athletes", type=int, default=100)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = build(args.db, args.athletes, args.years)
    print(
        f"club: {counts['athletes']} athletes, {counts['runs']} runs in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
