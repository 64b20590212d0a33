"""triage region: reserved for the body region of saved checks, for the knee (issue 15)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it


def downgrade() -> None:
    pass
