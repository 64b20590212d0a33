"""sharing audit: what a share shows (level, plain flags) and the account's audit log (issue 14)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:30:00

Shares made before this revision gave the coach the whole log read-only, so they become "everything":
the athlete agreed to that and can narrow it on the sharing page.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import strideguard.storage.tables

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shares") as batch:
        batch.add_column(
            sa.Column("level", sa.String(length=20), nullable=False, server_default="everything")
        )
        batch.add_column(sa.Column("show_flags", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", strideguard.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_user_at", "audit_log", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_user_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("shares") as batch:
        batch.drop_column("show_flags")
        batch.drop_column("level")
