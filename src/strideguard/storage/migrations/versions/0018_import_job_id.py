"""imports name the upload job that ran them (issue 13)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 16:40:00

An upload job's progress page (web/imports.job_status) found the job's imports among all the athlete's
imports begun since five minutes before the job was queued, then their items by the job's folder: a cost
that grew with everything the runner had uploaded lately (a club member's uploads one after another made
each poll read all of them). Each import now records the job it ran for, and the page reads them by that
index. Imports from before this revision have none; the page still finds those the old way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("job_id", sa.String(length=64), nullable=True))
    op.create_index("ix_imports_job_id", "imports", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_imports_job_id", table_name="imports")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("job_id")
