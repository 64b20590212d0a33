"""triage region: the body region of each saved check (hip or knee; issue 15). Existing checks are hip.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every check saved before the knee existed was a hip check; the server default fills them in
    with op.batch_alter_table("triage_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=10), nullable=False, server_default="hip"))


def downgrade() -> None:
    with op.batch_alter_table("triage_sessions", schema=None) as batch_op:
        batch_op.drop_column("region")
