"""The triage interview: which question to ask next, pure and shared by the CLI prompts and the web wizard.

Order (docs/triage.md, "The questions"):
1. basics (age, sex, where it hurts) - they decide which safety questions apply;
2. the red-flag screen, mostly as grouped questions (`Screen`, knowledge/screens.yaml): "do any of these
   apply?" - "none of these" denies every item at once, "yes" or "don't know" asks the items one by one.
   Red-flag questions outside a screen (e.g. "is the lump tender?" after a lump) follow in file order.
   An emergency answer stops the interview at once;
3. detail questions: first any whose answer could raise the level to urgent or above, then the key
   findings of the top three (most informative first), then the leading condition's escalations (e.g. how
   many weeks), then the most informative question, until the leading condition is likely enough and no
   answer could change the level or the top three, or a cap is reached.

`asked` holds the ids already asked: finding ids (including "don't know" answers, which stay absent from
`findings`) and screen ids. Unknown is never "no": only an explicit "none of these" sets findings to false.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from strideguard import rules
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import (
    LEVEL_RANK,
    SCREEN_ANSWERS,
    SCREEN_DONT_KNOW,
    SCREEN_NONE,
    SCREEN_YES,
    KnowledgeBase,
    Question,
    Screen,
    ScreenItem,
)
from strideguard.triage.scoring import (
    known_findings,
    level_reasons,
    log_scores,
    pull_flagged,
    rank_conditions,
    red_flags,
    softmax,
)

Step = Question | Screen

# Design choices (strideguard_design_nv; to be reviewed with a clinician), chosen for a runner in pain, never
# by fitting the vignettes. The safety screens are one prompt each (two after "don't know"), so they need no
# budget; the questions chosen by information gain stop at this many details - but never before every key
# finding of each condition in the top three was asked, nor before a question that could raise the level to
# urgent (those two are not capped),
MAX_DETAIL_QUESTIONS = 5
# and they stop when the leading condition is this likely and no answer could change the level or top 3,
STOP_PROBABILITY = 0.8
# ... or when no question is expected to be worth this many bits,
MIN_GAIN_BITS = 0.05
# and an answer "could change" the outcome only if it is at least this likely under the current scores.
MIN_ANSWER_PROBABILITY = 0.05


class AnswerError(ValueError):
    """An answer that does not fit the step it is given for (e.g. "maybe" to a screen)."""


def applicable(question: Question, findings: Mapping[str, Any]) -> bool:
    """Whether `question` makes sense now: `ask_if` not definitely false, `skip_if` not definitely true."""
    if question.ask_if is not None and rules.evaluate(question.ask_if, findings).value is False:
        return False
    return not (question.skip_if is not None and rules.evaluate(question.skip_if, findings).fired)


# ---------------------------------------------------------------------------------------------------------
# screens

# Screens are answered as checklists ("tick every one that applies"), so an API client can tell a tick list
# from the older "yes, one or more" answer (which now leads to the one-screen follow-up, like "don't know").
SCREEN_TICKS = True


def _pending(finding: str, kb: KnowledgeBase, findings: Mapping[str, Any], done: set[str]) -> bool:
    """A screened finding still to ask: not answered and its own question applies (e.g. no hop if limping)."""
    question = kb.question(finding)
    return finding not in done and question is not None and applicable(question, findings)


def screen_view(
    screen: Screen, kb: KnowledgeBase, findings: Mapping[str, Any], done: set[str]
) -> Screen | None:
    """`screen` reduced to the items that still need an answer, or None if none do."""
    items = tuple(
        item for item in screen.items if any(_pending(f, kb, findings, done) for f in item.findings)
    )
    return replace(screen, items=items) if items else None


def _screen_step(
    screen: Screen, kb: KnowledgeBase, findings: Mapping[str, Any], done: set[str], asked: set[str]
) -> Step | None:
    view = screen_view(screen, kb, findings, done)
    if view is None:
        return None
    if f"{screen.id}:answered" in asked:
        # ticked items without a single yes value (e.g. which leg is weak): their own questions, in order
        pending = [f for item in view.items for f in item.findings if _pending(f, kb, findings, done)]
        return kb.question(pending[0])
    if screen.id in asked:
        # after "don't know": the open items once more, as one screen with an answer per item
        return replace(view, mode="each")
    pending = [f for item in view.items for f in item.findings if _pending(f, kb, findings, done)]
    if len(pending) == 1:
        question = kb.question(pending[0])  # a group of one is just its question
        assert question is not None  # the loader checks every screened finding has a question
        return question
    return view


def _ticked(answer: Any) -> list[str] | None:
    """The finding ids of a checklist answer (a list of ticked ids), or None if `answer` is not one."""
    if isinstance(answer, list | tuple) and all(isinstance(f, str) for f in answer):
        return list(answer)
    return None


def answer_screen(
    screen_id: str,
    answer: Any,
    findings: Mapping[str, Any],
    asked: Iterable[str],
    kb: KnowledgeBase | None = None,
) -> tuple[dict[str, Any], frozenset[str]]:
    """Apply a screen answer to (findings, asked) and return the new pair. Answers:

    * a list of ticked finding ids ("tick every one that applies"): ticked findings take their item's yes
      value (a finding without one, e.g. which leg is weak, is asked with its own question next), every other
      open item its "none" value;
    * "none": every open item takes its "none" value (false for yes/no findings; a finding without one is only
      marked asked, e.g. "not underweight");
    * "dont_know" (or "yes" without ticks): the screen is marked asked, so its open items come back as one
      screen with an answer per item (`mode` "each");
    * a mapping {finding id: value or None} - the answer to that follow-up screen (None = don't know).

    Explicit nulls ("don't know") stay in the findings, so a result can name the warning signs left open.
    """
    kb = kb or default_knowledge()
    screen = kb.screen(screen_id)
    if screen is None:
        raise AnswerError(f"unknown screen {screen_id!r}")
    new_findings = dict(findings)
    done = set(asked) | set(new_findings)
    new_asked = set(asked) | {screen.id}
    view = screen_view(screen, kb, known_findings(new_findings), done)
    items = view.items if view is not None else ()
    open_ids = [f for item in items for f in item.findings if _pending(f, kb, known_findings(findings), done)]
    ticked = _ticked(answer)
    if isinstance(answer, Mapping):
        unknown = [f for f in answer if f not in open_ids]
        if unknown:
            raise AnswerError(
                f"{screen_id}: {', '.join(map(str, unknown))} is not an open item of this screen"
            )
        for fid, value in answer.items():
            if value is not None:
                problem = kb.findings[fid].problem(value)
                if problem:
                    raise AnswerError(problem)
            new_findings[fid] = value
            new_asked.add(fid)
        return new_findings, frozenset(new_asked)
    if ticked is not None:
        unknown = [f for f in ticked if f not in open_ids]
        if unknown:
            raise AnswerError(f"{screen_id}: {', '.join(unknown)} is not an open item of this screen")
    elif answer not in SCREEN_ANSWERS:
        raise AnswerError(
            f"a screen answer must be one of {', '.join(SCREEN_ANSWERS)}, a list of ticked items or "
            f"an answer per item; got {answer!r}"
        )
    if ticked is None and answer != SCREEN_NONE:
        return new_findings, frozenset(new_asked)
    left_open = False
    for item in items:
        for fid in item.findings:
            if fid not in open_ids:
                continue
            if ticked is not None and fid in ticked:
                if fid in item.yes_values:
                    new_findings[fid] = item.yes_values[fid]
                    new_asked.add(fid)
                # else: left open, its own question follows (e.g. one leg or both?)
            elif fid in item.none_values:
                new_findings[fid] = item.none_values[fid]
            elif _flag_needs_value(fid, item, new_findings, kb):
                # e.g. "not underweight" from a 15-year-old: an overweight teenager's hip pain is a same-day
                # check (SCFE), so the weight question follows on its own
                left_open = True
            else:  # e.g. "not underweight": no single value to set, but do not ask it again
                new_asked.add(fid)
    if ticked is not None or left_open:
        new_asked.add(f"{screen.id}:answered")  # no follow-up screen after a checklist
    return new_findings, frozenset(new_asked)


def _flag_needs_value(fid: str, item: ScreenItem, findings: Mapping[str, Any], kb: KnowledgeBase) -> bool:
    """Whether a red flag not yet raised would be raised by a value of `fid` that "none of these" leaves
    possible (any value but the one the item ticks): then its own question must still be asked."""
    known = known_findings(findings)
    raised = {hit.id for hit in red_flags(known, kb)}
    ticked_value = item.yes_values.get(fid)
    values = [v for v in kb.findings[fid].values if v != ticked_value]
    return any(
        flag.id not in raised and rules.evaluate(flag.rule, {**known, fid: v}).fired
        for flag in kb.red_flags
        if any(leaf.get("finding") == fid for leaf in rules.leaves(flag.rule))
        for v in values
    )


def record(
    step_id: str,
    value: Any,
    findings: Mapping[str, Any],
    asked: Iterable[str],
    kb: KnowledgeBase | None = None,
) -> tuple[dict[str, Any], frozenset[str]]:
    """Apply one answer: a screen id and its answer, or a finding id and its value (None = don't know, kept as
    an explicit null)."""
    kb = kb or default_knowledge()
    if kb.screen(step_id) is not None:
        return answer_screen(step_id, value, findings, asked, kb)
    if step_id not in kb.findings:
        raise AnswerError(f"unknown question {step_id!r}")
    new_findings = dict(findings)
    if value is not None:
        problem = kb.findings[step_id].problem(value)
        if problem:
            raise AnswerError(problem)
    new_findings[step_id] = value
    return new_findings, frozenset(set(asked) | {step_id})


def replay(
    steps: Sequence[tuple[str, Any]], kb: KnowledgeBase | None = None
) -> tuple[dict[str, Any], frozenset[str]]:
    """(findings, asked) after answering `steps` in order: [(finding or screen id, value or answer), ...].
    "Don't know" answers are explicit nulls in the findings."""
    kb = kb or default_knowledge()
    findings: dict[str, Any] = {}
    asked: frozenset[str] = frozenset()
    for step_id, value in steps:
        findings, asked = record(step_id, value, findings, asked, kb)
    return findings, asked


def prompts_asked(asked: Iterable[str], kb: KnowledgeBase) -> int:
    """How many prompts were shown, from `asked`: each screen once (twice after "don't know"), each single
    question once; findings answered on a screen are not prompts of their own."""
    asked = set(asked)
    on_screens = {f for screen in kb.screens if screen.id in asked for f in screen.findings}
    screens = sum(1 for screen in kb.screens if screen.id in asked)
    follow_ups = sum(
        1
        for screen in kb.screens
        if screen.id in asked
        and f"{screen.id}:answered" not in asked
        and any(f in asked for f in screen.findings)
    )
    singles = sum(1 for q in kb.questions if q.finding in asked and q.finding not in on_screens)
    return screens + follow_ups + singles


# ---------------------------------------------------------------------------------------------------------
# next step


def next_step(
    findings: Mapping[str, Any],
    kb: KnowledgeBase | None = None,
    asked: Iterable[str] = frozenset(),
) -> Step | None:
    """The next question (`Question`) or group of questions (`Screen`), or None when the interview is done."""
    kb = kb or default_knowledge()
    findings = known_findings(findings)
    asked_set = set(asked)
    done = asked_set | set(findings)
    if any(f.level == "emergency" for f in red_flags(findings, kb)):
        return None
    for question in kb.questions:
        if question.phase == "basics" and question.finding not in done and applicable(question, findings):
            return question
    screen_of = {fid: screen for screen in kb.screens for fid in screen.findings}
    for question in kb.questions:
        if question.phase != "red_flag" and question.finding not in screen_of:
            continue
        screen = screen_of.get(question.finding)
        if screen is not None:
            # a screen is asked at the place of its first item in questions.yaml
            step = _screen_step(screen, kb, findings, done, asked_set)
            if step is not None:
                return step
        elif question.finding not in done and applicable(question, findings):
            return question
    return _next_detail(findings, kb, done, asked_set)


def next_question(
    findings: Mapping[str, Any],
    kb: KnowledgeBase | None = None,
    asked: Iterable[str] = frozenset(),
) -> Question | None:
    """Like `next_step`, one finding at a time: a screen becomes its first open item's question.

    For clients that cannot show a grouped question (e.g. the JSON API): the safety screen is then asked
    item by item, which is longer but just as safe.
    """
    kb = kb or default_knowledge()
    step = next_step(findings, kb, asked)
    if isinstance(step, Screen):
        done = set(asked) | set(known_findings(findings))
        first = next(f for item in step.items for f in item.findings if _pending(f, kb, findings, done))
        return kb.question(first)
    return step


SCREEN_ANSWER_LABELS = {
    SCREEN_NONE: "None of these",
    SCREEN_YES: "Yes, one or more",
    SCREEN_DONT_KNOW: "Don't know",
}


def item_choices(finding_id: str, kb: KnowledgeBase) -> list[tuple[Any, str]]:
    """The answers to one item of a follow-up screen: yes / no for a yes/no finding, else its choices."""
    if kb.findings[finding_id].type == "boolean":
        return [(True, "Yes"), (False, "No")]
    question = kb.question(finding_id)
    return list(question.choices) if question is not None else []


def step_json(step: Step, kb: KnowledgeBase) -> dict[str, Any]:
    """One step as JSON for API clients, with the sources it rests on. A question is answered with its
    finding's value (null = don't know). A screen in mode "checklist" is answered with the list of ticked
    finding ids, "none" or "dont_know"; in mode "each" (the follow-up after "don't know") with an object
    {finding id: value or null}."""
    if isinstance(step, Screen):
        answers = (
            [{"value": v, "label": label} for v, label in SCREEN_ANSWER_LABELS.items() if v != SCREEN_YES]
            if step.mode == "checklist"
            else []
        )
        return {
            "kind": "screen",
            "id": step.id,
            "phase": step.phase,
            "mode": step.mode,
            "text": step.text,
            "items": [
                {
                    "label": item.label,
                    "findings": list(item.findings),
                    "choices": [
                        {"value": v, "label": label}
                        for f in item.findings
                        for v, label in item_choices(f, kb)
                    ],
                }
                for item in step.items
            ],
            "answers": answers,
            "citations": list(dict.fromkeys(c for i in step.items for c in (*step.citations, *i.citations))),
        }
    finding = kb.findings[step.finding]
    return {
        "kind": "question",
        "id": step.finding,
        "phase": step.phase,
        "text": step.text,
        "type": finding.type,
        "choices": [{"value": v, "label": label} for v, label in step.choices],
        "min": finding.min,
        "max": finding.max,
        "unit": finding.unit,
        "citations": list(step.citations),
    }


# ---------------------------------------------------------------------------------------------------------
# detail questions


@dataclass(frozen=True, slots=True)
class _Outlook:
    """What each answer to a question would do: its probability, and the level and top 3 it would give."""

    question: Question
    p_answer: tuple[float, ...]
    levels: tuple[str, ...]
    top3: tuple[frozenset[str], ...]
    gain_bits: float


def _answers(question: Question, kb: KnowledgeBase) -> list[Any]:
    """Possible answers to reason about: booleans, enum values, or numbers either side of each threshold."""
    finding = kb.findings[question.finding]
    if finding.type == "boolean":
        return [True, False]
    if finding.type == "enum":
        return list(finding.values)
    cuts: set[float] = set()
    leaves = [i.rule for c in kb.conditions.values() for i in c.evidence if i.finding == finding.id]
    leaves += [
        leaf
        for rule in [f.rule for f in kb.red_flags]
        + [e.when for c in kb.conditions.values() for e in c.escalations]
        for leaf in rules.leaves(rule)
        if leaf.get("finding") == finding.id and leaf.get("op") != "known"
    ]
    for leaf in leaves:
        value = leaf["value"]
        cuts.update(value if isinstance(value, list) else [value])
    assert finding.min is not None and finding.max is not None
    points = {finding.min, finding.max}
    for cut in cuts:
        points.update({max(finding.min, cut - 0.5), min(finding.max, cut + 0.5)})
    return sorted(points)


def _likelihoods(question: Question, answers: Sequence[Any], kb: KnowledgeBase) -> dict[str, list[float]]:
    """Per condition, the product of the LRs each answer would fire (1.0 where none would)."""
    table: dict[str, list[float]] = {}
    for cid, condition in kb.conditions.items():
        items = [i for i in condition.evidence if i.finding == question.finding]
        table[cid] = [
            math.prod(i.lr for i in items if rules.evaluate(i.rule, {question.finding: a}).fired)
            for a in answers
        ]
    return table


def _entropy(p: Iterable[float]) -> float:
    return -sum(x * math.log2(x) for x in p if x > 0)


def _outlook(
    question: Question,
    findings: Mapping[str, Any],
    logs: Mapping[str, tuple[float, list[Any]]],
    prior: Mapping[str, float],
    kb: KnowledgeBase,
) -> _Outlook:
    """The expected information gain of `question` and, per answer, the level and top 3 it would give.

    P(answer | condition) is taken proportional to the condition's likelihood ratio for that answer
    (uniform base rate over the answers), which is all the knowledge states.
    """
    answers = _answers(question, kb)
    lr = _likelihoods(question, answers, kb)
    p_given = {c: [x / sum(row) for x in row] for c, row in lr.items()}
    p_answer = [sum(prior[c] * p_given[c][a] for c in prior) for a in range(len(answers))]
    expected = sum(
        pa * _entropy(prior[c] * p_given[c][a] / pa for c in prior) for a, pa in enumerate(p_answer) if pa > 0
    )
    gain = max(0.0, _entropy(prior.values()) - expected)
    levels, top3 = [], []
    for a, answer in enumerate(answers):
        trial = {**findings, question.finding: answer}
        trial_logs = {c: (logs[c][0] + math.log(lr[c][a]), []) for c in logs}
        ranked = rank_conditions(trial_logs, kb)
        levels.append(level_reasons(trial, red_flags(trial, kb), ranked, kb)[0])
        top3.append(frozenset(c.id for c in ranked[:3]))
    return _Outlook(question, tuple(p_answer), tuple(levels), tuple(top3), gain)


def information_gain(question: Question, findings: Mapping[str, Any], kb: KnowledgeBase) -> float:
    """Expected reduction (bits) in uncertainty over the conditions if `question` were answered."""
    findings = known_findings(findings)
    logs = log_scores(findings, kb)
    prior = softmax({k: v[0] for k, v in logs.items()})
    return _outlook(question, findings, logs, prior, kb).gain_bits


def _next_detail(
    findings: dict[str, Any], kb: KnowledgeBase, done: set[str], asked: set[str]
) -> Question | None:
    details = [q for q in kb.questions if q.phase == "detail"]
    asked_details = sum(q.finding in done for q in details)
    candidates = [q for q in details if q.finding not in done and applicable(q, findings)]
    if not candidates:
        return None
    logs = log_scores(findings, kb)
    flags = red_flags(findings, kb)
    ranked = pull_flagged(rank_conditions(logs, kb), flags)
    level = level_reasons(findings, flags, ranked, kb)[0]
    prior = {c.id: c.score for c in ranked}
    top3 = frozenset(c.id for c in ranked[:3])
    outlooks = [_outlook(q, findings, logs, prior, kb) for q in candidates]

    def chance(o: _Outlook, changes: Sequence[bool]) -> float:
        return sum(p for p, hit in zip(o.p_answer, changes, strict=True) if hit)

    # 1. Safety first: an answer that would raise the level to urgent or above.
    if LEVEL_RANK[level] < LEVEL_RANK["urgent"]:
        raising = [
            (chance(o, [LEVEL_RANK[x] >= LEVEL_RANK["urgent"] for x in o.levels]), o.gain_bits, o)
            for o in outlooks
        ]
        raising = [r for r in raising if r[0] >= MIN_ANSWER_PROBABILITY]
        if raising:
            return max(raising, key=lambda r: (r[0], r[1]))[2].question
    # 2. The questions that tell the top three apart: every key finding of each (docs/triage.md), the most
    # informative first - an answer can reshuffle the top three, so fewer are needed than in file order.
    by_finding = {o.question.finding: o for o in outlooks}
    keys = [by_finding[f] for c in ranked[:3] for f in kb.conditions[c.id].key_findings if f in by_finding]
    if keys:
        return max(keys, key=lambda o: o.gain_bits).question
    # 3. The leading condition's own escalations (e.g. pain for 6 weeks or more -> see a clinician): they
    # decide the level, so they are never cut by the cap either; asked once the leader is settled by the
    # questions above, so a condition that leads only for a moment costs no questions.
    top = kb.conditions[ranked[0].id]
    for escalation in top.escalations:
        if LEVEL_RANK[escalation.level] <= LEVEL_RANK[level]:
            continue
        for leaf in rules.leaves(escalation.when):
            if leaf["finding"] in by_finding:
                return by_finding[leaf["finding"]].question
    if asked_details >= MAX_DETAIL_QUESTIONS:
        return None  # the runner has answered enough; only the questions above go beyond this
    # 4. Stop when the leader is clear and no likely answer changes the level or the top three.
    if ranked[0].score >= STOP_PROBABILITY and not any(
        chance(o, [lv != level or t != top3 for lv, t in zip(o.levels, o.top3, strict=True)])
        >= MIN_ANSWER_PROBABILITY
        for o in outlooks
    ):
        return None
    # 5. Otherwise the most informative question, if any is worth asking.
    best = max(outlooks, key=lambda o: o.gain_bits)
    return best.question if best.gain_bits >= MIN_GAIN_BITS else None


# ---------------------------------------------------------------------------------------------------------
# a simulated runner (for the accuracy bench and the tests)


def item_applies(finding: str, value: Any, screen: Screen, kb: KnowledgeBase) -> bool:
    """Whether `finding=value` is what `screen` asks about: anything but the item's "none" value, or, for a
    finding without one (e.g. weight), a value that would make a red-flag test true."""
    for item in screen.items:
        if finding in item.none_values:
            return bool(value != item.none_values[finding])
    return any(
        leaf.get("finding") == finding and rules.evaluate(leaf, {finding: value}).fired
        for flag in kb.red_flags
        for leaf in rules.leaves(flag.rule)
    )


def simulate_interview(
    truth: Mapping[str, Any],
    kb: KnowledgeBase | None = None,
    unknown_means_no: bool = True,
    limit: int = 100,
) -> tuple[dict[str, Any], list[str]]:
    """Run the interview for a runner whose answers are `truth`; returns (findings, step ids asked).

    Questions about findings absent from `truth` are answered "don't know". A checklist screen gets the items
    that apply ticked, or "none of these" when none does: case files list the warning signs that are present.
    With `unknown_means_no=False` absent findings are "don't know" everywhere, so a screen with nothing ticked
    and any of them unstated is answered "don't know", and the follow-up screen gets "don't know" for them
    (the strictest runner).
    """
    kb = kb or default_knowledge()
    none_values = {
        f: v for screen in kb.screens for item in screen.items for f, v in item.none_values.items()
    }

    def value_of(fid: str) -> Any:
        value = truth.get(fid)
        if value is None and unknown_means_no:  # a warning sign the case does not list is "no"
            value = none_values.get(fid)
        return value

    findings: dict[str, Any] = {}
    asked: frozenset[str] = frozenset()
    steps: list[str] = []
    for _ in range(limit):
        step = next_step(findings, kb, asked)
        if step is None:
            return findings, steps
        steps.append(step.id)
        if isinstance(step, Screen):
            shown = [f for item in step.items for f in item.findings]
            answer: Any
            if step.mode == "each":
                answer = {f: value_of(f) for f in shown}
            elif ticked := [f for f in shown if f in truth and item_applies(f, truth[f], step, kb)]:
                answer = ticked
            elif unknown_means_no or all(f in truth for f in shown):
                answer = SCREEN_NONE
            else:
                answer = SCREEN_DONT_KNOW
            findings, asked = answer_screen(step.id, answer, findings, asked, kb)
        else:
            findings, asked = record(step.finding, value_of(step.finding), findings, asked, kb)
    raise RuntimeError(f"the interview did not finish in {limit} steps: {steps}")


__all__ = [
    "MAX_DETAIL_QUESTIONS",
    "SCREEN_TICKS",
    "AnswerError",
    "Step",
    "answer_screen",
    "applicable",
    "information_gain",
    "next_question",
    "next_step",
    "prompts_asked",
    "record",
    "replay",
    "screen_view",
    "simulate_interview",
]
