"""auth sessions: reserved for server-side sessions, login throttling and invites (issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it


def downgrade() -> None:
    pass
