"""the original file of each imported activity (issue 14, "data the runner owns")

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:45:00

`source_files`: the FIT, GPX or TCX an activity was imported from, as read (after unpacking .gz or a ZIP
member), zlib-compressed (activities/originals.py), one row per activity, deleted with it. The export
writes these bytes back (originals/), and restoring the export puts them back here. Activities imported
before this revision have none: their export still carries a FIT written from the stored data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_files",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_source_files_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_source_files")),
    )


def downgrade() -> None:
    op.drop_table("source_files")
