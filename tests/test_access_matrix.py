"""The access matrix: every route x method of the app x {logged out, owner, another runner, a coach at each
share level}, each against an explicit rule. Generated from the app's own route list, so a route added
without a rule here fails `test_every_route_has_a_rule`.

Outcomes are "allowed" (2xx, 3xx other than to the login page, or 422: the handler ran and judged the input)
and "denied" (401, 403, 404, or a redirect to the login page). The owner is Ann; path ids are Ann's objects;
each coach views Ann's log (the athlete switch), the other runner Eve views her own. Each route runs on its
own copy of one prepared database, so a route that deletes or revokes never changes the next route's world.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounts_helpers import PASSWORD, register, share, view
from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.engine import session_factory
from strideguard.storage.tables import AthleteRow, ImportJobRow, ImportRow, TriageRow, UserRow
from strideguard.training.pain import PainEntry
from strideguard.web import security
from strideguard.web.app import create_app
from strideguard.web.common import Settings
from strideguard.web.routines import all_routines

ACTORS = ("logged_out", "owner", "other", "coach_training", "coach_pain", "coach_all")
SECRET = b"m" * 32

A, D = "allowed", "denied"
F = "answered"  # login, registration, logout: 200, 303, 401, 422 or 429 (throttled), never 403/404


def rule(
    logged_out: str, owner: str, other: str, training: str, pain: str, everything: str
) -> dict[str, str]:
    return dict(zip(ACTORS, (logged_out, owner, other, training, pain, everything), strict=True))


PUBLIC = rule(A, A, A, A, A, A)  # no account data read or written
ACCOUNT = rule(D, A, A, A, A, A)  # the account's own things (their settings, sharing, roster, audit, export)
READ = rule(D, A, A, A, A, A)  # the viewed athlete's training data; Eve views her own
READ_ID = rule(D, A, D, A, A, A)  # one of Ann's objects by id
READ_PAIN = rule(D, A, A, D, A, A)  # the pain diary of the viewed athlete
READ_TRIAGE = rule(D, A, A, D, D, A)  # the hip checks of the viewed athlete
READ_TRIAGE_ID = rule(D, A, D, D, D, A)
WRITE = rule(D, A, A, D, D, D)  # changes the viewed athlete's log: coaches read only; Eve writes her own
WRITE_ID = rule(D, A, D, D, D, D)  # changes one of Ann's objects
OWN_SHARE_ID = rule(D, A, D, D, D, D)  # one of Ann's shares, by id
OPEN_SHARED = rule(D, D, D, A, A, A)  # open a shared athlete's dashboard (not one's own, not unshared)
LOGIN_FORM = rule(F, F, F, F, F, F)  # the login/registration forms answer anyone (401/422 on bad input)


@dataclass(frozen=True)
class Rule:
    expect: dict[str, str]
    why: str
    body: dict[str, Any] | None = None  # JSON body; else a form with the CSRF token and `form`
    form: dict[str, str] | None = None
    destructive: bool = False  # the owner's own success is tested elsewhere (it would end the session)


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/openapi.json"): Rule(PUBLIC, "the API description, no data"),
    ("GET", "/static"): Rule(PUBLIC, "stylesheets, scripts, icons"),
    ("GET", "/favicon.ico"): Rule(PUBLIC, "icon"),
    ("GET", "/charts.css"): Rule(PUBLIC, "chart styles"),
    ("GET", "/login"): Rule(LOGIN_FORM, "login form"),
    ("POST", "/login"): Rule(LOGIN_FORM, "a wrong password answers 401 to anyone", form={"email": "x@y.z"}),
    ("GET", "/register"): Rule(LOGIN_FORM, "registration form"),
    ("POST", "/register"): Rule(LOGIN_FORM, "bad input answers 422 to anyone", form={"email": "bad"}),
    ("POST", "/logout"): Rule(LOGIN_FORM, "ends one's own session, back to the login page", destructive=True),
    ("POST", "/view"): Rule(
        rule(D, A, D, A, A, A), "switch to Ann's log: only if shared", form={"athlete_id": "{athlete_id}"}
    ),
    ("GET", "/account"): Rule(ACCOUNT, "one's own account"),
    ("POST", "/account/shares"): Rule(ACCOUNT, "share one's own log", form={"email": "nobody@example.org"}),
    ("POST", "/account/shares/{share_id}/delete"): Rule(OWN_SHARE_ID, "one's own share", destructive=True),
    ("GET", "/"): Rule(READ, "dashboard of the viewed athlete (redacted by share level)"),
    ("GET", "/activities"): Rule(READ, "activity list"),
    ("GET", "/activities/{activity_id}"): Rule(READ_ID, "one activity"),
    ("POST", "/activities/{activity_id}"): Rule(WRITE_ID, "edit an activity", form={"name": "x"}),
    ("GET", "/import"): Rule(READ, "import page and history"),
    ("POST", "/import"): Rule(WRITE, "upload into the viewed log", form={}),
    ("GET", "/import/jobs/{job}"): Rule(READ_ID, "progress of Ann's upload"),
    ("GET", "/imports/{import_id}"): Rule(READ_ID, "one import record"),
    ("GET", "/shoes"): Rule(READ, "shoes"),
    ("POST", "/shoes"): Rule(WRITE, "add a shoe", form={"name": "Matrix shoe"}),
    ("GET", "/shoes/{shoe_id}"): Rule(READ_ID, "one shoe"),
    ("POST", "/shoes/{shoe_id}"): Rule(WRITE_ID, "edit a shoe", form={"name": "Renamed"}),
    ("POST", "/shoes/{shoe_id}/retire"): Rule(WRITE_ID, "retire a shoe", form={}),
    ("POST", "/shoes/{shoe_id}/restore"): Rule(WRITE_ID, "restore a shoe", form={}),
    ("POST", "/shoes/{shoe_id}/default"): Rule(WRITE_ID, "default shoe", form={"sport": "run"}),
    ("GET", "/pain"): Rule(READ_PAIN, "pain diary"),
    ("POST", "/pain"): Rule(WRITE, "log pain", form={}),
    ("GET", "/pain/{entry_id}/delete"): Rule(WRITE_ID, "confirm deleting a pain entry"),
    ("POST", "/pain/{entry_id}/delete"): Rule(
        WRITE_ID, "delete a pain entry", form={"confirm": "yes"}, destructive=True
    ),
    ("GET", "/triage"): Rule(READ_TRIAGE, "hip check and its history"),
    ("POST", "/triage"): Rule(READ_TRIAGE, "a step of the hip check (saving needs the owner)", form={}),
    ("GET", "/triage/results/{row_id}"): Rule(READ_TRIAGE_ID, "a saved hip check"),
    ("GET", "/routines"): Rule(PUBLIC, "the routine library: knowledge, not account data"),
    ("GET", "/routines/{routine_id}"): Rule(PUBLIC, "one routine's player"),
    ("GET", "/settings"): Rule(ACCOUNT, "one's own display settings"),
    ("POST", "/settings"): Rule(
        ACCOUNT, "one's own units (a coach sets their own)", form={"distance_unit": "km"}
    ),
    ("GET", "/api/settings"): Rule(ACCOUNT, "one's own display settings"),
    ("PATCH", "/api/settings"): Rule(ACCOUNT, "one's own units", body={"distance_unit": "km"}),
    ("GET", "/api/activities"): Rule(READ, "activity list"),
    ("GET", "/api/activities/{activity_id}"): Rule(READ_ID, "one activity"),
    ("PATCH", "/api/activities/{activity_id}"): Rule(WRITE_ID, "edit an activity", body={"name": "x"}),
    ("GET", "/api/dashboard"): Rule(READ, "dashboard figures (redacted by share level)"),
    ("GET", "/api/imports"): Rule(READ, "import history"),
    ("GET", "/api/imports/{import_id}"): Rule(READ_ID, "one import record"),
    ("GET", "/api/import-jobs/{job}"): Rule(READ_ID, "progress of Ann's upload"),
    ("GET", "/api/shoes"): Rule(READ, "shoes"),
    ("POST", "/api/shoes"): Rule(WRITE, "add a shoe", body={"name": "Matrix API shoe"}),
    ("PATCH", "/api/shoes/{shoe_id}"): Rule(WRITE_ID, "edit a shoe", body={"name": "Renamed by API"}),
    ("GET", "/api/pain"): Rule(READ_PAIN, "pain diary"),
    (
        "POST",
        "/api/pain",
    ): Rule(
        WRITE,
        "log pain",
        body={"date": "2026-03-01", "region": "buttock", "side": "left", "score": 2, "timing": "after"},
    ),
    ("POST", "/api/triage/interview"): Rule(PUBLIC, "stateless: answers in, next question out", body={}),
    ("POST", "/api/triage"): Rule(
        PUBLIC, "stateless: findings in, result out; nothing stored", body={"findings": {}}
    ),
    ("POST", "/api/triage/next"): Rule(PUBLIC, "stateless", body={}),
    ("GET", "/api/routines"): Rule(PUBLIC, "the routine library"),
    ("GET", "/api/routines/{routine_id}"): Rule(PUBLIC, "one routine"),
    ("GET", "/account/sharing"): Rule(ACCOUNT, "one's own shares"),
    ("POST", "/account/sharing"): Rule(
        ACCOUNT, "share one's own log", form={"email": "nobody@example.org", "level": "training"}
    ),
    ("POST", "/account/sharing/{share_id}"): Rule(
        OWN_SHARE_ID, "change one's own share", form={"level": "training"}
    ),
    ("POST", "/account/sharing/{share_id}/revoke"): Rule(OWN_SHARE_ID, "revoke one's own share", form={}),
    ("GET", "/api/sharing"): Rule(ACCOUNT, "one's own shares"),
    ("GET", "/coach"): Rule(ACCOUNT, "the roster of those who share with you"),
    ("GET", "/api/roster"): Rule(ACCOUNT, "the roster of those who share with you"),
    ("GET", "/coach/athletes/{athlete_id}"): Rule(OPEN_SHARED, "open a shared athlete's dashboard"),
    ("GET", "/data"): Rule(ACCOUNT, "export page of one's own data"),
    ("POST", "/data/export"): Rule(ACCOUNT, "always one's own data, never the viewed athlete's", form={}),
    ("GET", "/account/audit"): Rule(ACCOUNT, "one's own audit log"),
    ("GET", "/api/audit"): Rule(ACCOUNT, "one's own audit log"),
    ("GET", "/account/delete"): Rule(ACCOUNT, "delete-account form"),
    ("GET", "/account/security"): Rule(ACCOUNT, "one's own password, sessions and invite page"),
    ("POST", "/account/password"): Rule(
        ACCOUNT,
        "wrong current password: 422 for anyone logged in",
        form={
            "current_password": "wrong",
            "new_password": "a-new-long-password",
            "confirm": "a-new-long-password",
        },
    ),
    ("POST", "/account/sessions/revoke"): Rule(
        rule(D, F, F, F, F, F), "ends one's own sessions, back to the login page", form={}, destructive=True
    ),
    ("POST", "/account/invites"): Rule(
        rule(D, D, D, D, D, D),
        "invite links: admins and coaches only (nobody here is either)",
        form={},
    ),
    ("POST", "/activities/{activity_id}/sport"): Rule(
        WRITE_ID, "confirm an activity's sport", form={"sport": "run"}
    ),
    ("POST", "/account/delete"): Rule(
        ACCOUNT, "wrong password: 422 for anyone logged in", form={"password": "wrong", "confirm": "delete"}
    ),
}


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app answers, through included routers (HEAD is answered as GET)."""

    def walk(routes: Any, prefix: str = "") -> Any:
        for route in routes:
            if type(route).__name__ == "_IncludedRouter":
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix)
            else:
                path = prefix + route.path
                methods = getattr(route, "methods", None) or {"GET"}  # a Mount serves GET
                for method in sorted(methods - {"HEAD"}):
                    yield method, path

    return sorted(set(walk(app.routes)))


# --- the prepared world ------------------------------------------------------------------------------------


@dataclass
class World:
    db_file: Path
    data_dir: Path
    cookies: dict[str, dict[str, str]]
    ids: dict[str, Any]


def _app(db_file: Path, data_dir: Path):
    return create_app(
        Settings(
            db_url=f"sqlite:///{db_file}",
            accounts=True,
            data_dir=data_dir,
            secret_key=SECRET,
            run_worker=False,
        )
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """Ann with one of everything; Eve; three coaches at the three levels; a spare user Ann shares with."""
    root = tmp_path_factory.mktemp("matrix")
    db_file, data_dir = root / "world.sqlite", root / "web"
    app = _app(db_file, data_dir)
    clients = {
        "owner": register(app, "ann@example.org", "Ann"),
        "other": register(app, "eve@example.org", "Eve"),
        "coach_training": register(app, "ct@example.org", "CT"),
        "coach_pain": register(app, "cp@example.org", "CP"),
        "coach_all": register(app, "ca@example.org", "CA"),
    }
    register(app, "spare@example.org", "Spare")
    share(clients["owner"], "ct@example.org", "training")
    share(clients["owner"], "cp@example.org", "training_pain")
    share(clients["owner"], "ca@example.org", "everything")
    share(clients["owner"], "spare@example.org", "training")
    with session_factory(app.state.engine)() as session:
        ann_user = session.query(UserRow).filter_by(email="ann@example.org").one().id
        ann = session.query(AthleteRow).filter_by(user_id=ann_user).one().id
        activity = store.save_activity(
            session, ann, Activity("run", datetime(2026, 3, 1, 7, tzinfo=UTC), "manual", distance_m=8000.0)
        ).activity_id
        shoe = shoe_store.add_shoe(session, ann, "Ann's pair").id
        entry = pain_store.add_pain(
            session, ann, PainEntry(date(2026, 3, 1), "buttock", "left", 3, "after")
        ).id
        triage = TriageRow(athlete_id=ann, findings={}, triage_level="routine", result={})
        record = ImportRow(athlete_id=ann, source="run.fit", kind="files", status="finished")
        job = ImportJobRow(
            id="j" * 24, athlete_id=ann, status="finished", folder=str(root / "job"), files=["a"]
        )
        session.add_all([triage, record, job])
        session.commit()
        spare_share = next(
            s for s in clients["owner"].get("/api/sharing").json() if s["email"].startswith("spare")
        )
        ids = {
            "activity_id": activity,
            "shoe_id": shoe,
            "entry_id": entry,
            "row_id": triage.id,
            "import_id": record.id,
            "job": job.id,
            "share_id": spare_share["id"],
            "athlete_id": ann,
            "routine_id": next(iter(all_routines())),
        }
    for coach in ("coach_training", "coach_pain", "coach_all"):
        view(clients[coach], ann)
    cookies = {name: dict(client.cookies.items()) for name, client in clients.items()}
    app.state.engine.dispose()
    return World(db_file, data_dir, cookies, ids)


def _outcome(response, expected: str) -> str:
    location = response.headers.get("location", "")
    if expected == F:
        return (
            F if response.status_code in (200, 303, 401, 422, 429) else f"unexpected {response.status_code}"
        )
    if response.status_code in (401, 403, 404) or (response.is_redirect and location.startswith("/login")):
        return D
    # 400 and 422: the handler ran and judged the input (an empty upload, a missing field)
    if response.status_code < 400 or response.status_code in (400, 422):
        return A
    return f"unexpected {response.status_code}"


def _all_routes() -> list[tuple[str, str]]:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="sg-matrix-routes-"))
    app = _app(folder / "routes.sqlite", folder / "web")
    try:
        return app_routes(app)
    finally:
        app.state.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


ALL_ROUTES = _all_routes()


def test_every_route_has_a_rule():
    """A new route (or method) needs a line in RULES saying who may use it; a stale rule is removed."""
    missing = [r for r in ALL_ROUTES if r not in RULES]
    stale = [r for r in RULES if r not in ALL_ROUTES]
    assert missing == [], "routes without an access rule"
    assert stale == [], "rules for routes that no longer exist"


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES, ids=[f"{m} {p}" for m, p in ALL_ROUTES])
def test_access(method: str, path: str, world: World, tmp_path):
    spec = RULES.get((method, path))
    if spec is None:
        pytest.fail(f"no access rule for {method} {path}")
    db_file = tmp_path / "world.sqlite"
    shutil.copy(world.db_file, db_file)
    app = _app(db_file, world.data_dir)
    url = path.format(**world.ids) if "{" in path else path
    if url == "/static":
        url = "/static/app.css"
    wrong = {}
    try:
        for actor in ACTORS:
            if spec.destructive and actor == "owner":
                continue
            client = TestClient(app)
            for name, value in world.cookies.get(actor, {}).items():
                client.cookies.set(name, value)
            kwargs: dict[str, Any] = {"follow_redirects": False}
            if method != "GET":
                if spec.body is not None:
                    kwargs["json"] = spec.body
                else:
                    client.get("/charts.css")  # any answer sets the browser's CSRF cookie
                    token = client.cookies.get(security.CSRF_COOKIE)
                    form = {k: v.format(**world.ids) for k, v in (spec.form or {}).items()}
                    kwargs["data"] = {"csrf_token": token, **form}
            response = client.request(method, url, **kwargs)
            got = _outcome(response, spec.expect[actor])
            if got != spec.expect[actor]:
                wrong[actor] = f"{got} ({response.status_code}), rule says {spec.expect[actor]}"
    finally:
        app.state.engine.dispose()
    assert wrong == {}, f"{method} {path}: {spec.why}"


def test_the_matrix_covers_the_routes_the_issue_counted():
    assert len(ALL_ROUTES) >= 54
    assert PASSWORD  # the world logs in with the shared test password
