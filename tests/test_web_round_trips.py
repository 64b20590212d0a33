"""What one request asks of the database, for the requests a busy club repeats most (issue 13): an edit
commits before it reads back, an activity's page is built from the rows its cache key read, and the
dashboard's latest runs come from the runs it read. Counted with the engine's own events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training.pain import PainEntry
from strideguard.web import dashboard


@contextmanager
def counted(engine: sa.Engine) -> Iterator[dict[str, list]]:
    seen: dict[str, list] = {"statements": [], "order": []}

    def statement(_conn, _cursor, text, _params, _context, _many) -> None:
        seen["statements"].append(" ".join(text.split()))
        seen["order"].append(text.split()[0].upper())

    listeners = [
        (engine, "before_cursor_execute", statement),
        (engine, "commit", lambda *a: seen["order"].append("COMMIT")),
    ]
    for target, name, function in listeners:
        sa.event.listen(target, name, function)
    try:
        yield seen
    finally:
        for target, name, function in listeners:
            sa.event.remove(target, name, function)


def _history(engine: sa.Engine) -> list[int]:
    """Forty runs over 80 days, a shoe, pain on the last run's day; the runs' ids, newest last."""
    today = dashboard.today_local()
    with db.session_factory(engine)() as session:
        me = store.local_athlete(session)
        shoe = shoe_store.add_shoe(session, me, "Pegasus")
        ids = []
        for k in range(40):
            start = datetime.combine(today - timedelta(days=80 - 2 * k), datetime.min.time(), tzinfo=UTC)
            activity = Activity(
                sport="run",
                start_utc=start + timedelta(hours=7),
                utc_offset_s=0,
                source_format="fit",
                distance_m=8000.0 + 100 * k,
                elapsed_time_s=2600.0,
                shoe_id=shoe.id,
            )
            ids.append(store.save_activity(session, me, activity).activity_id)
        last_day = store.get_activity(session, me, ids[-1]).local_date
        pain_store.add_pain(session, me, PainEntry(last_day, "knee-front", "left", 3, "after"))
        session.commit()
    return ids


def test_an_edit_answers_from_its_update_and_a_sport_change_reads_back_where_it_may(client):
    """An RPE or feel edit answers with the row its UPDATE returned: one statement on the activity, no
    read-back, no laps. A sport change (which also chooses the shoe again) reads back: on SQLite after the
    commit, since the write lock (the whole database's) is held for the writes alone, not for the read
    (holding it longer made the uploads' imports wait, issue 13); on PostgreSQL in the edit's transaction
    (a row lock stops no one). What each answered is what was kept."""
    ids = _history(client.app.state.engine)
    client.get("/")  # the local athlete and its settings exist
    with counted(client.app.state.engine) as seen:
        response = client.patch(f"/api/activities/{ids[5]}", json={"rpe": 6.5, "feel": "good"})
    assert response.status_code == 200
    assert response.json()["rpe"] == 6.5 and response.json()["feel"] == "good"
    on_activities = [s for s in seen["statements"] if "activities" in s.split(" WHERE")[0]]
    assert len(on_activities) == 1 and on_activities[0].startswith("UPDATE activities SET")
    assert "RETURNING" in on_activities[0] and not [s for s in seen["statements"] if "FROM laps" in s]
    assert seen["order"].count("COMMIT") == 1

    with counted(client.app.state.engine) as seen:
        moved = client.patch(f"/api/activities/{ids[6]}", json={"sport": "walk", "rpe": 3.0})
    assert moved.status_code == 200 and (moved.json()["sport"], moved.json()["rpe"]) == ("walk", 3.0)
    assert moved.json()["sport_note"] is None
    events = seen["order"]
    read = max(k for k, s in enumerate(seen["statements"]) if s.startswith("SELECT activities.id"))
    read_at = [k for k, e in enumerate(events) if e != "COMMIT"][read]
    assert not [s for s in seen["statements"] if "FROM laps" in s]
    if client.app.state.engine.dialect.name == "sqlite":
        assert "COMMIT" in events[:read_at]
    else:
        assert "COMMIT" not in events[:read_at] and events.count("COMMIT") == 1
    with db.session_factory(client.app.state.engine)() as session:  # what they answered is what was kept
        me = store.local_athlete(session)
        kept, walked = store.get_activity(session, me, ids[5]), store.get_activity(session, me, ids[6])
    assert (kept.rpe, kept.feel) == (6.5, "good") and (walked.sport, walked.rpe) == ("walk", 3.0)
    assert client.patch(f"/api/activities/{ids[-1] + 999}", json={"rpe": 5.0}).status_code == 404


def test_an_activity_page_reads_its_shoes_and_pain_once(client):
    ids = _history(client.app.state.engine)
    client.patch(f"/api/activities/{ids[-1]}", json={"rpe": 4.0})  # the page is not cached
    with counted(client.app.state.engine) as seen:
        page = client.get(f"/activities/{ids[-1]}").text
    assert "Pegasus" in page and "3/10" in page
    assert sum("FROM shoes" in s for s in seen["statements"]) == 1
    assert sum("FROM pain_entries" in s for s in seen["statements"]) == 1


def test_the_dashboard_takes_its_latest_runs_from_those_it_read(client):
    ids = _history(client.app.state.engine)
    client.patch(f"/api/activities/{ids[0]}", json={"rpe": 5.0})  # the page is not cached
    with counted(client.app.state.engine) as seen:
        page = client.get("/").text
    assert f'href="/activities/{ids[-1]}"' in page and "No runs in the last year" not in page
    reads = [s for s in seen["statements"] if "FROM activities" in s]
    assert not any("count(" in s for s in reads)
    # the recent runs with the last run before them (one statement), the first run's date
    assert len(reads) == 2, reads
    # The data version is read once: the build uses the version the request read (it waited for no one).
    assert sum("data_version" in s and "FROM athletes" in s for s in seen["statements"]) == 1

    # ... and still, the next edit's view is a new page: the fatigue it shows is the one after the edit.
    def fatigue(html: str) -> float:
        found = re.search(r"<dt>Fatigue \(ATL\)</dt><dd>([0-9.,]+)</dd>", html)
        assert found, html
        return float(found.group(1).replace(",", ""))

    assert client.patch(f"/api/activities/{ids[-1]}", json={"rpe": 9.0}).status_code == 200
    after = client.get("/").text
    atl = client.get("/api/dashboard").json()["load"]["atl"]
    assert fatigue(after) == round(atl, 1) and fatigue(after) > fatigue(page)


def test_an_upload_jobs_progress_reads_import_items_only_by_import(client, data_dir):
    """Two uploads (loose files, then the same again as a duplicate); each job's page counts its own file,
    and no statement it runs searches `import_items` except within given imports (an index lookup; the
    whole table was read on every poll before)."""
    from test_web_import import RUN_FIT, upload, wait_for_job

    data = (data_dir / RUN_FIT).read_bytes()
    first = upload(client, [("a.fit", data)]).headers["location"]
    assert wait_for_job(client, first)["imported"] == 1
    second = upload(client, [("b.fit", data)]).headers["location"]
    assert wait_for_job(client, second)["duplicates"] == 1
    with counted(client.app.state.engine) as seen:
        status = client.get(f"/api/import-jobs/{first.rsplit('/', 1)[1]}").json()
        page = client.get(first)
    assert status["imported"] == 1 and status["duplicates"] == 0 and page.status_code == 200
    on_items = [s for s in seen["statements"] if "FROM import_items" in s]
    assert on_items and all("import_items.import_id IN" in s for s in on_items), on_items


def test_a_jobs_progress_reads_its_own_imports_by_job_not_every_recent_upload_of_its_runner(client, data_dir):
    """A runner who uploads again and again (a club member's watch syncing, or the benchmark's uploaders):
    each poll of a job reads its own imports by the job's id (revision 0018), not all the imports the
    runner began in the last minutes and then their items by folder, which grew with every upload."""
    from strideguard.storage.tables import ImportRow
    from test_web_import import RUN_FIT, upload, wait_for_job

    engine = client.app.state.engine
    data = (data_dir / RUN_FIT).read_bytes()
    jobs = []
    for k in range(6):
        location = upload(client, [(f"run{k}.fit", data)]).headers["location"]
        jobs.append(location.rsplit("/", 1)[1])
        wait_for_job(client, location)
    with db.session_factory(engine)() as session:
        counts = session.execute(sa.select(ImportRow.job_id, sa.func.count()).group_by(ImportRow.job_id))
        by_job = {job: n for job, n in counts}
    assert by_job == {job: 1 for job in jobs}  # each import names the one job that ran it
    with counted(engine) as seen:
        status = client.get(f"/api/import-jobs/{jobs[2]}").json()
    assert (status["imported"], status["duplicates"], status["done"]) == (0, 1, 1)
    assert status["summaries"][0]["source"] == "uploaded files"
    on_imports = [s for s in seen["statements"] if "FROM imports" in s]
    assert len(on_imports) == 1 and "imports.job_id = " in on_imports[0], on_imports
    assert not [s for s in seen["statements"] if "LIKE" in s]  # no search by folder
    first = client.get(f"/api/import-jobs/{jobs[0]}").json()
    assert (first["imported"], first["duplicates"]) == (1, 0)


def test_a_job_whose_imports_name_no_job_is_found_by_its_folder(client, data_dir):
    """Imports run before revision 0018 name no job: their job's page finds them the old way."""
    from strideguard.storage.tables import ImportRow
    from test_web_import import RUN_FIT, upload, wait_for_job

    engine = client.app.state.engine
    location = upload(client, [("old.fit", (data_dir / RUN_FIT).read_bytes())]).headers["location"]
    assert wait_for_job(client, location)["imported"] == 1
    with engine.begin() as connection:
        connection.execute(sa.update(ImportRow).values(job_id=None))
    status = client.get(f"/api/import-jobs/{location.rsplit('/', 1)[1]}").json()
    assert (status["status"], status["imported"], status["done"], len(status["import_ids"])) == (
        "finished",
        1,
        1,
        1,
    )


def test_a_job_no_worker_has_claimed_reads_no_imports_and_a_requeued_one_keeps_its_progress(
    db_url, engine, tmp_path, data_dir
):
    """Most polls of an upload's progress come right after the upload, while the job waits for a worker:
    it has begun no import, so nothing is read about imports (issue 13: the page searched the athlete's
    recent imports on every poll). A job put back in the queue after a worker began it still shows what
    was done."""
    import threading

    from fastapi.testclient import TestClient

    from strideguard.importing import jobs as import_jobs
    from strideguard.storage.tables import ImportJobRow
    from strideguard.web.app import create_app
    from strideguard.web.common import Settings
    from test_web_import import RUN_FIT, upload

    settings = Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32, run_worker=False)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            location = upload(client, [("run.fit", (data_dir / RUN_FIT).read_bytes())]).headers["location"]
            job = location.rsplit("/", 1)[1]
            with counted(app.state.engine) as seen:
                status = client.get(f"/api/import-jobs/{job}").json()
            assert (status["status"], status["done"], status["files"]) == ("queued", 0, ["run.fit"])
            assert not [s for s in seen["statements"] if "FROM imports" in s or "FROM import_items" in s]
            assert import_jobs.work(engine, threading.Event(), once=True) == 1
            requeue = sa.update(ImportJobRow).where(ImportJobRow.id == job).values(status="queued")
            with engine.begin() as connection:  # as a stale worker's job is: begun, back in the queue
                connection.execute(requeue)
            status = client.get(f"/api/import-jobs/{job}").json()
            assert (status["status"], status["done"], status["imported"]) == ("queued", 1, 1)
    finally:
        app.state.engine.dispose()
