"""sharing audit: reserved for share levels and the audit log (issue 14)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it


def downgrade() -> None:
    pass
