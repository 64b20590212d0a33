"""import safety: race-free athlete and shoe creation (issue 11)

Two imports starting at once on a new database could each create the local athlete (the runs saved under
the second were hidden), and two imports naming the same gear could each create the shoe. The local athlete
now carries a unique `local_key` and active shoes a unique (athlete, name), so creation is insert-or-get.

Databases hit by the race are repaired first: every local athlete's rows move to the oldest one (the
aggregate triggers follow the moved activities), and active shoes of one name are merged into the oldest
(their activities and defaults move to it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Tables whose rows belong to an athlete and can simply move to another one.
_MOVABLE = ("activities", "shoes", "imports", "import_jobs", "pain_entries", "triage_sessions")
# Per-athlete rows that stay with the athlete removed (the aggregates follow the moved activities by trigger).
_LEFT_BEHIND = (
    "shoe_defaults",
    "athlete_settings",
    "shares",
    "shoe_totals",
    "activity_days",
    "activity_weeks",
)


def _merge_local_athletes(bind: sa.Connection) -> None:
    ids = [
        row[0] for row in bind.execute(sa.text("SELECT id FROM athletes WHERE user_id IS NULL ORDER BY id"))
    ]
    if len(ids) < 2:
        return
    keeper, others = ids[0], ids[1:]
    for other in others:
        for table in _MOVABLE:
            bind.execute(
                sa.text(f"UPDATE {table} SET athlete_id = :keeper WHERE athlete_id = :other"),
                {"keeper": keeper, "other": other},
            )
        # Defaults and settings are per athlete: the oldest athlete's win; the rest go with the athlete
        # (deleted by name: SQLite runs migrations with foreign keys off, so nothing cascades).
        for table in _LEFT_BEHIND:
            bind.execute(sa.text(f"DELETE FROM {table} WHERE athlete_id = :other"), {"other": other})
        bind.execute(sa.text("DELETE FROM athletes WHERE id = :other"), {"other": other})


def _merge_duplicate_shoes(bind: sa.Connection) -> None:
    groups = bind.execute(
        sa.text(
            "SELECT athlete_id, name FROM shoes WHERE retired_at IS NULL "
            "GROUP BY athlete_id, name HAVING count(*) > 1"
        )
    ).all()
    for athlete_id, name in groups:
        ids = [
            row[0]
            for row in bind.execute(
                sa.text(
                    "SELECT id FROM shoes WHERE athlete_id = :a AND name = :n AND retired_at IS NULL "
                    "ORDER BY id"
                ),
                {"a": athlete_id, "n": name},
            )
        ]
        keeper = ids[0]
        for other in ids[1:]:
            params = {"keeper": keeper, "other": other}
            bind.execute(sa.text("UPDATE activities SET shoe_id = :keeper WHERE shoe_id = :other"), params)
            bind.execute(sa.text("UPDATE shoe_defaults SET shoe_id = :keeper WHERE shoe_id = :other"), params)
            bind.execute(sa.text("DELETE FROM shoe_totals WHERE shoe_id = :other"), {"other": other})
            bind.execute(sa.text("DELETE FROM shoes WHERE id = :other"), {"other": other})


def upgrade() -> None:
    bind = op.get_bind()
    _merge_local_athletes(bind)
    _merge_duplicate_shoes(bind)
    # A plain ADD COLUMN and indexes: no table copy (SQLite's batch mode would drop `athletes`, and with
    # foreign keys on that deletes every row hanging off it).
    op.add_column("athletes", sa.Column("local_key", sa.String(length=20), nullable=True))
    op.create_index("uq_athletes_local_key", "athletes", ["local_key"], unique=True)
    bind.execute(
        sa.text(
            "UPDATE athletes SET local_key = 'local' WHERE id = "
            "(SELECT min(id) FROM athletes WHERE user_id IS NULL)"
        )
    )
    op.create_index(
        "uq_shoes_athlete_active_name",
        "shoes",
        ["athlete_id", "name"],
        unique=True,
        sqlite_where=sa.text("retired_at IS NULL"),
        postgresql_where=sa.text("retired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_shoes_athlete_active_name", table_name="shoes")
    op.drop_index("uq_athletes_local_key", table_name="athletes")
    op.execute("ALTER TABLE athletes DROP COLUMN local_key")  # SQLite >= 3.35 and PostgreSQL: no copy
