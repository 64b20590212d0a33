"""Imports at the same time, and imports that are killed or run out of space (issue 11, "Concurrency and
faults"): the real CLI in subprocesses, on the test's database (SQLite file, or PostgreSQL with -m db)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import exportgen
from strideguard.storage import engine as db
from strideguard.storage.tables import ActivityRow, AthleteRow, ImportItemRow, ImportRow, ShoeRow

WAIT_S = 120  # waits are for conditions, never for speed


def _start(cli_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "strideguard", *args],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _together(cli_env: dict[str, str], *commands: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """Run the commands at once; (exit code, stdout, stderr) of each."""
    procs = [_start(cli_env, *command) for command in commands]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=WAIT_S * 2)
        results.append((proc.returncode, out, err))
    return results


def _folder(tmp_path: Path, name: str, first_day_offset: int, n: int = 4) -> Path:
    from datetime import date, timedelta

    folder = tmp_path / name
    folder.mkdir()
    runs = exportgen.simulated_runs(
        n, minutes=2, first_day=date(2025, 3, 3) + timedelta(days=first_day_offset)
    )
    for i, run in enumerate(runs):
        (folder / f"run{i}.fit").write_bytes(exportgen.fit_bytes(run))
    return folder


def _count(engine: sa.Engine, table: type, *where: object) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0


def test_two_imports_into_a_new_database_create_one_athlete(cli_env, db_url, run_cli, tmp_path: Path) -> None:
    # Several rounds on fresh databases make the old check-then-insert race likely to show; each round's
    # assertions hold whatever the interleaving.
    for round_ in range(3):
        if db_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'round{round_}.sqlite'}"
        else:
            url = db_url
        env = {**cli_env, "STRIDEGUARD_DATABASE_URL": url}
        a = _folder(tmp_path, f"a{round_}", 0)
        b = _folder(tmp_path, f"b{round_}", 100)
        results = _together(env, ("import", str(a), "--json"), ("import", str(b), "--json"))
        for code, _out, err in results:
            assert code == 0, err
            assert "Traceback" not in err
        engine = db.make_engine(url)
        try:
            assert _count(engine, AthleteRow) == 1
            only = sa.select(AthleteRow.id).scalar_subquery()
            assert _count(engine, ActivityRow, ActivityRow.athlete_id != only) == 0  # none hidden
            total = _count(engine, ActivityRow)
        finally:
            engine.dispose()
        assert total == 8
        if not db_url.startswith("sqlite"):
            break  # one PostgreSQL schema per test: the first round is the new database


def test_concurrent_imports_naming_the_same_gear_create_one_shoe(cli_env, engine, tmp_path: Path) -> None:
    def export(name: str, offset_days: int) -> Path:
        from datetime import date, timedelta

        runs = exportgen.simulated_runs(
            3, minutes=2, first_day=date(2025, 3, 3) + timedelta(days=offset_days)
        )
        entries = [
            exportgen.StravaEntry(8_000_000_000 + offset_days + i, run, name=f"Run {i}", gear="Pegasus 39")
            for i, run in enumerate(runs)
        ]
        return exportgen.write_strava_export(
            tmp_path / name, entries, shoes=[("Pegasus 39", "Nike", "Pegasus 39")]
        )

    paths = [export(f"export_{i}.zip", i * 50) for i in range(3)]
    results = _together(cli_env, *[("import", str(p), "--json") for p in paths])
    for code, _out, err in results:
        assert code == 0, err
    with engine.connect() as connection:
        shoes = connection.execute(sa.select(ShoeRow.id, ShoeRow.name)).all()
        assert [name for _id, name in shoes] == ["Pegasus 39"]
        on_it = connection.scalar(
            sa.select(sa.func.count()).select_from(ActivityRow).where(ActivityRow.shoe_id == shoes[0][0])
        )
    assert on_it == 9


def test_upgrade_merges_the_athletes_and_shoes_the_race_duplicated(db_url) -> None:
    """A database the old race hit (two local athletes, "Pegasus 39" twice) is repaired by revision 0010:
    every run visible under one athlete, one shoe with all its runs."""
    engine = db.make_engine(db_url)
    db.upgrade(engine, "0009")
    with engine.begin() as connection:
        run = connection.execute
        run(
            sa.text(
                "INSERT INTO athletes (id, name, created_at) "
                "VALUES (1, 'Me', '2025-01-01'), (2, 'Me', '2025-01-01')"
            )
        )
        run(
            sa.text(
                "INSERT INTO shoes (id, athlete_id, name, start_distance_m, retire_at_m, created_at) VALUES "
                "(1, 1, 'Pegasus 39', 0, 450000, '2025-01-01'), "
                "(2, 1, 'Pegasus 39', 0, 450000, '2025-01-01'), "
                "(3, 2, 'Pegasus 39', 0, 450000, '2025-01-01')"
            )
        )
        for i, (athlete, shoe) in enumerate([(1, 1), (1, 2), (2, 3), (2, None)]):
            run(
                sa.text(
                    "INSERT INTO activities (athlete_id, sport, start_utc, local_date, distance_m, shoe_id, "
                    "source_format, source_part, created_at) VALUES "
                    "(:a, 'run', :start, :day, 5000, :shoe, 'fit', 0, '2025-01-01')"
                ),
                {
                    "a": athlete,
                    "shoe": shoe,
                    "start": f"2025-03-0{i + 1} 07:00:00",
                    "day": f"2025-03-0{i + 1}",
                },
            )
    db.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.select(AthleteRow.id, AthleteRow.local_key)).all() == [(1, "local")]
        assert connection.execute(sa.select(ShoeRow.id, ShoeRow.athlete_id)).all() == [(1, 1)]
        shoes = connection.execute(
            sa.select(ActivityRow.athlete_id, ActivityRow.shoe_id).order_by(ActivityRow.id)
        )
        assert shoes.all() == [(1, 1), (1, 1), (1, 1), (1, None)]
        totals = connection.execute(sa.text("SELECT activities, distance_m FROM shoe_totals")).all()
    engine.dispose()
    assert [tuple(t) for t in totals] == [(3, 15000.0)]


def test_same_archive_imported_twice_at_once_waits_for_the_first(cli_env, engine, tmp_path: Path) -> None:
    n = 40
    runs = exportgen.simulated_runs(n, minutes=2)
    path = exportgen.write_strava_export(tmp_path / "export.zip", list(exportgen.iter_strava_entries(runs)))
    results = _together(
        cli_env,
        ("import", str(path), "--json", "--batch-size", "5"),
        ("import", str(path), "--json", "--batch-size", "5"),
    )
    for code, _out, err in results:
        assert code == 0, err
        assert "cannot open" not in err and "Traceback" not in err
    sources = [json.loads(out)["sources"][0] for _code, out, _err in results]
    assert {s["import_id"] for s in sources} == {1}
    assert sorted(s["this_run"]["imported"] for s in sources) == [0, n]  # one did it, the other found it done
    assert all(s["imported"] == n for s in sources)
    assert _count(engine, ImportRow) == 1
    assert _count(engine, ActivityRow) == n
    assert _count(engine, ImportItemRow) == n


def test_disk_full_says_so_and_how_many_were_saved_then_resumes(db_url, tmp_path: Path) -> None:
    """A real SQLite "database or disk is full" (its size capped with max_page_count, as a full disk would
    stop it), not a mock; PostgreSQL cannot be made to run out of space here."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's max_page_count makes the real fault; PostgreSQL has no per-connection cap")
    from sqlalchemy import event

    from strideguard.importing.service import DiskFull, ImportOptions, run_import

    n = 30
    runs = exportgen.simulated_runs(n, minutes=10)
    path = exportgen.write_strava_export(tmp_path / "export.zip", list(exportgen.iter_strava_entries(runs)))
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    event.listen(engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count={pages + 30}"))
    engine.dispose()  # connections opened from now on have the cap
    options = ImportOptions(workers=0, batch_activities=3, commit_interval_s=0)
    with pytest.raises(DiskFull) as raised:
        run_import(engine, [path], options)
    message = str(raised.value)
    assert "disk of the database is full" in message and "no such savepoint" not in message
    assert "run the same import again to resume" in message
    saved = _count(engine, ActivityRow)
    assert 0 < saved < n
    assert f"{saved} activities of this import (import #1) were saved" in message
    engine.dispose()

    roomy = db.make_engine(db_url)
    try:
        summary = run_import(roomy, [path], options)
        (source,) = summary.sources
        assert (source.import_id, source.resumed_items, source.imported) == (1, saved, n)
        assert _count(roomy, ActivityRow) == n
        assert _count(roomy, ImportRow) == 1
    finally:
        roomy.dispose()


def test_killed_folder_import_counts_what_is_stored_and_resumes(
    cli_env, engine, run_cli, tmp_path: Path
) -> None:
    n = 120
    folder = tmp_path / "watch"
    folder.mkdir()
    for i, run in enumerate(exportgen.simulated_runs(n, minutes=2)):
        (folder / f"run{i:03}.fit").write_bytes(exportgen.fit_bytes(run))
    proc = _start(cli_env, "import", str(folder), "--batch-size", "5", "--no-progress")
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _count(engine, ImportItemRow) >= 10:
                    break
            except sa.exc.DBAPIError:
                pass  # the database is busy
            time.sleep(0.01)
        assert proc.poll() is None, "the import finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its parser processes, at once
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    stored = _count(engine, ActivityRow)
    assert 10 <= stored < n

    # What `imports` says of the unfinished import is what is stored.
    (listed,) = json.loads(run_cli("imports", "--json").stdout)
    assert (listed["import_id"], listed["status"]) == (1, "unfinished")
    assert listed["imported"] == stored and listed["items"] == _count(engine, ImportItemRow)

    done = run_cli("import", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    (source,) = json.loads(done.stdout)["sources"]
    assert source["import_id"] == 1  # the same import continues
    assert source["resumed_items"] == stored
    assert (source["imported"], source["duplicates"]) == (n, 0)  # nothing saved before counts as a duplicate
    assert source["this_run"]["imported"] == n - stored
    assert _count(engine, ActivityRow) == n
    assert _count(engine, ImportRow) == 1
    (listed,) = json.loads(run_cli("imports", "--json").stdout)
    assert (listed["status"], listed["imported"], listed["duplicates"]) == ("finished", n, 0)


def test_database_error_during_an_import_does_not_say_cannot_open(
    db_url, athlete_id, run_cli, tmp_path
) -> None:
    """The database opened fine; a write during the import failed (here: locked by another program for
    longer than the busy timeout). The message says what failed, not "cannot open"."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's busy timeout gives up on a lock; PostgreSQL waits for it")
    import sqlite3

    folder = _folder(tmp_path, "watch", 0, n=1)
    holder = sqlite3.connect(db.sqlite_file(db_url), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = run_cli("import", str(folder))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: during import: SQLite database ") and "database is locked" in line
    assert "cannot open" not in line


def test_local_athlete_is_one_row_whoever_asks_first(db_url, engine) -> None:
    """Eight connections ask for the local athlete of an empty (migrated) database at the same moment:
    one row, and every caller gets its id."""
    import threading

    from strideguard.storage import activities as store

    barrier = threading.Barrier(8)
    got: list[int] = []
    errors: list[BaseException] = []

    def ask() -> None:
        own = db.make_engine(db_url)
        try:
            with db.session_factory(own)() as session:
                barrier.wait(timeout=60)
                got.append(store.local_athlete(session))
                session.commit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    assert errors == []
    assert _count(engine, AthleteRow) == 1
    assert len(got) == 8 and len(set(got)) == 1


class _Waited(Exception):
    pass


def _refuse_to_wait() -> None:
    raise _Waited


def test_a_source_lock_goes_back_to_the_pool_unlocked(db_url: str) -> None:
    """PostgreSQL: the source lock is taken on one of the engine's pooled connections (a new connection
    per import cost a backend process each time, issue 13), and that connection goes back to the pool
    without the lock, whether the import ended well or raised: another process can take it at once."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's advisory locks (SQLite locks a file)")
    engine = db.make_engine(db_url)
    other = db.make_engine(db_url)  # another importing process
    connects: list[object] = []
    sa.event.listen(engine, "connect", lambda connection, _record: connects.append(connection))
    try:
        with db.source_lock(engine, "archive-sha"):
            with pytest.raises(_Waited), db.source_lock(other, "archive-sha", on_wait=_refuse_to_wait):
                pass
        with db.source_lock(other, "archive-sha", on_wait=_refuse_to_wait):
            pass
        with pytest.raises(RuntimeError), db.source_lock(engine, "archive-sha"):
            raise RuntimeError("the import failed")
        with db.source_lock(other, "archive-sha", on_wait=_refuse_to_wait):
            pass
        assert len(connects) == 1, "the second import's lock used the pooled connection again"
    finally:
        engine.dispose()
        other.dispose()
