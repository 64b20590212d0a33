"""Server load: many runners browsing while uploads import, against the real `strideguard serve`.

Two set-ups, each with N = 1 and N = 2 server processes (`serve --workers N`; N = 2 is skipped for a
checkout whose `serve` has no --workers):
- sqlite: one runner with a 10-year history (~3,000 runs) in local mode; CLIENTS browsing clients and
  UPLOADS clients uploading a new FIT file again and again (each import changes the runner's data, so the
  dashboard is recomputed);
- postgresql: the club of bench/clubgen.py (100 athletes x 10 years, ~250,000 runs) in server mode; each of
  CLIENTS clients logs in as its own athlete, UPLOADS of them also upload.

Each set-up runs two phases of --duration seconds: "warm" (each client has viewed every page it will look at
once before the clock starts, its 40 runs' pages included; the uploads still change what the uploaders'
pages show) and "uncached" (each page view right after an RPE edit of one of the client's own runs, which
changes what the page shows; an activity's page is then the page of the run edited, since other runs' pages
do not change). The club is
vacuumed (VACUUM ANALYZE) before each set-up, as autovacuum would on a real server. Printed:
throughput, errors (HTTP >= 400 other than the expected, time-outs), p50/p95/p99 per page and for uploads,
peak RSS (VmHWM) of every server process. With --explain (PostgreSQL), the three slowest statements of one
page walk are shown with EXPLAIN ANALYZE.

Loopback only (a free port on 127.0.0.1), bounded: every phase ends after --duration seconds, every request
after --timeout seconds. To measure an older checkout, run this file with that checkout's `src` first on
PYTHONPATH (`git archive main src | tar -x -C /tmp/before; PYTHONPATH=/tmp/before/src python bench/...`):
the data is written and served by the code being measured.

The clients use bench/light_http.py: they share the machine with the server, and httpx (the earlier rounds'
client, still there with --client httpx) took half a core from it at 175 requests a second.

Usage: python bench/server_load.py [--backend sqlite,postgresql] [--processes 1,2] [--duration 30]
       [--phases warm,uncached] [--client light|httpx]
       [--pg-url postgresql://postgres@127.0.0.1:5432/test] [--athletes 100] [--years 10] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import clubgen
import light_http
import web_latency

from strideguard.demo import athlete as demo
from strideguard.storage import engine as db

TARGET_P95_MS = 300.0
PAGES = ("/", "/shoes", "/activities", "/activities/{id}", "/pain", "/import")


@dataclass
class Stats:
    """Latencies (ms) per label, errors by kind."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: int = 0
    cpu_s: float | None = None  # CPU used by the server's processes during the phase
    client_cpu_s: float | None = None  # CPU used by this script's clients (they share the machine)
    db_cpu_s: float | None = None  # CPU used by PostgreSQL's processes (0 for SQLite)
    busy: float | None = None  # the machine's cores in use, from /proc/stat
    stolen: float | None = None  # cores the host gave to other machines meanwhile
    load: float | None = None  # the machine's load average during the phase

    def add(self, label: str, ms: float) -> None:
        self.times[label].append(ms)
        self.requests += 1

    def error(self, kind: str) -> None:
        self.errors[kind] += 1
        self.requests += 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_peaks(root_pid: int) -> list[tuple[int, str, float]]:
    """(pid, role, peak RSS in MiB) of the server process and every process below it."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop(0)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
        except OSError:
            continue
        peak = re.search(r"VmHWM:\s+(\d+) kB", status)
        role = "server" if pid == root_pid else ("worker" if "multiprocessing" in cmd else "child")
        out.append((pid, role, int(peak.group(1)) / 1024 if peak else 0.0))
        todo.extend(children.get(pid, []))
    return out


def _stat_cpu(stat: str) -> tuple[str, float]:
    """A /proc/PID/stat line's command name and its CPU time (user + system) in seconds."""
    head, tail = stat.rsplit(")", 1)
    fields = tail.split()
    return head.split("(", 1)[-1], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) used so far by the server process and every process below it."""
    total = 0.0
    for pid, _role, _peak in rss_peaks(root_pid):
        try:
            total += _stat_cpu(Path(f"/proc/{pid}/stat").read_text())[1]
        except OSError:
            continue
    return total


def postgres_cpu_seconds() -> float:
    """CPU time used so far by every PostgreSQL process on this machine (the club's server share)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, cpu = _stat_cpu((entry / "stat").read_text())
        except OSError:
            continue
        if name == "postgres":
            total += cpu
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """Core-seconds this machine spent busy so far, and those the host gave to others instead (steal: on
    a shared virtual machine, the main cause of run-to-run differences), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def upload_files(count: int, seed: int) -> list[tuple[str, bytes]]:
    """`count` distinct FIT runs of the last 60 days (never the same start, so each import adds a run)."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    files = []
    for k in range(count):
        day = today - timedelta(days=rng.randint(1, 60))
        start = clock(rng.randint(5, 21), rng.randint(0, 59))
        run = demo.PlannedRun(day, "easy", float(rng.randint(30, 80) * 100), start)
        activity = demo.simulate(run, k, seed + k)
        name = f"upload-{seed}-{k}-{uuid.uuid4().hex[:6]}.fit"
        files.append((name, demo.encode(activity, name)))
    return files


class Server:
    """The real `strideguard serve` in a subprocess on a free loopback port."""

    def __init__(self, url: str, data_dir: Path, processes: int, accounts: bool) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "strideguard", "--db", url, "serve", "--port", str(self.port)]
        if accounts:
            args.append("--accounts")
        if processes > 1:
            args += ["--workers", str(processes)]
        env = dict(os.environ, STRIDEGUARD_DATA_DIR=str(data_dir), STRIDEGUARD_SECRET_KEY="b" * 64)
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"serve exited early: {self.output()}")
            try:
                httpx.get(self.base + "/static/app.css", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("serve did not start within 120 s")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> list[tuple[int, str, float]]:
        peaks = rss_peaks(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return peaks


def supports_workers() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "strideguard", "serve", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return "--workers" in out


# --- clients ------------------------------------------------------------------------------------------------


async def login(http: httpx.AsyncClient, email: str) -> None:
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if token is None:
        raise SystemExit("no CSRF token on /login")
    response = await http.post(
        "/login", data={"email": email, "password": clubgen.PASSWORD, "csrf_token": token.group(1)}
    )
    if response.status_code != 303:
        raise SystemExit(f"login as {email}: HTTP {response.status_code}")


async def timed(
    stats: Stats, http: httpx.AsyncClient, label: str, method: str, path: str, **kw
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await http.request(method, path, **kw)
    except (httpx.TimeoutException, light_http.TimeoutException):
        stats.error(f"{label}: time-out")
        return None
    except (httpx.HTTPError, light_http.HTTPError) as exc:
        stats.error(f"{label}: {type(exc.__cause__ or exc).__name__}")
        return None
    ms = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        stats.error(f"{label}: HTTP {response.status_code}")
        return response
    stats.add(label, ms)
    return response


async def own_activities(http: httpx.AsyncClient) -> list[int]:
    response = await http.get("/api/activities", params={"per_page": 40})
    data = response.json()
    items = data["activities"] if isinstance(data, dict) else data
    return [a["id"] for a in items]


async def warm_up(http: httpx.AsyncClient | light_http.AsyncClient, ids: list[int]) -> None:
    for page in PAGES:
        for path in [page.replace("{id}", str(i)) for i in ids] if "{id}" in page else [page]:
            await http.get(path)


async def browser(
    http: httpx.AsyncClient, stats: Stats, until: float, uncached: bool, seed: int, ids: list[int]
) -> None:
    rng = random.Random(seed)
    k = rng.randrange(len(PAGES))
    while time.monotonic() < until:
        page = PAGES[k % len(PAGES)]
        k += 1
        edited = rng.choice(ids)
        # An activity's page is the page of the run just edited: a page of another run does not change.
        path = page.replace("{id}", str(edited)) if "{id}" in page else page
        if uncached:
            await timed(
                stats,
                http,
                "edit (PATCH rpe)",
                "PATCH",
                f"/api/activities/{edited}",
                json={"rpe": float(rng.randint(2, 9))},
            )
        await timed(stats, http, page + (" uncached" if uncached else ""), "GET", path)


async def uploader(
    http: httpx.AsyncClient, stats: Stats, until: float, files: list[tuple[str, bytes]]
) -> None:
    for name, data in files:
        if time.monotonic() >= until:
            return
        page = await timed(stats, http, "/import (form)", "GET", "/import")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text) if page is not None else None
        if token is None:
            continue
        response = await timed(
            stats,
            http,
            "upload (POST /import)",
            "POST",
            "/import",
            data={"csrf_token": token.group(1), "sports": "default"},
            files={"files": (name, data, "application/octet-stream")},
        )
        if response is not None and response.status_code == 303:
            await timed(stats, http, "/import/jobs/{job}", "GET", response.headers["location"])


async def phase(
    base: str,
    clients: int,
    uploads: int,
    duration: float,
    uncached: bool,
    emails: list[str] | None,
    timeout: float,
    files: list[list[tuple[str, bytes]]],
    client: str,
    server_pid: int,
) -> tuple[Stats, float]:
    stats = Stats()
    if client == "httpx":
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        sessions = [
            httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits, follow_redirects=False)
            for _ in range(clients)
        ]
    else:
        sessions = [light_http.AsyncClient(base, timeout=timeout, connections=4) for _ in range(clients)]
    try:
        if emails:
            await asyncio.gather(*(login(s, emails[i]) for i, s in enumerate(sessions)))
        # Each client's own runs, asked for before the load starts (one client at a time).
        ids = [await own_activities(s) for s in sessions]
        if not uncached:  # warm: every page the clients will look at is viewed once before the clock starts
            await asyncio.gather(*(warm_up(s, ids[i]) for i, s in enumerate(sessions)))
        # CPU is counted from here: the server's processes (its import worker too), PostgreSQL, the clients.
        cpu_before, load_before = cpu_seconds(server_pid), os.getloadavg()[0]
        client_before, db_before = time.process_time(), postgres_cpu_seconds()
        busy_before = machine_busy_seconds()
        started = time.monotonic()
        until = started + duration
        tasks = [browser(s, stats, until, uncached, i, ids[i]) for i, s in enumerate(sessions)]
        tasks += [uploader(sessions[i % clients], stats, until, files[i]) for i in range(uploads)]
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        stats.cpu_s = cpu_seconds(server_pid) - cpu_before
        stats.client_cpu_s = time.process_time() - client_before
        stats.db_cpu_s = postgres_cpu_seconds() - db_before
        busy_after = machine_busy_seconds()
        stats.busy = (busy_after[0] - busy_before[0]) / elapsed
        stats.stolen = (busy_after[1] - busy_before[1]) / elapsed
        stats.load = (load_before + os.getloadavg()[0]) / 2
    finally:
        await asyncio.gather(*(s.aclose() for s in sessions))
    return stats, elapsed


def print_stats(title: str, stats: Stats, elapsed: float, peaks: list[tuple[int, str, float]] | None) -> None:
    ok = sum(len(v) for v in stats.times.values())
    errors = sum(stats.errors.values())
    every = [t for label, v in stats.times.items() for t in v if not label.startswith("upload")]
    print(f"\n## {title}")
    print(f"{ok / elapsed:.1f} req/s ({ok} answered in {elapsed:.0f} s), errors {errors}")
    if stats.cpu_s is not None:
        print(
            f"server CPU {stats.cpu_s:.1f} s in {elapsed:.0f} s ({stats.cpu_s / elapsed:.2f} cores), "
            f"{stats.cpu_s * 1000 / max(ok, 1):.1f} ms per answer (uploads' imports included); "
            f"load average {stats.load:.1f}; the clients' CPU {stats.client_cpu_s:.1f} s "
            f"({stats.client_cpu_s / elapsed:.2f} cores); PostgreSQL {stats.db_cpu_s / elapsed:.2f} cores; "
            f"the machine {stats.busy:.2f} of {os.cpu_count()} cores busy, "
            f"{stats.stolen:.2f} stolen by the host"
        )
    if every:
        p95 = pct(every, 0.95)
        verdict = (
            "OK" if p95 < TARGET_P95_MS and errors == 0 else f"target p95 < {TARGET_P95_MS:.0f} ms missed"
        )
        print(
            f"all pages: p50 {pct(every, 0.5):.0f} / p95 {p95:.0f} / p99 {pct(every, 0.99):.0f} ms  {verdict}"
        )
    print(f"{'':34s} {'n':>5s} {'p50':>7s} {'p95':>7s} {'p99':>7s}  ms")
    for label in sorted(stats.times):
        values = stats.times[label]
        print(
            f"{label:34s} {len(values):5d} {pct(values, 0.5):7.0f} {pct(values, 0.95):7.0f} "
            f"{pct(values, 0.99):7.0f}"
        )
    for kind, count in sorted(stats.errors.items()):
        print(f"  error: {kind} x{count}")
    if peaks:
        shown = ", ".join(f"{role} {pid}: {mib:.0f} MiB" for pid, role, mib in peaks)
        print(f"peak RSS: {shown}")


def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) a PostgreSQL database, as autovacuum would on a real server. Every change rewrites
    its athlete's row (the data version) and totals; where the server runs with autovacuum off (as this
    machine's does), each run would otherwise measure the dead rows the runs before it left."""
    engine = db.make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if connection.scalar(sa.text("SHOW autovacuum")) == "off":
                print("(autovacuum is off on this server: the club is vacuumed before each set-up)")
            connection.execute(sa.text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()


def run_setup(
    name: str,
    url: str,
    accounts: bool,
    clients: int,
    uploads: int,
    args: argparse.Namespace,
    emails: list[str] | None,
) -> None:
    processes = [int(p) for p in args.processes.split(",")]
    if any(p > 1 for p in processes) and not supports_workers():
        print("(this checkout's serve has no --workers: N > 1 skipped)")
        processes = [p for p in processes if p == 1]
    files = [upload_files(60, seed=100 * (i + 1) + len(name)) for i in range(uploads)]
    for n in processes:
        if url.startswith("postgresql"):
            vacuum(url)
        data_dir = Path(tempfile.mkdtemp(prefix="sg-load-data-"))
        server = Server(url, data_dir, n, accounts)
        try:
            results = []
            for uncached in [p == "uncached" for p in args.phases.split(",")]:
                label = "uncached (each view after an edit)" if uncached else "warm"
                stats, elapsed = asyncio.run(
                    phase(
                        server.base,
                        clients,
                        uploads,
                        args.duration,
                        uncached,
                        emails,
                        args.timeout,
                        files,
                        args.client,
                        server.process.pid,
                    )
                )
                results.append((label, stats, elapsed))
        finally:
            peaks = server.stop()
            tail = [line for line in server.output().splitlines() if "Traceback" in line or "Error" in line]
            shutil.rmtree(data_dir, ignore_errors=True)
        for k, (label, stats, elapsed) in enumerate(results):
            processes_text = f"N={n} server process{'es' if n > 1 else ''}"
            title = f"{name}, {processes_text}, {clients} clients + {uploads} uploads, {label}"
            print_stats(title, stats, elapsed, peaks if k == 0 else None)
        if tail:
            print(f"server log: {len(tail)} error lines, first: {tail[0][:200]}")


def explain_slowest(url: str, email: str, count: int = 3) -> None:
    """Walk the pages in-process as `email`, time every SQL statement, EXPLAIN ANALYZE the slowest."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from strideguard.importing import jobs as import_jobs
    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    app = create_app(
        Settings(
            db_url=url,
            accounts=True,
            data_dir=Path(tempfile.mkdtemp()),
            run_worker=False,
            secret_key=b"e" * 32,
        )
    )
    seen: dict[str, tuple[float, object]] = {}

    @event.listens_for(app.state.engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(app.state.engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        ms = (time.perf_counter() - conn.info.pop("t0", time.perf_counter())) * 1000
        if statement.lstrip().upper().startswith("SELECT") and ms > seen.get(statement, (0.0, None))[0]:
            # SELECTs only: EXPLAIN ANALYZE runs them again, which must change nothing.
            seen[statement] = (ms, parameters)

    with TestClient(app) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"email": email, "password": clubgen.PASSWORD, "csrf_token": token})
        ids = [
            a["id"]
            for a in (lambda d: d["activities"] if isinstance(d, dict) else d)(
                client.get("/api/activities", params={"per_page": 5}).json()
            )
        ]
        seen.clear()
        for path in PAGES:
            client.get(path.replace("{id}", str(ids[0])))
        # And one upload, imported here (the statements of the import worker count too).
        page = client.get("/import")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        ((name, data),) = upload_files(1, seed=99)
        client.post(
            "/import",
            data={"csrf_token": token, "sports": "default"},
            files={"files": (name, data, "application/octet-stream")},
        )
        for _ in range(50):  # jobs the load phases left queued go first (their folders are gone)
            job = import_jobs.claim(app.state.engine)
            if job is None:
                break
            import_jobs.run_one(app.state.engine, job)
    slowest = sorted(seen.items(), key=lambda item: -item[1][0])[:count]
    print(
        f"\n## the {count} slowest statements of one page walk and one upload (as {email}), EXPLAIN ANALYZE"
    )
    with app.state.engine.connect() as connection:
        raw = connection.connection.driver_connection
        for statement, (ms, parameters) in slowest:
            print(f"\n-- {ms:.1f} ms: {' '.join(statement.split())[:300]}")
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                for (line,) in cursor.fetchall():
                    print("   " + line)
    app.state.engine.dispose()


def pg_database(admin_url: str, name: str) -> str:
    engine = sa.create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, name: str) -> None:
    engine = sa.create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--phases", default="warm,uncached", help="which phases, in order")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--weeks", type=int, default=520, help="the SQLite runner's history")
    parser.add_argument("--sqlite-clients", type=int, default=30)
    parser.add_argument("--pg-clients", type=int, default=50)
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--athletes", type=int, default=100)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--keep-club", help="reuse (or keep) this PostgreSQL database name for the club")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--client",
        choices=("light", "httpx"),
        default="light",
        help="the clients' HTTP library: bench/light_http.py (default; about a tenth of httpx's CPU per "
        "request, which the clients take from the server they measure) or httpx (earlier rounds' figures)",
    )
    args = parser.parse_args()
    import strideguard

    print(
        f"strideguard from {Path(strideguard.__file__).parent}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    backends = args.backend.split(",")
    if "sqlite" in backends:
        tmp = Path(tempfile.mkdtemp(prefix="sg-load-"))
        url = f"sqlite:///{tmp / 'runner.sqlite'}"
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            sys.stdout, real = quiet, sys.stdout
            try:
                web_latency.build(url, args.weeks)
            finally:
                sys.stdout = real
        runs = sa.create_engine(url).connect().execute(sa.text("select count(*) from activities")).scalar()
        print(
            f"\nsqlite: one runner, {runs} runs over {args.weeks} weeks, "
            f"built in {time.perf_counter() - started:.0f} s"
        )
        try:
            run_setup("sqlite, one runner", url, False, args.sqlite_clients, args.uploads, args, None)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if "postgresql" in backends:
        name = args.keep_club or f"sg_club_{uuid.uuid4().hex[:8]}"
        exists = False
        if args.keep_club:
            engine = sa.create_engine(args.pg_url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as connection:
                exists = bool(
                    connection.scalar(sa.text("select 1 from pg_database where datname = :n"), {"n": name})
                )
            engine.dispose()
        url = args.pg_url.rsplit("/", 1)[0] + "/" + name if exists else pg_database(args.pg_url, name)
        try:
            if not exists:
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "strideguard", "--db", url, "db", "upgrade"],
                    check=True,
                    capture_output=True,
                )
                counts = clubgen.build(url, args.athletes, args.years)
                print(
                    f"\npostgresql: the club, {counts['athletes']} athletes, {counts['runs']} runs, "
                    f"built in {time.perf_counter() - started:.0f} s"
                )
            emails = [clubgen.email(i) for i in range(args.pg_clients)]
            run_setup("postgresql, the club", url, True, args.pg_clients, args.uploads, args, emails)
            if args.explain:
                explain_slowest(url, emails[0])
        finally:
            if not args.keep_club:
                drop_pg_database(args.pg_url, name)


if __name__ == "__main__":
    main()
