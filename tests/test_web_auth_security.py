"""Accounts that resist attack (issue 14): login throttling, server-side sessions, no email enumeration,
HTTPS cookies and HSTS, cross-site writes refused, and what a read-only coach or a visitor sees.

Each runs on the app built with accounts on (as `serve --accounts`), on SQLite and PostgreSQL. Time is
a settable clock (app.state.clock), so no test depends on the machine's speed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.cli.web import default_registration, proxy_options, serve_warnings
from strideguard.storage import auth as auth_store
from strideguard.storage.tables import AuthSessionRow, LoginThrottleRow, ShareRow
from strideguard.web import security
from strideguard.web.app import create_app
from strideguard.web.common import Settings
from test_web_accounts import add_run, athlete_of
from test_web_serve import free_port, wait_until_up

PASSWORD = "correct horse"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_app(db_url, tmp_path, clock, **settings):
    app = create_app(
        Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"s" * 32, **settings)
    )
    app.state.clock = clock
    return app


@pytest.fixture
def app(db_url, engine, tmp_path, clock):
    app = make_app(db_url, tmp_path, clock)
    yield app
    app.state.engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf(client: TestClient, path: str = "/login") -> str:
    return soup(client.get(path)).select_one('meta[name="csrf-token"]')["content"]


def login(client: TestClient, email: str, password: str = PASSWORD):
    return client.post(
        "/login",
        data={"csrf_token": csrf(client), "email": email, "password": password},
        follow_redirects=False,
    )


def register(app, email: str, password: str = PASSWORD, invite: str | None = None) -> TestClient:
    client = TestClient(app)
    data = {"csrf_token": csrf(client, "/login"), "email": email, "password": password, "password2": password}
    if invite:
        data["invite"] = invite
    response = client.post("/register", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert login(client, email, password).status_code == 303
    return client


def errors(response) -> str:
    box = soup(response).select_one("div.error")
    return box.get_text(" ", strip=True) if box else ""


def throttle(session, key: str) -> LoginThrottleRow | None:
    session.expire_all()
    return session.get(LoginThrottleRow, key)


# --- 1. login throttling ------------------------------------------------------------------------------------


def test_wrong_passwords_slow_down_then_lock_the_account_across_server_processes(
    app, session, clock, db_url, tmp_path
):
    register(app, "ann@example.org")
    client = TestClient(app)
    account = auth_store.account_key("ann@example.org")
    for _ in range(3):  # a person mistyping: no delay
        assert login(client, "ann@example.org", "wrong password").status_code == 401
    assert throttle(session, account).failures == 3 and throttle(session, account).blocked_until is None
    assert login(client, "ann@example.org", "wrong password").status_code == 401  # the 4th: a 1 s delay
    refused = login(client, "ann@example.org", PASSWORD)  # even the right password waits
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "wait 1 second, then try again" in errors(refused)
    delays = []
    for _ in range(5):  # failures 5..9: the delay doubles
        clock.advance(seconds=120)
        assert login(client, "ann@example.org", "wrong password").status_code == 401
        row = throttle(session, account)
        delays.append((row.blocked_until - clock.now).total_seconds())
    assert delays == [2, 4, 8, 16, 32]
    clock.advance(seconds=120)
    assert login(client, "ann@example.org", "wrong password").status_code == 401  # the 10th: locked
    row = throttle(session, account)
    assert row.failures == 10 and row.blocked_until == clock.now + timedelta(minutes=15)
    clock.advance(minutes=5)
    locked = login(client, "ann@example.org", PASSWORD)
    assert locked.status_code == 429
    assert "logging in is locked for 10 minutes" in errors(locked)
    # Another server process (another app on the same database) holds the same lock.
    other = make_app(db_url, tmp_path, clock)
    try:
        assert login(TestClient(other), "ann@example.org", PASSWORD).status_code == 429
    finally:
        other.state.engine.dispose()
    clock.advance(minutes=11)
    assert login(client, "ann@example.org", PASSWORD).status_code == 303
    assert throttle(session, account) is None  # a successful login forgives the account's failures


def test_many_accounts_guessed_from_one_address_are_slowed_by_address(app, session, clock):
    client = TestClient(app)
    for n in range(10):  # one failure each on ten addresses: no account reaches its own limit
        assert login(client, f"user{n}@example.org", "guess guess").status_code == 401
    assert throttle(session, auth_store.address_key("testclient")).failures == 10
    assert login(client, "user10@example.org", "guess guess").status_code == 401  # 11th: the address waits
    assert login(client, "user11@example.org", "guess guess").status_code == 429
    assert throttle(session, auth_store.account_key("user11@example.org")) is None  # refused unchecked
    clock.advance(hours=25)  # a day later the count starts over, and the stale account rows are gone
    assert login(client, "user12@example.org", "guess guess").status_code == 401
    assert throttle(session, auth_store.address_key("testclient")).failures == 1
    assert throttle(session, auth_store.account_key("user0@example.org")) is None


# --- 2. server-side sessions --------------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_no_longer_reads_the_api(app, session):
    ann = register(app, "ann@example.org")
    add_run(session, athlete_of(session, "ann@example.org"), "Tempo")
    copied = ann.cookies.get(security.SESSION_COOKIE)
    # The cookie is a random id; the database keeps only its SHA-256.
    assert len(copied) >= 40 and "ann" not in copied
    stored = session.scalars(sa.select(AuthSessionRow.token_sha256)).all()
    assert stored == [hashlib.sha256(copied.encode()).hexdigest()]
    thief = TestClient(app)
    thief.cookies.set(security.SESSION_COOKIE, copied)
    assert [a["name"] for a in thief.get("/api/activities").json()["activities"]] == ["Tempo"]
    ann.post("/logout", data={"csrf_token": csrf(ann, "/")})
    assert thief.get("/api/activities").status_code == 401
    assert session.scalar(sa.select(sa.func.count()).select_from(AuthSessionRow)) == 0


def test_password_change_and_log_out_everywhere_revoke_sessions(app, session):
    laptop = register(app, "ann@example.org")
    phone = TestClient(app)
    assert login(phone, "ann@example.org").status_code == 303
    page = soup(laptop.get("/account/security"))
    assert "logged in on 2 browsers" in page.get_text()  # the laptop and the phone
    wrong = laptop.post(
        "/account/password",
        data={
            "csrf_token": csrf(laptop, "/"),
            "current_password": "not it at all",
            "new_password": "a new long password",
            "new_password2": "a new long password",
        },
    )
    assert wrong.status_code == 422 and "that is not your password" in errors(wrong)
    changed = laptop.post(
        "/account/password",
        data={
            "csrf_token": csrf(laptop, "/"),
            "current_password": PASSWORD,
            "new_password": "a new long password",
            "new_password2": "a new long password",
        },
    )
    assert changed.status_code == 200 and "Password changed" in changed.text
    assert phone.get("/api/activities").status_code == 401  # the other device is logged out
    assert laptop.get("/api/activities").status_code == 200  # this browser got a new session
    assert login(TestClient(app), "ann@example.org", PASSWORD).status_code == 401
    assert login(phone, "ann@example.org", "a new long password").status_code == 303
    laptop.post("/account/sessions/revoke", data={"csrf_token": csrf(laptop, "/")})
    assert phone.get("/api/activities").status_code == 401
    assert laptop.get("/api/activities").status_code == 401


def test_sessions_end_when_idle_and_at_their_absolute_limit(app, clock):
    ann = register(app, "ann@example.org")
    clock.advance(days=13)
    assert ann.get("/api/activities").status_code == 200  # used within the idle limit: still on
    clock.advance(days=13)
    assert ann.get("/api/activities").status_code == 200
    clock.advance(days=5)  # 31 days after the login, though used 5 days ago
    assert ann.get("/api/activities").status_code == 401
    bob = register(app, "bob@example.org")
    clock.advance(days=14, seconds=1)  # idle too long
    assert bob.get("/api/activities").status_code == 401


def test_registrations_from_one_address_are_throttled_before_any_hash_work(app, session, clock, monkeypatch):
    """A script creating accounts (or burning CPU: every registration costs a password hash) is slowed, then
    locked, per client address; the blocked attempts cost no hash and create nothing."""
    calls = count_hashes(monkeypatch)
    client = TestClient(app)

    def attempt(i: int):
        data = {
            "csrf_token": csrf(client, "/register"),
            "email": f"bot{i}@example.org",
            "password": PASSWORD,
            "password2": PASSWORD,
        }
        return client.post("/register", data=data, follow_redirects=False)

    free = auth_store.REGISTRATION_POLICY.free
    for i in range(free + 1):
        assert attempt(i).status_code == 303
    assert calls[0] == free + 1
    blocked = attempt(99)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert "Too many registrations from your address" in errors(blocked)
    assert calls[0] == free + 1  # no hash work while blocked
    users = session.execute(sa.text("SELECT count(*) FROM users")).scalar()
    assert users == free + 1
    clock.advance(hours=2)  # an hour without attempts starts over
    assert attempt(100).status_code == 303


# --- 3. no email enumeration --------------------------------------------------------------------------------


def count_hashes(monkeypatch) -> list[int]:
    calls = [0]
    real = security._derive

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(security, "_derive", counted)
    return calls


def test_login_for_an_unknown_email_does_the_same_hash_work_and_says_the_same(app, monkeypatch):
    register(app, "ann@example.org")
    client = TestClient(app)
    calls = count_hashes(monkeypatch)
    known = login(client, "ann@example.org", "wrong password")
    known_calls = calls[0]
    unknown = login(client, "nobody@example.org", "wrong password")
    assert known_calls == 1 and calls[0] - known_calls == 1
    assert known.status_code == unknown.status_code == 401
    assert errors(known) == errors(unknown) == "Wrong email or password."


def test_register_and_share_answer_the_same_whether_or_not_the_address_has_an_account(
    app, session, monkeypatch
):
    register(app, "ann@example.org")
    calls = count_hashes(monkeypatch)
    answers = []
    for email in ("ann@example.org", "new@example.org"):
        client = TestClient(app)
        response = client.post(
            "/register",
            data={
                "csrf_token": csrf(client),
                "email": email,
                "password": "other password",
                "password2": "other password",
            },
            follow_redirects=False,
        )
        page = client.get(response.headers["location"])
        answers.append(
            (
                response.status_code,
                response.headers["location"].replace(quote(email), "E"),
                soup(page).select_one("p.ok").get_text(),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][2] == "Registration received: log in with your email and password."
    assert calls[0] == 2  # one hash each
    # Ann's account is untouched: her own password still works, the intruder's does not.
    assert login(TestClient(app), "ann@example.org", PASSWORD).status_code == 303
    assert login(TestClient(app), "ann@example.org", "other password").status_code == 401
    ann = register(app, "zed@example.org")
    shared = []
    for email in ("new@example.org", "ghost@example.org"):
        response = ann.post(
            "/account/shares", data={"csrf_token": csrf(ann, "/"), "email": email}, follow_redirects=False
        )
        message = soup(ann.get(response.headers["location"])).select_one("p.ok").get_text()
        shared.append((response.status_code, message.replace(email, "E")))
    assert (
        shared[0] == shared[1] == (303, "If E has an account here, your log is now shared with it read-only.")
    )


# --- 4. HTTPS: Secure cookies and HSTS ----------------------------------------------------------------------


def set_cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_https_requests_get_secure_cookies_and_hsts(app):
    plain = TestClient(app).get("/login")
    assert "strict-transport-security" not in plain.headers
    assert not any("Secure" in c for c in set_cookies(plain))
    register(app, "ann@example.org")
    https = TestClient(app, base_url="https://testserver")
    page = https.get("/login")
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    assert all("Secure" in c for c in set_cookies(page)) and set_cookies(page)
    logged_in = https.post(
        "/login",
        data={"csrf_token": csrf(https), "email": "ann@example.org", "password": PASSWORD},
        follow_redirects=False,
    )
    session_cookie = next(c for c in set_cookies(logged_in) if c.startswith(security.SESSION_COOKIE))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie


def test_behind_a_proxy_every_cookie_is_secure(db_url, engine, tmp_path, clock):
    app = make_app(db_url, tmp_path, clock, secure_cookies=True)
    try:
        page = TestClient(app).get("/login")
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        assert all("Secure" in c for c in set_cookies(page))
    finally:
        app.state.engine.dispose()


def test_serve_warns_about_accounts_over_plain_http_on_the_network():
    assert serve_warnings("127.0.0.1", accounts=True, behind_proxy=False) == []
    assert "--behind-proxy" in serve_warnings("0.0.0.0", accounts=True, behind_proxy=False)[0]
    assert serve_warnings("0.0.0.0", accounts=True, behind_proxy=True) == []
    assert proxy_options(False, "127.0.0.1") == {"proxy_headers": False}
    assert proxy_options(True, "10.0.0.2") == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.2"}
    assert default_registration("127.0.0.1") == "open" and default_registration("::1") == "open"
    assert default_registration("0.0.0.0") == "invite" and default_registration("192.168.1.5") == "invite"
    assert default_registration("127.0.0.1", behind_proxy=True) == "invite"  # the proxy reaches it


def test_serve_behind_proxy_trusts_the_proxys_https(cli_env):
    """The real command: the proxy's X-Forwarded-Proto: https makes cookies Secure and sends HSTS."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "strideguard", "serve", "--accounts", "--behind-proxy", "--port", str(port)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(server, f"http://127.0.0.1:{port}", seconds=120)
        page = httpx.get(f"http://127.0.0.1:{port}/login", headers={"x-forwarded-proto": "https"}, timeout=30)
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        assert "Secure" in page.headers["set-cookie"]
    finally:
        server.terminate()
        out, _err = server.communicate(timeout=60)
    assert "warning" not in out and "Registration: by invite" in out


def test_serve_on_a_network_address_without_a_proxy_warns(cli_env):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strideguard",
            "serve",
            "--host",
            "0.0.0.0",
            "--accounts",
            "--port",
            str(port),
        ],
        env=dict(cli_env, COLUMNS="400"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(server, f"http://127.0.0.1:{port}", seconds=120)
    finally:
        server.terminate()
        out, _err = server.communicate(timeout=60)
    assert "warning: accounts on a network address over plain HTTP" in out
    assert "Registration: by invite" in out


# --- 6. cross-site writes -----------------------------------------------------------------------------------


def test_cross_site_writes_are_refused_even_with_a_valid_token(app, session):
    ann = register(app, "ann@example.org")
    run = add_run(session, athlete_of(session, "ann@example.org"), "Tempo")
    token = csrf(ann, "/")
    for headers in (
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "null"},
    ):
        refused = ann.post(
            f"/activities/{run}", data={"csrf_token": token, "name": "Hacked"}, headers=headers
        )
        assert refused.status_code == 403, headers
        assert "sent from another site" in refused.text
    api = ann.patch(
        f"/api/activities/{run}", json={"name": "Hacked"}, headers={"origin": "https://evil.example"}
    )
    assert api.status_code == 403
    session.expire_all()
    assert [a["name"] for a in ann.get("/api/activities").json()["activities"]] == ["Tempo"]
    same = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    saved = ann.post(f"/activities/{run}", data={"csrf_token": token, "name": "Renamed"}, headers=same)
    assert saved.status_code == 200
    assert [a["name"] for a in ann.get("/api/activities").json()["activities"]] == ["Renamed"]


# --- 7. share ids, the read-only coach, logged-out visitors -------------------------------------------------


def test_deleting_someone_elses_share_is_not_found(app, session):
    ann, bob = register(app, "ann@example.org"), register(app, "bob@example.org")
    register(app, "coach@example.org")
    ann.post("/account/shares", data={"csrf_token": csrf(ann, "/"), "email": "coach@example.org"})
    share_id = session.scalar(sa.select(ShareRow.id))
    response = bob.post(f"/account/shares/{share_id}/delete", data={"csrf_token": csrf(bob, "/")})
    assert response.status_code == 404 and "unshared" not in str(response.url)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(ShareRow)) == 1
    mine = ann.post(f"/account/shares/{share_id}/delete", data={"csrf_token": csrf(ann, "/")})
    assert mine.status_code == 200 and "Sharing stopped." in mine.text


WRITE_LINKS = ("/pain", "/import", "/triage", "/routines")


def test_a_read_only_coach_sees_no_write_control_on_a_shared_log(app, session):
    ann, coach = register(app, "ann@example.org"), register(app, "coach@example.org")
    run = add_run(session, athlete_of(session, "ann@example.org"), "Tempo")
    ann.post("/account/shares", data={"csrf_token": csrf(ann, "/"), "email": "coach@example.org"})
    options = {o.get_text(): o["value"] for o in soup(coach.get("/")).select("#view-athlete option")}
    coach.post("/view", data={"csrf_token": csrf(coach, "/"), "athlete_id": options["ann (shared)"]})
    for path in ("/", "/activities", f"/activities/{run}", "/shoes", "/pain", "/triage"):
        page = soup(coach.get(path))
        assert "read-only" in page.select_one("p.banner").get_text(), path
        assert "Log pain" not in page.get_text(), path
        posts = {f.get("action") for f in page.select("form") if f.get("method", "get").lower() == "post"}
        assert posts <= {"/view", "/logout"}, (path, posts)
        links = {a["href"].split("?")[0] for a in page.select("main a[href], nav a[href]")}
        assert not links & {"/import", "/triage", "/routines"}, (path, links)
    # The athlete herself sees them.
    assert "Log pain" in ann.get(f"/activities/{run}").text


def test_logged_out_visitors_see_only_the_way_in(app):
    page = soup(TestClient(app).get("/login"))
    assert [a["href"] for a in page.select("nav a")] == ["/login", "/register"]
    assert "Dashboard" not in page.select_one("header").get_text()


@pytest.mark.parametrize(
    "header",
    [
        "sg_csrf=abcdefghijklmnopqrstuvwxyz0123456789; sg_session=x",
        "other=1;sg_csrf=tok-en_1234567890abcdefghij ; z",  # spaces, a part without "="
        "sg_csrf=first000000000000000000000; sg_csrf=second00000000000000000000",  # the last one wins
        'broken"=; sg_csrf=after_a_bad_one_000000000000',  # one malformed cookie does not hide the rest
        "sg_csrf_other=no; xsg_csrf=no",
        "",
    ],
)
def test_the_csrf_cookie_is_read_as_the_app_reads_cookies(header: str):
    """The middleware's own cookie reader (on the event loop, every request) agrees with
    `request.cookies`, which the handlers read."""
    from starlette.requests import Request

    scope = {"type": "http", "headers": [(b"cookie", header.encode("latin-1"))]}
    assert security._cookie(scope["headers"], security.CSRF_COOKIE) == Request(scope).cookies.get(
        security.CSRF_COOKIE
    )
