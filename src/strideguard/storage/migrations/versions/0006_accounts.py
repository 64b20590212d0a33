"""accounts: was reserved for server-side sessions, login throttling, invites and the audit log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # shipped empty in a released version; it stays empty because databases already stand past it


def downgrade() -> None:
    pass
