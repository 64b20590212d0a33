"""club indexes: reserved for indexes the club-scale query plans ask for (issue 13)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it


def downgrade() -> None:
    pass
