"""imports: was reserved for import, shoe-date and sport-confirmation changes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # shipped empty in a released version; it stays empty because databases already stand past it


def downgrade() -> None:
    pass
