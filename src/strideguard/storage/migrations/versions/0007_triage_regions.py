"""triage regions: was reserved for the body region of saved checks (knee)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # shipped empty in a released version; it stays empty because databases already stand past it


def downgrade() -> None:
    pass
