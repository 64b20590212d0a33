"""Delete an account and everything of its athlete(s): every row in every table, and the uploaded files.

Used by the web's "Delete my account" (web/owndata.py, after re-entering the password) and by an admin's
`strideguard users delete`. Generic over the tables: any table with an athlete_id, an activity_id of one of
the athlete's activities, an import_id of one of their imports, or a user_id of the account loses those rows,
children first, so a table added later is covered without touching this file (tests/test_accounts_delete.py
checks no row of the account is left anywhere and nobody else's row is gone). The aggregates' triggers run
as the activities go. Upload folders of the athlete's import jobs are removed after the rows (they are
transient: a rolled-back deletion leaves the rows and the user can upload again).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage.tables import AthleteRow, Base, ImportJobRow, UserRow


@dataclass
class Deleted:
    user_id: int
    athletes: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)


def _delete(session: Session, table: sa.Table, where: sa.ColumnElement[bool], out: Deleted) -> None:
    result = session.execute(sa.delete(table).where(where))
    if result.rowcount:
        out.rows[table.name] = out.rows.get(table.name, 0) + int(result.rowcount)


def delete_account(session: Session, user_id: int, remove_files: bool = True) -> Deleted:
    """Delete user `user_id`, their athletes and every row hanging off them (the caller commits)."""
    if session.get(UserRow, user_id) is None:
        raise LookupError(f"no account #{user_id}")
    out = Deleted(user_id)
    out.athletes = list(session.scalars(sa.select(AthleteRow.id).where(AthleteRow.user_id == user_id)))
    out.folders = list(
        session.scalars(sa.select(ImportJobRow.folder).where(ImportJobRow.athlete_id.in_(out.athletes)))
    )
    tables = Base.metadata.tables
    activities = sa.select(tables["activities"].c.id).where(
        tables["activities"].c.athlete_id.in_(out.athletes)
    )
    imports = sa.select(tables["imports"].c.id).where(tables["imports"].c.athlete_id.in_(out.athletes))
    for table in reversed(Base.metadata.sorted_tables):  # children before parents
        if table.name in ("athletes", "users"):
            continue
        conditions = []
        if "activity_id" in table.c:
            conditions.append(table.c.activity_id.in_(activities))
        if "import_id" in table.c:
            conditions.append(table.c.import_id.in_(imports))
        if "athlete_id" in table.c:
            conditions.append(table.c.athlete_id.in_(out.athletes))
        if "user_id" in table.c:
            conditions.append(table.c.user_id == user_id)
        if "created_by" in table.c:  # invite links the account made
            conditions.append(table.c.created_by == user_id)
        if conditions:
            _delete(session, table, sa.or_(*conditions), out)
    _delete(session, tables["athletes"], tables["athletes"].c.id.in_(out.athletes), out)
    _delete(session, tables["users"], tables["users"].c.id == user_id, out)
    session.flush()
    if remove_files:
        for folder in out.folders:
            shutil.rmtree(Path(folder), ignore_errors=True)
    return out
