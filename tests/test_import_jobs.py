"""The import job queue on our own table: atomic claims, stale requeue, the worker command, failures."""

from __future__ import annotations

import secrets
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from strideguard.importing import jobs as import_jobs
from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage.tables import ImportJobRow, utcnow

RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"  # a real Garmin FR110 run (see SOURCES.md)


def queue_job(session, athlete_id: int, folder: Path, files: list[str] | None = None) -> str:
    job = secrets.token_urlsafe(18)
    import_jobs.enqueue(session, job, athlete_id, folder, files or ["run.fit"])
    session.commit()
    return job


def upload_folder(tmp_path: Path, data_dir: Path, name: str = "job") -> Path:
    """A job folder as the upload page leaves it: the uploaded FIT under its cleaned name."""
    folder = tmp_path / "uploads" / name
    folder.mkdir(parents=True)
    shutil.copyfile(data_dir / RUN_FIT, folder / "my_run.fit")
    return folder


def job_row(engine, job: str) -> ImportJobRow:
    with db.session_factory(engine)() as fresh:
        row = fresh.get(ImportJobRow, job)
        assert row is not None
        return row


def make_stale(engine, job: str) -> None:
    """What a worker that died looks like: its last heartbeat long ago."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(ImportJobRow)
            .where(ImportJobRow.id == job)
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )


def test_two_claimers_never_get_the_same_job(db_url, engine, session, athlete_id, tmp_path):
    jobs = {queue_job(session, athlete_id, tmp_path / f"j{i}") for i in range(12)}
    claimed: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        own = db.make_engine(db_url)  # each claimer its own engine and connections, like another machine
        got: list[str] = []
        try:
            barrier.wait()
            while (job := import_jobs.claim(own, name)) is not None:
                assert job.worker == name and job.attempts == 1
                got.append(job.id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            claimed[name] = got
            own.dispose()

    threads = [threading.Thread(target=claimer, args=(f"host{i}:{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    every = [job for got in claimed.values() for job in got]
    assert sorted(every) == sorted(jobs)  # every job claimed, and exactly once
    assert import_jobs.claim(engine, "late:1") is None
    for name, got in claimed.items():
        for job in got:
            row = job_row(engine, job)
            assert (row.status, row.worker, row.attempts) == ("running", name, 1)
            assert row.started_at is not None and row.heartbeat_at is not None


def test_claim_takes_the_oldest_queued_job(engine, session, athlete_id, tmp_path):
    first = queue_job(session, athlete_id, tmp_path / "a")
    second = queue_job(session, athlete_id, tmp_path / "b")
    assert import_jobs.claim(engine, "w:1").id == first
    assert import_jobs.claim(engine, "w:1").id == second
    assert import_jobs.claim(engine, "w:1") is None


def test_stale_running_job_is_requeued_then_completes(engine, session, athlete_id, tmp_path, data_dir):
    folder = upload_folder(tmp_path, data_dir)
    job = queue_job(session, athlete_id, folder, ["my run.fit"])
    dead = import_jobs.claim(engine, "gone-host:4242")
    alive_job = queue_job(session, athlete_id, tmp_path / "other")
    alive = import_jobs.claim(engine, "live-host:1")
    assert dead.id == job and alive.id == alive_job
    make_stale(engine, job)

    requeued, failed = import_jobs.requeue_stale(session)
    assert (requeued, failed) == ([job], [])
    row = job_row(engine, job)
    assert (row.status, row.worker, row.attempts) == ("queued", None, 1)
    assert job_row(engine, alive_job).status == "running"  # a live worker keeps its job
    # the presumed-dead worker, if it comes back, finds the job no longer its own
    assert import_jobs.heartbeat(engine, dead) is False
    assert import_jobs.finish(engine, dead, {"imported": 99}) is False

    ran = import_jobs.work(engine, threading.Event(), once=True, worker="new-host:7")
    assert ran == 1
    row = job_row(engine, job)
    assert (row.status, row.attempts, row.error) == ("finished", 2, None)
    assert row.result["imported"] == 1 and row.result["failed"] == 0
    assert row.totals and sum(row.totals.values()) == 1
    assert row.finished_at is not None and row.worker is None
    assert not folder.exists()  # the uploaded copy is removed once imported
    assert len(store.list_activities(session, athlete_id)) == 1


def test_job_whose_worker_keeps_dying_fails_after_three_attempts(engine, session, athlete_id, tmp_path):
    folder = tmp_path / "uploads" / "doomed"
    folder.mkdir(parents=True)
    job = queue_job(session, athlete_id, folder)
    for attempt in range(1, import_jobs.MAX_ATTEMPTS + 1):
        claimed = import_jobs.claim(engine, f"host:{attempt}")
        assert claimed is not None and claimed.attempts == attempt
        make_stale(engine, job)
        requeued, failed = import_jobs.requeue_stale(session)
        assert (requeued, failed) == (([job], []) if attempt < import_jobs.MAX_ATTEMPTS else ([], [job]))
    row = job_row(engine, job)
    assert row.status == "failed" and row.finished_at is not None
    assert "stopped responding 3 times" in row.error and "\n" not in row.error
    assert import_jobs.claim(engine, "host:9") is None
    assert not folder.exists()


def test_worker_shutting_down_puts_its_job_back_and_a_later_run_resumes(
    engine, session, athlete_id, tmp_path, data_dir
):
    folder = upload_folder(tmp_path, data_dir)
    job = queue_job(session, athlete_id, folder)
    claimed = import_jobs.claim(engine, "host:1")
    stopping = threading.Event()
    stopping.set()
    outcome = import_jobs.run_one(engine, claimed, stopping)
    assert outcome.status == "released"
    row = job_row(engine, job)
    assert (row.status, row.worker, row.attempts) == ("queued", None, 0)  # a shutdown is not a try
    assert folder.is_dir()
    assert import_jobs.work(engine, threading.Event(), once=True) == 1
    assert job_row(engine, job).status == "finished"
    assert len(store.list_activities(session, athlete_id)) == 1


def test_worker_once_command_imports_a_queued_upload(
    db_url, engine, session, athlete_id, tmp_path, data_dir, run_cli
):
    folder = upload_folder(tmp_path, data_dir)
    job = queue_job(session, athlete_id, folder, ["my run.fit"])
    result = run_cli("--db", db_url, "worker", "--once")
    assert result.returncode == 0, result.stderr
    assert f"job {job} (athlete #{athlete_id}, 1 file): finished: 1 imported" in result.stdout
    assert "No more queued import jobs (1 run)." in result.stdout
    row = job_row(engine, job)
    assert row.status == "finished" and row.attempts == 1 and row.error is None
    summary = row.result
    assert (summary["imported"], summary["duplicates"], summary["failed"]) == (1, 0, 0)
    assert summary["sources"][0]["kind"] == "files" and summary["sources"][0]["import_id"] is not None
    runs = store.list_activities(session, athlete_id)
    assert len(runs) == 1 and runs[0].source_name == "my_run.fit"
    assert not folder.exists()
    # nothing left: a second run exits at once
    again = run_cli("--db", db_url, "worker", "--once")
    assert again.returncode == 0 and "(0 run)" in again.stdout


def test_job_with_missing_upload_folder_fails_in_one_line(
    db_url, engine, session, athlete_id, tmp_path, data_dir, run_cli
):
    missing = queue_job(session, athlete_id, tmp_path / "uploads" / "never-written")
    good = queue_job(session, athlete_id, upload_folder(tmp_path, data_dir))
    result = run_cli("--db", db_url, "worker", "--once")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"job {missing} (athlete #{athlete_id}, 1 file): failed: " in result.stderr
    assert "never-written" in result.stderr  # the worker's log names the folder
    row = job_row(engine, missing)
    assert row.status == "failed" and row.result is None and row.finished_at is not None
    assert row.error.startswith("the import stopped: the uploaded files are missing on ")
    assert "\n" not in row.error and "never-written" not in row.error  # no server path on the page
    assert job_row(engine, good).status == "finished"  # one failed job does not stop the worker


def test_worker_help_and_bad_database_are_one_line(run_cli):
    result = run_cli("--db", "postgresql://nobody@127.0.0.1:1/none", "worker", "--once")
    assert result.returncode == 1
    # the wording is the CLI's common database error; what matters: one line naming the server
    assert result.stderr.startswith("Error: cannot ") and "127.0.0.1:1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    bad = run_cli("worker", "--poll", "0")
    assert bad.returncode == 2 and "--poll" in bad.stderr


def test_ended_jobs_are_purged_after_30_days_and_others_stay(engine, session, athlete_id, tmp_path):
    old, recent, queued = (queue_job(session, athlete_id, tmp_path / n) for n in ("old", "recent", "queued"))
    session.commit()
    with engine.begin() as conn:
        for job, days in ((old, 31), (recent, 29)):
            conn.execute(
                sa.update(ImportJobRow)
                .where(ImportJobRow.id == job)
                .values(status="finished", finished_at=utcnow() - timedelta(days=days))
            )
    assert import_jobs.purge_ended(session) == 1
    left = set(session.scalars(sa.select(ImportJobRow.id)))
    assert left == {recent, queued}


def test_job_that_failed_three_times_marks_its_import_failed_with_the_reason(
    engine, session, athlete_id, tmp_path
):
    """Each attempt's worker dies mid-import (after a few files are saved); after the third the job fails,
    and its import record says failed, why, and counts what is stored instead of staying "unfinished"."""
    import exportgen
    from strideguard.importing.service import ImportOptions, run_import
    from strideguard.storage.tables import ActivityRow, ImportRow

    folder = tmp_path / "uploads" / "doomed"
    folder.mkdir(parents=True)
    for i, run in enumerate(exportgen.simulated_runs(8, minutes=2)):
        (folder / f"run{i}.fit").write_bytes(exportgen.fit_bytes(run))
    job = queue_job(session, athlete_id, folder)

    class WorkerDied(BaseException):
        pass

    for attempt in range(1, import_jobs.MAX_ATTEMPTS + 1):
        claimed = import_jobs.claim(engine, f"host:{attempt}")
        assert claimed is not None

        def die_after_two(event, limit=2 * attempt):  # two more files saved by each attempt
            if event.stage == "import" and event.done >= limit:
                raise WorkerDied

        options = ImportOptions(workers=0, batch_activities=1, commit_interval_s=0)
        try:
            run_import(engine, [Path(claimed.folder)], options, die_after_two, athlete_id=athlete_id)
        except WorkerDied:
            pass
        make_stale(engine, job)
        import_jobs.requeue_stale(session)
    assert job_row(engine, job).status == "failed"
    with db.session_factory(engine)() as fresh:
        (record,) = fresh.scalars(sa.select(ImportRow)).all()  # every attempt resumed the same import
        stored = fresh.scalar(sa.select(sa.func.count()).select_from(ActivityRow))
    assert record.status == "failed" and record.finished_at is not None
    assert "stopped responding 3 times" in record.summary["error"]
    assert 0 < stored < 8 and record.n_imported == stored
