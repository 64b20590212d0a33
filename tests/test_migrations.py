"""Migrations: `db upgrade` on an empty database gives exactly the models' schema (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from strideguard.storage import engine as db
from strideguard.storage import tables


def test_db_upgrade_on_empty_database_matches_models(db_url, run_cli):
    result = run_cli("--db", db_url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"schema version {db.head_revision()}" in result.stdout.replace("\n", "")
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), tables.Base.metadata)
        assert diff == []
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(engine):
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()


def test_unreachable_database_is_one_line_error(run_cli):
    result = run_cli("--db", "postgresql://nobody@127.0.0.1:1/none", "runs")
    assert result.returncode == 1
    # What is wrong, in one line, without the driver's exception class.
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: cannot connect to PostgreSQL at 127.0.0.1:1: ")
    assert "psycopg" not in line and "OperationalError" not in line
