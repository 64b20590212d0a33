"""import jobs: the queue of browser uploads run by import workers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:36:24.619179
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import strideguard.storage.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("sports", sa.JSON(), nullable=True),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", strideguard.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", strideguard.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", strideguard.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", strideguard.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_import_jobs_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_jobs_athlete_id"), ["athlete_id"], unique=False)
        batch_op.create_index("ix_import_jobs_status_created", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_import_jobs_status_created")
        batch_op.drop_index(batch_op.f("ix_import_jobs_athlete_id"))

    op.drop_table("import_jobs")
