"""The JSON API under /api (documented at /api/openapi.json). Same library calls as the pages."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.activities.json_shape import activity_json
from strideguard.importing.service import get_import, list_imports
from strideguard.model import SPORTS
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.activities import NotFound
from strideguard.training import pain
from strideguard.triage.engine import evaluate
from strideguard.triage.interview import AnswerError, next_question, next_step, step_json
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.regions import region_for, settle_region
from strideguard.triage.scoring import validate_findings
from strideguard.web import activities as activity_pages
from strideguard.web import dashboard as dashboard_page
from strideguard.web import imports as import_pages
from strideguard.web import queries
from strideguard.web import routines as routine_pages
from strideguard.web import shoes as shoe_pages
from strideguard.web.common import DbSession, ReleasingRoute, require_pain, require_writable, resolve_viewer
from strideguard.web.shared_view import redact_dashboard

router = APIRouter(prefix="/api", route_class=ReleasingRoute)


@router.get("/activities", tags=["activities"])
def api_activities(
    request: Request,
    session: DbSession,
    sport: str | None = Query(None, description=f"One of {', '.join(SPORTS)}"),
    since: date | None = None,
    until: date | None = None,
    q: str | None = Query(None, max_length=200, description="Text in the name, description or file name"),
    sort: str = Query("date", pattern="^(" + "|".join(queries.SORTS) + ")$"),
    order: str = Query("desc", pattern="^(asc|desc)$"),
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    """Activities, filtered, sorted and paginated (the same query as the Activities page)."""
    viewer = resolve_viewer(request, session)
    if sport is not None and sport not in SPORTS:
        raise HTTPException(422, f"unknown sport {sport!r}; expected one of {', '.join(SPORTS)}")
    result = queries.activity_page(
        session,
        viewer.athlete_id,
        sports=frozenset({sport}) if sport else None,
        since=since,
        until=until,
        text=q,
        sort=sort,
        descending=order == "desc",
        page=page,
        per_page=per_page,
    )
    return {
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "distance_m": result.distance_m,
        "duration_s": result.duration_s,
        "unit": viewer.unit,
        "display": {
            "distance": units.distance(result.distance_m, viewer.unit, 0),
            "duration": units.duration(result.duration_s),
        },
        "activities": [activity_json(a, viewer.unit) for a in result.activities],
    }


@router.get("/activities/{activity_id}", tags=["activities"])
def api_activity(
    activity_id: int,
    request: Request,
    session: DbSession,
    streams: bool = Query(False, description="Include the sample streams (can be large)"),
) -> dict[str, Any]:
    """One activity with its laps (and, on request, its streams as arrays; NaN as null)."""
    viewer = resolve_viewer(request, session)
    try:
        activity = store.get_activity(session, viewer.athlete_id, activity_id, with_streams=streams)
    except store.NotFound:
        raise HTTPException(404, f"no activity #{activity_id}") from None
    data = activity_json(activity, viewer.unit)
    data["laps"] = [
        {
            "start_utc": lap.start_utc.isoformat(),
            "distance_m": lap.distance_m,
            "elapsed_time_s": lap.elapsed_time_s,
            "moving_time_s": lap.moving_time_s,
            "avg_heart_rate_bpm": lap.avg_heart_rate_bpm,
            "max_heart_rate_bpm": lap.max_heart_rate_bpm,
            "avg_cadence_spm": lap.avg_cadence_spm,
        }
        for lap in activity.laps
    ]
    if streams and activity.streams is not None:
        data["streams"] = {
            name: [None if v != v else v for v in values.tolist()]
            for name, values in activity.streams.columns().items()
        }
    return data


class ActivityChanges(BaseModel):
    """Editable fields; leave a field out to keep it, send null to clear it."""

    name: str | None = Field(None, max_length=200)
    sport: str | None = None
    rpe: float | None = Field(None, ge=0, le=10, description="How hard it felt, 0-10 (CR-10)")
    feel: str | None = None
    shoe_id: int | None = None


@router.patch("/activities/{activity_id}", tags=["activities"])
def api_edit_activity(
    activity_id: int, changes: ActivityChanges, request: Request, session: DbSession
) -> dict[str, Any]:
    """Change the name, sport, RPE, feel or shoe of an activity."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    values = changes.model_dump(exclude_unset=True)
    problems = []
    if values.get("sport") is not None and values["sport"] not in SPORTS:
        problems.append(f"sport: expected one of {', '.join(SPORTS)}")
    if values.get("feel") is not None and values["feel"] not in activity_pages.FEELS:
        problems.append(f"feel: expected one of {', '.join(activity_pages.FEELS)}")
    if values.get("shoe_id") is not None and values["shoe_id"] not in queries.shoe_names(
        session, viewer.athlete_id
    ):
        problems.append(f"shoe_id: no shoe #{values['shoe_id']}")
    if values.get("sport", "x") is None:
        problems.append("sport: cannot be empty")
    if problems:
        raise HTTPException(422, problems)
    try:
        if "shoe_id" in values:
            values["shoe_auto"] = False  # named by the runner: never moved by a shoe's dates
        sport = values.pop("sport", None)
        if sport is None:  # the usual edit (RPE, feel, shoe): one UPDATE that returns the row it changed,
            # the request's only write (on PostgreSQL it commits by itself: no BEGIN, no COMMIT)
            saved = store.edit_activity(session, viewer.athlete_id, activity_id, alone=True, **values)
        else:  # the runner's word on the sport: its note is cleared and its shoe chosen again
            store.update_activity(session, viewer.athlete_id, activity_id, **values)
            store.set_sport(session, viewer.athlete_id, activity_id, sport)
            # On SQLite the write lock is the whole database's: commit before reading back, so imports do
            # not wait on the read. On PostgreSQL the row lock stops no one: read in the edit's transaction.
            if session.get_bind().dialect.name == "sqlite":
                session.commit()
            saved = store.get_summary(session, viewer.athlete_id, activity_id)
    except store.NotFound:
        raise HTTPException(404, f"no activity #{activity_id}") from None
    session.commit()
    return activity_json(saved, viewer.unit)


@router.get("/dashboard", tags=["dashboard"])
def api_dashboard(request: Request, session: DbSession) -> dict[str, Any]:
    """The dashboard's figures: this week and recent weeks (km), and more as the page shows them."""
    viewer = resolve_viewer(request, session)
    context = dashboard_page.dashboard_context(
        session, viewer.athlete_id, dashboard_page.today_local(), viewer.unit
    )
    return dashboard_page.dashboard_json(redact_dashboard(context, viewer.access))


@router.get("/imports", tags=["imports"])
def api_imports(request: Request, session: DbSession) -> list[dict[str, Any]]:
    """The athlete's imports, newest first."""
    viewer = resolve_viewer(request, session)
    root = str(import_pages.uploads_dir(request).resolve())
    return [_import_json(row, root) for row in list_imports(session, viewer.athlete_id, limit=100)]


def _import_json(row: Any, root: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": import_pages.display_source(row.source, root),
        "kind": row.kind,
        "status": row.status,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "total": row.n_total,
        "imported": row.n_imported,
        "duplicates": row.n_duplicates,
        "skipped": row.n_skipped,
        "failed": row.n_failed,
    }


@router.get("/imports/{import_id}", tags=["imports"])
def api_import(import_id: int, request: Request, session: DbSession) -> dict[str, Any]:
    """One import record with its stored summary (the CLI's `imports ID --json`)."""
    viewer = resolve_viewer(request, session)
    try:
        row = get_import(session, viewer.athlete_id, import_id)
    except store.NotFound:
        raise HTTPException(404, f"no import #{import_id}") from None
    root = str(import_pages.uploads_dir(request).resolve())
    data = _import_json(row, root)
    data["summary"] = import_pages.display_summary(row.summary, root) if row.summary else None
    return data


@router.get("/import-jobs/{job}", tags=["imports"])
def api_import_job(job: str, request: Request, session: DbSession) -> dict[str, Any]:
    """Live progress of a browser upload: done/total files, rate, errors; summaries when finished."""
    viewer = resolve_viewer(request, session)
    status = import_pages.job_status(session, import_pages.uploads_dir(request), job, viewer.athlete_id)
    if status is None:
        raise HTTPException(404, "no such import job")
    return status


# --- shoes and pain -----------------------------------------------------------------------------------------


@router.get("/shoes", tags=["shoes"])
def api_shoes(request: Request, session: DbSession) -> list[dict[str, Any]]:
    """Shoes with their wear (metres, fraction of the retirement distance, alert level) and defaults."""
    viewer = resolve_viewer(request, session)
    return _shoes_json(session, viewer.athlete_id, viewer.unit)


def _shoes_json(session: Session, athlete_id: int, unit: str = "km") -> list[dict[str, Any]]:
    context = shoe_pages.shoes_context(session, athlete_id, unit)
    return [
        {
            "id": w.shoe.id,
            "name": w.shoe.name,
            "brand": w.shoe.brand,
            "model": w.shoe.model,
            "start_distance_m": w.shoe.start_distance_m,
            "distance_m": w.distance_m,
            "retire_at_m": w.shoe.retire_at_m,
            "fraction": round(w.fraction, 4),
            "level": w.level,
            "activities": w.activities,
            "retired": w.shoe.retired,
            "in_use_from": w.shoe.in_use_from.isoformat() if w.shoe.in_use_from else None,
            "in_use_until": w.shoe.in_use_until.isoformat() if w.shoe.in_use_until else None,
            "default_for": context["defaults"].get(w.shoe.id, []),
            "display": {
                "unit": unit,
                "distance": units.distance(w.distance_m, unit, 0),
                "limit": units.distance(w.shoe.retire_at_m, unit, 0),
                "percent": units.percent(w.percent),
            },
        }
        for w in context["active"] + context["retired"]
    ]


class NewShoe(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    brand: str | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=200)
    start_distance_m: float = Field(0.0, ge=0, le=1e8)
    retire_at_m: float = Field(450_000.0, gt=0, le=1e8)
    in_use_from: date | None = None  # None: from its first run, else the day it is added
    in_use_until: date | None = None


@router.post("/shoes", tags=["shoes"], status_code=201)
def api_add_shoe(shoe: NewShoe, request: Request, session: DbSession) -> dict[str, Any]:
    """Add a shoe."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    try:
        added = shoe_store.add_shoe(session, viewer.athlete_id, **shoe.model_dump())
    except shoe_store.ShoeInputError as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    return {"id": added.id, "name": added.name}


class ShoeChanges(BaseModel):
    """Editable shoe fields in metres; leave a field out to keep it. `retired` retires or restores."""

    name: str | None = Field(None, min_length=1, max_length=200)
    brand: str | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=200)
    start_distance_m: float | None = Field(None, ge=0, le=1e8)
    retire_at_m: float | None = Field(None, gt=0, le=1e8)
    retired: bool | None = None
    in_use_from: date | None = None  # null: from its first run
    in_use_until: date | None = None  # null: until it is retired


@router.patch("/shoes/{shoe_id}", tags=["shoes"])
def api_edit_shoe(shoe_id: int, changes: ShoeChanges, request: Request, session: DbSession) -> dict[str, Any]:
    """Change a shoe's name, brand, model, start or retirement distance, in-use dates, or retire/restore
    it. New dates move only the runs StrideGuard put on a shoe by date."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    values = changes.model_dump(exclude_unset=True)
    try:
        shoe = shoe_store.get_shoe(session, viewer.athlete_id, shoe_id)
        if {"name", "brand", "model", "start_distance_m", "retire_at_m"} & values.keys():
            shoe_store.update_shoe(
                session,
                viewer.athlete_id,
                shoe_id,
                name=values.get("name") or shoe.name,
                brand=values["brand"] if "brand" in values else shoe.brand,
                model=values["model"] if "model" in values else shoe.model,
                start_distance_m=values.get("start_distance_m", shoe.start_distance_m),
                retire_at_m=values.get("retire_at_m", shoe.retire_at_m),
            )
        if {"in_use_from", "in_use_until"} & values.keys():
            shoe_store.set_dates(
                session,
                viewer.athlete_id,
                shoe_id,
                values.get("in_use_from", shoe_store.KEEP),
                values.get("in_use_until", shoe_store.KEEP),
            )
        if values.get("retired") is True and not shoe.retired:
            shoe_store.retire(session, viewer.athlete_id, shoe_id)
        elif values.get("retired") is False and shoe.retired:
            shoe_store.restore(session, viewer.athlete_id, shoe_id)
    except NotFound:
        raise HTTPException(404, f"no shoe #{shoe_id}") from None
    except shoe_store.ShoeInputError as exc:
        session.rollback()
        raise HTTPException(422, str(exc)) from None
    session.commit()
    return next(s for s in _shoes_json(session, viewer.athlete_id, viewer.unit) if s["id"] == shoe_id)


@router.get("/pain", tags=["pain"])
def api_pain(
    request: Request,
    session: DbSession,
    since: date | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """Pain-diary entries, oldest first (403 to a coach the athlete shared "training only" with)."""
    viewer = resolve_viewer(request, session)
    require_pain(viewer)
    return [
        _pain_json(e) for e in pain_store.list_pain(session, viewer.athlete_id, since=since, region=region)
    ]


def _pain_json(e: pain.PainEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "date": e.day.isoformat(),
        "region": e.region,
        "side": e.side,
        "score": e.score,
        "timing": e.timing,
        "activity_id": e.activity_id,
        "note": e.note,
    }


class NewPain(BaseModel):
    date: date
    region: str = Field(..., description="A region id from strideguard.pain.REGIONS")
    side: str = Field(..., description="left, right or both")
    score: int = Field(..., ge=0, le=10)
    timing: str = Field(..., description="before, during, after or next-morning")
    activity_id: int | None = None
    note: str | None = Field(None, max_length=2000)


@router.post("/pain", tags=["pain"], status_code=201)
def api_add_pain(entry: NewPain, request: Request, session: DbSession) -> dict[str, Any]:
    """Log a pain entry."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    try:
        saved = pain_store.add_pain(
            session,
            viewer.athlete_id,
            pain.PainEntry(
                entry.date, entry.region, entry.side, entry.score, entry.timing, entry.activity_id, entry.note
            ),
        )
    except pain.PainInputError as exc:
        raise HTTPException(422, str(exc)) from None
    except store.NotFound as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    return _pain_json(saved)


# --- triage and routines ------------------------------------------------------------------------------------


Region = Literal["hip", "knee"]
REGION_FIELD = Field("hip", description="The body region checked: hip (the default) or knee")


class TriageInput(BaseModel):
    """The triage contract's input (docs/triage.md): findings by id; absent means unknown."""

    findings: dict[str, Any]
    region: Region = REGION_FIELD


class NextQuestionInput(BaseModel):
    findings: dict[str, Any] = Field(default_factory=dict)
    asked: list[str] = Field(default_factory=list, description="Finding ids already asked (incl. don't know)")
    region: Region = REGION_FIELD


class InterviewInput(BaseModel):
    region: Region = REGION_FIELD
    answers: list[tuple[str, Any]] = Field(
        default_factory=list,
        description='Answers so far, in order: [[question or screen id, value], ...]; null = "don\'t know"; '
        'a checklist screen takes the list of ticked finding ids, "none" or "dont_know"; its follow-up '
        '(mode "each") an object {finding id: value or null}',
    )


@router.post("/triage/interview", tags=["triage"])
def api_triage_interview(body: InterviewInput) -> dict[str, Any]:
    """The wizard's interview: replay the answers, then the next step (a question or a grouped screen of
    warning signs), or null and the result when the interview is done."""
    try:  # a knee check whose pain is in the groin, outer hip or buttock goes on as the hip's
        settled = settle_region(body.region, body.answers)
    except AnswerError as exc:
        raise HTTPException(422, str(exc)) from None
    kb, findings, asked = settled.kb, settled.findings, settled.asked
    step = next_step(findings, kb, asked)
    return {
        "region": kb.region,
        "findings": findings,
        "asked": sorted(asked),
        "step": step_json(step, kb) if step is not None else None,
        "result": evaluate(findings, kb).to_json() if step is None else None,
    }


@router.post("/triage", tags=["triage"])
def api_triage(body: TriageInput) -> dict[str, Any]:
    """Evaluate findings: triage level, red flags, ranked conditions with evidence, advice, routines. As in
    the interview, a knee check whose pain is in the groin, outer hip or buttock is scored as the hip's (the
    result's `region` says which check scored it)."""
    kb = default_knowledge(region_for(body.region, body.findings))
    problems = validate_findings(body.findings, kb)
    if problems:
        raise HTTPException(422, problems)
    return evaluate(body.findings, kb).to_json()


@router.post("/triage/next", tags=["triage"])
def api_triage_next(body: NextQuestionInput) -> dict[str, Any]:
    """The next question, one finding at a time (a warning-sign screen is asked item by item), or null when
    done; `region` names the check it belongs to (a knee check whose pain is in the groin, outer hip or
    buttock goes on as the hip's, as in the wizard). `/api/triage/interview` asks exactly what the wizard
    asks, screens included."""
    problems = validate_findings(body.findings, default_knowledge(body.region))
    if problems:
        raise HTTPException(422, problems)
    try:  # the findings are the answers so far: they must fit the check that goes on, as in the wizard
        kb = settle_region(body.region, list(body.findings.items())).kb
    except AnswerError as exc:
        raise HTTPException(422, [str(exc)]) from None
    question = next_question(body.findings, kb, frozenset(body.asked))
    if question is None:
        return {"region": kb.region, "question": None}
    finding = kb.findings[question.finding]
    return {
        "region": kb.region,
        "question": {
            "finding": question.finding,
            "phase": question.phase,
            "text": question.text,
            "type": finding.type,
            "choices": [{"value": v, "label": label} for v, label in question.choices],
            "min": finding.min,
            "max": finding.max,
            "unit": finding.unit,
        },
    }


@router.get("/routines", tags=["routines"])
def api_routines() -> list[dict[str, Any]]:
    """Every routine (id, name, kind, length)."""
    return [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "total_duration_s": r.total_duration_s,
            "summary": r.summary,
        }
        for r in sorted(routine_pages.all_routines().values(), key=lambda r: r.id)
    ]


@router.get("/routines/{routine_id}", tags=["routines"])
def api_routine(routine_id: str) -> dict[str, Any]:
    """One routine with its steps and timeline (what the player plays)."""
    return routine_pages.routine_json(routine_id)
