"""The hip or knee check as a runner takes it: `python bench/triage_interview.py DIR [DIR ...] [-v] [--json]`.

Each folder is run with its own region's knowledge (found from its cases, or `--region hip|knee`), so the hip
and knee benchmarks run side by side: `python bench/triage_interview.py ../shared/clinical/vignettes
../shared/clinical/knee/vignettes tests/cases tests/cases/knee`.

A simulated honest patient answers the real interview (`triage.interview.next_step`, the steps the CLI, the
web wizard and `POST /api/triage/interview` all ask) from each case file (the vignette format:
{"findings": {...}, "expected_primary": id, "expected_triage": level}), in two modes:

* denied      - what the case states, and "no" to every yes/no symptom it does not mention (a choice or a
                number it does not give is "don't know"; a warning-sign group with nothing that applies is
                "none of these");
* dont_know   - what the case states, and "don't know" to everything else.

Next to both it prints the findings path (`evaluate(case findings)`, what `triage --findings` does) on the
same cases: expected condition first / in the top 3, under-triage by expected level (and how many of those
are one level too low), self-care cases sent on to a clinician, questions asked (median / max), and the
warning signs never asked (cases that end with a red flag neither fired nor ruled out because a finding it
needs was never asked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strideguard.triage import interview as iv
from strideguard.triage.engine import evaluate
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import LEVEL_RANK, LEVELS, KnowledgeBase, Screen
from strideguard.triage.scoring import validate_findings

MODES = ("denied", "dont_know")
LIMIT = 120


def _question_answer(finding: str, truth: Mapping[str, Any], mode: str, kb: KnowledgeBase) -> Any:
    """What the patient says to one question: the case's value, else "no" to a symptom (denied mode)."""
    if finding in truth:
        return truth[finding]
    if mode != "denied":
        return None
    spec = kb.findings[finding]
    if spec.type == "boolean":
        return False
    if spec.type == "enum" and "none" in spec.values and finding != "recent_training_change":
        return "none"  # e.g. "any new weakness?" - no
    return None


def _applies(finding: str, value: Any, kb: KnowledgeBase) -> bool:
    """Whether a stated value is something a warning-sign list asks about (true, or not the "none" value)."""
    spec = kb.findings[finding]
    if spec.type == "boolean":
        return value is True
    if finding == "bmi_category":
        return value == "underweight"
    return value not in (None, "none")


def _screen_answer(step: Screen, truth: Mapping[str, Any], mode: str, kb: KnowledgeBase) -> Any:
    shown = [f for item in step.items for f in item.findings]
    ticked = [f for f in shown if f in truth and _applies(f, truth[f], kb)]
    if getattr(step, "mode", "checklist") == "each":  # one screen, an answer per item
        return {f: _question_answer(f, truth, mode, kb) for f in shown}
    if ticked:
        return ticked if getattr(iv, "SCREEN_TICKS", False) else "yes"
    if mode == "denied" or all(f in truth for f in shown):
        return "none"
    return "dont_know"


def take_interview(
    truth: Mapping[str, Any], mode: str, kb: KnowledgeBase
) -> tuple[dict[str, Any], frozenset[str], list[str]]:
    """Run the interview for a patient whose answers are `truth`: (findings with nulls for "don't know",
    asked ids, step ids in order)."""
    findings: dict[str, Any] = {}
    asked: frozenset[str] = frozenset()
    steps: list[str] = []
    dont_know: set[str] = set()
    for _ in range(LIMIT):
        step = iv.next_step(findings, kb, asked)
        if step is None:
            nulls = {f: None for f in dont_know if f not in findings}
            return {**nulls, **findings}, asked, steps
        steps.append(step.id)
        if isinstance(step, Screen):
            answer = _screen_answer(step, truth, mode, kb)
            if isinstance(answer, dict):
                dont_know |= {f for f, v in answer.items() if v is None}
            elif answer == "dont_know":
                dont_know |= set(step.findings)
            findings, asked = iv.record(step.id, answer, findings, asked, kb)
        else:
            value = _question_answer(step.finding, truth, mode, kb)
            if value is None:
                dont_know.add(step.finding)
            findings, asked = iv.record(step.finding, value, findings, asked, kb)
        findings = {k: v for k, v in findings.items() if v is not None}
    raise RuntimeError(f"the interview did not finish in {LIMIT} steps: {steps}")


def _never_asked(findings: Mapping[str, Any], asked: frozenset[str], kb: KnowledgeBase) -> int:
    """Warning-sign questions (phase red_flag) that apply to this runner but were never asked nor answered,
    for a result short of an emergency (after an emergency sign the questions stop on purpose)."""
    known = {k: v for k, v in findings.items() if v is not None}
    if evaluate(findings, kb).triage_level == "emergency":
        return 0
    return sum(
        1
        for q in kb.questions
        if q.phase == "red_flag"
        and q.finding not in asked
        and q.finding not in findings
        and iv.applicable(q, known)
    )


class Tally:
    def __init__(self) -> None:
        self.n = self.first = self.top3 = self.self_care = self.sent_on = 0
        self.under: dict[str, int] = dict.fromkeys(LEVELS[1:], 0)
        self.serious_under = 0
        self.one_low = 0
        self.questions: list[int] = []
        self.never_asked_cases = 0
        self.misses: list[str] = []

    def add(self, name: str, case: Mapping[str, Any], result: Any, steps: int | None, never: int) -> None:
        ranked = [c.id for c in result.conditions]
        expected, level = case["expected_primary"], case["expected_triage"]
        self.n += 1
        self.first += ranked[0] == expected
        self.top3 += expected in ranked[:3]
        got = LEVEL_RANK[result.triage_level]
        if got < LEVEL_RANK[level]:
            self.under[level] += 1
            self.one_low += LEVEL_RANK[level] - got == 1
        if level == "self_care":
            self.self_care += 1
            self.sent_on += result.triage_level != "self_care"
        if steps is not None:
            self.questions.append(steps)
        self.never_asked_cases += never > 0
        if ranked[0] != expected or got != LEVEL_RANK[level]:
            top = ", ".join(f"{c.id} {c.score:.2f}" for c in result.conditions[:3])
            self.misses.append(f"{name}: expected {expected}/{level}, got {result.triage_level}; {top}")

    def figures(self) -> dict[str, Any]:
        pct = lambda a, b: round(100 * a / b, 1) if b else 0.0  # noqa: E731
        return {
            "cases": self.n,
            "first_pct": pct(self.first, self.n),
            "top3_pct": pct(self.top3, self.n),
            "under_triage": dict(self.under),
            "under_one_level": self.one_low,
            "self_care_sent_on_pct": pct(self.sent_on, self.self_care),
            "self_care_sent_on": f"{self.sent_on}/{self.self_care}",
            "questions_median": statistics.median(self.questions) if self.questions else None,
            "questions_max": max(self.questions) if self.questions else None,
            "warning_signs_never_asked_cases": self.never_asked_cases,
        }


def run(directory: Path, kb: KnowledgeBase, verbose: bool = False) -> dict[str, dict[str, Any]]:
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise SystemExit(f"error: no *.json cases in {directory}")
    tallies = {"findings": Tally(), **{m: Tally() for m in MODES}}
    for path in paths:
        case = json.loads(path.read_text())
        truth = case["findings"]
        tallies["findings"].add(path.stem, case, evaluate(truth, kb), None, 0)
        for mode in MODES:
            findings, asked, steps = take_interview(truth, mode, kb)
            tallies[mode].add(
                path.stem, case, evaluate(findings, kb), len(steps), _never_asked(findings, asked, kb)
            )
    figures = {k: t.figures() for k, t in tallies.items()}
    print(f"{directory}: {len(paths)} cases")
    header = (
        f"  {'path':<22}{'first':>7}{'top 3':>7}  {'under-triage (E/U/S; 1 low)':<28}{'self-care sent':>15}"
    )
    print(header + f"{'questions':>12}{'never asked':>13}")
    for key, label in (
        ("findings", "findings (--findings)"),
        ("denied", "interview, denied"),
        ("dont_know", "interview, don't know"),
    ):
        f = figures[key]
        u = f["under_triage"]
        under = f"{u['emergency']}/{u['urgent']}/{u['see_clinician']}; {f['under_one_level']}"
        q = f"{f['questions_median']:g}/{f['questions_max']}" if f["questions_median"] is not None else "-"
        sent = f"{f['self_care_sent_on_pct']:.0f}% ({f['self_care_sent_on']})"
        never = str(f["warning_signs_never_asked_cases"]) if key != "findings" else "-"
        print(
            f"  {label:<22}{f['first_pct']:>6.0f}%{f['top3_pct']:>6.0f}%  {under:<28}{sent:>15}"
            f"{q:>12}{never:>13}"
        )
    if verbose:
        for key, tally in tallies.items():
            for miss in tally.misses:
                print(f"    [{key}] {miss}")
    return figures


def _region_of(directory: Path) -> str:
    """hip when every case's findings fit the hip's knowledge, else knee (its findings extend the hip's)."""
    hip = default_knowledge("hip")
    for path in sorted(directory.glob("*.json")):
        if validate_findings(json.loads(path.read_text())["findings"], hip):
            return "knee"
    return "hip"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="+")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the cases that missed")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--region",
        default=None,
        help="the body region of the cases (hip or knee); default: each folder's own, found from its cases",
    )
    args = parser.parse_args(argv)
    for directory in args.directory:
        kb = default_knowledge(args.region or _region_of(directory))
        print(f"[{kb.region}]", end=" ")
        figures = run(directory, kb, args.verbose)
        if args.json:
            print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
