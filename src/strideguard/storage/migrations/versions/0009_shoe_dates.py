"""shoe dates: reserved for shoes' in-use dates, automatic shoe assignment and sport confirmation (issue 11)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it


def downgrade() -> None:
    pass
