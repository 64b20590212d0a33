"""Web latency: dashboard and activity pages at p95 with concurrent clients, on a 10-year history.

Generates ~3,000 runs with `demo.athlete_activities(end, weeks=520)` (streams kept only for the last 40 runs,
which are the activity pages measured), serves the app with uvicorn in a subprocess on loopback, and has
N client threads (httpx) request pages. Prints p50/p95 per page. Target: p95 < 150 ms.

Usage: python bench/web_latency.py [--weeks 520] [--clients 4] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from strideguard import db, demo, store


def build(url: str, weeks: int) -> list[int]:
    engine = db.make_engine(url)
    db.upgrade(engine)
    end = datetime.now(UTC).date()
    runs = list(demo.athlete_activities(end, weeks=weeks))
    with_streams: list[int] = []
    with db.session_factory(engine)() as session:
        athlete = store.local_athlete(session)
        for i, activity in enumerate(runs):
            keep = i >= len(runs) - 40
            outcome = store.save_activity(session, athlete, activity if keep else replace(activity, streams=None, laps=()))
            if keep:
                with_streams.append(outcome.activity_id)
        session.commit()
    engine.dispose()
    print(f"history: {len(runs)} runs over {weeks} weeks; {len(with_streams)} with streams")
    return with_streams


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sg-web-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    started = time.perf_counter()
    ids = build(url, args.weeks)
    print(f"generated in {time.perf_counter() - started:.0f} s")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, STRIDEGUARD_DATABASE_URL=url, STRIDEGUARD_DATA_DIR=str(tmp / "data"))
    server = subprocess.Popen(
        [sys.executable, "-m", "strideguard", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/static/app.css", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        pages = {"dashboard /": ["/"], "activity /activities/{id}": [f"/activities/{i}" for i in ids],
                 "activity list /activities": ["/activities"]}
        for label, paths in pages.items():
            timings: list[float] = []
            lock = threading.Lock()

            def client(n: int, paths: list[str] = paths, timings: list[float] = timings, lock=lock) -> None:
                with httpx.Client(base_url=base, timeout=30) as http:
                    http.get(paths[0])  # warm-up (cookie, caches)
                    for k in range(n):
                        t0 = time.perf_counter()
                        response = http.get(paths[k % len(paths)])
                        elapsed = time.perf_counter() - t0
                        assert response.status_code == 200, response.status_code
                        with lock:
                            timings.append(elapsed * 1000)

            threads = [threading.Thread(target=client, args=(args.requests // args.clients,)) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            timings.sort()
            p95 = timings[int(0.95 * (len(timings) - 1))]
            print(f"{label:32s} n={len(timings):4d} clients={args.clients} p50={statistics.median(timings):6.1f} ms "
                  f"p95={p95:6.1f} ms {'OK' if p95 < 150 else 'over the 150 ms target'}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
