"""The coach's roster: every athlete who shares with this user, who needs attention first.

Per athlete: running distance of the last 7 days against the mean week of the 4 weeks before, the active
warnings (a long-run spike, a weekly ramp, pain over limits, an urgent hip check), shoes due, the last run.
Volumes, shoes and the last run come from the totals the database keeps (storage/aggregates.py); the
warnings from the last RUNS_DAYS days of single runs (summaries only, no samples) and pain entries, so the
page reads a few hundred small rows per athlete whatever the length of their history.

What a warning says follows the athlete's share (storage/sharing.py): pain and hip-check warnings appear as
plain flags without region, score or result unless the athlete shared that, and not at all when they
turned the plain flags off; a hidden warning never moves the athlete up the list either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.model import RUNNING_SPORTS
from strideguard.storage import activities as store
from strideguard.storage import aggregates, sharing
from strideguard.storage import pain as pain_store
from strideguard.storage import triage as triage_store
from strideguard.training import risk
from strideguard.web.common import (
    DbSession,
    ReleasingRoute,
    render,
    require_server_mode,
    resolve_viewer,
    view_athlete_response,
)
from strideguard.web.dashboard import today_local

router = APIRouter(include_in_schema=True, route_class=ReleasingRoute)

# Runs read one by one for the warnings: the 7 days shown, the 30 days a spike is compared with, and the
# two baseline weeks of the weekly ramp, with room to spare.
RUNS_DAYS = 45
PAIN_DAYS = 35
# How much each warning moves an athlete up the list (most urgent first).
WEIGHT = {
    "urgent_hip_check": 1000,
    "pain": 500,
    "spike": 100,
    "ramp": 50,
    "shoe_replace": 10,
    "shoe_check": 5,
}
TITLES = {
    "urgent_hip_check": "Urgent hip or knee check",
    "pain": "Pain over limits",
    "spike": "Long-run spike",
    "ramp": "Weekly ramp",
}


@dataclass(slots=True)
class Warning:
    kind: str  # urgent_hip_check | pain | spike | ramp
    title: str
    day: date
    detail: str | None = None  # only when the athlete shared that part (pain diary / hip checks)


@dataclass(slots=True)
class RosterRow:
    athlete_id: int
    name: str
    level: str
    last7_m: float
    avg4w_m: float
    last_run: date | None
    warnings: list[Warning] = field(default_factory=list)
    shoes_due: list[tuple[str, str]] = field(default_factory=list)  # (shoe name, check | replace)
    score: int = 0

    @property
    def change_pct(self) -> float | None:
        return None if self.avg4w_m <= 0 else 100.0 * (self.last7_m - self.avg4w_m) / self.avg4w_m


def roster_row(
    session: Session, athlete_id: int, name: str, access: sharing.Access, today: date, unit: str = "km"
) -> RosterRow:
    rules = risk.default_rules()
    days = aggregates.day_loads(session, athlete_id, today - timedelta(days=34), today)
    last7 = sum(d.distance_m for d in days if (today - d.day).days < 7)
    before = sum(d.distance_m for d in days if 7 <= (today - d.day).days < 35)
    wears = aggregates.shoes_with_wear(
        session,
        athlete_id,
        include_retired=False,
        check_at=rules.number("shoe_retirement", "check_at_fraction"),
        replace_at=rules.number("shoe_retirement", "replace_at_fraction"),
    )
    latest = store.list_activities(session, athlete_id, until=today, sports=RUNNING_SPORTS, limit=1)
    row = RosterRow(
        athlete_id,
        name,
        access.level or "owner",
        last7,
        before / 4,
        latest[0].local_date if latest else None,
        shoes_due=[(w.shoe.name, w.level) for w in wears if w.level in ("check", "replace")],
    )
    runs = store.list_activities(
        session, athlete_id, since=today - timedelta(days=RUNS_DAYS), until=today, newest_first=False
    )
    pain_entries = (
        pain_store.list_pain(session, athlete_id, since=today - timedelta(days=PAIN_DAYS), until=today)
        if access.flags
        else []
    )
    flags = risk.evaluate(runs, today, pain=pain_entries, rules=rules, unit=unit, wears=[])
    for f in flags:
        if f.rule == "session_spike" and f.category:
            row.warnings.append(Warning("spike", f.title or TITLES["spike"], f.day, f.message))
        elif f.rule == "weekly_increase":
            row.warnings.append(Warning("ramp", f.title or TITLES["ramp"], f.day, f.message))
    pain_flags = risk.active_pain_flags(flags, today, rules)
    if pain_flags and access.flags:
        newest = max(pain_flags, key=lambda f: f.day)
        row.warnings.insert(
            0, Warning("pain", TITLES["pain"], newest.day, newest.message if access.pain else None)
        )
    if access.flags:
        urgent = risk.recent_urgent_check(triage_store.latest_triage(session, athlete_id, until=today), today)
        if urgent is not None:
            detail = "A hip check advised seeing a clinician soon." if access.triage else None
            row.warnings.insert(0, Warning("urgent_hip_check", TITLES["urgent_hip_check"], urgent, detail))
    kinds = {w.kind for w in row.warnings}
    row.score = sum(WEIGHT[k] for k in kinds) + sum(WEIGHT[f"shoe_{lv}"] for _, lv in row.shoes_due)
    return row


def roster(session: Session, user_id: int, today: date, unit: str = "km") -> list[RosterRow]:
    """Every athlete sharing with `user_id`: most warnings first, then the biggest rise against their
    4-week mean, then by name."""
    rows = [
        roster_row(session, athlete_id, name, access, today, unit)
        for athlete_id, name, access in sharing.shared_with(session, user_id)
    ]
    rows.sort(key=lambda r: (-r.score, -(r.change_pct if r.change_pct is not None else -1e9), r.name.lower()))
    return rows


def row_json(row: RosterRow, unit: str) -> dict[str, Any]:
    return {
        "athlete_id": row.athlete_id,
        "name": row.name,
        "share_level": row.level,
        "last_7_days_m": round(row.last7_m, 1),
        "four_week_mean_m": round(row.avg4w_m, 1),
        "change_pct": None if row.change_pct is None else round(row.change_pct, 1),
        "last_run_date": None if row.last_run is None else row.last_run.isoformat(),
        "warnings": [
            {"kind": w.kind, "title": w.title, "date": w.day.isoformat(), "detail": w.detail}
            for w in row.warnings
        ],
        "shoes_due": [{"name": n, "level": lv} for n, lv in row.shoes_due],
        "attention": row.score,
        "dashboard": f"/coach/athletes/{row.athlete_id}",
        "display": {
            "last_7_days": units.distance(row.last7_m, unit),
            "four_week_mean": units.distance(row.avg4w_m, unit),
        },
    }


@router.get("/coach", response_class=HTMLResponse, include_in_schema=False)
def roster_page(request: Request, session: DbSession) -> Response:
    """The roster of athletes who share with you, who needs attention first."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    today = today_local()
    rows = roster(session, viewer.user_id or 0, today, viewer.unit)
    return render(request, "roster.html", rows=rows, today=today, levels=sharing.LEVELS)


@router.get("/api/roster", tags=["sharing"])
def api_roster(request: Request, session: DbSession) -> dict[str, Any]:
    """The roster as JSON: distances in metres, `display` in the viewer's unit; most urgent first."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    today = today_local()
    rows = roster(session, viewer.user_id or 0, today, viewer.unit)
    return {
        "today": today.isoformat(),
        "unit": viewer.unit,
        "athletes": [row_json(r, viewer.unit) for r in rows],
    }


@router.get("/coach/athletes/{athlete_id}", include_in_schema=False)
def open_athlete(athlete_id: int, request: Request, session: DbSession) -> Response:
    """Open a shared athlete's read-only dashboard (switches the athlete viewed, as the header's menu)."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    if not any(a == athlete_id for a, _ in viewer.athletes[1:]):
        raise HTTPException(404, "No athlete shares their log with you under that number.")
    return view_athlete_response(request, athlete_id)
