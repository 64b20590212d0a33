"""Hip-pain triage: `evaluate(findings, kb) -> TriageResult` and `next_question(findings, kb, asked)`.

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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from strideguard import rules
from strideguard.knowledge import (
    LEVEL_RANK,
    LEVELS,
    Condition,
    KnowledgeBase,
    default_knowledge,
)

DISCLAIMER = (
    "StrideGuard gives guidance, not a diagnosis. It cannot examine you, and its advice does not replace a "
    "doctor or physiotherapist. If you are worried, if the pain gets worse, or if anything new appears, get "
    "checked; in an emergency call your local emergency number."
)

# Design choices (clinical.md marks them NV, to be checked by a clinician):
# an urgent-or-worse condition that keeps at least this posterior probability cannot be ruled out by the app.
SAFETY_NET_PROBABILITY = 0.1
MAX_ROUTINES = 3
# Findings that rule out foam rolling whatever the condition (Bartsch et al. 2021 Delphi; clinical.md 1e).
NO_FOAM_ROLLING_IF: tuple[str, ...] = (
    "low_bone_density_known",
    "sickle_cell_or_clotting_disorder",
    "leg_swelling",
    "groin_lump",
    "fever",
    "unable_to_bear_weight",
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


class FindingsError(ValueError):
    """Findings that do not fit the vocabulary; `.errors` names every problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(errors))


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finding that moved a condition's score: its odds were multiplied by `lr`."""

    finding: str
    value: Any
    lr: float
    citations: tuple[str, ...]
    note: str | None = None

    @property
    def effect(self) -> str:
        return "raises" if self.lr > 1 else "lowers"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "finding": self.finding,
            "value": self.value,
            "effect": self.effect,
            "likelihood_ratio": self.lr,
            "citations": list(self.citations),
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class ConditionScore:
    """A condition with its posterior probability (`score`, 0-1) and the evidence behind it."""

    id: str
    name: str
    score: float
    prior: float
    triage_level: str
    evidence: tuple[Evidence, ...]
    citations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "score": round(self.score, 4),
            "prior": self.prior,
            "triage_level": self.triage_level,
            "evidence": [e.to_json() for e in self.evidence],
            "citations": list(self.citations),
        }


@dataclass(frozen=True, slots=True)
class RedFlagHit:
    id: str
    level: str
    message: str
    citations: tuple[str, ...]
    because: tuple[str, ...]  # the findings that made it fire, e.g. "pain_on_hop=True (eq True)"
    suggests: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "message": self.message,
            "citations": list(self.citations),
            "because": list(self.because),
            "suggests": list(self.suggests),
        }


@dataclass(frozen=True, slots=True)
class UncheckedRedFlag:
    """A red flag that did not fire but could not be ruled out either: its rule is unknown because findings it
    needs are unknown. `unknown` lists those findings; `dont_know` the ones answered "don't know" (an explicit
    null), as opposed to never asked (absent)."""

    id: str
    level: str
    message: str
    unknown: tuple[str, ...]
    dont_know: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "message": self.message,
            "unknown_findings": list(self.unknown),
            "dont_know": list(self.dont_know),
        }


@dataclass(frozen=True, slots=True)
class LevelReason:
    """Why the triage level is at least `level`."""

    level: str
    source: str  # "red_flag:<id>", "condition:<id>", "escalation:<id>", "safety_net:<id>", "default"
    reason: str
    citations: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "source": self.source,
            "reason": self.reason,
            "citations": list(self.citations),
        }


@dataclass(frozen=True, slots=True)
class RoutineSuggestion:
    id: str
    name: str
    kind: str
    summary: str
    for_condition: str
    citations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "summary": self.summary,
            "for_condition": self.for_condition,
            "citations": list(self.citations),
        }


@dataclass(frozen=True, slots=True)
class TriageResult:
    triage_level: str
    red_flags: tuple[RedFlagHit, ...]
    conditions: tuple[ConditionScore, ...]
    advice: tuple[str, ...]
    routines: tuple[RoutineSuggestion, ...]
    level_reasons: tuple[LevelReason, ...]
    routines_withheld: str | None
    disclaimer: str = DISCLAIMER
    unchecked_red_flags: tuple[UncheckedRedFlag, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stable JSON contract documented in docs/triage.md."""
        return {
            "triage_level": self.triage_level,
            "red_flags": [f.to_json() for f in self.red_flags],
            "conditions": [c.to_json() for c in self.conditions],
            "advice": list(self.advice),
            "routines": [r.to_json() for r in self.routines],
            "routines_withheld": self.routines_withheld,
            "level_reasons": [r.to_json() for r in self.level_reasons],
            "disclaimer": self.disclaimer,
            "unchecked_red_flags": [u.to_json() for u in self.unchecked_red_flags],
        }


# ---------------------------------------------------------------------------------------------------------
# validation


def validate_findings(findings: Mapping[str, Any], kb: KnowledgeBase) -> list[str]:
    """Every problem with `findings`: unknown ids, wrong types, out-of-range numbers. Empty if fine."""
    if not isinstance(findings, Mapping):
        return [f"findings must be an object of finding id -> value, got {type(findings).__name__}"]
    errors: list[str] = []
    for fid, value in findings.items():
        finding = kb.findings.get(fid)
        if finding is None:
            errors.append(f"unknown finding {fid!r}")
        elif value is not None:
            problem = finding.problem(value)
            if problem:
                errors.append(problem)
    return errors


def known_findings(findings: Mapping[str, Any]) -> dict[str, Any]:
    """Drop explicit nulls: null means "don't know", exactly like an absent key."""
    return {k: v for k, v in findings.items() if v is not None}


# ---------------------------------------------------------------------------------------------------------
# scoring


def log_scores(findings: Mapping[str, Any], kb: KnowledgeBase) -> dict[str, tuple[float, list[Evidence]]]:
    out: dict[str, tuple[float, list[Evidence]]] = {}
    for cid, condition in kb.conditions.items():
        total = math.log(condition.prior)
        moved: list[Evidence] = []
        for item in condition.evidence:
            if rules.evaluate(item.rule, findings).fired:
                total += math.log(item.lr)
                moved.append(
                    Evidence(item.finding, findings[item.finding], item.lr, item.citations, item.note)
                )
        moved.sort(key=lambda e: -abs(math.log(e.lr)))
        out[cid] = (total, moved)
    return out


def softmax(logs: Mapping[str, float]) -> dict[str, float]:
    top = max(logs.values())
    weights = {k: math.exp(v - top) for k, v in logs.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def score_conditions(
    findings: Mapping[str, Any], kb: KnowledgeBase | None = None
) -> tuple[ConditionScore, ...]:
    """All conditions, most probable first, each with its posterior probability and evidence."""
    kb = kb or default_knowledge()
    return rank_conditions(log_scores(known_findings(findings), kb), kb)


def rank_conditions(
    logs: Mapping[str, tuple[float, list[Evidence]]], kb: KnowledgeBase
) -> tuple[ConditionScore, ...]:
    """Conditions best first from their log-odds and evidence (see `log_scores`)."""
    posterior = softmax({k: v[0] for k, v in logs.items()})
    scored = [
        ConditionScore(
            id=c.id,
            name=c.name,
            score=posterior[c.id],
            prior=c.prior,
            triage_level=c.triage_level,
            evidence=tuple(logs[c.id][1]),
            citations=c.citations,
        )
        for c in kb.conditions.values()
    ]
    order = {cid: i for i, cid in enumerate(kb.conditions)}
    scored.sort(key=lambda s: (-s.score, order[s.id]))
    return tuple(scored)


def red_flags(findings: Mapping[str, Any], kb: KnowledgeBase | None = None) -> tuple[RedFlagHit, ...]:
    """Red flags that fire, most urgent first (knowledge order within a level)."""
    kb = kb or default_knowledge()
    findings = known_findings(findings)
    hits = []
    for flag in kb.red_flags:
        outcome = rules.evaluate(flag.rule, findings)
        if outcome.fired:
            because = tuple(dict.fromkeys(leaf.describe() for leaf in outcome.trace))
            hits.append(RedFlagHit(flag.id, flag.level, flag.message, flag.citations, because, flag.suggests))
    hits.sort(key=lambda h: -LEVEL_RANK[h.level])
    return tuple(hits)


def _open_findings(rule: Mapping[str, Any], findings: Mapping[str, Any]) -> list[str]:
    """The unknown findings that keep `rule` unknown: leaves under parts that are themselves unknown (a part
    already decided true or false cannot change the outcome)."""
    if rules.evaluate(rule, findings).value is not None:
        return []
    if "all" in rule or "any" in rule:
        parts = rule.get("all", rule.get("any")) or []
        return [f for part in parts for f in _open_findings(part, findings)]
    if "not" in rule:
        return _open_findings(rule["not"], findings)
    return [rule["finding"]]


def unchecked_red_flags(
    findings: Mapping[str, Any], kb: KnowledgeBase | None = None
) -> tuple[UncheckedRedFlag, ...]:
    """Red flags that could not be ruled out: neither fired nor evaluated to false, because findings they need
    are unknown. Most urgent first. Explicit nulls in `findings` are "don't know" answers and are named in
    `dont_know`; absent findings were never asked. Display only: unknown never raises or lowers the level."""
    kb = kb or default_knowledge()
    known = known_findings(findings)
    nulls = {k for k, v in findings.items() if v is None}
    out = []
    for flag in kb.red_flags:
        if rules.evaluate(flag.rule, known).value is not None:
            continue
        unknown = tuple(dict.fromkeys(_open_findings(flag.rule, known)))
        dont_know = tuple(f for f in unknown if f in nulls)
        out.append(UncheckedRedFlag(flag.id, flag.level, flag.message, unknown, dont_know))
    out.sort(key=lambda u: -LEVEL_RANK[u.level])
    return tuple(out)


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


def _condition_level(condition: Condition, findings: Mapping[str, Any]) -> tuple[str, list[LevelReason]]:
    level = condition.triage_level
    reasons = [
        LevelReason(
            level, f"condition:{condition.id}", f"Most likely: {condition.name}.", condition.citations
        )
    ]
    for escalation in condition.escalations:
        if (
            LEVEL_RANK[escalation.level] > LEVEL_RANK[level]
            and rules.evaluate(escalation.when, findings).fired
        ):
            level = escalation.level
            reasons.append(
                LevelReason(level, f"escalation:{condition.id}", escalation.reason, escalation.citations)
            )
    return level, reasons


def level_reasons(
    findings: Mapping[str, Any],
    flags: Sequence[RedFlagHit],
    conditions: Sequence[ConditionScore],
    kb: KnowledgeBase,
) -> tuple[str, list[LevelReason]]:
    """The triage level and every reason it is at least that: red flags, the leading condition (with its
    escalations) and the safety net. `findings` must be known values only; `conditions` best first."""
    reasons: list[LevelReason] = [LevelReason("self_care", "default", "No warning signs found.")]
    reasons += [LevelReason(f.level, f"red_flag:{f.id}", f.message, f.citations) for f in flags]
    top = kb.conditions[conditions[0].id]
    reasons += _condition_level(top, findings)[1]
    for c in conditions:
        if (
            c.id != top.id
            and LEVEL_RANK[c.triage_level] >= LEVEL_RANK["urgent"]
            and c.score >= SAFETY_NET_PROBABILITY
        ):
            reasons.append(
                LevelReason(
                    "urgent",
                    f"safety_net:{c.id}",
                    f"{c.name} cannot be ruled out from your answers ({c.score:.0%}).",
                    c.citations,
                )
            )
    level = max((r.level for r in reasons), key=LEVEL_RANK.__getitem__)
    return level, [r for r in reasons if r.source != "default" or level == "self_care"]


def evaluate(findings: Mapping[str, Any], kb: KnowledgeBase | None = None) -> TriageResult:
    """Triage `findings` (id -> value; absent or null = unknown). Raises FindingsError on bad input."""
    kb = kb or default_knowledge()
    errors = validate_findings(findings, kb)
    if errors:
        raise FindingsError(errors)
    unchecked = unchecked_red_flags(findings, kb)  # before the nulls ("don't know") are dropped
    findings = known_findings(findings)

    flags = red_flags(findings, kb)
    conditions = score_conditions(findings, kb)
    level, reasons = level_reasons(findings, flags, conditions, kb)
    # Same level and sources; only the wording of "no warning sign" depends on what could be ruled out.
    reasons = [replace(r, reason=_no_flag_reason(unchecked)) if r.source == "default" else r for r in reasons]
    advice = _advice(level, flags, conditions, kb)
    routines, withheld = _routines(level, flags, conditions, findings, kb, unchecked)
    return TriageResult(
        level, flags, conditions, advice, routines, tuple(reasons), withheld, unchecked_red_flags=unchecked
    )


def _advice(
    level: str, flags: Sequence[RedFlagHit], conditions: Sequence[ConditionScore], kb: KnowledgeBase
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
        advice += [a for a in condition.advice if a not in advice]
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
    # Danger first: a routine is offered only once the serious warning signs are ruled out, not while
    # they are unknown (e.g. a possible stress fracture nobody asked about is never sent to foam rolling).
    screened = {f for screen in kb.screens for f in screen.findings}
    if not any(f in findings for f in screened):
        return (), (
            "No exercises or foam rolling are suggested until the warning-sign questions are answered: "
            "none of them was."
        )
    open_serious = [u for u in unchecked if LEVEL_RANK[u.level] >= LEVEL_RANK["urgent"] and u.dont_know]
    if open_serious:
        n = len(open_serious)
        return (), (
            'No exercises or foam rolling are suggested: after "don\'t know" answers, '
            f"{n} serious warning sign{'s' if n != 1 else ''} could not be ruled out."
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
        from strideguard.triage_text import describe  # phrasing lives there; it imports this module

        reasons = "; ".join(describe(f, True, kb) for f in no_rolling)
        withheld = f"Foam rolling is not suggested because of: {reasons}."
    return tuple(suggestions), withheld


def level_at_least(level: str, minimum: str) -> bool:
    """True if `level` is `minimum` or more urgent."""
    return LEVEL_RANK[level] >= LEVEL_RANK[minimum]


__all__ = [
    "DISCLAIMER",
    "LEVELS",
    "ConditionScore",
    "Evidence",
    "FindingsError",
    "LevelReason",
    "RedFlagHit",
    "RoutineSuggestion",
    "TriageResult",
    "UncheckedRedFlag",
    "evaluate",
    "information_gain",
    "level_reasons",
    "next_question",
    "next_step",
    "red_flags",
    "score_conditions",
    "unchecked_red_flags",
    "validate_findings",
]

# The interview (question choice) lives in triage_interview.py; re-exported here, where the web API and the
# docs have always imported it from. Imported last because it builds on the scoring above.
from strideguard.triage_interview import (  # noqa: E402
    information_gain,
    next_question,
    next_step,
)
