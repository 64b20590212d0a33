"""Issue 14 item 8: `strideguard users ...` (the real command), deleting an account and only that one, and the
registration policy (open / invite with single-use links / closed) of the app built with accounts on."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from strideguard.importing import jobs as import_jobs
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.tables import AthleteRow, Base, ImportJobRow, UserRow
from strideguard.training.pain import PainEntry
from test_web_accounts import add_run, athlete_of
from test_web_auth_security import PASSWORD, Clock, csrf, errors, login, make_app, register, soup


def add_user(run_cli, email: str, *flags: str, password: str = PASSWORD):
    return run_cli("users", "add", email, "--password-stdin", *flags, input=password + "\n")


def test_users_add_list_disable_enable_and_reset_password(run_cli, db_url, engine, tmp_path):
    assert add_user(run_cli, "Coach@Club.example", "--coach").returncode == 0
    added = add_user(run_cli, "ann@club.example")
    assert added.returncode == 0 and "Added ann@club.example (runner)." in added.stdout
    again = add_user(run_cli, "ann@club.example")
    assert again.returncode == 1
    assert again.stderr.strip() == "Error: there is already an account with the email 'ann@club.example'"
    short = add_user(run_cli, "bob@club.example", password="short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    listed = json.loads(run_cli("users", "list", "--json").stdout)
    assert [(u["email"], u["role"], u["disabled"]) for u in listed] == [
        ("ann@club.example", "runner", False),
        ("coach@club.example", "coach", False),
    ]
    made = run_cli("users", "role", "ann@club.example", "admin")
    assert made.stdout.strip() == "ann@club.example is now an admin."
    assert run_cli("users", "role", "ann@club.example", "runner").returncode == 0

    app = make_app(db_url, tmp_path, Clock())
    try:
        ann = TestClient(app)
        assert login(ann, "ann@club.example").status_code == 303
        disabled = run_cli("users", "disable", "ann@club.example")
        assert disabled.returncode == 0 and "1 session ended" in disabled.stdout
        assert ann.get("/api/activities").status_code == 401  # logged out at once
        refused = login(TestClient(app), "ann@club.example")
        assert refused.status_code == 403 and "disabled" in errors(refused)
        assert run_cli("users", "enable", "ann@club.example").returncode == 0
        assert login(ann, "ann@club.example").status_code == 303
        reset = run_cli(
            "users", "reset-password", "ann@club.example", "--password-stdin", input="brand new pass\n"
        )
        assert reset.returncode == 0, reset.stderr
        assert ann.get("/api/activities").status_code == 401
        assert login(TestClient(app), "ann@club.example", PASSWORD).status_code == 401
        assert login(TestClient(app), "ann@club.example", "brand new pass").status_code == 303
    finally:
        app.state.engine.dispose()
    missing = run_cli("users", "disable", "nobody@club.example")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: no account with the email 'nobody@club.example'"


def _owned_rows(session, user_id: int, athlete_ids: list[int]) -> dict[str, int]:
    """Rows of every table that belong to this user or their athletes."""
    counts = {}
    for table in Base.metadata.sorted_tables:
        conditions = []
        for column in ("athlete_id",):
            if column in table.c:
                conditions.append(table.c[column].in_(athlete_ids))
        for column in ("user_id", "created_by"):
            if column in table.c:
                conditions.append(table.c[column] == user_id)
        if table.name == "users":
            conditions.append(table.c.id == user_id)
        if table.name == "athletes":
            conditions.append(table.c.id.in_(athlete_ids))
        if table.name in ("laps", "activity_streams"):
            activity_ids = sa.select(sa.text("id")).select_from(
                sa.table("activities", sa.column("athlete_id"))
            )
            activity_ids = activity_ids.where(sa.column("athlete_id").in_(athlete_ids))
            conditions.append(table.c.activity_id.in_(activity_ids))
        if conditions:
            counts[table.name] = session.scalar(
                sa.select(sa.func.count()).select_from(table).where(sa.or_(*conditions))
            )
    return counts


def _upload(client: TestClient, data_dir: Path) -> None:
    fit = (data_dir / "fit/fitparse__2013-02-06-12-11-14.fit").read_bytes()
    uploaded = client.post(
        "/import",
        data={"csrf_token": csrf(client, "/import"), "sports": "default"},
        files={"files": ("run.fit", fit, "application/octet-stream")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text


def _fill(app, session, email: str, data_dir: Path) -> tuple[TestClient, int]:
    client = register(app, email)
    athlete = athlete_of(session, email)
    add_run(session, athlete, f"{email} run")
    shoe_store.add_shoe(session, athlete, f"{email} shoes")
    pain_store.add_pain(
        session,
        athlete,
        PainEntry(day=date(2026, 3, 1), region="hip-lateral", side="left", score=3, timing="after"),
    )
    session.commit()
    _upload(client, data_dir)
    job = import_jobs.claim(app.state.engine)  # imported: activities, laps, streams, import records
    assert job is not None and import_jobs.run_one(app.state.engine, job).status == "finished"
    return client, athlete


def test_deleting_an_account_removes_every_row_and_file_of_it_and_nothing_else(
    run_cli, db_url, engine, session, tmp_path, data_dir
):
    app = make_app(db_url, tmp_path, Clock(), run_worker=False)  # uploads stay queued, their files on disk
    try:
        ann, ann_athlete = _fill(app, session, "ann@example.org", data_dir)
        bob, bob_athlete = _fill(app, session, "bob@example.org", data_dir)
        _upload(ann, data_dir)  # waiting in the queue: its file is on disk
        _upload(bob, data_dir)
        ann.post("/account/shares", data={"csrf_token": csrf(ann, "/"), "email": "bob@example.org"})
        bob.post("/account/shares", data={"csrf_token": csrf(bob, "/"), "email": "ann@example.org"})
        session.expire_all()
        ann_id = session.scalar(sa.select(UserRow.id).where(UserRow.email == "ann@example.org"))
        bob_id = session.scalar(sa.select(UserRow.id).where(UserRow.email == "bob@example.org"))
        folders = dict(
            session.execute(
                sa.select(ImportJobRow.athlete_id, ImportJobRow.folder).where(ImportJobRow.status == "queued")
            ).all()
        )
        assert all(any(Path(f).iterdir()) for f in folders.values())
        before_ann = _owned_rows(session, ann_id, [ann_athlete])
        before_bob = _owned_rows(session, bob_id, [bob_athlete])
        for table in (
            "activities",
            "laps",
            "shoes",
            "pain_entries",
            "import_jobs",
            "auth_sessions",
            "shares",
        ):
            assert before_ann[table] > 0, table
        deleted = run_cli("users", "delete", "ann@example.org", "--yes")
        assert deleted.returncode == 0, deleted.stderr
        assert "Deleted ann@example.org and all of its data." in deleted.stdout
        session.expire_all()
        assert set(_owned_rows(session, ann_id, [ann_athlete]).values()) == {0}
        after_bob = _owned_rows(session, bob_id, [bob_athlete])
        # Bob keeps everything but the two shares with Ann (hers to him, his to her).
        assert before_bob["shares"] == 2 and after_bob == {**before_bob, "shares": 0}
        assert not Path(folders[ann_athlete]).exists()
        assert Path(folders[bob_athlete]).is_dir()
        assert ann.get("/api/activities").status_code == 401
        assert len(bob.get("/api/activities").json()["activities"]) == 2  # his added run and his import
        assert session.scalar(sa.select(sa.func.count()).select_from(AthleteRow)) == 1
    finally:
        app.state.engine.dispose()


# --- the registration policy --------------------------------------------------------------------------------


def test_closed_registration_refuses_every_visitor(db_url, engine, session, tmp_path):
    app = make_app(db_url, tmp_path, Clock(), registration="closed")
    try:
        client = TestClient(app)
        assert client.get("/register").status_code == 403
        response = client.post(
            "/register",
            data={
                "csrf_token": csrf(client),
                "email": "eve@example.org",
                "password": PASSWORD,
                "password2": PASSWORD,
            },
        )
        assert response.status_code == 403 and "Registration is closed" in response.text
        assert session.scalar(sa.select(sa.func.count()).select_from(UserRow)) == 0
        assert [a["href"] for a in soup(client.get("/login")).select("nav a")] == ["/login"]
    finally:
        app.state.engine.dispose()


def test_invite_links_are_single_use_and_only_admins_and_coaches_make_them(
    run_cli, db_url, engine, session, tmp_path
):
    clock = Clock()
    app = make_app(db_url, tmp_path, clock, registration="invite")
    try:
        assert add_user(run_cli, "coach@example.org", "--coach").returncode == 0
        assert add_user(run_cli, "runner@example.org").returncode == 0
        stranger = TestClient(app)
        refused = stranger.get("/register")
        assert refused.status_code == 403 and "by invitation" in refused.text
        runner = TestClient(app)
        login(runner, "runner@example.org")
        assert "Create an invite link" not in runner.get("/account/security").text
        assert runner.post("/account/invites", data={"csrf_token": csrf(runner, "/")}).status_code == 403
        coach = TestClient(app)
        login(coach, "coach@example.org")
        made = coach.post("/account/invites", data={"csrf_token": csrf(coach, "/")})
        link = soup(made).select_one("#invite-link")["value"]
        assert link.startswith("http://testserver/register?invite=")
        path = link.removeprefix("http://testserver")
        page = soup(stranger.get(path))
        invite = page.select_one('input[name="invite"]')["value"]
        assert register(app, "new@example.org", invite=invite)
        assert login(TestClient(app), "new@example.org").status_code == 303
        # Used once: the same link works no more.
        assert stranger.get(path).status_code == 403
        again = stranger.post(
            "/register",
            data={
                "csrf_token": csrf(stranger),
                "email": "other@example.org",
                "password": PASSWORD,
                "password2": PASSWORD,
                "invite": invite,
            },
        )
        assert again.status_code == 403 and "has been used or has expired" in again.text
        # A link from the command line expires after 7 days.
        old = run_cli("users", "invite").stdout.strip()
        clock.now = datetime.now(UTC)
        assert stranger.get(old).status_code == 200
        clock.advance(days=8)
        assert stranger.get(old).status_code == 403
        assert session.scalar(sa.select(sa.func.count()).select_from(UserRow)) == 3
    finally:
        app.state.engine.dispose()
