"""Web import: upload real files and an export ZIP, background job progress from the database, errors."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard import store
from strideguard.web.app import create_app
from strideguard.web.common import Settings

RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"  # a real Garmin FR110 run (see SOURCES.md)


@pytest.fixture
def client(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


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


def test_same_file_again_is_reported_as_duplicate(client, data_dir):
    data = (data_dir / RUN_FIT).read_bytes()
    wait_for_job(client, upload(client, [("a.fit", data)]).headers["location"])
    status = wait_for_job(client, upload(client, [("b.fit", data)]).headers["location"])
    assert (status["imported"], status["duplicates"]) == (0, 1)
    summary = status["summaries"][0]
    assert summary["duplicate_list"][0]["file"] == "b.fit"
    assert summary["duplicate_list"][0]["duplicate_of"].startswith("duplicate of #")


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
