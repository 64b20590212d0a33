"""Web import: upload real files and an export ZIP, queued jobs run by the app's worker, progress from the
database, errors, and jobs that wait for a worker."""

from __future__ import annotations

import io
import shutil
import threading
import time
import zipfile

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.importing import jobs as import_jobs
from strideguard.storage import activities as store
from strideguard.storage.tables import AthleteRow
from strideguard.web.app import create_app
from strideguard.web.common import Settings

RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"  # a real Garmin FR110 run (see SOURCES.md)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def token(client: TestClient) -> str:
    return soup(client.get("/import")).select_one('input[name="csrf_token"]')["value"]


def wait_for_job(client: TestClient, location: str, timeout_s: float = 60) -> dict:
    job = location.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/api/import-jobs/{job}").json()
        if status["status"] in {"finished", "failed"}:
            return status
        time.sleep(0.2)
    raise AssertionError(f"import job {job} did not finish: {status}")


def upload(client: TestClient, files: list[tuple[str, bytes]], sports: str = "default"):
    return client.post(
        "/import",
        data={"csrf_token": token(client), "sports": sports},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        follow_redirects=False,
    )


def test_uploaded_fit_is_imported_in_the_background_and_listed(client, data_dir, session, athlete_id):
    response = upload(client, [("my run.fit", (data_dir / RUN_FIT).read_bytes())])
    assert response.status_code == 303
    status = wait_for_job(client, response.headers["location"])
    assert (status["status"], status["done"], status["total"], status["imported"], status["failed"]) == (
        "finished",
        1,
        1,
        1,
        0,
    )
    # the progress page, reloaded after the end, shows the CLI's summary from the database
    page = soup(client.get(response.headers["location"]))
    assert page.select_one("#job-done").get_text() == "1"
    assert "Imported: 1 activity" in page.select_one(".summary-card").get_text(" ", strip=True)
    runs = store.list_activities(session, athlete_id)
    assert len(runs) == 1 and runs[0].source_name == "my_run.fit"
    listed = soup(client.get("/activities")).select("table.activities tbody tr")
    assert len(listed) == 1
    assert listed[0].select_one("td a")["href"] == f"/activities/{runs[0].id}"


def test_same_file_again_is_reported_as_duplicate(client, data_dir, session, athlete_id):
    data = (data_dir / RUN_FIT).read_bytes()
    wait_for_job(client, upload(client, [("a.fit", data)]).headers["location"])
    status = wait_for_job(client, upload(client, [("b.fit", data)]).headers["location"])
    assert (status["imported"], status["duplicates"]) == (0, 1)
    summary = status["summaries"][0]
    assert summary["duplicate_list"][0]["file"] == "b.fit"
    assert summary["duplicate_list"][0]["duplicate_of"].startswith("duplicate of #")
    # the page links the activity it repeats, and never shows the upload's job token
    first_id = store.list_activities(session, athlete_id)[0].id
    page = soup(client.get("/import/jobs/" + status["job"]))
    card = page.select_one(".summary-card")
    assert card.select_one(f'a[href="/activities/{first_id}"]') is not None
    assert card.select_one("h3").get_text(" ", strip=True).startswith("Uploaded files (import #")
    sources = [td.get_text() for td in soup(client.get("/import")).select("table.imports td.name")]
    named = all("b.fit" in s or "a.fit" in s for s in sources)
    assert sources == ["uploaded files", "uploaded files"] or named
    assert not any(status["job"] in s for s in sources)


def test_export_zip_with_a_broken_member_reports_the_error(client, data_dir, session, athlete_id):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("activities/run.fit", (data_dir / RUN_FIT).read_bytes())
        archive.writestr("activities/broken.fit", b"this is not a fit file at all")
    response = upload(client, [("export.zip", buffer.getvalue())])
    status = wait_for_job(client, response.headers["location"])
    assert (status["imported"], status["failed"]) == (1, 1)
    assert status["recent_errors"][0]["file"] == "activities/broken.fit"
    assert "FIT" in status["recent_errors"][0]["reason"]
    page = soup(client.get(response.headers["location"]))
    failed = page.select_one(".summary-card li.failed").get_text(" ", strip=True)
    assert "activities/broken.fit" in failed
    assert "/uploads/" not in page.get_text()  # server paths are not shown
    assert len(store.list_activities(session, athlete_id)) == 1


def test_wrong_file_type_is_refused_with_a_message_and_nothing_stored(
    client, data_dir, session, athlete_id, tmp_path
):
    response = upload(client, [("run.fit", (data_dir / RUN_FIT).read_bytes()), ("notes.txt", b"hello")])
    assert response.status_code == 422
    alert = soup(response).select_one("div.error").get_text(" ", strip=True)
    assert "Nothing was imported" in alert and "notes.txt: not a FIT, GPX or TCX file" in alert
    assert store.list_activities(session, athlete_id) == []
    uploads = tmp_path / "web" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_upload_without_csrf_token_is_refused(client, data_dir, session, athlete_id):
    client.get("/import")
    response = client.post(
        "/import",
        files=[("files", ("run.fit", (data_dir / RUN_FIT).read_bytes(), "application/octet-stream"))],
    )
    assert response.status_code == 403
    assert store.list_activities(session, athlete_id) == []


def test_import_history_and_record_pages_and_api(client, data_dir):
    wait_for_job(client, upload(client, [("run.fit", (data_dir / RUN_FIT).read_bytes())]).headers["location"])
    rows = soup(client.get("/import")).select("table.imports tbody tr")
    assert len(rows) == 1
    record_link = rows[0].select_one("a")["href"]
    page = soup(client.get(record_link))
    assert "Imported: 1 activity" in page.select_one(".summary-card").get_text(" ", strip=True)
    listing = client.get("/api/imports").json()
    assert [(i["imported"], i["status"]) for i in listing] == [(1, "finished")]
    detail = client.get(f"/api/imports/{listing[0]['id']}").json()
    assert detail["summary"]["imported"] == 1
    assert client.get("/api/imports/9999").status_code == 404
    assert client.get("/api/import-jobs/not-a-real-job-id-000").status_code == 404
    assert client.get("/import/jobs/not-a-real-job-id-000").status_code == 404


def _settings(db_url, tmp_path, **extra) -> Settings:
    return Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32, **extra)


def test_job_queued_while_no_worker_runs_is_imported_when_a_server_with_a_worker_starts(
    db_url, engine, tmp_path, data_dir, session, athlete_id
):
    app = create_app(_settings(db_url, tmp_path, run_worker=False))
    with TestClient(app) as first:
        location = upload(first, [("run.fit", (data_dir / RUN_FIT).read_bytes())]).headers["location"]
        job = location.rsplit("/", 1)[1]
        status = first.get(f"/api/import-jobs/{job}").json()
        assert (status["status"], status["done"], status["files"]) == ("queued", 0, ["run.fit"])
        page = soup(first.get(location))
        assert page.select_one("#job-status").get_text() == "queued"
        assert "the import carries on" in page.get_text()
    app.state.engine.dispose()
    assert store.list_activities(session, athlete_id) == []
    # the server restarts, now with its worker: the waiting job is imported
    restarted = create_app(_settings(db_url, tmp_path))
    with TestClient(restarted) as second:
        status = wait_for_job(second, location)
        assert (status["status"], status["imported"], status["total"]) == ("finished", 1, 1)
        assert status["summaries"][0]["imported"] == 1
    restarted.state.engine.dispose()
    assert len(store.list_activities(session, athlete_id)) == 1
    assert not (tmp_path / "web" / "uploads" / job).exists()


def test_failed_job_shows_its_one_line_error(db_url, engine, tmp_path, data_dir):
    app = create_app(_settings(db_url, tmp_path, run_worker=False))
    with TestClient(app) as client:
        location = upload(client, [("run.fit", (data_dir / RUN_FIT).read_bytes())]).headers["location"]
        job = location.rsplit("/", 1)[1]
        shutil.rmtree(tmp_path / "web" / "uploads" / job)  # e.g. uploads not on storage the worker shares
        assert import_jobs.work(engine, threading.Event(), once=True) == 1
        status = client.get(f"/api/import-jobs/{job}").json()
        assert status["status"] == "failed" and status["summaries"] == []
        assert status["error"].startswith("the import stopped: the uploaded files are missing")
        page = soup(client.get(location))
        assert page.select_one("h1").get_text() == "Import stopped"
        assert page.select_one("p.error").get_text() == status["error"]
    app.state.engine.dispose()


def test_job_of_another_athlete_is_not_found(client, session, athlete_id, tmp_path):
    other = AthleteRow(name="someone else")
    session.add(other)
    session.flush()
    import_jobs.enqueue(session, "x" * 24, other.id, tmp_path / "elsewhere", ["theirs.fit"])
    session.commit()
    assert client.get("/import/jobs/" + "x" * 24).status_code == 404
    assert client.get("/api/import-jobs/" + "x" * 24).status_code == 404


def test_failed_import_record_page_says_why(client, session, athlete_id):
    from strideguard.importing.saving import fail_import
    from strideguard.storage.tables import ImportRow

    session.add(
        ImportRow(athlete_id=athlete_id, source="uploaded files", source_sha256="k" * 64, kind="files")
    )
    session.commit()
    reason = "the import stopped: its worker stopped responding 3 times (out of memory or killed?)"
    import_id = fail_import(session, athlete_id, "k" * 64, reason)
    session.commit()
    page = client.get(f"/imports/{import_id}")
    assert page.status_code == 200
    text = " ".join(BeautifulSoup(page.text, "html.parser").get_text().split())
    assert f"This import failed: {reason}. 0 imported before it stopped" in text
