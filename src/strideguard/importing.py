"""The import service: paths -> items -> parsed in worker processes -> saved in batches -> import records.

`run_import(engine, paths, options, on_progress)` is what `strideguard import` calls. It expands files,
folders and export archives (Strava, Garmin or a plain ZIP of activity files, detected by content) into
items, parses activity files in a small process pool (bounded in-flight queue, so memory stays flat whatever
the archive size), and saves them in batches of about `batch_activities` activities per transaction.

Crash safety and resume: every item (one file, one manual CSV entry, one bad member) is written with an
`ImportItemRow` inside a per-item savepoint of the batch transaction, together with its activities, laps and
streams. A SIGKILL loses at most the uncommitted batch; running the same command again finds the archive's
import record by its SHA-256, skips every item already recorded and imports the rest. A second, newer
export of the same account is a new archive: its files already stored are recognised by content hash
before parsing and reported as duplicates.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from strideguard import store
from strideguard import streams as stream_codec
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.db import ActivityRow, ImportItemRow, ImportRow, ShoeRow, session_factory
from strideguard.importers import expand_paths, format_of, gunzip, read_bytes
from strideguard.importers.archives import (
    DEFAULT_ARCHIVE_LIMITS,
    ArchiveItem,
    ArchiveLimits,
    ArchiveRefused,
    BadMember,
    ExportPlan,
    MemberProblem,
    SafeZip,
    ShoeSpec,
    is_zip,
)
from strideguard.importers.errors import FileRejected, LimitExceeded, NotAnActivity
from strideguard.importers.strava import gear_key
from strideguard.model import DEFAULT_IMPORT_SPORTS, SPORTS, Activity, Streams

SUMMARY_LIST_CAP = 1000  # entries kept per list in the stored summary; counts stay exact
_CHUNK_FILES = 16  # files per task sent to a worker
_CHUNK_BYTES = 8 * 1024 * 1024
_INLINE_BELOW = 12  # fewer files than this are parsed in this process (no pool start-up)
_SPORT_PREFIX = "sport:"
_MAX_POOL_FAILURES = 3

ProgressCallback = Callable[["ProgressEvent"], None]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to import. `sports` None: all sports for files, DEFAULT_IMPORT_SPORTS for archives."""

    sports: frozenset[str] | None = None
    workers: int = 2
    batch_activities: int = 200
    commit_interval_s: float = 2.0
    limits: Limits = DEFAULT_LIMITS
    archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
    reader: str = "auto"  # "auto" (fast FIT decoder with fitdecode fallback) or "fitdecode" (benchmarks)

    def sports_for(self, kind: str) -> frozenset[str]:
        if self.sports is not None:
            return self.sports
        return frozenset(SPORTS) if kind == "files" else DEFAULT_IMPORT_SPORTS


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Progress of one source: `done` of `total` items (total can grow while nested archives open)."""

    source: str
    stage: str  # "scan" | "import"
    done: int
    total: int


@dataclass(slots=True)
class SourceSummary:
    """What one import (the loose files of a command, or one archive) did, over all its runs."""

    source: str
    kind: str
    import_id: int | None = None
    status: str = "finished"  # finished | refused
    refused: str | None = None
    imported: int = 0
    manual: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_by_sport: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)
    resumed_items: int = 0  # items finished by an earlier, interrupted run and not redone
    items_total: int = 0
    n_duplicates: int = 0
    n_skipped: int = 0
    n_failed: int = 0
    shoes_created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "refused": self.refused,
            "imported": self.imported,
            "manual": self.manual,
            "duplicates": self.n_duplicates,
            "skipped": self.n_skipped,
            "skipped_by_sport": dict(sorted(self.skipped_by_sport.items())),
            "failed": self.n_failed,
            "items": self.items_total,
            "resumed_items": self.resumed_items,
            "duplicate_list": [{"file": f, "duplicate_of": d} for f, d in self.duplicates],
            "skipped_list": [{"file": f, "reason": r} for f, r in self.skipped],
            "failed_list": [{"file": f, "reason": r} for f, r in self.failed],
            "damaged_list": [{"file": f, "reason": r} for f, r in self.damaged],
            "shoes_created": self.shoes_created,
            "notes": self.notes,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(slots=True)
class ImportSummary:
    """All sources of one `import` command."""

    sources: list[SourceSummary] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return sum(s.imported for s in self.sources)

    @property
    def n_failed(self) -> int:
        return sum(s.n_failed + (1 if s.refused else 0) for s in self.sources)

    @property
    def ok(self) -> bool:
        return self.n_failed == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": sum(s.n_duplicates for s in self.sources),
            "skipped": sum(s.n_skipped for s in self.sources),
            "failed": self.n_failed,
            "sources": [s.to_json() for s in self.sources],
        }


# ---------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Parsed:
    """A worker's answer for one file: activities, a known content hash, or why not."""

    status: str  # ok | known | skipped | failed
    activities: tuple[Activity, ...] = ()  # streams moved out into `streams`
    sha256: str | None = None
    reason: str | None = None
    streams: tuple[tuple[int, bytes] | None, ...] = ()  # (samples, encoded blob) per activity


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


def _init_worker(limits: Limits, known: frozenset[str], reader: str, parent_pid: int) -> None:
    _WORKER.update(limits=limits, known=known, reader=reader)
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
    from strideguard.importers.fit import build_activities, decode_with_fitdecode

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
        if name.lower().endswith(".gz") or data[:2] == b"\x1f\x8b":
            if len(data) > limits.max_compressed_bytes:
                raise LimitExceeded(f"file larger than {limits.max_compressed_bytes // (1024 * 1024)} MB")
            data = gunzip(data, name, limits)
            if not data:
                return Parsed("failed", reason="empty file inside gzip")
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 in known:
            return Parsed("known", sha256=sha256)
        if reader == "fitdecode" and fmt == "fit":
            activities = _read_with_fitdecode(data, inner_name, limits)
        else:
            activities = read_bytes(data, inner_name, limits)
        base = Path(name).name
        packed, blobs = pack_streams(replace(a, source_name=base) for a in activities)
        return Parsed("ok", activities=packed, streams=blobs)
    except NotAnActivity as exc:
        return Parsed("skipped", reason=str(exc))
    except FileRejected as exc:
        return Parsed("failed", reason=str(exc))
    except MemoryError:
        return Parsed("failed", reason="file too large to parse in memory")
    except RecursionError:
        return Parsed("failed", reason="file nests too deeply to parse")
    except Exception as exc:  # a reader bug must not stop a 10-year import; report it in one line
        return Parsed("failed", reason=f"unexpected error while reading ({_one_line(exc)})")


def parse_chunk(chunk: list[tuple[str, bytes]]) -> list[Parsed]:
    """Worker entry point: parse (name, bytes) pairs with the limits given to the pool."""
    limits = _WORKER.get("limits", DEFAULT_LIMITS)
    known = _WORKER.get("known", frozenset())
    reader = _WORKER.get("reader", "auto")
    return [parse_file(name, data, limits, known, reader) for name, data in chunk]


class _Parser:
    """Parses chunks in a process pool (spawned on first use) or inline for small jobs."""

    def __init__(self, options: ImportOptions, known: frozenset[str]) -> None:
        self.options = options
        self.known = known
        self._pool: cf.ProcessPoolExecutor | None = None
        self.failures = 0
        self.pool_worked = False

    def submit(self, chunk: list[tuple[str, bytes]], inline: bool) -> cf.Future[list[Parsed]]:
        if inline or self.options.workers <= 0:
            future: cf.Future[list[Parsed]] = cf.Future()
            opts = self.options
            future.set_result([parse_file(n, d, opts.limits, self.known, opts.reader) for n, d in chunk])
            return future
        if self._pool is None:
            # spawn, not fork: the parent may hold threads (progress display) and database connections.
            context = multiprocessing.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.options.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.options.limits, self.known, self.options.reader, os.getpid()),
            )
        try:
            future = self._pool.submit(parse_chunk, chunk)
            future.add_done_callback(self._note_success)
            return future
        except cf.process.BrokenProcessPool:
            self.reset()
            self.failures += 1
            return self.submit(chunk, inline=self.failures >= _MAX_POOL_FAILURES)

    def retry_each(self, chunk: list[tuple[str, bytes]]) -> list[Parsed]:
        """After a worker died: each file alone in a fresh pool, so only the file that kills a worker fails.

        After repeated deaths (e.g. workers cannot start at all) the rest is parsed in this process.
        """
        self.reset()
        if not self.pool_worked:  # the workers cannot even start (e.g. no importable __main__): go inline
            self.failures = _MAX_POOL_FAILURES
        results: list[Parsed] = []
        for name, data in chunk:
            if self.failures >= _MAX_POOL_FAILURES:
                results.append(self.submit([(name, data)], inline=True).result()[0])
                continue
            try:
                results.append(self.submit([(name, data)], inline=False).result()[0])
            except Exception as exc:
                self.reset()
                self.failures += 1
                results.append(
                    Parsed("failed", reason=f"the parser process died reading it ({_one_line(exc)})")
                )
        return results

    def _note_success(self, future: cf.Future[list[Parsed]]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.pool_worked = True

    def reset(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


# ---------------------------------------------------------------------------------------------- sources


@dataclass(slots=True)
class _Source:
    """Loose files of the command, or one archive."""

    label: str
    kind: str  # files | archive
    path: Path | None = None
    files: list[tuple[str, Path | None, str | None]] = field(default_factory=list)  # key, path, error


def plan_sources(paths: Iterable[Path]) -> list[_Source]:
    """Loose files (one source) and archives (one source each), in the order given."""
    paths = list(paths)  # walked twice: once for the files, once for the label
    loose = _Source(label="", kind="files")
    archives: list[_Source] = []
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
                archives.append(_Source(label=str(file), kind="archive", path=file))
            else:
                loose.files.append((key, file, None))
    if loose.files:
        shown = [str(p) for p in paths if not is_zip(p)]
        loose.label = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    return ([loose] if loose.files else []) + archives


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _loose_items(source: _Source, limits: Limits) -> Iterator[ArchiveItem]:
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


def plan_archive(archive: SafeZip, sports: frozenset[str]) -> ExportPlan:
    """Strava, Garmin or a plain ZIP of activity files, by content."""
    from strideguard.importers.garmin import is_garmin_export, plan_garmin
    from strideguard.importers.strava import is_strava_export, plan_strava

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
            try:
                inner = archive.open_nested(info)
            except BadMember as exc:
                plan.problems.append(MemberProblem(info.filename, str(exc)))
                continue
            plan.problems.extend(
                MemberProblem(f"{info.filename}!/{p.name}", p.reason) for p in inner.problems
            )
            inner_files = [m for m in inner.members if format_of(m.filename)]
            plan.total += len(inner_files)
            for member in inner_files:
                yield ArchiveItem(
                    key=f"{info.filename}!/{member.filename}",
                    name=member.filename,
                    load=lambda member=member, inner=inner: inner.read(member),  # type: ignore[misc]
                )
            for member in inner.members:
                if member.filename.lower().endswith(".zip"):
                    plan.problems.append(
                        MemberProblem(
                            f"{info.filename}!/{member.filename}",
                            f"archive nested deeper than {archive.limits.max_depth} levels",
                        )
                    )
            inner.close()

    plan.items = items()
    return plan


# ---------------------------------------------------------------------------------------------- the run


@dataclass(slots=True)
class _Done:
    """One finished item waiting for its batch to be written."""

    key: str
    status: str  # ok | known | skipped | failed | sport
    activities: tuple[Activity, ...] = ()
    sha256: str | None = None
    reason: str | None = None
    sport: tuple[str, str] | None = None
    streams: tuple[tuple[int, bytes] | None, ...] = ()
    enrich: Callable[[Activity], Activity] | None = None


class _Run:
    """State of one `run_import` call."""

    def __init__(
        self, engine: Engine, athlete_id: int, options: ImportOptions, on_progress: ProgressCallback | None
    ) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.athlete_id = athlete_id
        self.options = options
        self.on_progress = on_progress
        with self.sessions() as session:
            known = session.scalars(
                sa.select(ActivityRow.source_sha256).where(
                    ActivityRow.athlete_id == athlete_id, ActivityRow.source_sha256.is_not(None)
                )
            ).all()
        self.parser = _Parser(options, frozenset(k for k in known if k))

    # -------------------------------------------------------------------------------- import records

    def _open_record(self, label: str, kind: str, sha256: str | None) -> tuple[int, dict[str, str], bool]:
        """The import row to use (resumed when the archive was seen before) and its finished item keys."""
        with self.sessions() as session, session.begin():
            row = None
            if sha256 is not None:
                row = session.scalar(
                    sa.select(ImportRow)
                    .where(ImportRow.athlete_id == self.athlete_id, ImportRow.source_sha256 == sha256)
                    .order_by(ImportRow.id.desc())
                    .limit(1)
                )
            resumed = row is not None
            if row is None:
                row = ImportRow(athlete_id=self.athlete_id, source=label, source_sha256=sha256, kind=kind)
                session.add(row)
                session.flush()
            else:
                row.status = "running"
                row.finished_at = None
            done = dict(
                session.execute(
                    sa.select(ImportItemRow.member, ImportItemRow.message).where(
                        ImportItemRow.import_id == row.id
                    )
                ).all()
            )
            return row.id, {k: v or "" for k, v in done.items()}, resumed

    def _ensure_shoes(self, specs: list[ShoeSpec]) -> tuple[dict[str, int], list[str]]:
        """Shoe ids by gear name (creating shoes the athlete does not have yet) and the names created."""
        created: list[str] = []
        with self.sessions() as session, session.begin():
            rows = session.scalars(sa.select(ShoeRow).where(ShoeRow.athlete_id == self.athlete_id)).all()
            by_key = {gear_key(r.name): r.id for r in rows}
            for spec in specs:
                key = gear_key(spec.name)
                if key in by_key:
                    continue
                row = ShoeRow(
                    athlete_id=self.athlete_id, name=spec.name[:200], brand=spec.brand, model=spec.model
                )
                session.add(row)
                session.flush()
                by_key[key] = row.id
                created.append(spec.name)
        return by_key, created

    # -------------------------------------------------------------------------------- per source

    def run_source(self, source: _Source) -> SourceSummary:
        started = time.perf_counter()
        if source.kind == "files":
            summary = SourceSummary(source=source.label, kind="files")
            items = _loose_items(source, self.options.limits)
            plan = ExportPlan(kind="files", items=items, total=len(source.files))
            summary.import_id, done, _ = self._open_record(source.label, "files", None)
            self._process(summary, plan, done, self.options.sports_for("files"))
            summary.elapsed_s = time.perf_counter() - started
            return summary
        assert source.path is not None
        summary = SourceSummary(source=source.label, kind="archive")
        self._progress(source.label, "scan", 0, 0)
        try:
            sha256 = file_sha256(source.path)
        except OSError as exc:
            summary.status, summary.refused = "refused", f"cannot read archive ({exc.strerror or exc})"
            return summary
        summary.import_id, done, resumed = self._open_record(source.label, "archive", sha256)
        try:
            with SafeZip(source.path, self.options.archive_limits, display=source.label) as archive:
                sports = self.options.sports_for("archive")
                plan = plan_archive(archive, sports)
                summary.kind = plan.kind
                summary.notes.extend(plan.notes)
                self._set_kind(summary.import_id, plan.kind)
                shoe_ids, summary.shoes_created = self._ensure_shoes(plan.shoes)
                self._process(summary, plan, done, sports, shoe_ids)
        except (ArchiveRefused, FileRejected) as exc:
            summary.status, summary.refused = "refused", str(exc)
            self._finish_record(summary, refused=True)
        if resumed:
            summary.notes.insert(
                0, f"resumed import #{summary.import_id}: earlier runs' items were not redone"
            )
        summary.elapsed_s = time.perf_counter() - started
        return summary

    def _set_kind(self, import_id: int, kind: str) -> None:
        with self.sessions() as session, session.begin():
            session.execute(sa.update(ImportRow).where(ImportRow.id == import_id).values(kind=kind))

    def _progress(self, label: str, stage: str, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(label, stage, done, total))

    def _process(
        self,
        summary: SourceSummary,
        plan: ExportPlan,
        done: dict[str, str],
        sports: frozenset[str],
        shoe_ids: dict[str, int] | None = None,
    ) -> None:
        """Parse and save every item not finished before; then record the plan's problem members."""
        options = self.options
        assert summary.import_id is not None
        redo = {k for k, msg in done.items() if msg.startswith(_SPORT_PREFIX) and msg.split(":")[1] in sports}
        batch = _Batch(self, summary.import_id, sports, shoe_ids or {}, redo)
        finished = set(done) - redo
        inflight: deque[tuple[cf.Future[list[Parsed]], list[ArchiveItem], list[tuple[str, bytes]]]] = deque()
        chunk: list[tuple[ArchiveItem, bytes]] = []
        chunk_bytes = 0
        counter = 0
        inline = plan.total < _INLINE_BELOW or options.workers <= 0
        max_inflight = max(2, 2 * options.workers)

        def tick() -> None:
            nonlocal counter
            counter += 1
            self._progress(summary.source, "import", counter, max(plan.total, counter))

        def collect(
            future: cf.Future[list[Parsed]], items: list[ArchiveItem], datas: list[tuple[str, bytes]]
        ) -> None:
            try:
                results = future.result()
            except Exception:  # a worker died (out of memory, killed): retry the files one by one
                results = self.parser.retry_each(datas)
            for item, parsed in zip(items, results, strict=True):
                batch.add(self._finish_item(item, parsed, sports))
                tick()
                batch.maybe_flush()

        def submit() -> None:
            nonlocal chunk, chunk_bytes
            if chunk:
                datas = [(i.name, d) for i, d in chunk]
                future = self.parser.submit(datas, inline)
                inflight.append((future, [i for i, _ in chunk], datas))
                chunk, chunk_bytes = [], 0
            while len(inflight) >= max_inflight or (inflight and inflight[0][0].done()):
                collect(*inflight.popleft())

        for item in plan.items:
            if item.key in finished:
                summary.resumed_items += 1
                tick()
                continue
            if item.skip_sport is not None:
                batch.add(_Done(item.key, "sport", sport=item.skip_sport))
                tick()
            elif item.manual is not None:
                batch.add(self._finish_item(item, Parsed("ok", activities=(item.manual,)), sports))
                tick()
            else:
                try:
                    data = item.load() if item.load is not None else b""
                except FileRejected as exc:
                    batch.add(_Done(item.key, "failed", reason=str(exc)))
                    tick()
                    continue
                chunk.append((item, data))
                chunk_bytes += len(data)
                if len(chunk) >= (1 if inline else _CHUNK_FILES) or chunk_bytes >= _CHUNK_BYTES:
                    submit()
            batch.maybe_flush()
        submit()
        while inflight:
            collect(*inflight.popleft())
        for problem in plan.problems:
            if problem.name not in finished:
                batch.add(_Done(problem.name, "failed", reason=problem.reason))
        batch.flush()
        self._finish_record(summary)

    def _finish_item(self, item: ArchiveItem, parsed: Parsed, sports: frozenset[str]) -> _Done:
        """Apply export metadata and the sport filter to a parsed file."""
        if parsed.status != "ok":
            return _Done(
                item.key, parsed.status, sha256=parsed.sha256, reason=parsed.reason, enrich=item.enrich
            )
        activities, blobs = parsed.activities, parsed.streams
        if not blobs:  # e.g. a manual entry: nothing encoded yet
            activities, blobs = pack_streams(activities)
        if item.enrich is not None:
            try:
                activities = tuple(item.enrich(a) for a in activities)
            except Exception as exc:  # metadata must never lose the file's activities
                activities = tuple(
                    replace(a, extra={**a.extra, "enrich_error": _one_line(exc)}) for a in activities
                )
        return _Done(item.key, "ok", activities=activities, streams=blobs)

    def _finish_record(self, summary: SourceSummary, refused: bool = False) -> None:
        """Recompute the summary from the stored items (all runs) and close the import record."""
        assert summary.import_id is not None
        with self.sessions() as session, session.begin():
            row = session.get(ImportRow, summary.import_id)
            assert row is not None
            items = session.execute(
                sa.select(ImportItemRow.member, ImportItemRow.status, ImportItemRow.message)
                .where(ImportItemRow.import_id == summary.import_id)
                .order_by(ImportItemRow.id)
            ).all()
            by_format = dict(
                session.execute(
                    sa.select(ActivityRow.source_format, sa.func.count())
                    .where(ActivityRow.import_id == summary.import_id)
                    .group_by(ActivityRow.source_format)
                ).all()
            )
            fill_summary(summary, items, by_format)
            row.status = "refused" if refused else "finished"
            row.finished_at = datetime.now(UTC)
            row.n_total = len(items)
            row.n_imported = summary.imported
            row.n_duplicates = summary.n_duplicates
            row.n_skipped = summary.n_skipped
            row.n_failed = summary.n_failed + (1 if refused else 0)
            row.summary = summary.to_json()

    def close(self) -> None:
        self.parser.close()


def fill_summary(summary: SourceSummary, items: Iterable[Any], by_format: dict[str, int]) -> None:
    """Counts and lists of a summary from its item rows (member, status, message)."""
    summary.imported = sum(by_format.values())
    summary.manual = by_format.get("manual", 0)
    sport_counts: Counter[str] = Counter()
    summary.duplicates, summary.skipped, summary.failed, summary.damaged = [], [], [], []
    summary.n_duplicates = summary.n_skipped = summary.n_failed = summary.items_total = 0
    for member, status, message in items:
        summary.items_total += 1
        message = message or ""
        if status == "duplicate":
            summary.n_duplicates += 1
            _capped(summary.duplicates, (member, message))
        elif status == "skipped" and message.startswith(_SPORT_PREFIX):
            sport_counts[message.split(":", 2)[2]] += 1
        elif status == "skipped":
            summary.n_skipped += 1
            _capped(summary.skipped, (member, message))
        elif status == "failed":
            summary.n_failed += 1
            _capped(summary.failed, (member, message))
        elif status == "imported" and message.startswith("damaged: "):
            _capped(summary.damaged, (member, message.removeprefix("damaged: ")))
    summary.skipped_by_sport = dict(sport_counts)


def _capped(values: list[tuple[str, str]], value: tuple[str, str]) -> None:
    if len(values) < SUMMARY_LIST_CAP:
        values.append(value)


class _Batch:
    """Finished items waiting to be written in one transaction, one savepoint per item."""

    def __init__(
        self, run: _Run, import_id: int, sports: frozenset[str], shoe_ids: dict[str, int], redo: set[str]
    ) -> None:
        self.redo = redo  # items recorded by an earlier run that are done again (sport now selected)
        self.run = run
        self.import_id = import_id
        self.sports = sports
        self.shoe_ids = shoe_ids
        self.items: list[_Done] = []
        self.n_activities = 0
        self.last_flush = time.monotonic()

    def add(self, done: _Done) -> None:
        self.items.append(done)
        self.n_activities += max(1, len(done.activities))

    def maybe_flush(self) -> None:
        options = self.run.options
        if self.n_activities >= options.batch_activities or (
            self.items and time.monotonic() - self.last_flush >= options.commit_interval_s
        ):
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        with self.run.sessions() as session, session.begin():
            # A write first, so SQLite's driver opens the transaction before the first SAVEPOINT.
            session.execute(
                sa.update(ImportRow).where(ImportRow.id == self.import_id).values(status="running")
            )
            for done in self.items:
                savepoint = session.begin_nested()
                try:
                    if done.key in self.redo:
                        session.execute(
                            sa.delete(ImportItemRow).where(
                                ImportItemRow.import_id == self.import_id, ImportItemRow.member == done.key
                            )
                        )
                    status, message, activity_id = self._save(session, done)
                    session.add(
                        ImportItemRow(
                            import_id=self.import_id,
                            member=done.key,
                            status=status,
                            message=message,
                            activity_id=activity_id,
                        )
                    )
                    session.flush()
                    savepoint.commit()
                except (SQLAlchemyError, ValueError, TypeError, OverflowError) as exc:
                    savepoint.rollback()
                    if done.key in self.redo:
                        session.execute(
                            sa.delete(ImportItemRow).where(
                                ImportItemRow.import_id == self.import_id, ImportItemRow.member == done.key
                            )
                        )
                    session.add(
                        ImportItemRow(
                            import_id=self.import_id,
                            member=done.key,
                            status="failed",
                            message=f"could not save ({_one_line(exc)})"[:2000],
                        )
                    )
                    session.flush()
        self.items = []
        self.n_activities = 0
        self.last_flush = time.monotonic()

    def _with_shoe(self, activity: Activity) -> Activity:
        if activity.shoe_id is None and activity.gear_name:
            shoe_id = self.shoe_ids.get(gear_key(activity.gear_name))
            if shoe_id is not None:
                return replace(activity, shoe_id=shoe_id)
        return activity

    def _save(self, session: Session, done: _Done) -> tuple[str, str | None, int | None]:
        athlete_id = self.run.athlete_id
        if done.status == "sport" and done.sport is not None:
            sport, label = done.sport
            return "skipped", f"{_SPORT_PREFIX}{sport}:{label}", None
        if done.status in ("skipped", "failed"):
            return done.status, done.reason, None
        if done.status == "known":
            row = session.scalar(
                sa.select(ActivityRow)
                .where(ActivityRow.athlete_id == athlete_id, ActivityRow.source_sha256 == done.sha256)
                .order_by(ActivityRow.source_part)
                .limit(1)
            )
            if row is None:
                return "duplicate", "duplicate of a file imported before", None
            if done.enrich is not None:  # the export's metadata may complete what the bare file gave
                enriched = self._with_shoe(done.enrich(store.to_activity(row)))
                _fill_gaps(session, athlete_id, row.id, enriched)
            return "duplicate", f"duplicate of {store.describe(row)}", row.id
        imported_id: int | None = None
        duplicate: tuple[int, str] | None = None
        wanted = [
            (a, blob) for a, blob in zip(done.activities, done.streams, strict=True) if a.sport in self.sports
        ]
        if not wanted:
            first = done.activities[0]
            label = str(first.extra.get("source_type") or first.sport)
            return "skipped", f"{_SPORT_PREFIX}{first.sport}:{label}", None
        damaged: str | None = None
        for activity, blob in wanted:
            activity = self._with_shoe(activity)
            # Streams were encoded by the worker (see pack_streams).
            outcome = store.save_activity(session, athlete_id, activity, self.import_id, streams_blob=blob)
            if outcome.status == "imported":
                imported_id = imported_id or outcome.activity_id
                damaged = damaged or activity.damaged
            else:
                duplicate = duplicate or (outcome.activity_id, outcome.duplicate_of or "")
                _fill_gaps(session, athlete_id, outcome.activity_id, activity)
        if imported_id is not None:
            return "imported", f"damaged: {damaged}" if damaged else None, imported_id
        assert duplicate is not None
        return "duplicate", f"duplicate of {duplicate[1]}", duplicate[0]


def _fill_gaps(session: Session, athlete_id: int, activity_id: int, activity: Activity) -> None:
    """An export's metadata (name, description, perceived exertion, shoe) completes an activity imported
    before from the bare file; nothing the runner entered is overwritten."""
    row = session.get(ActivityRow, activity_id)
    if row is None:
        return
    changes: dict[str, object] = {}
    for name in ("name", "description", "rpe", "shoe_id"):
        value = getattr(activity, name)
        if value is not None and getattr(row, name) is None:
            changes[name] = value
    if changes:
        store.update_activity(session, athlete_id, activity_id, **changes)


def run_import(
    engine: Engine,
    paths: Iterable[Path | str],
    options: ImportOptions | None = None,
    on_progress: ProgressCallback | None = None,
    athlete_id: int | None = None,
) -> ImportSummary:
    """Import files, folders and export archives for the athlete (the local one by default)."""
    options = options or ImportOptions()
    if athlete_id is None:
        with session_factory(engine)() as session, session.begin():
            athlete_id = store.local_athlete(session)
    run = _Run(engine, athlete_id, options, on_progress)
    summary = ImportSummary()
    try:
        for source in plan_sources(Path(p) for p in paths):
            summary.sources.append(run.run_source(source))
    finally:
        run.close()
    return summary


def list_imports(session: Session, athlete_id: int, limit: int | None = None) -> list[ImportRow]:
    """The athlete's import records, newest first."""
    query = sa.select(ImportRow).where(ImportRow.athlete_id == athlete_id).order_by(ImportRow.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def get_import(session: Session, athlete_id: int, import_id: int) -> ImportRow:
    row = session.scalar(
        sa.select(ImportRow).where(ImportRow.id == import_id, ImportRow.athlete_id == athlete_id)
    )
    if row is None:
        raise store.NotFound(f"no import #{import_id}")
    return row


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else exc.__class__.__name__


def default_workers() -> int:
    """Two parser processes (the machines we target have two cores), fewer on a one-core machine."""
    return max(1, min(2, os.cpu_count() or 1))
