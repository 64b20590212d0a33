"""What an athlete shares with another user (a coach), at which level, and the checks every route makes.

Levels, from least to most (docs/web.md, "Sharing"):
- "training": activities, laps, samples, shoes, load and the training warnings (spike, weekly ramp, shoes).
  No pain diary, no hip checks, no pain trend. With `show_flags` the coach still sees two plain flags,
  "pain over limits" and "urgent hip check", without region, score, answers or result: the athlete
  decides, the form offers it ticked because a coach who plans the week should know to hold back.
- "training_pain": the above and the pain diary (entries, trends, pain warnings in full); of the hip checks
  only the plain "urgent hip check" flag.
- "everything": the above and the hip checks in detail (answers and results).
The owner (and local mode) sees everything; `Access.owner` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage.engine import plain_rows
from strideguard.storage.tables import AthleteRow, ShareRow, UserRow

LEVELS: dict[str, str] = {
    "training": "Training only",
    "training_pain": "Training and pain",
    "everything": "Everything (pain diary and hip checks in detail)",
}
LEVEL_DETAIL: dict[str, str] = {
    "training": "activities, laps, routes and samples, shoes, load and training warnings",
    "training_pain": "all of the above and the pain diary, pain trend and pain warnings",
    "everything": "all of the above and your hip checks: answers and results",
}


@dataclass(frozen=True, slots=True)
class Access:
    """What the person looking may see of one athlete: `level` None for the owner."""

    level: str | None = None
    show_flags: bool = True

    @property
    def owner(self) -> bool:
        return self.level is None

    @property
    def pain(self) -> bool:
        return self.level in (None, "training_pain", "everything")

    @property
    def triage(self) -> bool:
        return self.level in (None, "everything")

    @property
    def flags(self) -> bool:
        """The plain "pain over limits" / "urgent hip check" flags (always with pain access)."""
        return self.pain or self.show_flags


OWNER = Access()


@dataclass(frozen=True, slots=True)
class Share:
    id: int
    athlete_id: int
    user_id: int
    email: str
    level: str
    show_flags: bool
    created_at: datetime


def shares_of_athlete(session: Session, athlete_id: int) -> list[Share]:
    """Who sees this athlete's log, and what, oldest share first."""
    rows = session.execute(
        sa.select(ShareRow, UserRow.email)
        .join(UserRow, UserRow.id == ShareRow.user_id)
        .where(ShareRow.athlete_id == athlete_id)
        .order_by(ShareRow.created_at, ShareRow.id)
    ).all()
    return [
        Share(r.id, r.athlete_id, r.user_id, email, r.level, bool(r.show_flags), r.created_at)
        for r, email in rows
    ]


# Built once: every logged-in page runs it (for the athlete switch).
_SHARED_WITH = (
    sa.select(AthleteRow.id, AthleteRow.name, ShareRow.level, ShareRow.show_flags)
    .join(ShareRow, ShareRow.athlete_id == AthleteRow.id)
    .where(ShareRow.user_id == sa.bindparam("user_id"))
    .order_by(AthleteRow.name, AthleteRow.id)
)


def shared_with(session: Session, user_id: int) -> list[tuple[int, str, Access]]:
    """(athlete id, name, access) of every athlete who shares with `user_id`, by name."""
    rows = plain_rows(session, _SHARED_WITH, {"user_id": user_id}).all()
    return [(a, n, Access(lv if lv in LEVELS else "training", bool(f))) for a, n, lv, f in rows]


def add_share(session: Session, athlete_id: int, user_id: int, level: str, show_flags: bool) -> bool:
    """Share at `level`, or change the level of an existing share. True if a new share was made."""
    if level not in LEVELS:
        raise ValueError(f"unknown share level {level!r}; one of {', '.join(LEVELS)}")
    row = session.scalar(
        sa.select(ShareRow).where(ShareRow.athlete_id == athlete_id, ShareRow.user_id == user_id)
    )
    if row is None:
        session.add(ShareRow(athlete_id=athlete_id, user_id=user_id, level=level, show_flags=show_flags))
        session.flush()
        return True
    row.level, row.show_flags = level, show_flags
    session.flush()
    return False


def set_level(session: Session, athlete_id: int, share_id: int, level: str, show_flags: bool) -> Share | None:
    """Change one of this athlete's shares; None if the share is not theirs (nothing changes)."""
    if level not in LEVELS:
        raise ValueError(f"unknown share level {level!r}; one of {', '.join(LEVELS)}")
    row = session.scalar(
        sa.select(ShareRow).where(ShareRow.id == share_id, ShareRow.athlete_id == athlete_id)
    )
    if row is None:
        return None
    row.level, row.show_flags = level, show_flags
    session.flush()
    return next(s for s in shares_of_athlete(session, athlete_id) if s.id == share_id)


def revoke(session: Session, athlete_id: int, share_id: int) -> str | None:
    """Remove one of this athlete's shares at once; the email it was with, or None if it is not theirs."""
    share = next((s for s in shares_of_athlete(session, athlete_id) if s.id == share_id), None)
    if share is None:
        return None
    session.execute(sa.delete(ShareRow).where(ShareRow.id == share_id, ShareRow.athlete_id == athlete_id))
    session.flush()
    return share.email
