"""Hip and knee triage wizard (the region is chosen on the first page, or by the pain-diary entry the check
starts from): the CLI's interview (`triage.interview.next_step`) as pages - grouped warning-sign
questions ("none of these" / "yes, one or more" / "don't know") and single questions, "don't know" and back
everywhere; the result page leads with the triage level, then red flags, ranked conditions, advice, routines.

The wizard keeps no server state: the page carries its answers so far as JSON ([[step id, value], ...], a
screen's value being its answer), replayed by `triage.regions.settle_region` on every request."""

from __future__ import annotations

import json
import math
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strideguard.storage import pain as pain_store
from strideguard.storage.activities import NotFound
from strideguard.storage.tables import TriageRow
from strideguard.training.pain import pain_trends
from strideguard.triage import from_diary
from strideguard.triage.engine import evaluate
from strideguard.triage.interview import (
    SCREEN_ANSWER_LABELS,
    AnswerError,
    item_choices,
    next_step,
    replay,
)
from strideguard.triage.knowledge import REGION, REGIONS, default_knowledge
from strideguard.triage.knowledge_model import SCREEN_ANSWERS, KnowledgeBase, Question, Screen
from strideguard.triage.regions import settle_region
from strideguard.triage.result import TriageResult
from strideguard.triage.scoring import validate_findings
from strideguard.triage.text import (
    UNCHECKED_INTRO,
    citation_for_runner,
    describe,
    evidence_phrase,
    flag_reasons,
    join_sources,
    sentence,
    unchecked_groups,
)
from strideguard.web.common import (
    DbSession,
    FormFields,
    ReleasingRoute,
    render,
    require_triage,
    require_writable,
    resolve_viewer,
    svg,
)
from strideguard.web.knee_map import knee_map_svg

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)

LEVEL_HEADLINES = {
    "emergency": "Emergency: get help now",
    "urgent": "Urgent: see a doctor within 1–3 days",
    "see_clinician": "See a GP or sports physiotherapist",
    "self_care": "Self-care is reasonable for now",
}
DONT_KNOW = "__dont_know__"
# Honest progress without a total (the interview adapts): the stages in order, and the current one.
STAGES = (
    ("basics", "About you"),
    ("red_flag", "Warning signs"),
    ("detail", "A few questions about the pain"),
)
STAGE_NOTE = "Warning signs first, then a few questions about the pain."
REGION_LABELS = {"hip": "Hip, groin or thigh", "knee": "Knee"}


def region_of(value: str | None) -> str:
    """The region a request names, or the default (hip) for anything else."""
    return value if value in REGIONS else REGION


def parse_answers(text: str, kb: KnowledgeBase) -> list[tuple[str, Any]]:
    """The wizard's hidden history: [[finding or screen id, value], ...] (null = don't know); anything
    malformed is dropped, and so is everything after it (later answers depended on it)."""
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    answers: list[tuple[str, Any]] = []
    for item in data:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            break
        step_id, value = item
        if kb.screen(step_id) is not None:
            if not _screen_value_ok(value, kb):
                break
        elif step_id not in kb.findings or (value is not None and kb.findings[step_id].problem(value)):
            break
        answers.append((step_id, value))
    return answers


def _screen_value_ok(value: Any, kb: KnowledgeBase) -> bool:
    """A screen's recorded answer: one of the three answers, a list of ticked finding ids, or an answer per
    item ({finding id: value or null}) with values that fit their findings."""
    if value in SCREEN_ANSWERS:
        return True
    if isinstance(value, list):
        return all(isinstance(f, str) and f in kb.findings for f in value)
    if isinstance(value, dict):
        return all(
            f in kb.findings and (v is None or kb.findings[f].problem(v) is None) for f, v in value.items()
        )
    return False


def state_of(answers: list[tuple[str, Any]], kb: KnowledgeBase) -> tuple[dict[str, Any], frozenset[str]]:
    """(findings, asked) after replaying the wizard's answers."""
    try:
        return replay(answers, kb)
    except AnswerError as exc:  # parse_answers already checked each entry; keep the message if not
        raise HTTPException(422, f"The wizard lost its place ({exc}); start again.") from None


def settled_state(
    region: str, answers: list[tuple[str, Any]]
) -> tuple[KnowledgeBase, dict[str, Any], frozenset[str]]:
    """(knowledge, findings, asked) of the check the wizard's answers go on with (`regions.settle_region`)."""
    try:
        settled = settle_region(region, answers)
    except AnswerError as exc:
        raise HTTPException(422, f"The wizard lost its place ({exc}); start again.") from None
    return settled.kb, settled.findings, settled.asked


def parse_value(question: Question, kb: KnowledgeBase, text: str) -> tuple[Any, str | None]:
    """The typed or chosen answer as the finding's value, or why it is not one."""
    finding = kb.findings[question.finding]
    if finding.type == "boolean":
        if text in ("yes", "no"):
            return text == "yes", None
        return None, 'Choose "Yes" or "No", or press "Don\'t know".'
    if finding.type == "enum":
        if text in finding.values:
            return text, None
        return None, 'Choose one of the answers, or press "Don\'t know".'
    span = f"{finding.min:g}–{finding.max:g} {finding.unit or ''}".rstrip()
    try:
        number = float(text.strip().replace(",", "."))
        if not math.isfinite(number):
            raise ValueError
    except ValueError:
        return (
            None,
            f'{text!r} is not a number; enter {span}, or press "Don\'t know".',
        )
    value: Any = int(number) if number.is_integer() else number
    problem = finding.problem(value)
    if problem:
        return (
            None,
            f'Enter {span} ({text} is out of range), or press "Don\'t know".',
        )
    return value, None


def screen_answer(screen: Screen, form: dict[str, str], kb: KnowledgeBase) -> tuple[Any, str | None]:
    """A submitted screen page as an answer (triage.interview.answer_screen): the follow-up page's answer per
    item, or a checklist's ticks ("yes" with nothing ticked asks each one in turn), "none" or "dont_know"."""
    action = form.get("action", "")
    if form.get("mode") == "each":
        answers: dict[str, Any] = {}
        for fid in screen.findings:
            raw = form.get(f"item:{fid}", "dont_know")
            choices = {str(v).lower() if isinstance(v, bool) else str(v): v for v, _ in item_choices(fid, kb)}
            key = {"yes": "true", "no": "false"}.get(raw, raw)
            if raw == "dont_know":
                answers[fid] = None
            elif key in choices:
                answers[fid] = choices[key]
            else:
                return None, 'Choose an answer for each line, or "Don\'t know".'
        return answers, None
    if action not in SCREEN_ANSWERS:
        return None, 'Choose "These apply", "None of these" or "Don\'t know".'
    ticked = [f for f in screen.findings if form.get(f"tick:{f}")]
    if action == "yes" and ticked:
        return ticked, None
    return action, None


def form_value(value: Any) -> str:
    """A recorded answer as the form shows it: 'yes'/'no', an enum value, or a number as typed."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def step_context(
    kb: KnowledgeBase, answers: list[tuple[str, Any]], step: Question | Screen
) -> dict[str, Any]:
    """Template variables for one wizard page: a single question or a grouped screen."""
    stage = step.phase if step.phase in dict(STAGES) else "detail"
    common = {
        "region": kb.region,
        "region_name": kb.region.capitalize(),
        "regions": [(r, REGION_LABELS.get(r, r)) for r in REGIONS],
        "answers_json": json.dumps(answers),
        "step": len(answers) + 1,
        "stages": STAGES,
        "stage": stage,
        "stage_note": STAGE_NOTE,
    }
    if isinstance(step, Screen):
        ids = dict.fromkeys(c for item in step.items for c in (*step.citations, *item.citations))
        return {
            **common,
            "template": "triage_screen.html",
            "screen": step,
            "choices": {f: item_choices(f, kb) for f in step.findings},
            "why": join_sources([citation_for_runner(c, kb) for c in ids if c in kb.citations]),
        }
    return {
        **common,
        "template": "triage_question.html",
        "question": step,
        "finding": kb.findings[step.finding],
        "why": join_sources([citation_for_runner(c, kb) for c in step.citations if c in kb.citations]),
    }


def render_step(
    request: Request,
    kb: KnowledgeBase,
    answers: list[tuple[str, Any]],
    step: Question | Screen,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    context = step_context(kb, answers, step)
    template = context.pop("template")
    values = {
        "error": None,
        "typed": "",
        "ticked": [],
        "previous": None,
        "history": [],
        "headlines": LEVEL_HEADLINES,
        "diary_note": None,
        **extra,
        **context,
    }
    return render(request, template, status_code=status_code, **values)


def _diary_start(
    session: Any, athlete_id: int, entry_id: int
) -> tuple[str, list[tuple[str, Any]], str] | None:
    """(region, answers, note) for a check started from one of this athlete's own pain-diary entries."""
    try:
        entry = pain_store.get_pain(session, athlete_id, entry_id)
    except NotFound:
        raise HTTPException(404, f"No pain entry #{entry_id}.") from None
    region = from_diary.triage_region(entry.region)
    if region is None:
        return None
    trend = next(
        (
            t.direction
            for t in pain_trends(pain_store.list_pain(session, athlete_id), entry.day)
            if (t.region, t.side) == (entry.region, entry.side)
        ),
        None,
    )
    answers = from_diary.prefill(entry.region, entry.side, trend)
    note = f"Started from your diary entry of {entry.day.isoformat()}: {entry.label.lower()} ({entry.side})."
    return region, answers, note


@router.get("/triage", response_class=HTMLResponse)
def triage_start(
    request: Request, session: DbSession, region: str = REGION, pain: int | None = None
) -> Response:
    """The first question (basics first, then the warning-sign screen) of the hip or knee check; with
    `pain` (a diary entry id) the entry's region, and what the diary already knows, are filled in."""
    viewer = resolve_viewer(request, session)
    require_triage(viewer)
    answers: list[tuple[str, Any]] = []
    note = None
    if pain is not None:
        started = _diary_start(session, viewer.athlete_id, pain)
        if started is not None:
            region, answers, note = started
    kb, findings, asked = settled_state(region_of(region), answers)
    step = next_step(findings, kb, asked)
    assert step is not None
    rows = session.execute(
        sa.select(TriageRow.id, TriageRow.created_at, TriageRow.triage_level, TriageRow.region)
        .where(TriageRow.athlete_id == viewer.athlete_id)
        .order_by(TriageRow.id.desc())
        .limit(10)
    ).all()
    # Stored in UTC; shown in this computer's time zone, like the dashboard's "today".
    history = [
        (row_id, (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(), level, row_region)
        for row_id, created, level, row_region in rows
    ]
    return render_step(request, kb, answers, step, history=history, diary_note=note)


@router.post("/triage", response_class=HTMLResponse)
def triage_step(request: Request, form: FormFields, session: DbSession) -> Response:
    """Record the answer (or "don't know", or go back) and show the next question or the result."""
    viewer = resolve_viewer(request, session)
    require_triage(viewer)
    kb = default_knowledge(region_of(form.get("region")))
    answers = parse_answers(form.get("answers", "[]"), kb)
    action = form.get("action", "answer")
    revisit: tuple[str, Any] | None = None
    if action == "back":
        revisit = answers[-1] if answers else None
        answers = answers[:-1]
    else:
        current_id = form.get("question", "")
        screen = kb.screen(current_id)
        current = kb.question(current_id)
        if screen is not None:
            state_findings, state_asked = state_of(answers, kb)
            view = next_step(state_findings, kb, state_asked)
            shown = view if isinstance(view, Screen) and view.id == screen.id else screen
            answer, error = screen_answer(shown, form, kb)
            if error is not None:
                raise HTTPException(422, error)
            answers.append((screen.id, answer))
        elif current is None:
            raise HTTPException(422, "The wizard lost its place; start again from the first question.")
        elif action == "dont_know":
            answers.append((current.finding, None))
        else:
            value, error = parse_value(current, kb, form.get("value", ""))
            if error is not None:
                return render_step(
                    request, kb, answers, current, status_code=422, error=error, typed=form.get("value", "")
                )
            answers.append((current.finding, value))
    # "not the knee": the hip check goes on with the answers so far (the CLI and the API settle it alike)
    kb, findings, asked = settled_state(kb.region, answers)
    step = next_step(findings, kb, asked)
    if step is not None:
        if revisit is not None and revisit[0] == step.id:
            # Back: show the answer being revisited, so the runner can keep or change it.
            value = revisit[1]
            if isinstance(step, Screen):
                previous = SCREEN_ANSWER_LABELS.get(value) if isinstance(value, str) else "your ticks"
            else:
                previous = "Don't know" if value is None else None
            ticked = value if isinstance(value, list) else []
            return render_step(
                request, kb, answers, step, typed=form_value(value), previous=previous, ticked=ticked
            )
        return render_step(request, kb, answers, step)
    problems = validate_findings(findings, kb)
    if problems:
        raise HTTPException(422, "; ".join(problems))
    result = evaluate(findings, kb)
    if viewer.read_only:
        return render_result(request, kb, result, None, answers, findings)
    require_writable(viewer)
    row = TriageRow(
        athlete_id=viewer.athlete_id,
        findings=findings,
        triage_level=result.triage_level,
        result=result.to_json(),
        region=kb.region,
    )
    session.add(row)
    session.commit()
    return RedirectResponse(f"/triage/results/{row.id}", status_code=303)


def render_result(
    request: Request,
    kb: KnowledgeBase,
    result: TriageResult,
    row_id: int | None,
    answers: list[tuple[str, Any]] | None = None,
    findings: dict[str, Any] | None = None,
) -> Response:
    sources: list[str] = []

    def cite(ids: tuple[str, ...] | list[str]) -> list[int]:
        numbers = []
        for cid in ids:
            if cid not in kb.citations:
                continue
            if cid not in sources:
                sources.append(cid)
            numbers.append(sources.index(cid) + 1)
        return numbers

    # The banner says the level and why in a few plain lines; the warning signs themselves are listed once,
    # below it, so the banner only counts them (the QA found each message three times on an urgent page).
    banner: list[str] = []
    if result.red_flags:
        n = len(result.red_flags)
        banner.append(f"{n} warning sign{'s' if n > 1 else ''} found: see “Warning signs” below.")
    for reason in result.level_reasons:
        if not reason.source.startswith("red_flag:") and reason.reason not in banner:
            banner.append(reason.reason)
    return render(
        request,
        "triage_result.html",
        result=result,
        region_name=result.region.capitalize(),
        knee_map=_knee_map(result, findings or {}, kb),
        headline=LEVEL_HEADLINES[result.triage_level],
        banner=banner[:3],
        row_id=row_id,
        cite=cite,
        plain=lambda finding_id, value: describe(finding_id, value, kb),
        because=lambda flag_id: sentence(flag_reasons(flag_id, findings or {}, kb)),
        evidence=lambda e: evidence_phrase(e.finding, e.value, e.lr, e.basis, kb),
        source_text=lambda cid: citation_for_runner(cid, kb),
        unchecked=unchecked_groups(result, kb),
        unchecked_intro=UNCHECKED_INTRO,
        sources=sources,
        citations=kb.citations,
        answers_json=json.dumps(answers or []),
    )


def _knee_map(result: TriageResult, findings: dict[str, Any], kb: KnowledgeBase) -> Any:
    """The knee view of where it hurts, for a knee result whose answers name a knee place."""
    location = findings.get("pain_location")
    if result.region != "knee" or location is None:
        return None
    drawing = knee_map_svg(location, describe("pain_location", location, kb).split(": ", 1)[-1])
    return svg(drawing) if drawing else None


@router.get("/triage/results/{row_id}", response_class=HTMLResponse)
def triage_result(row_id: int, request: Request, session: DbSession) -> Response:
    """A saved triage result, recomputed from its findings with the current knowledge."""
    viewer = resolve_viewer(request, session)
    require_triage(viewer)
    row = session.scalar(
        sa.select(TriageRow).where(TriageRow.id == row_id, TriageRow.athlete_id == viewer.athlete_id)
    )
    if row is None:
        raise HTTPException(404, f"No triage result #{row_id}.")
    kb = default_knowledge(region_of(row.region))
    return render_result(request, kb, evaluate(row.findings, kb), row.id, findings=row.findings)
