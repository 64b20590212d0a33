"""Saved triage checks (hip or knee; triage sessions) as the rest of the app needs them."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage.tables import TriageRow


def latest_triage(
    session: Session, athlete_id: int, until: date | None = None
) -> tuple[date, str, str] | None:
    """(local date, triage level, region) of the athlete's latest saved check (hip or knee) on or before
    `until`, or None."""
    rows = session.execute(
        sa.select(TriageRow.created_at, TriageRow.triage_level, TriageRow.region)
        .where(TriageRow.athlete_id == athlete_id)
        .order_by(TriageRow.created_at.desc(), TriageRow.id.desc())
        .limit(20)
    ).all()
    for created_at, level, region in rows:
        day = created_at.astimezone().date()  # the runner's local day, as the rest of the app shows it
        if until is None or day <= until:
            return day, level, region
    return None


def list_triage(session: Session, athlete_id: int, limit: int = 20) -> list[dict[str, object]]:
    """The athlete's saved checks, newest first: id, local time, region, level, and the leading condition."""
    rows = session.execute(
        sa.select(
            TriageRow.id, TriageRow.created_at, TriageRow.triage_level, TriageRow.result, TriageRow.region
        )
        .where(TriageRow.athlete_id == athlete_id)
        .order_by(TriageRow.created_at.desc(), TriageRow.id.desc())
        .limit(limit)
    ).all()
    out: list[dict[str, object]] = []
    for row_id, created_at, level, result, region in rows:
        conditions = (result or {}).get("conditions") or []
        out.append(
            {
                "id": row_id,
                "time": created_at.astimezone().isoformat(timespec="minutes"),
                "region": region,
                "triage_level": level,
                "top_condition": conditions[0].get("name") if conditions else None,
                "red_flags": len((result or {}).get("red_flags") or []),
            }
        )
    return out
