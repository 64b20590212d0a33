"""aggregates: per-day, per-week and per-shoe totals kept by database triggers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:00:00

Pages read these instead of walking every activity (a 10-year history is ~3,000 runs, a club 250,000):
- activity_days (athlete, local date, sport): count, distance, duration (moving, else elapsed), the
  longest run, and the session-RPE parts of the load: rated runs and their load (RPE x minutes), and the
  unrated minutes (the default RPE is applied when read, so changing it needs no migration);
- activity_weeks (athlete, ISO Monday, sport): count, distance, duration;
- shoe_totals (shoe): count, distance and the last date of every activity in it, any sport.

Triggers on `activities` keep them: every INSERT, DELETE and UPDATE of a column they sum recomputes the
day and week rows it touches from the activities themselves (a handful of rows through the
(athlete_id, local_date) index), and the shoe rows (added to on insert; recomputed on edit and delete).
Any writer is covered: imports, edits, the CLI, deletes cascading from an athlete. On PostgreSQL a
transaction-scoped advisory lock per athlete serialises writers of the same athlete, so two concurrent
imports cannot both recompute a day from a snapshot missing the other's runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DURATION = "COALESCE(NULLIF({t}.moving_time_s, 0), NULLIF({t}.elapsed_time_s, 0), 0)"
LOCK_CLASS = 0x5347  # 'SG': the first key of the per-athlete advisory lock


def _tables() -> None:
    op.create_table(
        "activity_days",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("sport", sa.String(length=20), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("longest_m", sa.Float(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("rated_load_au", sa.Float(), nullable=False),
        sa.Column("unrated_duration_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_activity_days_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("athlete_id", "local_date", "sport", name=op.f("pk_activity_days")),
    )
    op.create_table(
        "activity_weeks",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("monday", sa.Date(), nullable=False),
        sa.Column("sport", sa.String(length=20), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_activity_weeks_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("athlete_id", "monday", "sport", name=op.f("pk_activity_weeks")),
    )
    op.create_table(
        "shoe_totals",
        sa.Column("shoe_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_shoe_totals_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shoe_id"], ["shoes.id"], name=op.f("fk_shoe_totals_shoe_id_shoes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("shoe_id", name=op.f("pk_shoe_totals")),
    )
    with op.batch_alter_table("shoe_totals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shoe_totals_athlete_id"), ["athlete_id"], unique=False)


def _monday(dialect: str, day: str) -> str:
    if dialect == "postgresql":
        return f"CAST(date_trunc('week', {day}) AS date)"
    return f"date({day}, '-' || ((CAST(strftime('%w', {day}) AS INTEGER) + 6) % 7) || ' days')"


def _refresh_day(row: str) -> str:
    """Recompute the day row of `row` (NEW or OLD) from the activities (none left: no row)."""
    return f"""
    DELETE FROM activity_days
     WHERE athlete_id = {row}.athlete_id AND local_date = {row}.local_date AND sport = {row}.sport;
    INSERT INTO activity_days (athlete_id, local_date, sport, activities, distance_m, duration_s, longest_m,
                               rated, rated_load_au, unrated_duration_s)
    SELECT {row}.athlete_id, {row}.local_date, {row}.sport, count(*), sum(COALESCE(a.distance_m, 0)),
           sum({DURATION.format(t="a")}), max(COALESCE(a.distance_m, 0)),
           sum(CASE WHEN a.rpe IS NULL THEN 0 ELSE 1 END),
           sum(CASE WHEN a.rpe IS NULL THEN 0 ELSE a.rpe * {DURATION.format(t="a")} / 60.0 END),
           sum(CASE WHEN a.rpe IS NULL THEN {DURATION.format(t="a")} ELSE 0 END)
      FROM activities a
     WHERE EXISTS (SELECT 1 FROM athletes WHERE id = {row}.athlete_id)
       AND a.athlete_id = {row}.athlete_id AND a.local_date = {row}.local_date AND a.sport = {row}.sport
    HAVING count(*) > 0;"""


def _refresh_week(dialect: str, row: str) -> str:
    monday = _monday(dialect, f"{row}.local_date")
    return f"""
    DELETE FROM activity_weeks
     WHERE athlete_id = {row}.athlete_id AND monday = {monday} AND sport = {row}.sport;
    INSERT INTO activity_weeks (athlete_id, monday, sport, activities, distance_m, duration_s)
    SELECT {row}.athlete_id, {monday}, {row}.sport, count(*), sum(COALESCE(a.distance_m, 0)),
           sum({DURATION.format(t="a")})
      FROM activities a
     WHERE EXISTS (SELECT 1 FROM athletes WHERE id = {row}.athlete_id)
       AND a.athlete_id = {row}.athlete_id AND a.sport = {row}.sport
       AND a.local_date >= {monday} AND a.local_date <= {_plus_days(dialect, monday, 6)}
    HAVING count(*) > 0;"""


def _plus_days(dialect: str, day: str, days: int) -> str:
    return f"CAST({day} + {days} AS date)" if dialect == "postgresql" else f"date({day}, '+{days} days')"


def _refresh_shoe(row: str) -> str:
    """Recompute the totals of the shoe `row` was in (none left, or the shoe deleted: no row)."""
    return f"""
    DELETE FROM shoe_totals WHERE shoe_id = {row}.shoe_id;
    INSERT INTO shoe_totals (shoe_id, athlete_id, activities, distance_m, last_date)
    SELECT {row}.shoe_id, max(a.athlete_id), count(*), sum(COALESCE(a.distance_m, 0)), max(a.local_date)
      FROM activities a
     WHERE EXISTS (SELECT 1 FROM shoes WHERE id = {row}.shoe_id) AND a.shoe_id = {row}.shoe_id
    HAVING count(*) > 0;"""


def _add_to_shoe(dialect: str) -> str:
    latest = "GREATEST" if dialect == "postgresql" else "max"
    return f"""
    INSERT INTO shoe_totals (shoe_id, athlete_id, activities, distance_m, last_date)
    SELECT NEW.shoe_id, NEW.athlete_id, 1, COALESCE(NEW.distance_m, 0), NEW.local_date
     WHERE NEW.shoe_id IS NOT NULL
    ON CONFLICT (shoe_id) DO UPDATE SET
      activities = shoe_totals.activities + 1,
      distance_m = shoe_totals.distance_m + excluded.distance_m,
      last_date = {latest}(shoe_totals.last_date, excluded.last_date);"""


COLUMNS = "athlete_id, local_date, sport, distance_m, moving_time_s, elapsed_time_s, rpe, shoe_id"


def _sqlite_triggers() -> list[str]:
    day_new, day_old = _refresh_day("NEW"), _refresh_day("OLD")
    week_new, week_old = _refresh_week("sqlite", "NEW"), _refresh_week("sqlite", "OLD")
    return [
        f"""CREATE TRIGGER activities_aggregates_insert AFTER INSERT ON activities BEGIN
        {day_new}{week_new}{_add_to_shoe("sqlite")}
        END""",
        f"""CREATE TRIGGER activities_aggregates_delete AFTER DELETE ON activities BEGIN
        {day_old}{week_old}{_refresh_shoe("OLD")}
        END""",
        f"""CREATE TRIGGER activities_aggregates_update AFTER UPDATE OF {COLUMNS} ON activities BEGIN
        {day_old}{week_old}{_refresh_shoe("OLD")}{day_new}{week_new}{_refresh_shoe("NEW")}
        END""",
    ]


def _postgresql_triggers() -> list[str]:
    day_new, day_old = _refresh_day("NEW"), _refresh_day("OLD")
    week_new, week_old = _refresh_week("postgresql", "NEW"), _refresh_week("postgresql", "OLD")
    return [
        f"""CREATE FUNCTION strideguard_aggregates_lock() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            PERFORM pg_advisory_xact_lock({LOCK_CLASS}, OLD.athlete_id);
            RETURN OLD;
          END IF;
          PERFORM pg_advisory_xact_lock({LOCK_CLASS}, NEW.athlete_id);
          IF TG_OP = 'UPDATE' AND OLD.athlete_id <> NEW.athlete_id THEN
            PERFORM pg_advisory_xact_lock({LOCK_CLASS}, OLD.athlete_id);
          END IF;
          RETURN NEW;
        END $$""",
        f"""CREATE FUNCTION strideguard_aggregates() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('DELETE', 'UPDATE') THEN
            {day_old}{week_old}
            IF OLD.shoe_id IS NOT NULL THEN {_refresh_shoe("OLD")} END IF;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {day_new}{week_new}
            IF NEW.shoe_id IS NOT NULL THEN
              IF TG_OP = 'INSERT' THEN {_add_to_shoe("postgresql")} ELSE {_refresh_shoe("NEW")} END IF;
            END IF;
          END IF;
          RETURN NULL;
        END $$""",
        f"""CREATE TRIGGER activities_aggregates_lock BEFORE INSERT OR DELETE OR UPDATE OF {COLUMNS}
        ON activities FOR EACH ROW EXECUTE FUNCTION strideguard_aggregates_lock()""",
        f"""CREATE TRIGGER activities_aggregates AFTER INSERT OR DELETE OR UPDATE OF {COLUMNS} ON activities
        FOR EACH ROW EXECUTE FUNCTION strideguard_aggregates()""",
    ]


def _fill(dialect: str) -> list[str]:
    """Totals of the activities already stored (a database upgraded from an earlier revision)."""
    monday = _monday(dialect, "local_date")
    duration = DURATION.format(t="activities")
    return [
        f"""INSERT INTO activity_days (athlete_id, local_date, sport, activities, distance_m, duration_s,
                                      longest_m, rated, rated_load_au, unrated_duration_s)
        SELECT athlete_id, local_date, sport, count(*), sum(COALESCE(distance_m, 0)), sum({duration}),
               max(COALESCE(distance_m, 0)), sum(CASE WHEN rpe IS NULL THEN 0 ELSE 1 END),
               sum(CASE WHEN rpe IS NULL THEN 0 ELSE rpe * {duration} / 60.0 END),
               sum(CASE WHEN rpe IS NULL THEN {duration} ELSE 0 END)
          FROM activities GROUP BY athlete_id, local_date, sport""",
        f"""INSERT INTO activity_weeks (athlete_id, monday, sport, activities, distance_m, duration_s)
        SELECT athlete_id, {monday}, sport, count(*), sum(COALESCE(distance_m, 0)), sum({duration})
          FROM activities GROUP BY athlete_id, {monday}, sport""",
        """INSERT INTO shoe_totals (shoe_id, athlete_id, activities, distance_m, last_date)
        SELECT shoe_id, max(athlete_id), count(*), sum(COALESCE(distance_m, 0)), max(local_date)
          FROM activities WHERE shoe_id IS NOT NULL GROUP BY shoe_id""",
    ]


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    for statement in _fill(dialect):
        op.execute(statement)
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS activities_aggregates ON activities")
        op.execute("DROP TRIGGER IF EXISTS activities_aggregates_lock ON activities")
        op.execute("DROP FUNCTION IF EXISTS strideguard_aggregates()")
        op.execute("DROP FUNCTION IF EXISTS strideguard_aggregates_lock()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS activities_aggregates_{name}")
    with op.batch_alter_table("shoe_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shoe_totals_athlete_id"))
    op.drop_table("shoe_totals")
    op.drop_table("activity_weeks")
    op.drop_table("activity_days")
