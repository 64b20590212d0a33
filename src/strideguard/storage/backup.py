"""A consistent copy of a live SQLite database (SQLite's online backup API), and putting one back.

`sqlite3.Connection.backup` copies the database page by page under SQLite's own locking, so a server or an
import writing at the same time never leaves a torn copy (a plain file copy of a WAL database can). For
PostgreSQL the tools are pg_dump and pg_restore: `pg_commands` gives the documented commands to run.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
from pathlib import Path

PAGES_PER_STEP = 1024  # copy in steps so writers get the lock between them


class BackupError(Exception):
    """A one-line, user-facing reason a backup or restore cannot be made."""


def backup_sqlite(db_path: Path, out: Path) -> int:
    """Copy the live database at `db_path` to a new file `out`; returns its size in bytes."""
    if not db_path.exists():
        raise BackupError(f"{db_path}: no such database file")
    if out.exists():
        raise BackupError(f"{out}: already exists; choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=PAGES_PER_STEP)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            target.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{db_path}: backup failed: {exc}") from None
    finally:
        source.close()
    partial.replace(out)
    return out.stat().st_size


def check_backup(path: Path) -> str:
    """The schema revision of a StrideGuard SQLite backup; BackupError if it is not one."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            (ok,) = conn.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise BackupError(f"{path}: the file is damaged ({ok})")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a StrideGuard SQLite backup ({exc})") from None
    if row is None:
        raise BackupError(f"{path}: not a StrideGuard SQLite backup (no schema version)")
    return str(row[0])


def restore_sqlite(backup: Path, db_path: Path) -> str:
    """Replace the database at `db_path` with `backup` (checked first), through the same online backup API,
    so a server that has the database open sees the restored data on its next query. Returns the backup's
    schema revision."""
    revision = check_backup(backup)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(db_path, timeout=30)
        try:
            source.backup(target, pages=PAGES_PER_STEP)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{db_path}: restore failed: {exc}") from None
    finally:
        source.close()
    return revision


def pg_commands(url: str, file: Path) -> tuple[str, str]:
    """The pg_dump and pg_restore commands for the PostgreSQL database at `url` (password left out: give it
    in ~/.pgpass or PGPASSWORD, never on a command line)."""
    clean = re.sub(r"://([^:/@]+):[^@]*@", r"://\1@", url)
    clean = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", clean)
    quoted_url, quoted_file = shlex.quote(clean), shlex.quote(str(file))
    dump = f"pg_dump --format=custom --no-owner --file {quoted_file} {quoted_url}"
    restore = f"pg_restore --clean --if-exists --no-owner --dbname {quoted_url} {quoted_file}"
    return dump, restore
