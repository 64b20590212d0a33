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


def test_every_migration_goes_down_and_up_again_with_data(db_url):
    """Each revision's downgrade works on a database holding a run (SQLite rebuilds tables in batch mode, and
    triggers that name a rebuilt table made that fail), and upgrading again gives the models' schema."""
    from datetime import UTC, datetime

    from alembic import command

    from strideguard.model import Activity
    from strideguard.storage import activities as store

    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        with db.session_factory(engine)() as session:
            athlete = store.local_athlete(session)
            store.save_activity(
                session,
                athlete,
                Activity("run", datetime(2026, 3, 1, 7, tzinfo=UTC), "manual", distance_m=5000.0),
            )
            session.commit()
        config = db.alembic_config(engine)
        command.downgrade(config, "0004")  # through every revision since the aggregates (0005)
        assert db.current_revision(engine) == "0004"
        db.upgrade(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), tables.Base.metadata)
            runs = connection.exec_driver_sql("SELECT count(*) FROM activities").scalar()
            weeks = connection.exec_driver_sql("SELECT count(*) FROM activity_weeks").scalar()
        assert diff == []
        assert (runs, weeks) == (1, 1)  # no rebuild cascaded into the run or its totals
    finally:
        engine.dispose()
