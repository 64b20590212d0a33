"""The database engine (SQLite with WAL and a busy timeout, or PostgreSQL), sessions and the Alembic
migrations shipped in `storage/migrations/`."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from strideguard.storage import sqlite_writers

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 10


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, read_only: bool = False) -> None:
    cursor = dbapi_connection.cursor()
    if not read_only:  # switching the journal mode writes to the file
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class ReadOnlyDatabase(Exception):
    """The database cannot be written and its schema is not current."""


class NewerDatabase(Exception):
    """The database's schema is from a newer StrideGuard than this one (a revision it does not ship)."""


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (also the `sqlite:///file:PATH?mode=ro&uri=true` form); None in memory."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.query.get("uri") in ("true", "1") and database.startswith("file:"):
        database = database.removeprefix("file:")
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return Path(database)


def _read_only_file(path: Path) -> bool:
    """The file (or its folder, where SQLite keeps the -wal and -shm files) cannot be written."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def make_engine(url: str, pool_size: int | None = None, pool_timeout_s: float | None = None) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and foreign keys on.

    An SQLite file that cannot be written (read-only file, folder or file system) is opened read-only, so
    read commands still work; `immutable` when SQLite could not create its shared-memory file next to it.
    `pool_size` fixes the number of connections (no overflow) and `pool_timeout_s` how long a checkout
    waits for one (the web app sizes both to its threads; the CLI keeps SQLAlchemy's defaults).
    """
    pool: dict[str, Any] = {}
    if pool_size is not None:
        pool.update(pool_size=pool_size, max_overflow=0)
    if pool_timeout_s is not None:
        pool["pool_timeout"] = pool_timeout_s
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    if url.startswith("sqlite"):
        db_path = sqlite_file(url)
        read_only = "mode=ro" in url
        if db_path is not None and not read_only and _read_only_file(db_path):
            read_only = True
            flags = "mode=ro"
            shm = db_path.with_name(db_path.name + "-shm")
            if not os.access(db_path.parent, os.W_OK) and not shm.exists():
                flags += "&immutable=1"
            url = f"sqlite:///file:{db_path}?{flags}&uri=true"
        elif db_path is not None and not read_only:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        in_memory = db_path is None
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if db_path is not None and not read_only:  # writers queue on a lock file (storage/sqlite_writers.py)
            connect_args["factory"] = sqlite_writers.connection_class(db_path, SQLITE_BUSY_TIMEOUT_S)
        engine = sa.create_engine(url, connect_args=connect_args, **({} if in_memory else pool))
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, read_only=read_only))
        engine.info_read_only = read_only  # type: ignore[attr-defined]
    else:
        engine = sa.create_engine(url, **pool)
        _ping_when_idle(engine)
        _note_writes(engine)
    return engine


# --- reads outside transaction blocks (PostgreSQL) ----------------------------------------------------------
# At READ COMMITTED (PostgreSQL's default, and ours) every statement reads the latest commits whether or not
# it is in a transaction block, so a request that only reads gains nothing from BEGIN and COMMIT but two
# round trips: under a club's load they were a third of PostgreSQL's CPU (issue 13). Sessions of
# `reads_outside_transactions` run each read on its own, and open a transaction just before the first
# statement that changes something or takes a lock; commit and rollback then end it as usual (psycopg
# sends COMMIT or ROLLBACK when the server says a transaction is open, also in autocommit mode).

_IDLE = 0  # psycopg's TransactionStatus.IDLE: the server has no transaction open for the connection

# A SELECT that locks or changes something must run in the transaction that holds the lock until its end.
_LOCKING_READ = re.compile(
    r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b|advisory_xact|nextval|setval|set_config",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1024)  # a request's statements are a few dozen texts, asked again and again
def _needs_transaction(statement: str) -> bool:
    return not statement.startswith("SELECT") or _LOCKING_READ.search(statement) is not None


# Execution option of a statement that is its request's only write (its triggers run within it): on a
# session of `reads_outside_transactions` with no transaction open it commits by itself, without BEGIN and
# COMMIT around it. Inside an open transaction it is part of it, as any statement.
SINGLE_STATEMENT = "strideguard_single_statement"


def _begin_before_writing(
    _connection: sa.Connection, cursor: Any, statement: str, _parameters: Any, context: Any, *_: Any
) -> None:
    """On a connection of `reads_outside_transactions`: BEGIN before the first statement that needs a
    transaction (a write, a locking read, a SAVEPOINT), unless one is open already or the statement is
    marked SINGLE_STATEMENT."""
    if cursor.connection.info.transaction_status == _IDLE and _needs_transaction(statement):
        if context is not None and context.execution_options.get(SINGLE_STATEMENT):
            return
        cursor.execute("BEGIN", prepare=False)


def reads_outside_transactions(engine: Engine) -> Engine:
    """`engine` (sharing its pool) for sessions whose reads run without a transaction block on PostgreSQL;
    a transaction begins at their first write or locking read. SQLite keeps its transactions: there a read
    transaction is a snapshot, and its pages read one."""
    if engine.dialect.name != "postgresql":
        return engine
    lazy = engine.execution_options(isolation_level="AUTOCOMMIT")
    # On this engine only: other users of the pool asking for AUTOCOMMIT (VACUUM, say) mean it.
    event.listen(lazy, "before_cursor_execute", _begin_before_writing)
    return lazy


# A pooled connection back in use within this many seconds is used as it is: under load that saves every
# request a round trip to the server (issue 13). One that sat idle longer is checked first, since a server
# restart, an idle time-out or a failover may have ended it; one ended while busy fails its request once,
# and SQLAlchemy then replaces every connection older than the failure.
PING_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping (`pool_pre_ping`), only for connections idle longer than PING_IDLE_S."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_IDLE_S:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool drops it and connects again (up to three times)
            raise sa.exc.DisconnectionError(f"an idle connection was closed: {exc}") from exc


# psycopg prepares a statement the fifth time a connection runs it, and forgets every prepared statement at
# a ROLLBACK. A session that is closed rolls back, so on a server whose requests end that way nothing stayed
# prepared: PostgreSQL parsed and planned the session check on every page (0.55 of its 0.65 ms). A
# transaction that only read ends with COMMIT instead (`release`), which keeps them.
_WROTE = "strideguard_wrote"


def _note_writes(engine: Engine) -> None:
    """Mark a checked-out connection once it runs anything but a SELECT (`release` reads the mark)."""

    @event.listens_for(engine, "checkout")
    def _fresh(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info[_WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _note(connection: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("SELECT"):
            connection.info[_WROTE] = True


def _remember_connection(session: Session, _transaction: Any, connection: sa.Connection) -> None:
    session.info["connection"] = connection


def release(session: Session) -> None:
    """Close `session` after a request that ended normally. On PostgreSQL a transaction that only read
    (no statement but SELECTs, nothing pending in the session) is committed first, the same as rolling it
    back but keeping psycopg's prepared statements; anything else is rolled back, as `close` does. Reads
    outside a transaction block (`reads_outside_transactions`) have nothing to end: closed at once."""
    connection = session.info.pop("connection", None)
    if (
        connection is not None
        and session.in_transaction()
        and not connection.closed
        and connection.info.get(_WROTE) is False
        and not (session.new or session.dirty or session.deleted)
        and not _outside_transaction_block(connection)
    ):
        with contextlib.suppress(sa.exc.SQLAlchemyError):  # then close() rolls back, as before
            session.commit()
    session.close()


def _outside_transaction_block(connection: sa.Connection) -> bool:
    """The connection runs in autocommit mode and the server has no transaction open for it (psycopg's
    rollback then sends nothing and keeps the prepared statements)."""
    dbapi = connection.connection.dbapi_connection
    return bool(getattr(dbapi, "autocommit", False)) and dbapi.info.transaction_status == _IDLE


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


_PG_MIGRATION_LOCK = 0x53474D49  # pg_advisory_xact_lock key of schema upgrades ("SGMI")
_MIGRATION_LOCK_WAIT_S = 600.0  # how long a process waits for another one's upgrade to finish


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that holds the database's migration lock until it ends.

    Two processes starting on a new (or older) database at once would otherwise both create the tables, and
    the second died with "UNIQUE constraint failed" or "table already exists". SQLite: the write lock
    (BEGIN IMMEDIATE; DDL is transactional there); PostgreSQL: a transaction-scoped advisory lock.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # As SQLite's own ALTER procedure asks: foreign keys off while tables are rebuilt (batch mode
            # drops and recreates a table; with them on, that DROP would cascade to the rows referring to it).
            # The pragma is a no-op inside a transaction, so it is set before BEGIN.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            deadline = time.monotonic() + _MIGRATION_LOCK_WAIT_S
            while True:
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits the busy timeout, then raises
                    break
                except sa.exc.OperationalError as exc:
                    connection.rollback()
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
        elif engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        try:
            yield connection
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            if sqlite:  # outside the transaction again: the pragma takes effect
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with the migrations shipped in the package, under the migration lock
    (a process that waited for another one's upgrade finds the schema current and does nothing)."""
    from alembic import command

    with _migration_lock(engine) as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)


@functools.cache
def _shipped() -> tuple[frozenset[str], frozenset[str]]:
    """(revisions, down_revisions) of the shipped migrations, read from their files without loading Alembic
    (~0.3 s of every command's start)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(m.groups() for m in _REVISION.finditer(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    return frozenset(revisions), frozenset(parents)


def _shipped_head() -> str | None:
    """The head revision of the shipped migrations: the one revision no other file names as its parent."""
    revisions, parents = _shipped()
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The database's revision by plain SQL (what Alembic's MigrationContext reads); None when empty."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    """Upgrade to head when the database is behind (a new database is created on first use).

    Reads the revision first and writes only when an upgrade is due, so a current read-only database works.
    A current database is recognised without loading Alembic (the commands start faster); anything else
    goes through Alembic as before.
    """
    fast_head = _shipped_head()
    stored = _stored_revision(engine)
    if fast_head is not None and stored == fast_head:
        return
    if stored is not None and stored not in _shipped()[0]:
        raise NewerDatabase(
            f"was written by a newer StrideGuard (schema version {stored}; this version knows up to "
            f"{fast_head or head_revision()}): upgrade StrideGuard to open it"
        )
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if getattr(engine, "info_read_only", False):
        raise ReadOnlyDatabase(
            f"is read-only and its schema needs an upgrade ({current or 'empty'} -> {head}): make the file "
            "and its folder writable, then run `strideguard db upgrade`"
        )
    upgrade(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "postgresql":  # `release` needs the session's connection
        event.listen(factory, "after_begin", _remember_connection)
    return factory


_SOURCE_LOCK_POLL_S = 0.5
_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:k)")


@contextlib.contextmanager
def source_lock(engine: Engine, key: str, on_wait: Any = None) -> Iterator[bool]:
    """Hold the lock of one import source (an archive's SHA-256, a folder's key) for this database while
    it is imported; a second import of the same source waits here until the first has finished (then
    resumes its record and finds nothing left to do). Yields True when it had to wait.

    The lock dies with its process (kill -9 leaves no stale lock): PostgreSQL, a session advisory lock on a
    connection of the engine's pool, held for the import and given back unlocked; SQLite, an flock on a
    file named after the database and the source in the temporary folder (SQLite databases are local, so
    every importer of one file shares that folder).
    `on_wait()` is called once when another process holds the lock.
    """
    waited = False
    path = (
        sqlite_file(engine.url.render_as_string(hide_password=False))
        if engine.dialect.name == "sqlite"
        else None
    )
    where = str(path.resolve()) if path is not None else engine.url.render_as_string(hide_password=False)
    digest = hashlib.sha256(f"{where}\n{key}".encode()).digest()
    if engine.dialect.name == "postgresql":
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        # A pooled connection of the engine: a connection of its own per import cost PostgreSQL a new
        # backend process and SQLAlchemy a new engine every time (a server's uploads, issue 13).
        with engine.connect() as connection:
            while not connection.scalar(_TRY_LOCK, {"k": lock_id}):
                connection.rollback()
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                time.sleep(_SOURCE_LOCK_POLL_S)
            connection.commit()
            try:
                yield waited
            finally:
                try:
                    connection.execute(_UNLOCK, {"k": lock_id})
                    connection.commit()
                except BaseException:
                    # Never back to the pool holding the lock: closed, the lock ends with it.
                    connection.invalidate()
                    raise
        return
    try:
        import fcntl
    except ImportError:  # no flock (Windows): imports of one source are not serialised
        yield False
        return
    try:
        folder = Path(tempfile.gettempdir()) / f"strideguard-locks-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / f"{digest.hex()[:32]}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # no usable temporary folder: import without the lock rather than not at all
        yield False
        return
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                time.sleep(_SOURCE_LOCK_POLL_S)
        yield waited
    finally:
        os.close(fd)  # releases the flock


def is_disk_full(exc: BaseException) -> bool:
    """The database could not write because its disk (or SQLite's size limit) is full. SQLite then rolls
    the whole transaction back, so later savepoint errors ("no such savepoint") are only a consequence: the
    exceptions `exc` was raised while handling count too (a savepoint's rollback on the way out of a
    `with` block replaces the disk-full error with its own)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_disk_full(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _says_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    orig = getattr(exc, "orig", None)  # only what the database driver said
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) == "53100":  # PostgreSQL disk_full
        return True
    text = str(orig).lower()
    return "database or disk is full" in text or "no space left on device" in text


def plain_rows(
    session: Session, statement: sa.Select[Any], parameters: dict[str, Any] | None = None
) -> sa.CursorResult[Any]:
    """The rows of a column `select` run on the session's connection, without the ORM's result layer.

    For reads of many plain columns (a dashboard view reads several hundred rows): the ORM wraps each row
    for entities these statements do not load. Pending changes are flushed first, as the ORM would do.
    """
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement, parameters)
