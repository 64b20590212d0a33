"""Hip-pain triage wizard: adaptive questions (the CLI's `next_question`), "don't know" and back everywhere;
the result page leads with the triage level, then red flags, ranked conditions, advice and routines."""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strideguard.db import TriageRow
from strideguard.knowledge import KnowledgeBase, Question, default_knowledge
from strideguard.triage import TriageResult, evaluate, next_question, validate_findings
from strideguard.web.common import (
    DbSession,
    FormFields,
    render,
    require_writable,
    resolve_viewer,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

LEVEL_HEADLINES = {
    "emergency": "Emergency: get help now",
    "urgent": "Urgent: stop running and see a doctor within 1–3 days",
    "see_clinician": "See a GP or sports physiotherapist",
    "self_care": "Self-care is reasonable for now",
}
DONT_KNOW = "__dont_know__"


def parse_answers(text: str, kb: KnowledgeBase) -> list[tuple[str, Any]]:
    """The wizard's hidden history: [[finding, value or null], ...]; anything malformed is dropped."""
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return []
    answers: list[tuple[str, Any]] = []
    if not isinstance(data, list):
        return []
    for item in data:
        if (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and item[0] in kb.findings
            and (item[1] is None or kb.findings[item[0]].problem(item[1]) is None)
        ):
            answers.append((item[0], item[1]))
    return answers


def findings_of(answers: list[tuple[str, Any]]) -> dict[str, Any]:
    return {finding: value for finding, value in answers if value is not None}


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
    try:
        number = float(text.strip().replace(",", "."))
        if not math.isfinite(number):
            raise ValueError
    except ValueError:
        return (
            None,
            f'{text!r} is not a number; enter {finding.min:g}–{finding.max:g} {finding.unit or ""}, or press "Don\'t know".',
        )
    value: Any = int(number) if number.is_integer() else number
    problem = finding.problem(value)
    if problem:
        return (
            None,
            f'Enter {finding.min:g}–{finding.max:g} {finding.unit or ""} ({text} is out of range), or press "Don\'t know".',
        )
    return value, None


def question_context(kb: KnowledgeBase, answers: list[tuple[str, Any]], question: Question) -> dict[str, Any]:
    finding = kb.findings[question.finding]
    return {
        "question": question,
        "finding": finding,
        "answers_json": json.dumps(answers),
        "step": len(answers) + 1,
        "citations": [kb.citations[c] for c in question.citations if c in kb.citations],
    }


@router.get("/triage", response_class=HTMLResponse)
def triage_start(request: Request, session: DbSession) -> Response:
    """The first question (basics first, then the warning-sign screen)."""
    viewer = resolve_viewer(request, session)
    kb = default_knowledge()
    question = next_question({}, kb, frozenset())
    assert question is not None
    history = session.execute(
        sa.select(TriageRow.id, TriageRow.created_at, TriageRow.triage_level)
        .where(TriageRow.athlete_id == viewer.athlete_id)
        .order_by(TriageRow.id.desc())
        .limit(10)
    ).all()
    return render(
        request,
        "triage_question.html",
        error=None,
        typed="",
        history=history,
        headlines=LEVEL_HEADLINES,
        **question_context(kb, [], question),
    )


@router.post("/triage", response_class=HTMLResponse)
def triage_step(request: Request, form: FormFields, session: DbSession) -> Response:
    """Record the answer (or "don't know", or go back) and show the next question or the result."""
    viewer = resolve_viewer(request, session)
    kb = default_knowledge()
    answers = parse_answers(form.get("answers", "[]"), kb)
    action = form.get("action", "answer")
    if action == "back":
        answers = answers[:-1]
    else:
        current = kb.question(form.get("question", ""))
        if current is None:
            raise HTTPException(422, "The wizard lost its place; start again from the first question.")
        if action == "dont_know":
            answers.append((current.finding, None))
        else:
            value, error = parse_value(current, kb, form.get("value", ""))
            if error is not None:
                return render(
                    request,
                    "triage_question.html",
                    status_code=422,
                    error=error,
                    typed=form.get("value", ""),
                    history=[],
                    headlines=LEVEL_HEADLINES,
                    **question_context(kb, answers, current),
                )
            answers.append((current.finding, value))
    findings = findings_of(answers)
    asked = frozenset(f for f, _ in answers)
    question = next_question(findings, kb, asked)
    if question is not None:
        return render(
            request,
            "triage_question.html",
            error=None,
            typed="",
            history=[],
            headlines=LEVEL_HEADLINES,
            **question_context(kb, answers, question),
        )
    problems = validate_findings(findings, kb)
    if problems:
        raise HTTPException(422, "; ".join(problems))
    result = evaluate(findings, kb)
    if viewer.read_only:
        return render_result(request, kb, result, None, answers)
    require_writable(viewer)
    row = TriageRow(
        athlete_id=viewer.athlete_id,
        findings=findings,
        triage_level=result.triage_level,
        result=result.to_json(),
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

    def plain(finding_id: str, value: Any) -> str:
        finding = kb.findings.get(finding_id)
        meaning = finding.meaning.split("(")[0].strip() if finding else finding_id
        if value is True:
            return meaning
        if value is False:
            return f"not: {meaning}"
        return f"{meaning}: {value}"

    return render(
        request,
        "triage_result.html",
        result=result,
        headline=LEVEL_HEADLINES[result.triage_level],
        row_id=row_id,
        cite=cite,
        plain=plain,
        sources=sources,
        citations=kb.citations,
        answers_json=json.dumps(answers or []),
    )


@router.get("/triage/results/{row_id}", response_class=HTMLResponse)
def triage_result(row_id: int, request: Request, session: DbSession) -> Response:
    """A saved triage result, recomputed from its findings with the current knowledge."""
    viewer = resolve_viewer(request, session)
    row = session.scalar(
        sa.select(TriageRow).where(TriageRow.id == row_id, TriageRow.athlete_id == viewer.athlete_id)
    )
    if row is None:
        raise HTTPException(404, f"No triage result #{row_id}.")
    kb = default_knowledge()
    return render_result(request, kb, evaluate(row.findings, kb), row.id)
