"""SQLite writers wait their turn on a lock file, woken within milliseconds, instead of in SQLite's sleeps.

SQLite lets one writer at a time into a database. A writer that finds the write lock taken is put to sleep
by SQLite's busy handler in steps that grow to 100 ms, and while it sleeps any writer that comes along may
take the lock first: with two server processes and the import worker writing (issue 13), edits waited up
to half a second at p99 and uploads 0.35-0.45 s at p95. Here each connection takes an exclusive `flock` on
`<database>-writers` just before its first statement that writes and gives it back when its transaction
ends, looking again every few milliseconds while another holds it. Every StrideGuard process opens its
SQLite file through `storage.engine.make_engine`, so all of them queue here; a program that writes the file
otherwise (the `sqlite3` shell) meets SQLite's own lock as before. A lock not granted within the busy
timeout is not waited for further: the statement then goes on to SQLite's lock and its busy timeout.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

# Statements that take SQLite's write lock (or open a transaction that holds it).
_WRITES = re.compile(
    r"\s*(?:INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|BEGIN\s+(?:IMMEDIATE|EXCLUSIVE))\b", re.I
)
_FIRST_PAUSE_S = 0.0005
_LONGEST_PAUSE_S = 0.005  # SQLite's handler sleeps up to 100 ms between looks


class QueuedWriterConnection(sqlite3.Connection):
    """A connection whose writes hold the database's writer lock file for their transaction."""

    lock_path = ""  # set on the subclass made for each database (`connection_class`)
    wait_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock_fd = -1
        self._holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:
        return super().cursor(factory or _QueuedCursor)

    # The connection's shortcuts make plain cursors of their own: send them through ours.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        return self.cursor().executescript(script)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.settle()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.settle()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def queue_for(self, statement: str) -> None:
        """Take the writer lock before `statement` if it writes and this connection does not hold it."""
        if self._holding or not _WRITES.match(statement):
            return
        if self._lock_fd < 0:
            try:
                self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # no lock file to be had (taken by a folder, a full disk): SQLite's lock alone
                return
        deadline = time.monotonic() + self.wait_s
        pause = _FIRST_PAUSE_S
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # SQLite's own lock and busy timeout decide, as without this module
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_S)
            else:
                self._holding = True
                return

    def settle(self) -> None:
        """Give the lock back once no transaction is open (committed, rolled back, or a statement that ran
        on its own)."""
        if self._holding and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


class _QueuedCursor(sqlite3.Cursor):
    connection: QueuedWriterConnection

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.connection.queue_for(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.settle()

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        self.connection.queue_for(sql)
        try:
            return super().executemany(sql, parameters)
        finally:
            self.connection.settle()

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        self.connection.queue_for("BEGIN IMMEDIATE")  # a script may write anywhere in it
        try:
            return super().executescript(script)
        finally:
            self.connection.settle()


def connection_class(database: Path, wait_s: float) -> type[QueuedWriterConnection]:
    """The connection class for one database file (sqlite3.connect's `factory`)."""
    attributes = {"lock_path": str(database.with_name(database.name + "-writers")), "wait_s": wait_s}
    return type("QueuedWriterConnection", (QueuedWriterConnection,), attributes)
