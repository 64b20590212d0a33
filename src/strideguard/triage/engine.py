"""Triage for any body region (hip, knee; the knowledge base names it): `evaluate(findings, kb)`.

Method (documented for users in docs/triage.md):
1. Red flags (knowledge/red_flags.yaml) are evaluated first. Each one that fires sets a *minimum* level;
   nothing later can lower it (clinical.md section 0).
2. Every condition is scored by naive-Bayes log-odds: ln(prior) + sum of ln(LR) for each evidence item whose
   test holds. Priors are relative frequencies among runners with hip/groin/thigh pain; LRs are graded from
   the evidence in clinical.md. Scores are the normalised posterior probabilities over the 20 conditions,
   and every score lists the findings that moved it (finding, value, LR, citations).
3. The level is the highest of: the red flags; the top condition's own level (with its escalations, e.g.
   self-care pain lasting more than 6 weeks -> see a clinician); and a safety net that raises to `urgent`
   whenever an urgent-or-worse condition still has >= SAFETY_NET_PROBABILITY.
4. Routines are suggested only when no red flag fired, the level is self_care or see_clinician, no
   urgent-or-worse condition is among the top 3 or above the safety-net probability, and the routine is not
   contraindicated for any of the top 3 conditions nor by a finding (e.g. no foam rolling with known low bone
   density, a clotting disorder or blood thinners, a swollen leg or a groin lump; Bartsch 2021).

An absent finding is unknown, never "no". Pure functions over frozen dataclasses; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from strideguard import rules
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import LEVEL_RANK, KnowledgeBase
from strideguard.triage.result import (
    ConditionScore,
    RedFlagHit,
    RoutineSuggestion,
    TriageResult,
    UncheckedRedFlag,
)
from strideguard.triage.scoring import (
    SAFETY_NET_PROBABILITY,
    FindingsError,
    known_findings,
    level_reasons,
    pull_flagged,
    red_flags,
    score_conditions,
    unchecked_red_flags,
    validate_findings,
    warning_sign_dont_knows,
)
from strideguard.triage.text import describe

MAX_ROUTINES = 3
# Under this age a clinician chooses any exercises (clinical-knee.md 1c; the hip's child_under_16 red flag
# says the same for the hip, so this changes nothing there). A design choice (strideguard_design_nv).
MIN_ROUTINE_AGE = 16
# Findings that rule out foam rolling whatever the condition (Bartsch et al. 2021 Delphi; clinical.md 1e).
NO_FOAM_ROLLING_IF: tuple[str, ...] = (
    "low_bone_density_known",
    "sickle_cell_or_clotting_disorder",
    "leg_swelling",
    "groin_lump",
    "fever",
    "unable_to_bear_weight",
    # knee findings (clinical-knee.md 1c): a possible clot, a hot knee, a lump on the bone
    "calf_pain",
    "knee_hot_red",
    "bone_swelling_or_mass",
)

LEVEL_ADVICE: dict[str, str] = {
    "emergency": "Please get help now: go to an emergency department or call your local emergency number. "
    "Don't run, and don't wait to see if it settles.",
    "urgent": "Please stop running and see a doctor within the next 1-3 days (the same day if a message "
    "below says so). Until then, avoid hopping, jumping and impact, and don't foam-roll or stretch into "
    "the pain.",
    "see_clinician": "Book an appointment with a GP or sports physiotherapist, especially if it persists or "
    "stops you running. Meanwhile keep to activity that doesn't make it worse.",
    "self_care": "This sounds like something you can usually manage yourself with a short change in "
    "training. If it doesn't improve within a few weeks, or gets worse, see a physiotherapist.",
}


NO_FLAG_REASONS = {
    "ruled_out": "No warning signs found.",
    "dont_know": "No warning sign showed up in your answers, but some were not checked because you answered "
    '"don\'t know".',
    "not_asked": "None of your answers points to a warning sign.",
}


def _no_flag_reason(unchecked: Sequence[UncheckedRedFlag]) -> str:
    """The self-care default reason: "No warning signs found." only when every red flag was ruled out."""
    if any(u.dont_know for u in unchecked):
        return NO_FLAG_REASONS["dont_know"]
    return NO_FLAG_REASONS["not_asked" if unchecked else "ruled_out"]


def evaluate(findings: Mapping[str, Any], kb: KnowledgeBase | None = None) -> TriageResult:
    """Triage `findings` (id -> value; absent or null = unknown). Raises FindingsError on bad input."""
    kb = kb or default_knowledge()
    errors = validate_findings(findings, kb)
    if errors:
        raise FindingsError(errors)
    unchecked = unchecked_red_flags(findings, kb)  # before the nulls ("don't know") are dropped
    findings = known_findings(findings)

    flags = red_flags(findings, kb)
    conditions = pull_flagged(score_conditions(findings, kb), flags)
    level, reasons = level_reasons(findings, flags, conditions, kb, unchecked)
    # Same level and sources; only the wording of "no warning sign" depends on what could be ruled out.
    reasons = [replace(r, reason=_no_flag_reason(unchecked)) if r.source == "default" else r for r in reasons]
    advice = _advice(level, flags, conditions, findings, kb)
    routines, withheld = _routines(level, flags, conditions, findings, kb, unchecked)
    return TriageResult(
        level,
        flags,
        conditions,
        advice,
        routines,
        tuple(reasons),
        withheld,
        unchecked_red_flags=unchecked,
        region=kb.region,
    )


def _advice(
    level: str,
    flags: Sequence[RedFlagHit],
    conditions: Sequence[ConditionScore],
    findings: Mapping[str, Any],
    kb: KnowledgeBase,
) -> tuple[str, ...]:
    advice = [LEVEL_ADVICE[level]]
    serious = LEVEL_RANK[level] >= LEVEL_RANK["urgent"]
    shown = 0
    for c in conditions[:2]:
        condition = kb.conditions[c.id]
        # Self-care tips (keep running, roll, stretch) would contradict "stop running": only show advice of
        # conditions that are themselves urgent when the level is urgent or worse.
        if serious and LEVEL_RANK[condition.triage_level] < LEVEL_RANK["urgent"]:
            continue
        if shown and c.score < 0.5 * conditions[0].score:
            break
        # never mention a symptom the runner denied (an advice's `when` is then definitely false)
        shown_advice = [
            a.text
            for a in condition.advice
            if a.when is None or rules.evaluate(a.when, findings).value is not False
        ]
        advice += [a for a in shown_advice if a not in advice]
        shown += 1
    return tuple(advice)


def _routines(
    level: str,
    flags: Sequence[RedFlagHit],
    conditions: Sequence[ConditionScore],
    findings: Mapping[str, Any],
    kb: KnowledgeBase,
    unchecked: Sequence[UncheckedRedFlag] = (),
) -> tuple[tuple[RoutineSuggestion, ...], str | None]:
    if flags:
        return (), "No exercises or foam rolling are suggested while a warning sign is present."
    if LEVEL_RANK[level] >= LEVEL_RANK["urgent"]:
        return (), "No exercises or foam rolling are suggested until a clinician has checked you."
    age = findings.get("age")
    if isinstance(age, int | float) and not isinstance(age, bool) and age < MIN_ROUTINE_AGE:
        return (), (
            "No exercises or foam rolling are suggested for under-16s: a physiotherapist or doctor should "
            "choose them."
        )
    # Danger first: a routine is offered only once the serious warning signs are ruled out, not while
    # they are unknown (e.g. a possible stress fracture nobody asked about is never sent to foam rolling).
    screened = {f for screen in kb.screens for f in screen.findings}
    if not any(f in findings for f in screened):
        return (), (
            "No exercises or foam rolling are suggested until the warning-sign questions are answered: "
            "none of them was."
        )
    open_flags = [u for u in unchecked if warning_sign_dont_knows(u, kb)]
    if open_flags:
        n = len(open_flags)
        return (), (
            'No exercises or foam rolling are suggested: after "don\'t know" answers, '
            f"{n} warning sign{'s' if n != 1 else ''} could not be ruled out."
        )
    top3 = conditions[:3]
    if any(LEVEL_RANK[c.triage_level] >= LEVEL_RANK["urgent"] for c in top3) or any(
        LEVEL_RANK[c.triage_level] >= LEVEL_RANK["urgent"] and c.score >= SAFETY_NET_PROBABILITY
        for c in conditions
    ):
        return (
            (),
            "No exercises or foam rolling are suggested because a more serious cause is still possible.",
        )
    top_ids = {c.id for c in top3}
    no_rolling = [f for f in NO_FOAM_ROLLING_IF if findings.get(f) is True]
    wanted = [c for c in conditions[:2] if c.score >= 0.25 * conditions[0].score]
    suggestions: list[RoutineSuggestion] = []
    for c in wanted:
        for routine in kb.routines.values():
            if c.id not in routine.suitable_for or top_ids & set(routine.contraindicated_for):
                continue
            if routine.kind == "foam_rolling" and no_rolling:
                continue
            if any(s.id == routine.id for s in suggestions):
                continue
            suggestions.append(
                RoutineSuggestion(
                    routine.id, routine.name, routine.kind, routine.summary, c.id, routine.citations
                )
            )
    suggestions = suggestions[:MAX_ROUTINES]
    withheld = None
    if no_rolling:
        reasons = "; ".join(describe(f, True, kb) for f in no_rolling)
        withheld = f"Foam rolling is not suggested because of: {reasons}."
    elif not suggestions:
        names = " or ".join(c.name for c in wanted)
        withheld = (
            f"StrideGuard has no routine that fits {names} and is safe with your answers; a physiotherapist "
            "can give you exercises that suit you."
        )
    return tuple(suggestions), withheld


def level_at_least(level: str, minimum: str) -> bool:
    """True if `level` is `minimum` or more urgent."""
    return LEVEL_RANK[level] >= LEVEL_RANK[minimum]
