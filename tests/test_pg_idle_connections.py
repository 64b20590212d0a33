"""Pooled PostgreSQL connections are checked only after sitting idle (storage/engine.PING_IDLE_S): a
connection the server ended while it was idle is replaced before a request uses it; one ended while in
use fails one request, as a busy answer, and the next gets a new connection (issue 13: the check was a
round trip on every request)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event

from strideguard.storage import engine as db
from strideguard.web.app import create_app
from strideguard.web.common import Settings


def test_a_connection_ended_while_idle_is_replaced_and_one_ended_in_use_fails_once(
    db_url: str, tmp_path: Path, monkeypatch
):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server to end a connection")
    app = create_app(
        Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32, run_worker=False)
    )
    engine = app.state.engine
    engine.dispose()  # from here every connection the app opens is seen
    backends: list[int] = []
    event.listen(engine, "connect", lambda connection, _record: backends.append(connection.info.backend_pid))
    admin = db.make_engine(db_url)

    def end_the_apps_connections() -> None:
        with admin.begin() as connection:
            for pid in backends:
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    try:
        with TestClient(app) as client:
            assert client.get("/pain").status_code == 200
            opened = len(backends)
            end_the_apps_connections()
            # Idle long enough to be checked: replaced before use, the page is served.
            monkeypatch.setattr(db, "PING_IDLE_S", 0.0)
            assert client.get("/pain").status_code == 200
            assert len(backends) > opened
            # In use a moment ago, so not checked: this request fails as "busy", the next one is served.
            monkeypatch.setattr(db, "PING_IDLE_S", 3600.0)
            end_the_apps_connections()
            failed = client.get("/pain")
            assert failed.status_code == 503 and "Traceback" not in failed.text
            assert client.get("/pain").status_code == 200
    finally:
        app.state.engine.dispose()
        admin.dispose()
