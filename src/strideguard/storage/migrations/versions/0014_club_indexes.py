"""club indexes and the athlete's data version (issue 13)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:30:00

- `athletes.data_version`: a counter that triggers raise on every change to what the athlete's pages show
  (activities, pain entries, shoes and their defaults, triages, display settings), from any writer. The web
  pages cache what they computed under it (web/pagecache.py), so every server process sees a change the
  moment it is committed. On PostgreSQL the trigger takes the athlete's advisory lock (revision 0005's)
  before the row lock, the order every writer of that athlete uses, so two writers cannot deadlock.
- Indexes the club's query plans asked for (bench/server_load.py --explain on 100 athletes x 10 years).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LOCK_CLASS = 0x5347  # revision 0005's per-athlete advisory lock
# Tables whose rows carry an athlete_id and change what a page shows.
VERSIONED = ("activities", "pain_entries", "shoes", "shoe_defaults", "triage_sessions", "athlete_settings")
BUMP = "UPDATE athletes SET data_version = data_version + 1 WHERE id = {row}.athlete_id;"


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_version_insert AFTER INSERT ON {table} BEGIN
        {BUMP.format(row="NEW")} END""",
        f"""CREATE TRIGGER {table}_version_delete AFTER DELETE ON {table} BEGIN
        {BUMP.format(row="OLD")} END""",
        f"""CREATE TRIGGER {table}_version_update AFTER UPDATE ON {table} BEGIN
        {BUMP.format(row="OLD")}
        UPDATE athletes SET data_version = data_version + 1
         WHERE id = NEW.athlete_id AND NEW.athlete_id <> OLD.athlete_id; END""",
    ]


POSTGRESQL_FUNCTION = f"""CREATE FUNCTION strideguard_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, OLD.athlete_id);
    {BUMP.format(row="OLD")}
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.athlete_id <> OLD.athlete_id) THEN
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, NEW.athlete_id);
    {BUMP.format(row="NEW")}
  END IF;
  RETURN NULL;
END $$"""


def _indexes() -> list[tuple[str, str, list[str]]]:
    """(name, table, columns) of the indexes the club's plans asked for (285,000 runs, PostgreSQL 15):
    - activities.import_id: an import's summary counts its runs by format (`WHERE import_id = ?`: a
      Parallel Seq Scan removing 94,859 rows per worker, 92 ms, per upload), and deleting an import
      sets it NULL in its runs ("Trigger for constraint fk_activities_import_id_imports: time=73 ms");
    - import_items.activity_id: deleting a run sets it NULL in the import items that named it (a scan
      of every import item of the club per deleted run, growing with every upload)."""
    return [
        ("ix_activities_import_id", "activities", ["import_id"]),
        ("ix_import_items_activity_id", "import_items", ["activity_id"]),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("athletes", sa.Column("data_version", sa.Integer(), server_default="0", nullable=False))
    if dialect == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        for table in VERSIONED:
            op.execute(
                f"""CREATE TRIGGER {table}_version AFTER INSERT OR DELETE OR UPDATE ON {table}
                FOR EACH ROW EXECUTE FUNCTION strideguard_data_version()"""
            )
    else:
        for table in VERSIONED:
            for statement in _sqlite_triggers(table):
                op.execute(statement)
    for name, table, columns in _indexes():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(_indexes()):
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        for table in VERSIONED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS strideguard_data_version()")
    else:
        for table in VERSIONED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{event}")
    # A plain DROP COLUMN (SQLite 3.35 and newer): a batch rebuild of athletes fails on SQLite, because
    # revision 0005's aggregate triggers name the table and SQLite checks them when the copy is renamed.
    op.drop_column("athletes", "data_version")
