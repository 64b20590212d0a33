"""What an import reads: the command's paths planned into sources (loose files, archives) and items.

A source is the loose files of one command or one archive; each has its own import record. Archives are
Strava, Garmin or plain ZIPs of activity files, detected by content; their items are loaded lazily from the
archive (members are streamed, never extracted to disk).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from strideguard.activities.formats import expand_paths, format_of
from strideguard.activities.formats.archives import ArchiveItem, ExportPlan, SafeZip, is_zip, nested_items
from strideguard.activities.formats.errors import FileRejected, LimitExceeded
from strideguard.config import Limits


@dataclass(slots=True)
class Source:
    """Loose files of the command, or one archive."""

    label: str
    kind: str  # files | archive
    path: Path | None = None
    files: list[tuple[str, Path | None, str | None]] = field(default_factory=list)  # key, path, error
    # Loose files: a hash of the paths given, so the same command run again resumes an unfinished import.
    key: str | None = None


def plan_sources(paths: Iterable[Path]) -> list[Source]:
    """Loose files (one source) and archives (one source each), in the order given."""
    paths = list(paths)  # walked twice: once for the files, once for the label
    loose = Source(label="", kind="files")
    archives: list[Source] = []
    seen: set[str] = set()
    for path in paths:
        if not path.exists():
            loose.files.append((str(path), None, "no such file or folder"))
            continue
        for file in expand_paths([path]):
            key = str(file.resolve())
            if key in seen:
                continue
            seen.add(key)
            if is_zip(file):
                archives.append(Source(label=str(file), kind="archive", path=file))
            elif file.name.lower().endswith(".zip"):  # said as such, not "not a FIT, GPX or TCX file"
                loose.files.append((key, None, NOT_A_ZIP))
            else:
                loose.files.append((key, file, None))
    if loose.files:
        shown = [str(p) for p in paths if not is_zip(p)]
        loose.label = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
        loose.key = paths_key(p for p in paths if not is_zip(p))
    return ([loose] if loose.files else []) + archives


def paths_key(paths: Iterable[Path]) -> str:
    """The import record key of loose files and folders: a hash of the paths given (resolved, sorted)."""
    given = sorted(str(p.resolve()) for p in paths)
    return hashlib.sha256("\n".join(["files", *given]).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def loose_items(source: Source, limits: Limits) -> Iterator[ArchiveItem]:
    for key, path, error in source.files:
        if error is not None or path is None:
            message = error or "cannot read file"
            yield ArchiveItem(key=key, name=key, load=_fail(message))
            continue
        yield ArchiveItem(key=key, name=path.name, load=lambda path=path: _read_loose(path, limits))  # type: ignore[misc]


def _read_loose(path: Path, limits: Limits) -> bytes:
    try:
        size = path.stat().st_size
        cap = limits.max_compressed_bytes if path.name.lower().endswith(".gz") else limits.max_file_bytes
        if size > cap:
            raise LimitExceeded(f"file larger than {cap // (1024 * 1024)} MB")
        return path.read_bytes()
    except OSError as exc:
        raise FileRejected(f"cannot read file ({exc.strerror or exc})") from None


def _fail(message: str) -> Callable[[], bytes]:
    def load() -> bytes:
        raise FileRejected(message)

    return load


NOT_A_ZIP = "not a ZIP archive: the name ends in .zip but the content is not a ZIP (an unfinished download?)"
READABLE = ".fit, .gpx and .tcx files (also .gz), Strava and Garmin Connect export ZIPs"


def nothing_to_read_note(archive: SafeZip) -> str:
    """What a ZIP without activity files holds, and what StrideGuard reads."""
    names = [i.filename for i in archive.members if not i.filename.endswith("/")]
    if not names:
        held = "it is empty"
    else:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
        held = f"it holds {len(names):,} {'file' if len(names) == 1 else 'files'} ({shown})"
    return f"no activity files in this archive: {held}; StrideGuard reads {READABLE}"


def plan_archive(archive: SafeZip, sports: frozenset[str]) -> ExportPlan:
    """Strava, Garmin or a plain ZIP of activity files, by content."""
    from strideguard.activities.formats.garmin import is_garmin_export, plan_garmin
    from strideguard.activities.formats.strava import is_strava_export, plan_strava

    names = list(archive.names)
    if is_strava_export(names):
        plan = plan_strava(archive, sports)
    elif is_garmin_export(names):
        plan = plan_garmin(archive, sports)
    else:
        plan = _plan_plain_zip(archive)
    plan.problems[:0] = archive.problems
    return plan


def _plan_plain_zip(archive: SafeZip) -> ExportPlan:
    files = [i for i in archive.members if format_of(i.filename)]
    nested = [i for i in archive.members if i.filename.lower().endswith(".zip")]
    plan = ExportPlan(kind="zip", items=iter(()), total=len(files))

    def items() -> Iterator[ArchiveItem]:
        for info in files:
            yield ArchiveItem(
                key=info.filename, name=info.filename, load=lambda info=info: archive.read(info)
            )  # type: ignore[misc]
        for info in nested:
            yield from nested_items(archive, info, plan)

    plan.items = items()
    return plan
