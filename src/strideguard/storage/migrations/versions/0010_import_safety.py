"""import safety: reserved for race-free athlete and shoe creation and import records (issue 11)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it


def downgrade() -> None:
    pass
