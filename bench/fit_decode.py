"""Benchmark: StrideGuard's fast FIT decoder against fitdecode on the same files, in one run.

Usage: python bench/fit_decode.py [PATH ...] [--repeat N] [--all]
PATH: FIT files or folders (default: ../shared/data/fit next to the repository). By default only running
activities are timed (a file counts as running when fitdecode finds a session or sport message with sport
'running'); --all times every file both decoders read.

Prints, for each decoder: MB/s (input bytes, gunzipped) and records/s over the whole set, and the ratio.
Peers, all in this process on the same bytes:
- fitdecode as StrideGuard's fallback runs it (`fit.decode_with_fitdecode`: CRC check off, no data processor,
  plus the vectorised CRC check) - fitdecode's fastest configuration;
- fitdecode's default reader (`FitReader(data)`, CRC checked, default processor), as most tools use it.
Our figure is the median of --repeat runs per file (default 15); fitdecode's the median of 3.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import fitdecode

from strideguard.activities.formats.fit import decode_with_fitdecode
from strideguard.activities.formats.fit_crc import check_parts
from strideguard.activities.formats.fit_fast import FastDecodeUnsupported, decode_fast

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fit"


def load(paths: list[Path]) -> list[tuple[str, bytes]]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.name.lower().endswith((".fit", ".fit.gz"))))
        else:
            files.append(path)
    out = []
    for path in files:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
        out.append((path.name, data))
    return out


def is_running(msgs: object) -> bool:
    for source in (getattr(msgs, "sessions", []), getattr(msgs, "sports", [])):
        if any(message.get("sport") == "running" for message in source):
            return True
    return False


def fitdecode_default(data: bytes) -> int:
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in fitdecode.FitReader(data):
            if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.def_mesg.global_mesg_num == 20:
                count += 1
    return count


def median_time(func: Callable[[bytes], object], data: bytes, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--all", action="store_true", help="time every file, not only running activities")
    args = parser.parse_args(argv)
    paths = args.paths or [DEFAULT_DATA]
    chosen: list[tuple[str, bytes, int]] = []
    skipped_unsupported: list[str] = []
    for name, data in load(paths):
        try:
            ref = decode_with_fitdecode(data)
        except Exception:  # files fitdecode cannot read at all are no comparison
            continue
        if ref.damaged or not (args.all or is_running(ref)):
            continue
        try:
            decode_fast(data)
        except FastDecodeUnsupported as exc:
            skipped_unsupported.append(f"{name} ({exc})")
            continue
        chosen.append((name, data, ref.n_records))
    if not chosen:
        print("no files to time", file=sys.stderr)
        return 1
    total_bytes = sum(len(data) for _, data, _ in chosen)
    total_records = sum(n for _, _, n in chosen)
    ours = ours_crc = fallback = default = 0.0
    for _name, data, _n in chosen:
        ours += median_time(decode_fast, data, args.repeat)
        ours_crc += median_time(lambda d: (decode_fast(d), check_parts(d)), data, args.repeat)
        fallback += median_time(decode_with_fitdecode, data, 3)
        default += median_time(fitdecode_default, data, 3)

    mb = total_bytes / 1e6
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} Python {platform.python_version()}, "
        f"fitdecode {fitdecode.__version__}"
    )
    print(
        f"files: {len(chosen)} ({'all decodable' if args.all else 'running'}), {mb:.2f} MB, "
        f"{total_records} records"
    )
    if skipped_unsupported:
        print(f"not timed (fast decoder defers to fitdecode): {', '.join(skipped_unsupported)}")
    rows = [
        ("strideguard decode_fast", ours),
        ("strideguard decode_fast + CRC check", ours_crc),
        ("fitdecode (fallback: no CRC, no processor)", fallback),
        ("fitdecode (default FitReader)", default),
    ]
    print(f"{'decoder':<45} {'time s':>9} {'MB/s':>9} {'records/s':>12}")
    for label, seconds in rows:
        print(f"{label:<45} {seconds:9.4f} {mb / seconds:9.2f} {total_records / seconds:12.0f}")
    print(
        f"ratio decode_fast vs fitdecode fallback: {fallback / ours:.0f}x; "
        f"vs default fitdecode: {default / ours:.0f}x; with CRC vs fallback: {fallback / ours_crc:.0f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
