"""aggregates: reserved for per-shoe, per-week and load aggregates kept by the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved: filled by the work that needs it (see docs/architecture.md, storage)


def downgrade() -> None:
    pass
