"""The import queue: browser uploads wait in the `import_jobs` table until a worker claims and runs them.

A small queue on our own table (no extra service, works on SQLite and PostgreSQL). Workers are the web
app's own thread (local mode) or `strideguard worker` processes, on this machine or others sharing the
database and the uploads folder.

- `enqueue` adds a job; `claim` hands it to exactly one worker (PostgreSQL: `FOR UPDATE SKIP LOCKED`;
  SQLite: a conditional UPDATE checked by its row count, writers being serialised by SQLite).
- A running job's worker heartbeats; `requeue_stale` puts back the jobs of a worker that died. Running a
  job again is safe: `run_import` resumes and does not redo finished items. After `MAX_ATTEMPTS` starts
  the job is failed instead.
- Every write by a worker names the worker, so one that was presumed dead and lost its job notices on its
  next progress step and stops instead of racing the new owner.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from strideguard.importing.saving import fail_import
from strideguard.importing.service import ImportOptions, ProgressEvent, default_workers, run_import
from strideguard.importing.sources import paths_key
from strideguard.importing.workers import one_line
from strideguard.storage.engine import session_factory
from strideguard.storage.tables import ImportJobRow, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
STALE_AFTER = timedelta(seconds=120)  # no heartbeat for this long: the worker is taken for dead
HEARTBEAT_EVERY_S = 15.0  # well inside STALE_AFTER, also while an archive is hashed or planned
PROGRESS_WRITE_EVERY_S = 0.5
KEEP_ENDED = timedelta(days=30)  # finished or failed job rows are kept this long (the import records stay)
PURGE_EVERY_S = 3600.0
STALE_CHECK_EVERY_S = 10.0  # a dead worker's job waits STALE_AFTER anyway
_CLAIM_TRIES = 20  # SQLite: candidates tried when other workers keep winning the race


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job, as its worker needs it (a plain value, safe to pass between threads)."""

    id: str
    athlete_id: int
    folder: str
    files: list[str]
    sports: frozenset[str] | None
    worker: str
    attempts: int
    start_utc: datetime | None = None  # the runner's start for one file without a usable date


@dataclass(frozen=True, slots=True)
class Outcome:
    """How `run_one` left a job: finished | failed | released (back in the queue) | lost (taken over)."""

    status: str
    message: str = ""
    result: dict[str, Any] | None = None


class _Stop(Exception):
    """Raised from the progress callback to end `run_import` early (shutdown, or the job was taken over)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def worker_id() -> str:
    """This process as the job rows name it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


# --- the queue ----------------------------------------------------------------------------------------------


def enqueue(
    session: Session,
    job_id: str,
    athlete_id: int,
    folder: Path | str,
    files: Sequence[str],
    sports: frozenset[str] | None = None,
    start_utc: datetime | None = None,
) -> ImportJobRow:
    """Add a queued job for the files in `folder` (the caller commits); `start_utc` dates its one file."""
    options: list[str] | dict[str, Any] | None = sorted(sports) if sports is not None else None
    if start_utc is not None:
        # The job's other options share the sports' JSON column (no new column for one optional value).
        options = {"sports": options, "start": start_utc.isoformat()}
    row = ImportJobRow(
        id=job_id,
        athlete_id=athlete_id,
        status="queued",
        folder=str(Path(folder).resolve()),
        files=list(files),
        sports=options,
        totals={},
        attempts=0,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def claim(engine: Engine, worker: str | None = None) -> Job | None:
    """The oldest queued job, now running for `worker`; None when the queue is empty.

    Two workers never get the same job: the final UPDATE only changes a row that is still queued, and a
    worker that finds it changed tries the next one.
    """
    worker = worker or worker_id()
    queued = (
        sa.select(ImportJobRow.id)
        .where(ImportJobRow.status == "queued")
        .order_by(ImportJobRow.created_at, ImportJobRow.id)
        .limit(1)
    )
    for _ in range(_CLAIM_TRIES):
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Lock the row so others skip to the next job instead of waiting for this one.
                job_id = connection.scalar(queued.with_for_update(skip_locked=True))
            else:
                # SQLite: a plain read (the driver opens no transaction for it); the UPDATE below then
                # takes the write lock and only succeeds if no one claimed the job in between.
                job_id = connection.scalar(queued)
            if job_id is None:
                return None
            now = utcnow()
            claimed = connection.execute(
                sa.update(ImportJobRow)
                .where(ImportJobRow.id == job_id, ImportJobRow.status == "queued")
                .values(
                    status="running",
                    worker=worker,
                    attempts=ImportJobRow.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    error=None,
                )
            )
            if claimed.rowcount != 1:
                continue  # another worker was faster: try the next queued job
            row = connection.execute(sa.select(ImportJobRow).where(ImportJobRow.id == job_id)).one()
        sports, start = _options(row.sports)
        return Job(
            id=row.id,
            athlete_id=row.athlete_id,
            folder=row.folder,
            files=list(row.files or []),
            sports=sports,
            worker=worker,
            attempts=row.attempts,
            start_utc=start,
        )
    return None


def _options(stored: list[str] | dict[str, Any] | None) -> tuple[frozenset[str] | None, datetime | None]:
    """(sports, start) from the job's options column: a list of sports, or {"sports": ..., "start": ISO}."""
    if isinstance(stored, dict):
        sports = stored.get("sports")
        start = stored.get("start")
        return (
            frozenset(sports) if sports is not None else None,
            datetime.fromisoformat(start) if start else None,
        )
    return (frozenset(stored) if stored is not None else None), None


def _mine(job: Job) -> Any:
    """The WHERE clause of every write by the job's worker: still running, still this worker's."""
    return sa.and_(
        ImportJobRow.id == job.id, ImportJobRow.status == "running", ImportJobRow.worker == job.worker
    )


def _update_mine(engine: Engine, job: Job, **values: Any) -> bool:
    """Change the job if this worker still owns it; False when it was requeued or deleted meanwhile."""
    with engine.begin() as connection:
        return connection.execute(sa.update(ImportJobRow).where(_mine(job)).values(**values)).rowcount == 1


def heartbeat(engine: Engine, job: Job, totals: dict[str, int] | None = None) -> bool:
    """Record that the worker is alive (and the progress totals); False when the job is no longer ours."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if totals is not None:
        values["totals"] = dict(totals)
    return _update_mine(engine, job, **values)


def finish(engine: Engine, job: Job, result: dict[str, Any]) -> bool:
    return _update_mine(engine, job, status="finished", result=result, finished_at=utcnow(), worker=None)


def fail(engine: Engine, job: Job, error: str) -> bool:
    return _update_mine(engine, job, status="failed", error=error, finished_at=utcnow(), worker=None)


def release(engine: Engine, job: Job) -> bool:
    """Put the job back in the queue (its worker is shutting down); this start does not count."""
    return _update_mine(
        engine, job, status="queued", worker=None, heartbeat_at=None, attempts=ImportJobRow.attempts - 1
    )


def requeue_stale(session: Session, older_than: timedelta = STALE_AFTER) -> tuple[list[str], list[str]]:
    """Queue again the running jobs whose worker stopped heartbeating; fail those started MAX_ATTEMPTS times.

    Returns (requeued ids, failed ids) and commits. Each change is a conditional UPDATE, so a worker that
    heartbeats at the same moment keeps its job.
    """
    cutoff = utcnow() - older_than
    stale = session.execute(
        sa.select(ImportJobRow.id, ImportJobRow.attempts, ImportJobRow.folder, ImportJobRow.athlete_id).where(
            ImportJobRow.status == "running", ImportJobRow.heartbeat_at < cutoff
        )
    ).all()
    requeued: list[str] = []
    failed: list[tuple[str, str]] = []
    for job_id, attempts, folder, athlete_id in stale:
        still_stale = sa.and_(
            ImportJobRow.id == job_id, ImportJobRow.status == "running", ImportJobRow.heartbeat_at < cutoff
        )
        if attempts >= MAX_ATTEMPTS:
            error = (
                f"the import stopped: its worker stopped responding {attempts} times "
                "(out of memory or killed?); the activities saved so far are kept"
            )
            values: dict[str, Any] = {
                "status": "failed",
                "error": error,
                "finished_at": utcnow(),
                "worker": None,
            }
        else:
            values = {"status": "queued", "worker": None, "heartbeat_at": None}
        changed = session.execute(sa.update(ImportJobRow).where(still_stale).values(**values)).rowcount
        if changed == 1 and values["status"] == "failed":
            failed.append((job_id, folder))
            # Its upload is deleted below, so its import can never resume: say it failed, and why.
            fail_import(session, athlete_id, paths_key([Path(folder)]), error)
        elif changed == 1:
            requeued.append(job_id)
    session.commit()
    for job_id, folder in failed:
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("import job %s failed: its worker stopped responding %d times", job_id, MAX_ATTEMPTS)
    for job_id in requeued:
        log.warning("import job %s requeued: its worker stopped responding", job_id)
    return requeued, [j for j, _ in failed]


def purge_ended(session: Session, older_than: timedelta = KEEP_ENDED) -> int:
    """Delete finished and failed jobs that ended more than `older_than` ago; returns how many (commits).

    Only the job rows (the upload's progress page) go: the import records and their summaries stay, and
    `strideguard imports` and the import history page still show them.
    """
    cutoff = utcnow() - older_than
    deleted = session.execute(
        sa.delete(ImportJobRow).where(
            ImportJobRow.status.in_(("finished", "failed")), ImportJobRow.finished_at < cutoff
        )
    ).rowcount
    session.commit()
    return int(deleted or 0)


# --- running a job ------------------------------------------------------------------------------------------


class _Progress:
    """The `run_import` callback: keeps each source's total in the job row (at most twice a second), and
    stops the import when the worker is shutting down or lost the job."""

    def __init__(self, engine: Engine, job: Job, stop: threading.Event, lost: threading.Event) -> None:
        self.engine = engine
        self.job = job
        self.stop = stop
        self.lost = lost
        self.totals: dict[str, int] = {}
        self.last = 0.0
        self.dirty = False

    def __call__(self, event: ProgressEvent) -> None:
        if self.lost.is_set():
            raise _Stop("lost")
        if self.stop.is_set():
            raise _Stop("stopping")
        if event.stage != "import":
            return
        if self.totals.get(event.source) != event.total:
            self.totals[event.source] = event.total
            self.dirty = True
        now = time.monotonic()
        if now - self.last >= PROGRESS_WRITE_EVERY_S or event.done >= event.total:
            self.write(now)

    def write(self, now: float | None = None) -> None:
        self.last = time.monotonic() if now is None else now
        if not heartbeat(self.engine, self.job, self.totals if self.dirty else None):
            self.lost.set()
            raise _Stop("lost")
        self.dirty = False


def _heartbeats(engine: Engine, job: Job, done: threading.Event, lost: threading.Event) -> None:
    """Heartbeat every HEARTBEAT_EVERY_S until the job ends, also through long steps without progress."""
    while not done.wait(HEARTBEAT_EVERY_S):
        try:
            if not heartbeat(engine, job):
                lost.set()
                return
        except Exception as exc:  # e.g. the database is briefly unreachable: try again next time
            log.warning("import job %s: heartbeat failed (%s)", job.id, one_line(exc))


def run_one(engine: Engine, job: Job, stop: threading.Event | None = None) -> Outcome:
    """Import the job's folder for its athlete; record the summary or a one-line error; remove the upload.

    When `stop` is set (shutdown) the import ends at its next file and the job goes back to the queue; a
    later run resumes it.
    """
    stop = stop or threading.Event()
    lost = threading.Event()
    done = threading.Event()
    beat = threading.Thread(
        target=_heartbeats, args=(engine, job, done, lost), name=f"heartbeat-{job.id[:8]}", daemon=True
    )
    beat.start()
    folder = Path(job.folder)
    progress = _Progress(engine, job, stop, lost)
    try:
        if not folder.is_dir():
            # The page shows this message, so no server path in it (the worker's log names the folder).
            message = (
                f"the import stopped: the uploaded files are missing on {socket.gethostname()} (workers on "
                "other machines need the uploads folder on shared storage)"
            )
            fail(engine, job, message)
            return Outcome("failed", message)
        options = ImportOptions(
            sports=job.sports, workers=default_workers(), start_utc=job.start_utc, job_id=job.id
        )
        summary = run_import(engine, [folder], options, progress, athlete_id=job.athlete_id)
        result = summary.to_json()
        if progress.dirty:
            progress.write()
        if not finish(engine, job, result):
            return Outcome("lost", "another worker took the job over")
        outcome = Outcome("finished", result=result)
    except _Stop as stopped:
        if stopped.reason == "lost":
            return Outcome("lost", "another worker took the job over")
        release(engine, job)
        return Outcome("released", "stopped before the end; back in the queue")
    except (KeyboardInterrupt, SystemExit):
        with contextlib.suppress(Exception):  # interrupted mid-write: stale requeue covers it
            release(engine, job)
        raise
    except Exception as exc:  # reported on the page in one line; the import records keep what was saved
        message = f"the import stopped: {one_line(exc)}"
        try:
            fail(engine, job, message)
            with session_factory(engine)() as session, session.begin():
                fail_import(session, job.athlete_id, paths_key([folder]), message)
        except Exception as db_exc:  # the database itself failed: the job is requeued when stale
            log.warning("import job %s: could not record the failure (%s)", job.id, one_line(db_exc))
            return Outcome("lost", message)
        outcome = Outcome("failed", message)
    finally:
        done.set()
        beat.join(timeout=5)
    shutil.rmtree(folder, ignore_errors=True)
    return outcome


# --- the worker loop ----------------------------------------------------------------------------------------

OnJob = Callable[[Job, Outcome], None]


def work(
    engine: Engine,
    stop_event: threading.Event,
    poll_s: float = 2.0,
    *,
    once: bool = False,
    wake: threading.Event | None = None,
    on_job: OnJob | None = None,
    worker: str | None = None,
) -> int:
    """Claim and run jobs until `stop_event` is set (or, with `once`, until the queue is empty).

    Returns the number of jobs run. `wake` (set by the web app after an upload) cuts the wait short. A
    database error while polling is logged and retried after `poll_s`, except with `once`, where it is
    raised to the caller.
    """
    worker = worker or worker_id()
    sessions = session_factory(engine)
    ran = 0
    purged_at = -PURGE_EVERY_S
    checked_at = -STALE_CHECK_EVERY_S
    while not stop_event.is_set():
        try:
            # Housekeeping writes, kept off the short poll (a write takes SQLite's lock, however brief).
            if time.monotonic() - checked_at >= STALE_CHECK_EVERY_S:
                with sessions() as session:
                    requeue_stale(session)
                    if time.monotonic() - purged_at >= PURGE_EVERY_S:
                        purge_ended(session)
                        purged_at = time.monotonic()
                checked_at = time.monotonic()
            job = claim(engine, worker)
        except Exception as exc:
            if once:
                raise
            log.warning("import worker: cannot poll the queue (%s); retrying in %s s", one_line(exc), poll_s)
            job = None
        if job is None:
            if once:
                break
            if wake is None:
                stop_event.wait(poll_s)
            elif wake.wait(poll_s):
                wake.clear()
            continue
        try:
            outcome = run_one(engine, job, stop_event)
        except Exception as exc:  # the database failed under the job: it is requeued once stale
            if once:
                raise
            log.warning("import job %s: %s", job.id, one_line(exc))
            outcome = Outcome("lost", one_line(exc))
        ran += 1
        if on_job is not None:
            on_job(job, outcome)
    return ran


class WorkerThread:
    """An in-process worker (the web app's, local mode): a daemon thread running `work` until `stop`."""

    def __init__(self, engine: Engine, poll_s: float = 2.0) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="import-worker", daemon=True)

    def _run(self) -> None:
        try:
            work(self.engine, self.stop_event, self.poll_s, wake=self.wake_event)
        except Exception:  # never silently: the web app keeps serving, the jobs wait for another worker
            log.exception("import worker thread stopped")

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """A job was just queued: look now rather than at the next poll."""
        self.wake_event.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the loop to end (a running import stops at its next file and is requeued) and wait a while."""
        self.stop_event.set()
        self.wake_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout_s)
