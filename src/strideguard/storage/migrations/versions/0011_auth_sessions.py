"""auth sessions: server-side sessions, login throttling, invites, coach and disabled flags (issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:30:00

The old signed cookies carry no session row, so everyone logs in once more after this upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import strideguard.storage.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_DT = strideguard.storage.tables.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_coach", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DT(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTC_DT(timezone=True), nullable=False),
        sa.Column("expires_at", UTC_DT(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_auth_sessions_token_sha256")),
    )
    op.create_index(op.f("ix_auth_sessions_user_id"), "auth_sessions", ["user_id"])
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTC_DT(timezone=True), nullable=False),
        sa.Column("blocked_until", UTC_DT(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DT(timezone=True), nullable=False),
        sa.Column("expires_at", UTC_DT(timezone=True), nullable=False),
        sa.Column("used_at", UTC_DT(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_invites_created_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_invites_token_sha256")),
    )
    op.create_index(op.f("ix_invites_created_by"), "invites", ["created_by"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invites_created_by"), table_name="invites")
    op.drop_table("invites")
    op.drop_table("login_throttles")
    op.drop_index(op.f("ix_auth_sessions_user_id"), table_name="auth_sessions")
    op.drop_table("auth_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("is_coach")
