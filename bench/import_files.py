"""Benchmark: import FIT runs with StrideGuard's reader vs plain fitdecode on the same files, in one run.

Files: the running FIT files listed in ../shared/data/SOURCES.md (sport "running..."), plus N generated
one-hour runs written by strideguard.activities.fit_writer into a temporary directory.

Measured per set, best of --repeat passes (after one warm-up pass):
- strideguard: `activities.formats.read_bytes` (gunzip, sniff, sha256, fast decoder / fitdecode fallback,
  CRC check, build Activity with streams) - the whole per-file import path short of the database;
- strideguard (fitdecode path): the same with the fast decoder forced to decline (our fallback);
- fitdecode: `fitdecode.FitReader` over every frame with its default options (CRC checked, as a peer uses it).

Usage: python bench/import_files.py [DATA_DIR] [--generated 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fitdecode
import numpy as np

from strideguard.activities.fit_writer import encode_activity
from strideguard.activities.formats import fit as fit_module
from strideguard.activities.formats import read_bytes
from strideguard.activities.formats.errors import FileRejected
from strideguard.model import Activity, Streams

REPO = Path(__file__).resolve().parent.parent


def running_files(data_dir: Path) -> list[Path]:
    files = []
    for line in (data_dir / "SOURCES.md").read_text().splitlines():
        if line.startswith("| fit/"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[4].startswith("running"):
                files.append(data_dir / cells[0])
    return files


def generated_run(index: int, seconds: int = 3600) -> Activity:
    rng = np.random.default_rng(index)
    t = np.arange(seconds, dtype=float)
    speed = 2.9 + 0.4 * np.sin(t / (200 + index)) + rng.normal(0, 0.05, seconds)
    distance = np.cumsum(speed)
    streams = Streams(
        time_s=t,
        lat_deg=47.37 + np.cumsum(speed * np.cos(t / 600)) / 111_000,
        lon_deg=8.54 + np.cumsum(speed * np.sin(t / 600)) / 75_000,
        altitude_m=420 + 15 * np.sin(t / 500),
        distance_m=distance,
        speed_m_s=speed,
        heart_rate_bpm=np.round(140 + 12 * np.sin(t / 900) + rng.normal(0, 1, seconds)),
        cadence_spm=np.round(170 + rng.normal(0, 2, seconds)),
        power_w=np.round(240 + rng.normal(0, 10, seconds)),
    )
    return Activity(
        sport="run",
        start_utc=datetime(2025, 1, 1, 6, 0, tzinfo=UTC) + timedelta(days=index),
        source_format="fit",
        utc_offset_s=3600,
        distance_m=float(distance[-1]),
        elapsed_time_s=float(seconds - 1),
        moving_time_s=float(seconds - 1),
        avg_heart_rate_bpm=140.0,
        max_heart_rate_bpm=160.0,
        avg_cadence_spm=170.0,
        streams=streams,
    )


def load(paths: list[Path]) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in paths]


def ours(files: list[tuple[str, bytes]]) -> int:
    n = 0
    for name, data in files:
        try:
            n += len(read_bytes(data, name))
        except FileRejected:
            pass
    return n


def fitdecode_records(files: list[tuple[str, bytes]]) -> int:
    records = 0
    for name, data in files:
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with fitdecode.FitReader(data) as reader:
                    for frame in reader:
                        if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "record":
                            records += 1
            except fitdecode.FitError:
                pass
    return records


def timed(func: Callable[[], object], repeat: int) -> float:
    func()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times) if repeat > 1 else statistics.fmean(times)


def with_fallback(files: list[tuple[str, bytes]]) -> int:
    original = fit_module.decode_fast

    def decline(data: bytes) -> None:
        raise fit_module.FastDecodeUnsupported("benchmark: fitdecode path")

    fit_module.decode_fast = decline  # type: ignore[assignment]
    try:
        return ours(files)
    finally:
        fit_module.decode_fast = original


Measured = tuple[int, float, int, list[tuple[str, float]]]  # files, MB, records, (reader, seconds)


def measure(files: list[tuple[str, bytes]], repeat: int) -> Measured:
    size_mb = sum(len(d) for _, d in files) / 1e6
    records = fitdecode_records(files)
    rows = [
        ("strideguard", timed(lambda: ours(files), repeat)),
        ("strideguard (fitdecode path)", timed(lambda: with_fallback(files), max(1, repeat // 3))),
        ("fitdecode", timed(lambda: fitdecode_records(files), max(1, repeat // 3))),
    ]
    return len(files), size_mb, records, rows


def report(label: str, measured: Measured) -> None:
    n_files, size_mb, records, rows = measured
    peer = rows[-1][1]
    print(f"\n{label}: {n_files} files, {size_mb:.2f} MB, {records} records")
    print(f"{'reader':30} {'seconds':>8} {'files/s':>9} {'records/s':>11} {'MB/s':>7} {'vs fitdecode':>13}")
    for name, seconds in rows:
        print(
            f"{name:30} {seconds:8.3f} {n_files / seconds:9.1f} {records / seconds:11.0f} "
            f"{size_mb / seconds:7.2f} {peer / seconds:12.1f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--generated", type=int, default=20, help="number of generated one-hour runs")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per reader (best is shown)")
    args = parser.parse_args(argv)
    if not (args.data_dir / "SOURCES.md").is_file():
        print(f"error: {args.data_dir} has no SOURCES.md", file=sys.stderr)
        return 2
    real = load(running_files(args.data_dir))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = []
        for i in range(args.generated):
            path = Path(tmp) / f"run{i:03d}.fit"
            path.write_bytes(encode_activity(generated_run(i)))
            paths.append(path)
        took = time.perf_counter() - started
        print(f"wrote {args.generated} one-hour FIT runs with fit_writer in {took:.2f} s")
        generated = load(paths)
    first = measure(real, args.repeat)
    second = measure(generated, args.repeat)
    report("running FIT files in shared/data", first)
    report(f"generated one-hour runs (fit_writer, {args.generated})", second)
    both_rows = [(name, a + b) for (name, a), (_, b) in zip(first[3], second[3], strict=True)]
    report(
        "all (sum of the two sets)",
        (first[0] + second[0], first[1] + second[1], first[2] + second[2], both_rows),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
