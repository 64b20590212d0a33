"""Server mode: registration, login, isolation between users, read-only sharing with a coach."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage.tables import AthleteRow, UserRow
from strideguard.web import security
from strideguard.web.app import create_app
from strideguard.web.common import Settings


@pytest.fixture
def app(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"s" * 32))
    yield app
    app.state.engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf(client: TestClient, path: str = "/login") -> str:
    return soup(client.get(path)).select_one('meta[name="csrf-token"]')["content"]


def register(app, email: str) -> TestClient:
    client = TestClient(app)
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf(client, "/register"),
            "email": email,
            "password": "correct horse",
            "password2": "correct horse",
        },
    )
    assert response.status_code == 200, response.text  # redirected to the login page
    response = client.post(
        "/login", data={"csrf_token": csrf(client), "email": email, "password": "correct horse"}
    )
    assert response.status_code == 200 and response.url.path == "/", response.text
    return client


def athlete_of(session, email: str) -> int:
    user = session.query(UserRow).filter_by(email=email).one()
    return session.query(AthleteRow).filter_by(user_id=user.id).one().id


def add_run(session, athlete_id: int, name: str) -> int:
    run = Activity(
        sport="run",
        start_utc=datetime(2026, 3, 1, 7, tzinfo=UTC),
        source_format="manual",
        distance_m=10_000.0,
        moving_time_s=3000.0,
        name=name,
    )
    outcome = store.save_activity(session, athlete_id, run)
    session.commit()
    return outcome.activity_id


def test_pages_and_api_need_a_login(app):
    client = TestClient(app)
    response = client.get("/activities", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/api/activities").status_code == 401


def test_passwords_are_stored_as_scrypt_hashes(app, session):
    register(app, "ann@example.org")
    stored = session.query(UserRow).one().password_hash
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert security.verify_password("correct horse", stored)
    assert not security.verify_password("wrong horse!", stored)


def test_wrong_password_is_refused_and_a_tampered_cookie_is_ignored(app):
    register(app, "ann@example.org")
    client = TestClient(app)
    response = client.post(
        "/login", data={"csrf_token": csrf(client), "email": "ann@example.org", "password": "nope nope nope"}
    )
    assert response.status_code == 401
    assert "Wrong email or password." in soup(response).select_one("div.error").get_text()
    client.cookies.set(security.SESSION_COOKIE, "1.9999999999.forged")
    assert client.get("/api/activities").status_code == 401


def test_one_user_never_sees_another_users_activities(app, session):
    ann, bob = register(app, "ann@example.org"), register(app, "bob@example.org")
    ann_run = add_run(session, athlete_of(session, "ann@example.org"), "Ann's secret run")
    bob_run = add_run(session, athlete_of(session, "bob@example.org"), "Bob's run")
    assert [a["name"] for a in bob.get("/api/activities").json()["activities"]] == ["Bob's run"]
    assert "Ann's secret run" not in bob.get("/activities").text
    assert bob.get(f"/activities/{ann_run}").status_code == 404
    assert bob.get(f"/api/activities/{ann_run}").status_code == 404
    token = csrf(bob, "/activities")
    assert (
        bob.post(f"/activities/{ann_run}", data={"csrf_token": token, "name": "mine now"}).status_code == 404
    )
    assert ann.get(f"/activities/{bob_run}").status_code == 404


def test_shared_log_is_readable_but_not_writable_by_the_coach(app, session):
    ann, coach = register(app, "ann@example.org"), register(app, "coach@example.org")
    ann_run = add_run(session, athlete_of(session, "ann@example.org"), "Tempo")
    response = ann.post(
        "/account/shares", data={"csrf_token": csrf(ann, "/account"), "email": "coach@example.org"}
    )
    assert response.status_code == 200
    # the coach switches to Ann's log
    page = soup(coach.get("/"))
    options = {o.get_text(): o["value"] for o in page.select("#view-athlete option")}
    ann_athlete = options["ann (shared)"]
    coach.post("/view", data={"csrf_token": csrf(coach, "/"), "athlete_id": ann_athlete})
    assert [a["name"] for a in coach.get("/api/activities").json()["activities"]] == ["Tempo"]
    assert "read-only" in soup(coach.get("/")).select_one("p.banner").get_text()
    refused = coach.post(
        f"/activities/{ann_run}", data={"csrf_token": csrf(coach, "/"), "name": "Coach edit"}
    )
    assert refused.status_code == 403
    assert coach.patch(f"/api/activities/{ann_run}", json={"name": "Coach edit"}).status_code == 403
    session.expire_all()
    assert (
        store.get_activity(session, athlete_of(session, "ann@example.org"), ann_run, with_streams=False).name
        == "Tempo"
    )
    # a user cannot switch to a log that was not shared
    stranger = register(app, "eve@example.org")
    assert (
        stranger.post(
            "/view", data={"csrf_token": csrf(stranger, "/"), "athlete_id": ann_athlete}
        ).status_code
        == 403
    )


def test_local_mode_has_no_login_pages(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, data_dir=tmp_path / "w"))
    assert TestClient(app).get("/login").status_code == 404
