"""`strideguard backup` / `restore` (storage/backup.py): a consistent copy of a live SQLite database through
the online backup API, restored as it was; for PostgreSQL the pg_dump and pg_restore commands."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import backup
from strideguard.storage import engine as db


def _sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the online backup API is SQLite's")


def _add(session, athlete_id: int, n: int, offset: int = 0) -> None:
    for i in range(n):
        start = datetime(2026, 1, 1, 7, tzinfo=UTC) + timedelta(days=offset + i)
        store.save_activity(session, athlete_id, Activity("run", start, "manual", distance_m=5000.0 + i))
    session.commit()


def test_backup_of_a_live_database_is_consistent_and_restore_puts_it_back(
    db_url, engine, session, athlete_id, run_cli, tmp_path
):
    _sqlite_only(db_url)
    _add(session, athlete_id, 50)
    stop = threading.Event()
    writes = {"n": 0}

    def writer() -> None:  # another process would do the same: keep writing while the backup runs
        with db.session_factory(engine)() as other:
            while not stop.is_set() and writes["n"] < 500:
                _add(other, athlete_id, 1, offset=1000 + writes["n"])
                writes["n"] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        out = tmp_path / "backups" / "sg.sqlite"
        result = run_cli("backup", str(out))
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert "Backed up" in result.stdout
    with sqlite3.connect(out) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = conn.execute("SELECT count(*) FROM activities").fetchone()[0]
        # the aggregates agree with the activities in the copy: one consistent moment, not a torn file
        days = conn.execute("SELECT coalesce(sum(activities), 0) FROM activity_days").fetchone()[0]
    assert 50 <= copied <= 50 + writes["n"] and days == copied
    assert not out.with_name(out.name + ".partial").exists()

    # a second backup to the same name is refused, the first kept
    again = run_cli("backup", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr

    # lose data, then restore
    from strideguard.storage.tables import ActivityRow

    session.query(ActivityRow).delete()
    session.commit()
    assert store.count_activities(session, athlete_id) == 0
    restored = run_cli("restore", str(out), "--yes")
    assert restored.returncode == 0, restored.stderr
    session.expire_all()
    assert store.count_activities(session, athlete_id) == copied


def test_restore_refuses_a_file_that_is_not_a_backup(db_url, engine, session, athlete_id, run_cli, tmp_path):
    _sqlite_only(db_url)
    _add(session, athlete_id, 3)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    result = run_cli("restore", str(junk), "--yes")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "junk.sqlite: not a StrideGuard SQLite backup" in line
    session.expire_all()
    assert store.count_activities(session, athlete_id) == 3


def test_restore_asks_before_replacing(db_url, engine, session, athlete_id, run_cli, tmp_path):
    _sqlite_only(db_url)
    out = tmp_path / "b.sqlite"
    assert run_cli("backup", str(out)).returncode == 0
    _add(session, athlete_id, 2)
    result = run_cli("restore", str(out), input="n\n")
    assert result.returncode == 1 and "nothing restored" in result.stderr
    session.expire_all()
    assert store.count_activities(session, athlete_id) == 2


def test_postgresql_gets_the_pg_dump_command_without_the_password(run_cli, tmp_path):
    url = "postgresql://coach:s3cret@db.example.org:5432/strideguard"
    dump, restore = backup.pg_commands(url, tmp_path / "club.dump")
    assert dump.startswith("pg_dump --format=custom") and "s3cret" not in dump
    assert (
        restore.startswith("pg_restore") and "postgresql://coach@db.example.org:5432/strideguard" in restore
    )


def test_backup_command_on_postgresql_prints_pg_dump(run_cli, tmp_path):
    result = run_cli(
        "--db", "postgresql://coach:s3cret@127.0.0.1:1/club", "backup", str(tmp_path / "club.dump")
    )
    assert result.returncode == 0, result.stderr
    assert "pg_dump --format=custom" in result.stdout and "pg_restore" in result.stdout
    assert "s3cret" not in result.stdout
