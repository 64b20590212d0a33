"""The runner's own data on the web and in storage: export button, audit log, delete my account (with the
password again): every row and uploaded file of that account gone, everyone else's untouched."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from accounts_helpers import (
    PASSWORD,
    add_pain,
    add_urgent_triage,
    athlete_of,
    csrf,
    register,
    share,
    soup,
    steady_weeks,
    view,
)
from conftest import DATA
from strideguard.activities import originals
from strideguard.activities.formats import read_file
from strideguard.importing import jobs as import_jobs
from strideguard.storage import activities as store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.accounts_delete import delete_account
from strideguard.storage.audit import list_audit, record_audit
from strideguard.storage.tables import Base, UserRow
from strideguard.web.app import create_app
from strideguard.web.common import Settings

GPX = DATA / "gpx" / "fittrackee__test.gpx"


@pytest.fixture
def app(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"s" * 32))
    yield app
    app.state.engine.dispose()


def _populate(session, athlete_id: int, folder) -> None:
    steady_weeks(session, athlete_id, weeks=3)
    add_pain(session, athlete_id)
    add_urgent_triage(session, athlete_id)
    shoe = shoe_store.add_shoe(session, athlete_id, "Pair")
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    # An imported run with its original file (table source_files), laps and samples.
    (run,) = read_file(GPX).activities
    kept = originals.pack(GPX.name, "gpx", GPX.read_bytes())
    assert store.save_activity(session, athlete_id, run, source_file=kept).status == "imported"
    folder.mkdir(parents=True)
    (folder / "upload.gpx").write_text("<gpx/>")
    import_jobs.enqueue(session, f"job-{athlete_id}-{'x' * 20}", athlete_id, folder, ["upload.gpx"])
    session.commit()


def _counts(session) -> dict[str, int]:
    return {
        name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for name, table in Base.metadata.tables.items()
    }


def _activity_ids(session, athlete_id: int) -> list[int]:
    table = Base.metadata.tables["activities"]
    return list(session.scalars(sa.select(table.c.id).where(table.c.athlete_id == athlete_id)))


def _rows_of(session, user_id: int, athlete_ids: list[int], activity_ids: list[int]) -> dict[str, int]:
    """Rows anywhere that still name the user, one of their athletes or one of their activities (laps,
    samples, original files)."""
    left = {}
    for name, table in Base.metadata.tables.items():
        conditions = []
        if "activity_id" in table.c:
            conditions.append(table.c.activity_id.in_(activity_ids))
        if "user_id" in table.c:
            conditions.append(table.c.user_id == user_id)
        if "athlete_id" in table.c:
            conditions.append(table.c.athlete_id.in_(athlete_ids))
        if name == "athletes":
            conditions.append(table.c.id.in_(athlete_ids))
        if name == "users":
            conditions.append(table.c.id == user_id)
        if conditions:
            n = session.scalar(sa.select(sa.func.count()).select_from(table).where(sa.or_(*conditions)))
            if n:
                left[name] = n
    return left


def test_delete_account_removes_every_row_and_upload_and_nothing_else(app, session, tmp_path):
    ann, bob = register(app, "ann@example.org"), register(app, "bob@example.org")
    ann_id, bob_id = athlete_of(session, "ann@example.org"), athlete_of(session, "bob@example.org")
    _populate(session, ann_id, tmp_path / "uploads" / "ann")
    _populate(session, bob_id, tmp_path / "uploads" / "bob")
    share(ann, "bob@example.org", "everything")
    share(bob, "ann@example.org", "training")
    ann_user = session.scalar(sa.select(UserRow.id).where(UserRow.email == "ann@example.org"))
    bob_user = session.scalar(sa.select(UserRow.id).where(UserRow.email == "bob@example.org"))
    record_audit(session, ann_user, "login", "")
    session.commit()
    ann_runs, bob_runs = _activity_ids(session, ann_id), _activity_ids(session, bob_id)
    bob_before = _rows_of(session, bob_user, [bob_id], bob_runs)
    ann_before = _rows_of(session, ann_user, [ann_id], ann_runs)
    assert ann_before["activities"] > 0 and ann_before["activity_streams"] > 0
    assert ann_before["source_files"] == 1

    deleted = delete_account(session, ann_user)
    session.commit()
    assert deleted.athletes == [ann_id]
    assert _rows_of(session, ann_user, [ann_id], ann_runs) == {}
    # Bob keeps everything except the share Ann gave him (it was hers) and his share to her (she is gone)
    bob_after = _rows_of(session, bob_user, [bob_id], bob_runs)
    assert bob_after["source_files"] == 1
    assert {k: v for k, v in bob_before.items() if k != "shares"} == {
        k: v for k, v in bob_after.items() if k != "shares"
    }
    assert not (tmp_path / "uploads" / "ann").exists()
    assert (tmp_path / "uploads" / "bob" / "upload.gpx").exists()
    # the aggregates follow (kept by triggers): nothing of Ann's left there either
    assert (
        session.scalar(sa.text("SELECT count(*) FROM activity_days WHERE athlete_id = :a"), {"a": ann_id})
        == 0
    )


def test_delete_my_account_on_the_web_needs_the_password_again(app, session):
    ann = register(app, "ann@example.org")
    bob = register(app, "bob@example.org")
    steady_weeks(session, athlete_of(session, "ann@example.org"), weeks=1)
    before = _counts(session)
    token = csrf(ann, "/account/delete")
    wrong = ann.post(
        "/account/delete", data={"csrf_token": token, "password": "not it at all", "confirm": "delete"}
    )
    assert wrong.status_code == 422 and "nothing was deleted" in wrong.text
    no_word = ann.post("/account/delete", data={"csrf_token": token, "password": PASSWORD, "confirm": "yes"})
    assert no_word.status_code == 422
    session.expire_all()
    assert _counts(session) == before
    done = ann.post(
        "/account/delete",
        data={"csrf_token": token, "password": PASSWORD, "confirm": "delete"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    session.expire_all()
    assert session.scalar(sa.select(UserRow.id).where(UserRow.email == "ann@example.org")) is None
    assert session.scalar(sa.select(sa.func.count()).select_from(Base.metadata.tables["activities"])) == 0
    assert bob.get("/api/activities").status_code == 200
    # the old cookie of the deleted account no longer opens anything
    assert ann.get("/api/activities").status_code == 401


def test_export_button_downloads_own_data_and_is_audited(app, session):
    ann, coach = register(app, "ann@example.org", "Ann"), register(app, "coach@example.org", "Coach")
    ann_id = athlete_of(session, "ann@example.org")
    steady_weeks(session, ann_id, weeks=1)
    share(ann, "coach@example.org", "everything")
    response = ann.post("/data/export", data={"csrf_token": csrf(ann, "/data")})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["athlete"]["name"] == "Ann"
        assert manifest["tables"]["activities"]["rows"] > 0
    # the coach viewing Ann's log exports only their own (empty) log
    view(coach, ann_id)
    theirs = coach.post("/data/export", data={"csrf_token": csrf(coach, "/data")})
    with zipfile.ZipFile(io.BytesIO(theirs.content)) as archive:
        assert json.loads(archive.read("manifest.json"))["tables"]["activities"]["rows"] == 0
    # refused without the CSRF token
    assert ann.post("/data/export").status_code == 403
    page = soup(ann.get("/account/audit"))
    actions = [row["data-action"] for row in page.select("table.audit tr[data-action]")]
    assert actions[:2] == ["export", "share_added"]
    assert [e["action"] for e in ann.get("/api/audit").json()][:1] == ["export"]
    user_id = session.scalar(sa.select(UserRow.id).where(UserRow.email == "coach@example.org"))
    assert [e.action for e in list_audit(session, user_id)] == ["export", "login"]


def test_export_works_in_local_mode(client):
    response = client.post("/data/export", data={"csrf_token": csrf(client, "/data")})
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "manifest.json" in archive.namelist()
    assert client.get("/account/delete").status_code == 404
