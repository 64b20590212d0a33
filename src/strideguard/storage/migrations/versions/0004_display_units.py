"""display units: reserved for per-athlete settings (km or miles)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it (see docs/architecture.md, storage)


def downgrade() -> None:
    pass
