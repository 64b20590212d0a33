"""Bulk import benchmark: a Strava export of N one-hour runs imported end to end into SQLite.

Usage:
    python bench/bulk_import.py                # 1,000 runs, fitdecode peer on a 30-run subset
    python bench/bulk_import.py --n 200 --subset 20 --keep

Generates a realistic Strava bulk export (activities.csv + activities/<n>.fit.gz, real FIT files written by
`strideguard.activities.fit_writer` from 1 Hz simulated streams), then imports it with the real pipeline
(`strideguard.importing.run_import`: worker processes, batched transactions) into a fresh SQLite file, in a
child process so that its peak memory is measured alone. Prints activities/s, MB/s (archive bytes), peak
RSS of the importing process and of its worker processes (resource.getrusage), and, in the same run, the
same pipeline with fitdecode as the FIT reader on a subset, with the ratio; and the database's size with
the original files it keeps (table `source_files`) against the same database without them.

Targets (issue 3): 1,000 runs in under 30 s on 2 cores, at least 20x the fitdecode pipeline, peak memory
under 500 MB whatever the archive size. Both pipelines do the same work except the FIT reader (the same
CRC check, stream encoding, batched saving); `--subset 100` amortises the fitdecode run's fixed costs (pool
start-up) better, for a stricter ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from strideguard.storage import engine as db
from strideguard.importing.service import ImportOptions, run_import
archive, url, reader, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
engine = db.make_engine(url)
db.upgrade(engine)
started = time.perf_counter()
summary = run_import(engine, [Path(archive)], ImportOptions(workers=workers, reader=reader))
elapsed = time.perf_counter() - started
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"elapsed_s": elapsed, "summary": summary.to_json(), "self_kb": self_kb,
                  "children_kb": children_kb}))
"""


def generate(path: Path, n: int, minutes: float) -> float:
    """Write a Strava export of `n` runs to `path`; returns the seconds it took."""
    import exportgen

    started = time.perf_counter()
    runs = (r for r in _runs(n, minutes))
    entries = list(exportgen.iter_strava_entries(runs))
    exportgen.write_strava_export(path, entries, shoes=[("Pegasus 39", "Nike", "Pegasus 39")])
    return time.perf_counter() - started


def _runs(n: int, minutes: float):  # type: ignore[no-untyped-def]
    import exportgen

    # Simulating is the slow part of generation; one run per day, each with its own streams.
    for i in range(n):
        yield exportgen.simulated_runs(1, minutes=minutes, seed=1000 + i, first_day=_day(i))[0]


def _day(i: int):  # type: ignore[no-untyped-def]
    from datetime import date, timedelta

    return date(2016, 1, 1) + timedelta(days=i)


def subset_export(source: Path, target: Path, keep: int) -> None:
    """The first `keep` CSV rows of `source` and their files, as a smaller export."""
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        rows = list(csv.reader(io.StringIO(src.read("activities.csv").decode())))
        header, body = rows[0], rows[1 : keep + 1]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *body])
        dst.writestr("activities.csv", out.getvalue())
        column = header.index("Filename")
        for row in body:
            dst.writestr(row[column], src.read(row[column]))


def run_child(archive: Path, workdir: Path, reader: str, workers: int, tag: str) -> dict:  # type: ignore[type-arg]
    db_path = workdir / f"bench-{tag}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop("STRIDEGUARD_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(archive), f"sqlite:///{db_path}", reader, str(workers)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"import child failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def database_sizes(workdir: Path, tag: str) -> dict[str, float]:
    """Sizes in MB of the imported database: the file (vacuumed), what its original files take (the table
    `source_files`: compressed bytes, and the files' own size), the samples, and the same file vacuumed
    without the originals: the peer that says what keeping them costs."""
    import sqlite3

    db_path = workdir / f"bench-{tag}.sqlite"
    copy = workdir / f"bench-{tag}-without-originals.sqlite"
    copy.unlink(missing_ok=True)
    mb = 1e6
    with sqlite3.connect(db_path) as connection:
        connection.execute("VACUUM")
        originals, compressed, n = connection.execute(
            "SELECT coalesce(sum(size), 0), coalesce(sum(length(blob)), 0), count(*) FROM source_files"
        ).fetchone()
        samples = connection.execute(
            "SELECT coalesce(sum(length(blob)), 0) FROM activity_streams"
        ).fetchone()[0]
        with sqlite3.connect(copy) as target:
            connection.backup(target)
    with sqlite3.connect(copy) as target:
        target.execute("DELETE FROM source_files")
        target.commit()
        target.execute("VACUUM")
    sizes = {
        "file": db_path.stat().st_size / mb,
        "without_originals": copy.stat().st_size / mb,
        "originals": originals / mb,
        "originals_compressed": compressed / mb,
        "originals_n": n,
        "samples": samples / mb,
    }
    copy.unlink()
    return sizes


def decoder_in_use(archive: Path) -> str:
    """Which FIT decoder the pipeline's reader used on a sample file."""
    import gzip
    import zipfile

    from strideguard.activities.formats import fit_fast

    with zipfile.ZipFile(archive) as src:
        name = next(n for n in src.namelist() if n.endswith(".fit.gz"))
        data = gzip.decompress(src.read(name))
    try:
        fit_fast.decode_fast(data)
    except Exception as exc:
        return f"fitdecode fallback (fast decoder declined: {exc})"
    return "fast NumPy decoder (strideguard.activities.formats.fit_fast)"


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="runs in the export (default 1000)")
    parser.add_argument("--minutes", type=float, default=60.0, help="length of each run (default 60)")
    parser.add_argument("--subset", type=int, default=30, help="runs imported with fitdecode (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="parser processes (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the generated export and databases")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="strideguard-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    archive = workdir / f"export_bench_{args.n}x{args.minutes:g}min.zip"
    try:
        if archive.exists():
            print(f"reusing {archive}")
        else:
            seconds = generate(archive, args.n, args.minutes)
            print(f"generated {archive.name} in {seconds:.1f} s")
        size_mb = archive.stat().st_size / 1e6
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"load average before the runs: {_load()} (other processes share the cores: figures vary)")
        print(f"archive: {args.n} runs of {args.minutes:g} min, {size_mb:.1f} MB")
        print(f"decoder: {decoder_in_use(archive)}")

        full = run_child(archive, workdir, "auto", args.workers, "full")
        imported = full["summary"]["imported"]
        if imported != args.n:
            print(f"WARNING: imported {imported} of {args.n}: {json.dumps(full['summary'])[:500]}")
        rate = imported / full["elapsed_s"]
        print(
            f"pipeline: {imported} activities in {full['elapsed_s']:.1f} s = {rate:.1f} activities/s, "
            f"{size_mb / full['elapsed_s']:.1f} MB/s; peak RSS main {full['self_kb'] / 1024:.0f} MB, "
            f"largest worker {full['children_kb'] / 1024:.0f} MB "
            f"(bound for all: {(full['self_kb'] + args.workers * full['children_kb']) / 1024:.0f} MB)"
        )

        sizes = database_sizes(workdir, "full")
        grown = sizes["file"] - sizes["without_originals"]
        print(
            f"database: {sizes['file']:.1f} MB with the original files, {sizes['without_originals']:.1f} MB "
            f"without (+{grown:.1f} MB, +{100 * grown / sizes['without_originals']:.0f} %); "
            f"{sizes['originals_n']:.0f} originals of {sizes['originals']:.1f} MB kept as "
            f"{sizes['originals_compressed']:.1f} MB (compressed, "
            f"{sizes['originals'] / max(sizes['originals_compressed'], 1e-9):.1f}x); "
            f"samples {sizes['samples']:.1f} MB"
        )

        subset = min(args.subset, args.n)
        small = workdir / f"export_subset_{subset}.zip"
        subset_export(archive, small, subset)
        fast_small = run_child(small, workdir, "auto", args.workers, "subset-fast")
        slow_small = run_child(small, workdir, "fitdecode", args.workers, "subset-fitdecode")
        slow_rate = slow_small["summary"]["imported"] / slow_small["elapsed_s"]
        fast_small_rate = fast_small["summary"]["imported"] / fast_small["elapsed_s"]
        print(
            f"fitdecode pipeline on {subset} runs: {slow_small['elapsed_s']:.1f} s = "
            f"{slow_rate:.2f} activities/s; "
            f"ours on the same subset: {fast_small_rate:.1f} activities/s"
        )
        print(
            f"ratio (full run vs fitdecode pipeline): {rate / slow_rate:.1f}x; "
            f"same subset: {fast_small_rate / slow_rate:.1f}x"
        )
        verdict = [
            f"{'OK ' if full['elapsed_s'] < 30 * args.n / 1000 else 'MISS'} {args.n} runs in "
            f"{full['elapsed_s']:.1f} s (target < {30 * args.n / 1000:.0f} s)",
            f"{'OK ' if rate / slow_rate >= 20 else 'MISS'} {rate / slow_rate:.1f}x fitdecode "
            "(target >= 20x)",
            f"{'OK ' if full['self_kb'] + args.workers * full['children_kb'] < 500 * 1024 else 'MISS'} "
            f"peak memory bound {(full['self_kb'] + args.workers * full['children_kb']) / 1024:.0f} MB "
            "(target < 500 MB)",
        ]
        print("\n".join(verdict))
        print(f"load average after the runs: {_load()}")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            print(f"kept: {workdir}")


if __name__ == "__main__":
    main()
