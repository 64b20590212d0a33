"""Web latency on a 10-year history (~3,000 runs): dashboard and activity pages, cold and warm.

The history is the demo athlete's plan for `--weeks` weeks (520 = 10 years, ~2,400 sessions) plus a short
second run on about one day in four (~3,000 runs in all), stored as summaries directly; only the last 40
runs get 1 Hz streams (the activity pages measured). Shoes rotate every ~750 km (older pairs retired, two
active) and a few pain entries are logged, so every dashboard panel has work to do.

The app runs as the real `strideguard serve` in a subprocess on a free loopback port. Printed figures:
- the first dashboard view after the server starts (nothing cached, nothing warmed);
- uncached dashboard views: each after an RPE change through the API, which invalidates the dashboard's
  cache, one client, p50/p95;
- warm views with N concurrent client threads (httpx): dashboard, activity pages and the activity list,
  p50/p95 (the issue's target: p95 under 150 ms).
Client-side times on loopback, so they include HTTP overhead; on a shared machine they are an upper bound.

Usage: python bench/web_latency.py [--weeks 520] [--clients 4] [--requests 200] [--uncached 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from strideguard.demo import athlete as demo
from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training.pain import PainEntry

TARGET_MS = 150.0
WITH_STREAMS = 40
SHOE_LIFE_M = 750_000.0


def summary(run: demo.PlannedRun, rng: random.Random) -> Activity:
    """A stored-summary activity for one planned session (no streams: enough for every analytic)."""
    pace_s_per_km = {"race": 290, "tempo": 300, "intervals": 330, "long": 365, "treadmill": 345}.get(
        run.kind, 355
    )
    start = datetime.combine(run.day, run.start, tzinfo=UTC) - timedelta(hours=1)
    duration_s = run.distance_m / 1000 * pace_s_per_km * rng.uniform(0.97, 1.03)
    return Activity(
        sport="treadmill" if run.kind == "treadmill" else "run",
        start_utc=start,
        utc_offset_s=3600,
        source_format="fit",
        distance_m=run.distance_m,
        moving_time_s=duration_s,
        elapsed_time_s=duration_s + 30,
        avg_heart_rate_bpm=rng.uniform(135, 160),
        avg_cadence_spm=rng.uniform(164, 176),
        ascent_m=rng.uniform(5, 60),
        rpe=rng.choice([None, None, 3.0, 4.0, 6.0, 8.0]),
        name=f"{run.kind.capitalize()} run",
    )


def history(end: date, weeks: int, seed: int = 7) -> list[Activity]:
    """~5.8 runs a week for `weeks` weeks ending `end`, oldest first; the last WITH_STREAMS have streams."""
    rng = random.Random(seed)
    sessions = demo.plan(end, weeks, seed)
    activities: list[Activity] = []
    for index, run in enumerate(sessions):
        if index >= len(sessions) - WITH_STREAMS:
            activities.append(demo.simulate(run, index, seed))
        else:
            activities.append(summary(run, rng))
        if run.kind == "easy" and rng.random() < 0.48 and index < len(sessions) - WITH_STREAMS:
            # A second, short run the same evening: doubles are common, and the spike rule must compare
            # each with the days before, not with each other.
            double = demo.PlannedRun(run.day, "easy", round(rng.uniform(3000, 6000), -1), run.start)
            evening = summary(double, rng)
            activities.append(replace(evening, start_utc=evening.start_utc + timedelta(hours=10)))
    return activities


def build(url: str, weeks: int) -> list[int]:
    """Store the history, shoes and pain entries; return the ids of the activities with streams."""
    engine = db.make_engine(url)
    db.ensure_schema(engine)
    end = datetime.now(UTC).date()
    activities = history(end, weeks)
    with_streams: list[int] = []
    with db.session_factory(engine)() as session:
        athlete = store.local_athlete(session)
        shoe = shoe_store.add_shoe(session, athlete, "Pair 1", "Demo", "Trainer", retire_at_m=800_000)
        worn_m, pairs, previous = 0.0, 1, None
        for activity in activities:
            if worn_m > SHOE_LIFE_M:  # a new pair; the one before the current one is retired
                if previous is not None:
                    shoe_store.retire(session, athlete, previous.id)
                previous, worn_m, pairs = shoe, 0.0, pairs + 1
                shoe = shoe_store.add_shoe(
                    session, athlete, f"Pair {pairs}", "Demo", "Trainer", retire_at_m=800_000
                )
            worn_m += activity.distance_m or 0.0
            saved = store.save_activity(session, athlete, replace(activity, shoe_id=shoe.id))
            if activity.streams is not None:
                with_streams.append(saved.activity_id)
        for i, score in enumerate((2, 3, 5, 4, 2, 1)):
            day = end - timedelta(days=40 - 6 * i)
            pain_store.add_pain(session, athlete, PainEntry(day, "knee-front", "left", score, "during"))
        session.commit()
    engine.dispose()
    print(
        f"history: {len(activities)} runs over {weeks} weeks, {pairs} shoes; {len(with_streams)} with streams"
    )
    return with_streams


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


def report(label: str, timings: list[float], clients: int) -> None:
    p95 = percentile(timings, 0.95)
    verdict = "OK" if p95 < TARGET_MS else f"over the {TARGET_MS:.0f} ms target"
    print(
        f"{label:36s} n={len(timings):4d} clients={clients} "
        f"p50={statistics.median(timings):7.1f} ms p95={p95:7.1f} ms {verdict}"
    )


def timed_get(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = http.get(path)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: HTTP {response.status_code}")
    return elapsed_ms


def warm(base: str, paths: list[str], clients: int, requests: int) -> list[float]:
    """`requests` GETs spread over `clients` threads, each after one untimed warm-up request."""
    timings: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            http.get(paths[0])
            mine = [timed_get(http, paths[k % len(paths)]) for k in range(n)]
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=client, args=(requests // clients,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--uncached", type=int, default=20, help="uncached dashboard views to time")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sg-web-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    started = time.perf_counter()
    ids = build(url, args.weeks)
    print(f"generated in {time.perf_counter() - started:.0f} s")
    port = free_port()
    env = dict(os.environ, STRIDEGUARD_DATABASE_URL=url, STRIDEGUARD_DATA_DIR=str(tmp / "data"))
    server = subprocess.Popen(
        [sys.executable, "-m", "strideguard", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/static/app.css", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=60) as http:
            first = timed_get(http, "/")
            print(f"{'dashboard / first view (cold)':36s} {first:7.1f} ms")
            uncached: list[float] = []
            for k in range(args.uncached):
                changed = http.patch(f"/api/activities/{ids[-1]}", json={"rpe": float(k % 10)})
                if changed.status_code != 200:
                    raise SystemExit(f"PATCH rpe: HTTP {changed.status_code}")
                uncached.append(timed_get(http, "/"))
            report("dashboard / uncached (after a change)", uncached, 1)
        pages = {
            "dashboard / warm": ["/"],
            "activity /activities/{id} warm": [f"/activities/{i}" for i in ids],
            "activity list /activities warm": ["/activities"],
        }
        for label, paths in pages.items():
            report(label, warm(base, paths, args.clients, args.requests), args.clients)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
