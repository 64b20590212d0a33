"""shoe dates: shoes' in-use dates, automatic shoe assignment and sport notes (issue 11)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:30:00

- shoes.in_use_from / in_use_until: the dates a pair was in use (NULL: from its first run, or the day it
  was added; until its retirement, or still in use). A run gets the shoe in use on its date.
- activities.shoe_auto: the shoe (or no shoe) was chosen by StrideGuard, not named by an export or the
  runner; changing a shoe's dates re-assigns only these. Runs stored before this revision keep their shoe
  (counted as chosen by the runner); runs without a shoe count as chosen automatically.
- activities.sport_note: why the sport was inferred (e.g. "cycling speeds"), until the runner confirms it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shoes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_use_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("in_use_until", sa.Date(), nullable=True))
    # Plain ADD COLUMN (no batch copy): the aggregate triggers on `activities` stay as they are.
    op.add_column(
        "activities",
        sa.Column("shoe_auto", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("activities", sa.Column("sport_note", sa.Text(), nullable=True))
    op.execute("UPDATE activities SET shoe_auto = TRUE WHERE shoe_id IS NULL")


def downgrade() -> None:
    op.drop_column("activities", "sport_note")
    op.drop_column("activities", "shoe_auto")
    with op.batch_alter_table("shoes", schema=None) as batch_op:
        batch_op.drop_column("in_use_until")
        batch_op.drop_column("in_use_from")
