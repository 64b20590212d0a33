"""Parsing activity files, in worker processes: bytes in, compact `Parsed` results out.

`parse_file` is pure (no database, no files) and never raises for bad input. `parse_chunk` is the entry
point a worker process runs; `init_worker` gives it the limits, the content hashes already stored (files
recognised by hash are not parsed) and the reader. Streams are encoded to their stored blob here, in
parallel, so the main process only writes rows.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from strideguard.activities import originals, sport_check
from strideguard.activities import streams as stream_codec
from strideguard.activities.formats import format_of, gunzip, read_bytes
from strideguard.activities.formats.errors import FileRejected, LimitExceeded, NotAnActivity
from strideguard.activities.originals import SourceFile
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.model import Activity, Streams


@dataclass(frozen=True, slots=True)
class Parsed:
    """A worker's answer for one file: activities, a known content hash, or why not."""

    status: str  # ok | known | skipped | failed
    activities: tuple[Activity, ...] = ()  # streams moved out into `streams`
    sha256: str | None = None
    reason: str | None = None
    streams: tuple[tuple[int, bytes] | None, ...] = ()  # (samples, encoded blob) per activity
    original: SourceFile | None = None  # the file as read (unpacked), compressed: kept with its activities


def pack_streams(
    activities: Iterable[Activity],
) -> tuple[tuple[Activity, ...], tuple[tuple[int, bytes] | None, ...]]:
    """Encode each activity's streams to the stored blob here (in the worker), and drop the arrays.

    Compressing the blob is the costliest step of saving; done in the worker it runs in parallel, and the
    blob is ~5x smaller than the arrays it replaces on the way back to the main process.
    """
    stripped: list[Activity] = []
    blobs: list[tuple[int, bytes] | None] = []
    for activity in activities:
        if activity.streams is not None and len(activity.streams):
            blobs.append((len(activity.streams), _encode_streams(activity.streams)))
        else:
            blobs.append(None)
        stripped.append(replace(activity, streams=None))
    return tuple(stripped), tuple(blobs)


def _encode_streams(streams: Streams) -> bytes:
    return stream_codec.encode(streams)


_WORKER: dict[str, Any] = {}


def init_worker(
    limits: Limits, known: frozenset[str], reader: str, parent_pid: int, start_utc: datetime | None = None
) -> None:
    _WORKER.update(limits=limits, known=known, reader=reader, start_utc=start_utc)
    _exit_with_parent(parent_pid)


def _exit_with_parent(parent_pid: int) -> None:
    """A worker must not outlive an import killed with SIGKILL (it would keep parsing for nobody)."""
    try:  # Linux: the kernel sends SIGKILL to this worker when its parent dies
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() == parent_pid:
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # elsewhere: notice the parent is gone within a second
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _read_with_fitdecode(data: bytes, name: str, limits: Limits) -> list[Activity]:
    """The fitdecode reader path (for the benchmark's peer figure); same outputs as read_bytes."""
    from strideguard.activities.formats.fit import build_activities, decode_with_fitdecode

    sha256 = hashlib.sha256(data).hexdigest()
    activities = build_activities(decode_with_fitdecode(data, limits))
    if not activities:
        raise NotAnActivity("no activity in the file")
    base = Path(name).name
    return [
        replace(a, source_sha256=sha256, source_part=i, source_name=base) for i, a in enumerate(activities)
    ]


def parse_file(
    name: str,
    data: bytes,
    limits: Limits = DEFAULT_LIMITS,
    known: frozenset[str] = frozenset(),
    reader: str = "auto",
    start_utc: datetime | None = None,
) -> Parsed:
    """Parse one activity file's bytes; never raises for bad input. Pure: no database, no files."""
    try:
        fmt = format_of(name)
        if fmt is None:
            return Parsed(
                "failed", reason="not a FIT, GPX or TCX file (expected .fit, .gpx or .tcx, optionally .gz)"
            )
        if not data:
            return Parsed("failed", reason="empty file")
        inner_name = name[:-3] if name.lower().endswith(".gz") else name
        gzipped = None
        if name.lower().endswith(".gz") or data[:2] == b"\x1f\x8b":
            gzipped = data
            if len(data) > limits.max_compressed_bytes:
                raise LimitExceeded(f"file larger than {limits.max_compressed_bytes // (1024 * 1024)} MB")
            data = gunzip(data, name, limits)
            if not data:
                return Parsed("failed", reason="empty file inside gzip")
        if known:  # the readers hash the content again for the activities: only worth it to skip work
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 in known:
                return Parsed("known", sha256=sha256)
        if reader == "fitdecode" and fmt == "fit":
            activities = _read_with_fitdecode(data, inner_name, limits)
        else:
            activities = read_bytes(data, inner_name, limits, start_utc=start_utc)
        base = Path(name).name
        packed, blobs = pack_streams(replace(_profiled(a), source_name=base) for a in activities)
        original = originals.pack(Path(inner_name).name, fmt, data, activities[0].source_sha256, gzipped)
        return Parsed("ok", activities=packed, streams=blobs, original=original)
    except NotAnActivity as exc:
        return Parsed("skipped", reason=str(exc))
    except FileRejected as exc:
        return Parsed("failed", reason=str(exc))
    except MemoryError:
        return Parsed("failed", reason="file too large to parse in memory")
    except RecursionError:
        return Parsed("failed", reason="file nests too deeply to parse")
    except Exception as exc:  # a reader bug must not stop a 10-year import; report it in one line
        return Parsed("failed", reason=f"unexpected error while reading ({one_line(exc)})")


def _profiled(activity: Activity) -> Activity:
    """The activity with its speed profile (sport_check) in `extra`: measured here, where the streams are,
    and judged once the export's metadata is applied."""
    profile = sport_check.speed_profile(activity.streams)
    if profile is None:
        return activity
    return replace(activity, extra={**activity.extra, PROFILE_KEY: profile.to_json()})


PROFILE_KEY = "speed_profile"


def parse_chunk(chunk: list[tuple[str, bytes]]) -> list[Parsed]:
    """Worker entry point: parse (name, bytes) pairs with the limits given to the pool."""
    limits = _WORKER.get("limits", DEFAULT_LIMITS)
    known = _WORKER.get("known", frozenset())
    reader = _WORKER.get("reader", "auto")
    start_utc = _WORKER.get("start_utc")
    return [parse_file(name, data, limits, known, reader, start_utc) for name, data in chunk]


def one_line(exc: BaseException) -> str:
    """An exception as one short line for a user-facing reason."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else exc.__class__.__name__
