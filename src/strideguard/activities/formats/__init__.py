"""Read activity files into domain `Activity` objects: one reader per format behind one dispatch.

Readers are pure: bytes in, activities out, or a `FileRejected` whose message names the problem.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from strideguard.activities.formats.errors import (
    CorruptFile,
    FileRejected,
    LimitExceeded,
    NotAnActivity,
    UnsupportedFile,
)
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.model import Activity

ACTIVITY_SUFFIXES = (".fit", ".gpx", ".tcx")
ARCHIVE_SUFFIXES = (".zip",)


def format_of(name: str) -> str | None:
    """'fit', 'gpx' or 'tcx' from a file name (also with .gz), else None."""
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    for suffix in ACTIVITY_SUFFIXES:
        if lower.endswith(suffix):
            return suffix[1:]
    return None


def gunzip(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Inflate a gzip file, counting real bytes (declared sizes lie) and refusing bombs and damage."""
    out = bytearray()
    rest = data
    # Concatenated gzip members are legal: read them all, within one byte budget.
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            while True:
                chunk = inflater.decompress(rest, 1 << 20)
                out += chunk
                if len(out) > limits.max_file_bytes:
                    raise LimitExceeded(
                        f"gzip data inflates to more than {limits.max_file_bytes // (1024 * 1024)} MB"
                    )
                rest = inflater.unconsumed_tail
                if inflater.eof or not rest:
                    break
        except zlib.error as exc:
            raise CorruptFile(f"damaged gzip data ({exc})") from None
        if not inflater.eof:
            raise CorruptFile("truncated gzip data")
        rest = inflater.unused_data
        if rest.strip(b"\x00") == b"":
            break
    return bytes(out)


def sniff(data: bytes) -> str | None:
    """Guess the format from the content: 'fit', 'gpx', 'tcx', 'xml' (other XML) or None."""
    if len(data) >= 12 and data[8:12] == b".FIT":
        return "fit"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        lowered = head.lower()
        if b"<gpx" in lowered:
            return "gpx"
        if b"<trainingcenterdatabase" in lowered:
            return "tcx"
        return "xml"
    return None


def read_bytes(
    data: bytes, name: str, limits: Limits = DEFAULT_LIMITS, *, start_utc: datetime | None = None
) -> list[Activity]:
    """Parse one file's bytes (gzip allowed) into activities; raise FileRejected with a one-line reason.

    `start_utc` (the runner's `import --start`) dates a file without a usable calendar date: a FIT file with
    only device-relative times, a GPX or TCX file without times or with dates the date rule refuses.
    """
    fmt = format_of(name)
    if fmt is None:
        raise UnsupportedFile("not a FIT, GPX or TCX file (expected .fit, .gpx or .tcx, optionally .gz)")
    if not data:
        raise CorruptFile("empty file")
    if len(data) > limits.max_compressed_bytes and name.lower().endswith(".gz"):
        raise LimitExceeded(f"file larger than {limits.max_compressed_bytes // (1024 * 1024)} MB")
    if name.lower().endswith(".gz") or data[:2] == b"\x1f\x8b":
        data = gunzip(data, name, limits)
        if not data:
            raise CorruptFile("empty file inside gzip")
    if len(data) > limits.max_file_bytes:
        raise LimitExceeded(f"file larger than {limits.max_file_bytes // (1024 * 1024)} MB")
    found = sniff(data)
    if found is not None and found != fmt:
        shown = "XML that is neither GPX nor TCX" if found == "xml" else found.upper()
        raise UnsupportedFile(f"named .{fmt} but holds {shown}")
    sha256 = hashlib.sha256(data).hexdigest()
    if fmt == "fit":
        from strideguard.activities.formats.fit import read_fit

        activities = read_fit(data, limits, start_utc=start_utc)
    elif fmt == "gpx":
        from strideguard.activities.formats.gpx import read_gpx

        activities = read_gpx(data, limits, start_utc=start_utc)
    else:
        from strideguard.activities.formats.tcx import read_tcx

        activities = read_tcx(data, limits, start_utc=start_utc)
    if not activities:
        raise NotAnActivity("no activity in the file")
    base = Path(name).name
    return [
        replace(a, source_sha256=sha256, source_part=i, source_name=a.source_name or base)
        for i, a in enumerate(activities)
    ]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What reading one file gave: activities, or why it was skipped/failed."""

    path: str
    activities: tuple[Activity, ...] = ()
    skipped: str | None = None  # not an activity (settings, monitoring, workout ...)
    failed: str | None = None  # one-line reason


def read_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> FileOutcome:
    """Read one file from disk, turning every rejection into an outcome (never raises for bad input)."""
    shown = str(path)
    try:
        size = path.stat().st_size
        cap = limits.max_compressed_bytes if path.name.lower().endswith(".gz") else limits.max_file_bytes
        if size > cap:
            raise LimitExceeded(f"file larger than {cap // (1024 * 1024)} MB")
        data = path.read_bytes()
        return FileOutcome(shown, activities=tuple(read_bytes(data, path.name, limits)))
    except NotAnActivity as exc:
        return FileOutcome(shown, skipped=str(exc))
    except FileRejected as exc:
        return FileOutcome(shown, failed=str(exc))
    except OSError as exc:
        return FileOutcome(shown, failed=f"cannot read file ({exc.strerror or exc})")
    except MemoryError:
        return FileOutcome(shown, failed="file too large to parse in memory")
    except RecursionError:
        return FileOutcome(shown, failed="file nests too deeply to parse")


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and the activity files and archives found recursively in folders, sorted."""
    for path in paths:
        if path.is_dir():
            found = [
                p
                for p in path.rglob("*")
                if p.is_file() and (format_of(p.name) or p.suffix.lower() in ARCHIVE_SUFFIXES)
            ]
            yield from sorted(found)
        else:
            yield path


@dataclass(slots=True)
class ImportResult:
    """Activities read from a path, and the problems met on the way (file -> reason)."""

    activities: list[Activity] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def read_path(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> ImportResult:
    """Read a file or a folder (recursively) of activity files; bad files become problems, not exceptions."""
    result = ImportResult()
    for file in expand_paths([Path(path)]):
        outcome = read_file(file, limits)
        result.activities.extend(outcome.activities)
        if outcome.skipped:
            result.skipped.append((outcome.path, outcome.skipped))
        if outcome.failed:
            result.problems.append((outcome.path, outcome.failed))
    return result
