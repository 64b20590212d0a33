"""club indexes: was reserved for the indexes the club-scale query plans ask for

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # shipped empty in a released version; it stays empty because databases already stand past it


def downgrade() -> None:
    pass
