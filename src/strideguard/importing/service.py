"""The import service: paths -> items -> parsed in worker processes -> saved in batches -> import records.

`run_import(engine, paths, options, on_progress)` is what `strideguard import` calls. It expands files,
folders and export archives (Strava, Garmin or a plain ZIP of activity files, detected by content) into
items (`sources.py`), parses activity files in a small process pool (`workers.py`; bounded
in-flight queue, so memory stays flat whatever the archive size), and saves them in batches of about
`batch_activities` activities per transaction (`saving.py`).

Crash safety and resume: every item (one file, one manual CSV entry, one bad member) is written with an
`ImportItemRow` inside a per-item savepoint of the batch transaction, together with its activities, laps and
streams. A SIGKILL loses at most the uncommitted batch; running the same command again finds the archive's
import record by its SHA-256, skips every item already recorded and imports the rest. A second, newer
export of the same account is a new archive: its files already stored are recognised by content hash
before parsing and reported as duplicates.
"""

from __future__ import annotations

import bisect
import concurrent.futures as cf
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from strideguard.activities import sport_check
from strideguard.activities.formats.archives import (
    DEFAULT_ARCHIVE_LIMITS,
    ArchiveItem,
    ArchiveLimits,
    ArchiveRefused,
    ExportPlan,
    SafeZip,
)
from strideguard.activities.formats.dates import span_problem
from strideguard.activities.formats.errors import FileRejected
from strideguard.config import DEFAULT_LIMITS, Limits
from strideguard.importing.saving import (
    SPORT_PREFIX,
    SUMMARY_LIST_CAP,
    BatchPolicy,
    Done,
    ImportRecords,
    _Batch,
    fill_summary,
)
from strideguard.importing.sources import (
    Source,
    file_sha256,
    loose_items,
    nothing_to_read_note,
    plan_archive,
    plan_sources,
)
from strideguard.importing.summaries import ImportSummary, SourceSummary
from strideguard.importing.workers import (
    PROFILE_KEY,
    Parsed,
    init_worker,
    one_line,
    pack_streams,
    parse_chunk,
    parse_file,
)
from strideguard.model import DEFAULT_IMPORT_SPORTS, SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import shoe_use
from strideguard.storage.engine import is_disk_full, plain_rows, session_factory, source_lock
from strideguard.storage.tables import ActivityRow, ImportRow

__all__ = [
    "SUMMARY_LIST_CAP",
    "DiskFull",
    "ImportOptions",
    "Parsed",
    "ProgressEvent",
    "default_workers",
    "fill_summary",
    "get_import",
    "import_history",
    "list_imports",
    "pack_streams",
    "parse_file",
    "plan_sources",
    "run_import",
]

_CHUNK_FILES = 16  # files per task sent to a worker
_CHUNK_BYTES = 8 * 1024 * 1024
_MAX_INFLIGHT_BYTES = 48 * 1024 * 1024  # file bytes sent to workers and not collected: bounds memory
_INLINE_BELOW = 12  # fewer files than this are parsed in this process (no pool start-up)
_MAX_POOL_FAILURES = 3
_MANUAL_NOTE_END = ": imported from the CSV"  # how the Strava plan notes its manual entries

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
    # Start of one file without a usable calendar date (`import FILE --start`, the upload form's start time):
    # FIT with only device-relative times, GPX/TCX without times or with impossible dates; ignored for others.
    start_utc: datetime | None = None
    # The upload job this import runs for (importing/jobs.py), recorded on its import rows.
    job_id: str | None = None

    def sports_for(self, kind: str) -> frozenset[str]:
        if self.sports is not None:
            return self.sports
        return frozenset(SPORTS) if kind == "files" else DEFAULT_IMPORT_SPORTS


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Progress of one source: `done` of `total` items (total can grow while nested archives open)."""

    source: str
    stage: str  # "scan" | "import" | "wait" (another import of this source is running)
    done: int
    total: int


class _Parser:
    """Parses chunks in a process pool (spawned on first use) or inline for small jobs."""

    def __init__(self, options: ImportOptions, known: frozenset[str]) -> None:
        self.options = options
        self.known = known
        self._pool: cf.ProcessPoolExecutor | None = None
        self.failures = 0
        self.pool_worked = False

    def submit(self, chunk: list[tuple[str, bytes]], inline: bool) -> cf.Future[list[Parsed]]:
        if inline or self.options.workers <= 0:  # `parse_file` as this module names it (tests wrap it)
            future: cf.Future[list[Parsed]] = cf.Future()
            opts = self.options
            future.set_result(
                [parse_file(n, d, opts.limits, self.known, opts.reader, opts.start_utc) for n, d in chunk]
            )
            return future
        if self._pool is None:
            # spawn, not fork: the parent may hold threads (progress display) and database connections.
            context = multiprocessing.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.options.workers,
                mp_context=context,
                initializer=init_worker,
                initargs=(
                    self.options.limits,
                    self.known,
                    self.options.reader,
                    os.getpid(),
                    self.options.start_utc,
                ),
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
                    Parsed("failed", reason=f"the parser process died reading it ({one_line(exc)})")
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


class _Run:
    """State of one `run_import` call."""

    def __init__(
        self, engine: Engine, athlete_id: int, options: ImportOptions, on_progress: ProgressCallback | None
    ) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.notes: list[str] = []  # for the source being imported, e.g. a "run" at car speed
        self.current_import: int | None = None
        self.earlier_manual = 0  # manual entries an earlier run of the current import stored
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
        self.records = ImportRecords(self.sessions, athlete_id, options.job_id)

    # -------------------------------------------------------------------------------- per source

    def run_source(self, source: Source) -> SourceSummary:
        started = time.perf_counter()
        summary = SourceSummary(source=source.label, kind="files" if source.kind == "files" else "archive")
        if source.kind == "files":
            key = source.key
        else:
            assert source.path is not None
            self._progress(source.label, "scan", 0, 0)
            try:
                key = file_sha256(source.path)
            except OSError as exc:
                summary.status, summary.refused = "refused", f"cannot read archive ({exc.strerror or exc})"
                return summary
        # One import of a source at a time (another process may be importing the same archive or folder):
        # a second one waits here, then resumes the first's record and finds what it has done.
        with source_lock(self.engine, key or source.label, lambda: self._waiting(source.label)) as waited:
            if waited:
                summary.notes.append(
                    "waited for another import of this source that was running at the same time"
                )
            resumed = self._run_locked(source, summary, key)
        if resumed and summary.status != "refused":
            n = summary.items_total
            if n == summary.earlier.get("items") and not any(summary.this_run().values()):
                done_by = "the only item was" if n == 1 else f"all {n:,} items were"
                note = f"nothing new: {done_by} done by an earlier run (import #{summary.import_id})"
            else:
                items = "1 item" if summary.resumed_items == 1 else f"{summary.resumed_items:,} items"
                verb = "was" if summary.resumed_items == 1 else "were"
                note = (
                    f"resumed import #{summary.import_id}: {items} done by an earlier run {verb} not redone"
                )
            summary.notes.insert(0, note)
        summary.elapsed_s = time.perf_counter() - started
        return summary

    def saved_so_far(self) -> tuple[int | None, int]:
        """The import being run and how many activities it has stored (read after a fault)."""
        if self.current_import is None:
            return None, 0
        with self.sessions() as session:
            saved = session.scalar(
                sa.select(sa.func.count()).where(ActivityRow.import_id == self.current_import)
            )
        return self.current_import, saved or 0

    def _waiting(self, label: str) -> None:
        self._progress(label, "wait", 0, 0)

    def _run_locked(self, source: Source, summary: SourceSummary, key: str | None) -> bool:
        """Open (or resume) the source's import record and import what is not done yet; True if resumed.

        An archive's record is resumed whatever its state (a finished one: nothing new); a folder's only
        while unfinished (the same folder later, with new files, is a new import)."""
        if source.kind == "files":
            items = loose_items(source, self.options.limits)
            plan = ExportPlan(kind="files", items=items, total=len(source.files))
            summary.import_id, done, resumed = self.records.open(
                source.label, "files", key, resume_finished=False
            )
            self.current_import = summary.import_id
            self._note_earlier(summary, resumed)
            self._process(summary, plan, done, self.options.sports_for("files"))
            return resumed
        assert source.path is not None
        summary.import_id, done, resumed = self.records.open(source.label, "archive", key)
        self.current_import = summary.import_id
        self._note_earlier(summary, resumed)
        try:
            with SafeZip(source.path, self.options.archive_limits, display=source.label) as archive:
                sports = self.options.sports_for("archive")
                plan = plan_archive(archive, sports)
                summary.kind = plan.kind
                summary.notes.extend(plan.notes)
                if plan.total == 0 and not plan.problems:
                    summary.notes.append(nothing_to_read_note(archive))
                self.records.set_kind(summary.import_id, plan.kind)
                shoe_ids, summary.shoes_created = self.records.ensure_shoes(plan.shoes)
                self._process(summary, plan, done, sports, shoe_ids)
                self._say_what_manual_entries_did(summary)
        except (ArchiveRefused, FileRejected) as exc:
            summary.status, summary.refused = "refused", str(exc)
            self.records.finish(summary, refused=True)
        return resumed

    def _note_earlier(self, summary: SourceSummary, resumed: bool) -> None:
        self.earlier_manual = 0
        if resumed:
            earlier = SourceSummary(source=summary.source, kind=summary.kind, import_id=summary.import_id)
            self.records.fill(earlier)
            summary.earlier = {**earlier.counts(), "items": earlier.items_total}
            self.earlier_manual = earlier.manual

    def _say_what_manual_entries_did(self, summary: SourceSummary) -> None:
        """The export's note on its manual entries says what this run did with them (a re-import imports
        none: it must not say they were imported)."""
        new = summary.manual - self.earlier_manual
        for i, note in enumerate(summary.notes):
            if note.endswith(_MANUAL_NOTE_END):
                head = note.removesuffix(_MANUAL_NOTE_END)
                done = "none new to import" if new == 0 else f"{new:,} imported from the CSV"
                summary.notes[i] = f"{head}: {done}"

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
        redo = {k for k, msg in done.items() if msg.startswith(SPORT_PREFIX) and msg.split(":")[1] in sports}
        policy = BatchPolicy(options.batch_activities, options.commit_interval_s)
        batch = _Batch(
            self.sessions, self.athlete_id, summary.import_id, sports, shoe_ids or {}, redo, policy
        )
        finished = set(done) - redo
        inflight: deque[tuple[cf.Future[list[Parsed]], list[ArchiveItem], list[tuple[str, bytes]]]] = deque()
        chunk: list[tuple[ArchiveItem, bytes]] = []
        chunk_bytes = 0
        inflight_bytes = 0
        counter = 0
        inline = plan.total < _INLINE_BELOW or options.workers <= 0
        # Deep enough that the workers keep parsing while this process writes a batch (~0.1 s).
        max_inflight = max(2, 6 * options.workers)

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
            nonlocal chunk, chunk_bytes, inflight_bytes
            if chunk:
                datas = [(i.name, d) for i, d in chunk]
                future = self.parser.submit(datas, inline)
                inflight.append((future, [i for i, _ in chunk], datas))
                inflight_bytes += chunk_bytes
                chunk, chunk_bytes = [], 0
            while inflight and (
                len(inflight) >= max_inflight
                or inflight_bytes >= _MAX_INFLIGHT_BYTES
                or inflight[0][0].done()
            ):
                oldest = inflight.popleft()
                inflight_bytes -= sum(len(d) for _, d in oldest[2])
                collect(*oldest)

        deferred: list[ArchiveItem] = []
        for item in plan.items:
            if item.key in finished:
                summary.resumed_items += 1
                tick()
                continue
            if item.only_if_new_start_s is not None:
                deferred.append(item)  # needs every file saved first
                continue
            if item.skip_sport is not None:
                batch.add(Done(item.key, "sport", sport=item.skip_sport))
                tick()
            elif item.manual is not None:
                batch.add(self._finish_item(item, Parsed("ok", activities=(item.manual,)), sports))
                tick()
            else:
                try:
                    data = item.load() if item.load is not None else b""
                except FileRejected as exc:
                    batch.add(Done(item.key, "failed", reason=str(exc)))
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
        if deferred:
            batch.flush()
            for item in self._without_stored_start(deferred):
                batch.add(self._finish_item(item, Parsed("ok", activities=(item.manual,)), sports))
                tick()
                batch.maybe_flush()
        summary.notes.extend(self.notes)
        self.notes.clear()
        for problem in plan.problems:
            if problem.name not in finished:
                batch.add(Done(problem.name, "failed", reason=problem.reason))
        batch.flush()
        self._note_runs_without_shoe(summary)
        self.records.finish(summary)

    def _note_runs_without_shoe(self, summary: SourceSummary) -> None:
        """Say so when runs got no shoe because no pair was in use on their dates (shoes by date)."""
        assert summary.import_id is not None
        with self.sessions() as session:
            count = shoe_use.runs_without_shoe(session, self.athlete_id, summary.import_id)
        if count:
            summary.notes.append(
                f"{count} {'activity' if count == 1 else 'activities'} got no shoe: no pair was in use on "
                "their dates; give a shoe the date you bought it: strideguard shoes edit SHOE --from DATE"
            )

    def _without_stored_start(self, items: list[ArchiveItem]) -> list[ArchiveItem]:
        """The summary-only items whose start no stored activity shares (within each item's tolerance)."""
        starts = [item.manual.start_utc for item in items if item.manual is not None]
        if not starts:
            return []
        slack = timedelta(seconds=max(item.only_if_new_start_s or 0.0 for item in items))
        with self.sessions() as session:
            stored = store.start_times(session, self.athlete_id, min(starts) - slack, max(starts) + slack)
        kept = []
        for item in items:
            assert item.manual is not None and item.only_if_new_start_s is not None
            start = item.manual.start_utc.timestamp()
            i = bisect.bisect_left(stored, start - item.only_if_new_start_s)
            if i >= len(stored) or stored[i] > start + item.only_if_new_start_s:
                kept.append(item)
        return kept

    def _finish_item(self, item: ArchiveItem, parsed: Parsed, sports: frozenset[str]) -> Done:
        """Apply export metadata and the sport filter to a parsed file."""
        if parsed.status != "ok":
            return Done(
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
                    replace(a, extra={**a.extra, "enrich_error": one_line(exc)}) for a in activities
                )
        # The one date rule (dates.py), whatever the source: the readers apply it too, this also covers
        # export metadata and entries that never went through a reader.
        for activity in activities:
            problem = span_problem(activity.start_utc, activity.elapsed_time_s)
            if problem is not None:
                return Done(item.key, "failed", sha256=parsed.sha256, reason=problem, enrich=item.enrich)
        activities = tuple(self._plausible(item, a) for a in activities)
        return Done(item.key, "ok", activities=activities, streams=blobs, original=parsed.original)

    def _plausible(self, item: ArchiveItem, activity: Activity) -> Activity:
        """A "run" the file shows was not one (a ride, a car trip, a walk) is stored as what it shows, with a
        note, and kept out of the running load until the runner confirms it (see sport_check)."""
        profile = sport_check.SpeedProfile.from_json(activity.extra.get(PROFILE_KEY))
        verdict = sport_check.judge(activity, profile, sport_check.declared_sport(activity))
        if verdict is None:
            return activity
        label = verdict.sport.replace("_", " ")
        self.notes.append(
            f"{item.name}: stored as {label}, not as a run: {verdict.note} "
            "(if it was a run: strideguard runs set-sport ID run)"
        )
        return replace(
            activity,
            sport=verdict.sport,
            sport_note=verdict.note,
            extra={**activity.extra, "sport_changed": verdict.note, "declared": activity.sport},
        )

    def close(self) -> None:
        self.parser.close()


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
    except sa.exc.SQLAlchemyError as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFull(run.saved_so_far()) from None
    finally:
        run.close()
    return summary


class DiskFull(Exception):
    """The database's disk is full: what was saved stays, and running the same import again resumes."""

    def __init__(self, saved: tuple[int | None, int]) -> None:
        import_id, runs = saved
        which = f" (import #{import_id})" if import_id is not None else ""
        super().__init__(
            f"the disk of the database is full: {runs:,} {'activity' if runs == 1 else 'activities'} of this "
            f"import{which} were saved; free some space and run the same import again to resume"
        )
        self.import_id, self.saved = import_id, runs


def list_imports(session: Session, athlete_id: int, limit: int | None = None) -> list[ImportRow]:
    """The athlete's import records, newest first."""
    query = sa.select(ImportRow).where(ImportRow.athlete_id == athlete_id).order_by(ImportRow.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


# Built once: the import page runs it on every view (its rows are also the page's cache key).
_HISTORY = (
    sa.select(
        ImportRow.id,
        ImportRow.started_at,
        ImportRow.source,
        ImportRow.status,
        ImportRow.n_imported,
        ImportRow.n_duplicates,
        ImportRow.n_failed,
    )
    .where(ImportRow.athlete_id == sa.bindparam("athlete"))
    .order_by(ImportRow.id.desc())
    .limit(sa.bindparam("limit"))
)


def import_history(session: Session, athlete_id: int, limit: int) -> list[sa.Row[Any]]:
    """The athlete's newest `limit` imports as the import page lists them (id, started_at, source, status
    and the imported, duplicate and failed counts), without their summaries."""
    return list(plain_rows(session, _HISTORY, {"athlete": athlete_id, "limit": limit}))


def get_import(session: Session, athlete_id: int, import_id: int) -> ImportRow:
    row = session.scalar(
        sa.select(ImportRow).where(ImportRow.id == import_id, ImportRow.athlete_id == athlete_id)
    )
    if row is None:
        raise store.NotFound(f"no import #{import_id}")
    return row


def default_workers() -> int:
    """Two parser processes (the machines we target have two cores), fewer on a one-core machine."""
    return max(1, min(2, os.cpu_count() or 1))
