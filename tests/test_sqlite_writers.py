"""SQLite writers queue on `<database>-writers` (storage/sqlite_writers.py): real files, real connections,
a real process killed while it holds the lock. Whether the lock is held is asked of the kernel (a
non-blocking flock from a file descriptor of the test's own), never inferred from timing."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from strideguard.storage import engine as db
from strideguard.storage import sqlite_writers


def lock_file(database: Path) -> Path:
    return database.with_name(database.name + "-writers")


def held(database: Path) -> bool:
    """Whether a writer holds the database's lock file now."""
    fd = os.open(lock_file(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "w.sqlite"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    return path


@contextmanager
def connect(database: Path, wait_s: float = 10.0) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(
        database,
        timeout=10,
        factory=sqlite_writers.connection_class(database, wait_s),
        check_same_thread=False,
    )
    try:
        yield connection
    finally:
        connection.close()


def test_a_write_holds_the_lock_for_its_transaction_and_reads_never_take_it(database):
    with connect(database) as connection:
        connection.execute("SELECT count(*) FROM t").fetchall()
        assert not held(database)
        connection.execute("INSERT INTO t (v) VALUES ('a')")
        assert held(database)  # until the transaction ends, whatever else it runs
        connection.execute("SELECT * FROM t").fetchall()
        connection.execute("UPDATE t SET v = 'b'")
        assert held(database)
        connection.commit()
        assert not held(database)
        connection.executemany("INSERT INTO t (v) VALUES (?)", [("c",), ("d",)])
        assert held(database)
        connection.rollback()
        assert not held(database)
        assert connection.execute("SELECT v FROM t ORDER BY v").fetchall() == [("b",)]


def test_the_lock_is_given_back_when_a_statement_fails_runs_alone_or_the_connection_closes(database):
    with connect(database) as connection:
        connection.execute("INSERT INTO t (v) VALUES ('a')")
        connection.commit()
        with pytest.raises(sqlite3.IntegrityError):  # the write failed; its transaction stays open
            connection.execute("INSERT INTO t (v) VALUES ('a')")
        assert connection.in_transaction and held(database)
        connection.rollback()
        assert not held(database)
        connection.isolation_level = None  # autocommit: each statement is its own transaction
        connection.execute("INSERT INTO t (v) VALUES ('b')")
        assert not held(database)
        connection.execute("BEGIN IMMEDIATE")  # takes SQLite's write lock: queues like a write
        assert held(database)
    assert not held(database)  # closed inside the transaction


def test_a_second_writer_waits_for_the_first_to_commit(database):
    with connect(database) as first, connect(database) as second:
        first.execute("INSERT INTO t (v) VALUES ('first')")
        done = threading.Event()

        def write() -> None:
            second.execute("INSERT INTO t (v) VALUES ('second')")
            second.commit()
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        # It cannot have written: the first writer's transaction is open and holds the lock.
        assert not done.wait(0.2)
        first.commit()
        writer.join(30)
        assert done.is_set()
        assert [v for (v,) in first.execute("SELECT v FROM t ORDER BY id")] == ["first", "second"]


def test_a_lock_not_given_within_the_wait_leaves_the_statement_to_sqlite(database):
    """A holder that is not writing (here the test itself) delays a writer by the wait, never forever."""
    fd = os.open(lock_file(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with connect(database, wait_s=0.05) as connection:
            connection.execute("INSERT INTO t (v) VALUES ('anyway')")
            connection.commit()
            assert connection.execute("SELECT v FROM t").fetchall() == [("anyway",)]
    finally:
        os.close(fd)


def test_the_engine_and_its_sessions_queue_and_release(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'e.sqlite'}")
    path = tmp_path / "e.sqlite"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        assert lock_file(path).exists() and not held(path)
        with engine.connect() as connection:
            connection.execute(sa.text("INSERT INTO t (v) VALUES ('x')"))
            assert held(path)
            connection.rollback()
            assert not held(path)
            connection.execute(sa.text("SELECT * FROM t")).all()
            assert not held(path)
        sessions = db.session_factory(engine)
        with sessions() as session:
            session.execute(sa.text("INSERT INTO t (v) VALUES ('y')"))
            assert held(path)
            session.commit()
            assert not held(path)
            session.execute(sa.text("INSERT INTO t (v) VALUES ('z')"))
        assert not held(path)  # the session closed without a commit: rolled back, lock given back
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT v FROM t")).scalars().all() == ["y"]
    finally:
        engine.dispose()


WRITE_AND_WAIT = """
import sys, sqlalchemy as sa
from strideguard.storage import engine as db
engine = db.make_engine(sys.argv[1])
with engine.connect() as connection:
    connection.execute(sa.text("INSERT INTO t (v) VALUES ('half-written')"))
    print("holding", flush=True)
    sys.stdin.read()  # until killed
"""


def test_a_writer_killed_mid_transaction_frees_the_lock_and_leaves_nothing(database):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITE_AND_WAIT, f"sqlite:///{database}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        assert held(database)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert not held(database)
    engine = db.make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:  # the next writer is not kept waiting
            connection.execute(sa.text("INSERT INTO t (v) VALUES ('next')"))
            assert connection.execute(sa.text("SELECT v FROM t")).scalars().all() == ["next"]
    finally:
        engine.dispose()


def test_without_a_lock_file_writes_still_go_on_under_sqlites_own_lock(database):
    lock_file(database).mkdir()  # something else took the name
    with connect(database) as connection:
        connection.execute("INSERT INTO t (v) VALUES ('still')")
        connection.commit()
        assert connection.execute("SELECT v FROM t").fetchall() == [("still",)]
