"""Sync page and API handlers run in the app's own handler threads (web/handler_threads.py, issue 13): never
on the event loop, at most `threads` at once, with the request's context variables; their errors still
reach the app's error handling, and their sessions still end."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException
from fastapi.testclient import TestClient

from strideguard.web.app import create_app
from strideguard.web.common import DbSession, ReleasingRoute, Settings
from test_web_auth_security import login, register
from test_web_import import RUN_FIT, token

pytestmark = pytest.mark.db

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")
WAIT_S = 60  # only a bound for a broken build: every wait below ends as soon as its condition holds


async def _named() -> None:
    WHO.set("set by an async dependency")  # on the event loop, in the request's context


@pytest.fixture
def app(db_url: str, engine, tmp_path: Path):
    app = create_app(
        Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32, threads=2, run_worker=False)
    )
    yield app
    app.state.engine.dispose()


def test_a_handler_runs_in_a_handler_thread_with_the_requests_context(app):
    router = APIRouter(route_class=ReleasingRoute)
    seen: list[tuple[str, str, int]] = []

    @router.get("/test-where", dependencies=[Depends(_named)])
    def where(session: DbSession) -> dict[str, int]:
        seen.append((threading.current_thread().name, WHO.get(), threading.get_ident()))
        return {"one": int(session.scalar(sa.text("SELECT 1")))}

    app.include_router(router)
    with TestClient(app) as client:
        loop_thread = client.portal.call(threading.get_ident)
        assert client.get("/test-where").json() == {"one": 1}
    name, who, ident = seen[0]
    assert name.startswith("handler") and ident != loop_thread
    assert who == "set by an async dependency"


def test_a_database_session_is_refused_to_a_route_that_would_not_close_it(app):
    """The session dependency leaves closing to ReleasingRoute; a plain route would keep its connection."""
    router = APIRouter()
    ran: list[bool] = []

    @router.get("/test-plain-route")
    def plain(session: DbSession) -> dict[str, int]:
        ran.append(True)
        return {"one": int(session.scalar(sa.text("SELECT 1")))}

    app.include_router(router)
    with TestClient(app) as client, pytest.raises(RuntimeError, match="needs a ReleasingRoute"):
        client.get("/test-plain-route")
    assert not ran


def test_no_more_handlers_run_at_once_than_the_app_has_threads(app):
    router = APIRouter(route_class=ReleasingRoute)
    state = threading.Condition()
    running, most, release = [0], [0], threading.Event()

    @router.get("/test-hold")
    def hold(session: DbSession) -> dict[str, bool]:
        with state:
            running[0] += 1
            most[0] = max(most[0], running[0])
            state.notify_all()
        released = release.wait(WAIT_S)
        with state:
            running[0] -= 1
        return {"released": released}

    app.include_router(router)
    with TestClient(app) as client, ThreadPoolExecutor(5) as requests:
        answers = [requests.submit(client.get, "/test-hold") for _ in range(5)]
        with state:  # both threads taken: the other three requests wait for one
            assert state.wait_for(lambda: running[0] == 2, WAIT_S)
        release.set()
        assert [answer.result().json() for answer in answers] == [{"released": True}] * 5
        assert client.get("/api/dashboard").status_code == 200  # the threads are free again
    assert most[0] == 2


def test_a_handlers_errors_reach_the_apps_error_handling(app):
    router = APIRouter(route_class=ReleasingRoute)

    @router.get("/test-missing")
    def missing(session: DbSession) -> None:
        session.scalar(sa.text("SELECT 1"))
        raise HTTPException(404, "no such thing here")

    app.include_router(router)
    with TestClient(app) as client:
        answer = client.get("/test-missing", headers={"accept": "application/json"})
        assert answer.status_code == 404 and "no such thing here" in answer.text
        assert client.get("/api/dashboard").status_code == 200


def test_every_connection_a_request_takes_is_taken_in_a_handler_thread(db_url, engine, tmp_path, data_dir):
    """The pool holds one connection per handler thread and per upload-step thread (plus the import
    worker's). A request that took one in another thread (anyio's, as the upload's short sessions and the
    coach, sharing and data pages did) competed with them and could wait out the pool's time-out, then get
    a 503: seen as failed uploads on the club server with two processes (issue 13)."""
    app = create_app(
        Settings(
            db_url=db_url,
            accounts=True,
            data_dir=tmp_path / "web",
            secret_key=b"k" * 32,
            threads=2,
            run_worker=False,
        )
    )
    takers: list[str] = []
    sa.event.listen(app.state.engine, "checkout", lambda *_: takers.append(threading.current_thread().name))
    try:
        with TestClient(app) as client:
            register(app, "ann@example.org")
            assert login(client, "ann@example.org").status_code == 303
            for path in ("/", "/coach", "/account/sharing", "/api/sharing", "/data", "/account/audit"):
                assert client.get(path).status_code == 200, path
            before = len(takers)
            sent = client.post(
                "/import",
                data={"csrf_token": token(client), "sports": "default"},
                files=[("files", ("run.fit", (data_dir / RUN_FIT).read_bytes(), "application/octet-stream"))],
                follow_redirects=False,
            )
            assert sent.status_code == 303, sent.text
            # who uploads and the queued job: in the upload's own threads, not the handlers'
            assert sum(name.startswith("upload-step_") for name in takers[before:]) == 2
    finally:
        app.state.engine.dispose()
    elsewhere = sorted({name for name in takers if not name.startswith(("handler_", "upload-step_"))})
    assert takers and not elsewhere, f"connections taken outside the handler threads: {elsewhere}"
