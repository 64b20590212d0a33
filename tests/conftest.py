"""Fixtures: a fresh real database per test (SQLite file, or a PostgreSQL schema when
STRIDEGUARD_TEST_DATABASE_URL is set), the shared sample files, and the CLI as a subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage import activities as store
from strideguard.storage import engine as db

# Kilometres unless a test chooses miles: the locale's default unit must not depend on the machine that
# runs the tests (units.default_unit reads LC_ALL, LC_MEASUREMENT, LANG; a test sets them when it needs to).
os.environ.pop("LC_ALL", None)
os.environ["LC_MEASUREMENT"] = "en_GB.UTF-8"

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STRIDEGUARD_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
PG_URL = os.environ.get("STRIDEGUARD_TEST_DATABASE_URL")


def pytest_report_header(config: pytest.Config) -> str:
    return f"strideguard database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (a file per test)'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that touches the database (through the db_url fixture) with `db`, so CI can run
    exactly those again on PostgreSQL (`-m db`)."""
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """URL of an empty database that only this test uses."""
    with empty_database(tmp_path / "strideguard.sqlite") as url:
        yield url


@contextlib.contextmanager
def empty_database(sqlite_file: Path, prefix: str = "t") -> Iterator[str]:
    """URL of a new empty database: `sqlite_file`, or a new schema on the test PostgreSQL server (dropped
    afterwards) when STRIDEGUARD_TEST_DATABASE_URL is set."""
    if not PG_URL:
        yield f"sqlite:///{sqlite_file}"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on the test database, migrated to head."""
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with db.session_factory(engine)() as session:
        yield session


@pytest.fixture
def athlete_id(session: Session) -> int:
    athlete = store.local_athlete(session)
    session.commit()
    return athlete


@pytest.fixture
def data_dir() -> Path:
    """../shared/data: real files from other projects (never copied into this repository)."""
    if not DATA.is_dir():
        pytest.skip(f"shared sample data not found at {DATA}")
    return DATA


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """Environment for running the real `strideguard` command against this test's database."""
    env = dict(os.environ)
    env["STRIDEGUARD_DATABASE_URL"] = db_url
    env["STRIDEGUARD_DATA_DIR"] = str(tmp_path / "userdata")
    env["COLUMNS"] = "160"
    env.pop("STRIDEGUARD_TEST_DATABASE_URL", None)
    return env


@pytest.fixture
def run_cli(cli_env: dict[str, str]):
    """Run `strideguard ARGS...` as a subprocess, as a user would; returns CompletedProcess (text)."""

    def run(*args: str, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "strideguard", *args],
            env=cli_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def client(db_url: str, engine: sa.Engine, tmp_path: Path) -> Iterator[Any]:
    """The web app in-process (local mode, its import worker running) on this test's database."""
    from fastapi.testclient import TestClient

    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    app = create_app(Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()
