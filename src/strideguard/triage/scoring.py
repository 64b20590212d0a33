"""The scoring primitives of the triage, shared by the engine and the interview: findings checked against the
vocabulary, conditions scored by naive-Bayes log-odds, red flags that fire or stay unchecked, and the level
with its reasons (red flags, the leading condition and its escalations, the safety net). Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from strideguard import rules
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import LEVEL_RANK, Condition, KnowledgeBase
from strideguard.triage.result import ConditionScore, Evidence, LevelReason, RedFlagHit, UncheckedRedFlag

# Design choices (clinical.md marks them NV, to be checked by a clinician):
# an urgent-or-worse condition that keeps at least this posterior probability cannot be ruled out by the app.
SAFETY_NET_PROBABILITY = 0.1
# A condition a fired red flag stands for is pulled to the top of the list if it keeps at least this
# probability
# (below it, e.g. a slipped growth plate for a 40-year-old who cannot bear weight, it is not plausible).
PULL_MIN_PROBABILITY = 0.01


class FindingsError(ValueError):
    """Findings that do not fit the vocabulary; `.errors` names every problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(errors))


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
        if condition.applies_if is not None and rules.evaluate(condition.applies_if, findings).value is False:
            out[cid] = (-math.inf, [])  # e.g. SCFE after growth has ended: not a possible cause
            continue
        total = math.log(condition.prior)
        moved: list[Evidence] = []
        for item in condition.evidence:
            if rules.evaluate(item.rule, findings).fired:
                total += math.log(item.lr)
                moved.append(
                    Evidence(
                        item.finding,
                        findings[item.finding],
                        item.lr,
                        item.citations,
                        item.note,
                        item.basis,
                    )
                )
        moved.sort(key=lambda e: -abs(math.log(e.lr)))
        out[cid] = (total, moved)
    return out


def softmax(logs: Mapping[str, float]) -> dict[str, float]:
    top = max(logs.values())
    weights = {k: (math.exp(v - top) if v > -math.inf else 0.0) for k, v in logs.items()}
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


def pull_flagged(
    conditions: Sequence[ConditionScore], flags: Sequence[RedFlagHit]
) -> tuple[ConditionScore, ...]:
    """The conditions with those a fired red flag stands for first (most urgent flag first, then by score), so
    that a warning sign never sits under a "most likely" cause it contradicts; the rest keep their order.
    A suggested condition below PULL_MIN_PROBABILITY stays where it is (e.g. SCFE for an adult) unless none
    of the flag's conditions reaches it."""
    by_id = {c.id: c for c in conditions}
    pulled: dict[str, list[str]] = {}
    rank: dict[str, int] = {}
    for flag in flags:
        suggested = [cid for cid in flag.suggests if cid in by_id]
        plausible = [cid for cid in suggested if by_id[cid].score >= PULL_MIN_PROBABILITY] or [
            cid
            for cid in suggested
            if by_id[cid].score > 0  # never a cause ruled out by who the runner is
        ]
        for cid in plausible:
            pulled.setdefault(cid, []).append(flag.id)
            rank[cid] = max(rank.get(cid, 0), LEVEL_RANK[flag.level])
    if not pulled:
        return tuple(conditions)
    # the most urgent sign's causes first, then a cause that is the only one a sign names, then the likelier
    sole = {
        flag.suggests[0]
        for flag in flags
        if len(flag.suggests) == 1 and rank.get(flag.suggests[0]) == LEVEL_RANK[flag.level]
    }
    order = sorted(pulled, key=lambda cid: (-rank[cid], cid not in sole, -by_id[cid].score))
    first = [replace(by_id[cid], pulled_by=tuple(pulled[cid])) for cid in order]
    return (*first, *(c for c in conditions if c.id not in pulled))


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


def _condition_level(
    condition: Condition, findings: Mapping[str, Any], flagged: bool = False, cap: str | None = None
) -> tuple[str, list[LevelReason]]:
    level = condition.triage_level
    if cap is not None and LEVEL_RANK[level] > LEVEL_RANK[cap]:
        # pulled up by a warning sign, not by its own likelihood: the sign sets the level (a limping child
        # without fever is seen the same day, not sent to an emergency department for a 0% infection)
        level = cap
    # a cause pulled up by a warning sign is what the sign points to, not necessarily the likeliest cause
    lead = "The warning signs point first to" if flagged else "Most likely"
    reasons = [
        LevelReason(level, f"condition:{condition.id}", f"{lead}: {condition.name}.", condition.citations)
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


def warning_sign_dont_knows(flag: UncheckedRedFlag, kb: KnowledgeBase) -> tuple[str, ...]:
    """The warning-sign questions (phase red_flag) answered "don't know" that keep `flag` open: what the
    result lists as unchecked, and what keeps it from self-care ("sex: don't know" is context, not a sign)."""
    return tuple(f for f in flag.dont_know if (q := kb.question(f)) is not None and q.phase == "red_flag")


UNCHECKED_REASON = (
    'Some warning signs could not be checked because you answered "don\'t know": please have a clinician '
    "check them, or run the check again if you can answer them."
)


def level_reasons(
    findings: Mapping[str, Any],
    flags: Sequence[RedFlagHit],
    conditions: Sequence[ConditionScore],
    kb: KnowledgeBase,
    unchecked: Sequence[UncheckedRedFlag] = (),
) -> tuple[str, list[LevelReason]]:
    """The triage level and every reason it is at least that: red flags, the leading condition (with its
    escalations), the safety net, and warning signs left open by "don't know" (at least see_clinician: a
    result whose warning signs are unchecked is never self-care). `findings` must be known values only;
    `conditions` best first."""
    reasons: list[LevelReason] = [LevelReason("self_care", "default", "No warning signs found.")]
    reasons += [LevelReason(f.level, f"red_flag:{f.id}", f.message, f.citations) for f in flags]
    open_flags = [u for u in unchecked if warning_sign_dont_knows(u, kb)]
    if open_flags:
        reasons.append(LevelReason("see_clinician", f"unchecked:{open_flags[0].id}", UNCHECKED_REASON))
    top = kb.conditions[conditions[0].id]
    pulled_by = set(conditions[0].pulled_by)
    cap = max((f.level for f in flags if f.id in pulled_by), key=LEVEL_RANK.__getitem__, default=None)
    reasons += _condition_level(top, findings, bool(pulled_by), cap)[1]
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
