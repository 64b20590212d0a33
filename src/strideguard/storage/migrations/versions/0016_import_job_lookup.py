"""an index for an upload job's imports (issue 13)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 10:15:00

An upload job's progress page (web/imports.job_status) finds the job's imports among the athlete's imports
begun since the job was queued: `imports (athlete_id, started_at)`. It looked for them by the names of
their items in all of `import_items` before, which read the whole table on every poll (the club
benchmark's EXPLAIN), and that table gains a row for every file anyone imports.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_imports_athlete_started", "imports", ["athlete_id", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_imports_athlete_started", table_name="imports")
