"""display units: a per-athlete setting, kilometres or miles

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import strideguard.storage.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "athlete_settings",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("distance_unit", sa.String(length=2), nullable=True),
        sa.Column("updated_at", strideguard.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_athlete_settings_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("athlete_id", name=op.f("pk_athlete_settings")),
    )


def downgrade() -> None:
    op.drop_table("athlete_settings")
