"""Per-athlete display settings in the database: kilometres or miles. Athlete-scoped.

Functions take an open Session and never commit (the caller owns the transaction), like activities.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.storage.tables import AthleteSettingsRow


def stored_unit(session: Session, athlete_id: int) -> str | None:
    """The athlete's chosen unit ('km' or 'mi'), or None when they never chose (the locale decides)."""
    value = session.scalar(
        sa.select(AthleteSettingsRow.distance_unit).where(AthleteSettingsRow.athlete_id == athlete_id)
    )
    return value if value in units.UNITS else None


def distance_unit(session: Session, athlete_id: int, default: str | None = None) -> str:
    """The unit every screen shows this athlete: the stored choice, else `default`, else the locale's."""
    return stored_unit(session, athlete_id) or default or units.default_unit()


def set_distance_unit(session: Session, athlete_id: int, unit: str | None) -> None:
    """Store 'km' or 'mi' for the athlete; None goes back to the locale's default."""
    value = None if unit is None else units.check_unit(unit)
    row = session.get(AthleteSettingsRow, athlete_id)
    if row is None:
        session.add(AthleteSettingsRow(athlete_id=athlete_id, distance_unit=value))
    else:
        row.distance_unit = value
    session.flush()
