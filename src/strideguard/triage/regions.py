"""Where a check continues when "where does it hurt?" names another region: the knee check's "not the knee"
answers (groin, outside of the hip, buttock) belong to the hip check. Pure; `settle_region` is the one place
that decides it for the CLI, the web wizard and the API, so they stay identical step for step. The hip check
never moves: its knee answers keep the hip's rules that reach the knee (an adolescent with knee-only pain
and a limp is an SCFE check)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strideguard.triage.interview import AnswerError, record, replay
from strideguard.triage.knowledge import default_knowledge
from strideguard.triage.knowledge_model import KnowledgeBase

# region -> {pain_location value -> the region that owns it}
REDIRECTS: dict[str, dict[str, str]] = {
    "knee": {"groin": "hip", "lateral": "hip", "buttock": "hip"},
}


def region_for(region: str, findings: Mapping[str, Any]) -> str:
    """The region whose check fits the answers so far (`region` unless where it hurts says otherwise)."""
    return REDIRECTS.get(region, {}).get(str(findings.get("pain_location")), region)


@dataclass(frozen=True, slots=True)
class Settled:
    """A check after its answers so far: the knowledge it goes on with, and the (findings, asked) the answers
    replay to under that knowledge."""

    kb: KnowledgeBase
    findings: dict[str, Any]
    asked: frozenset[str]

    @property
    def region(self) -> str:
        return self.kb.region


def _check_carried(answers: Sequence[tuple[str, Any]], old: KnowledgeBase, new: KnowledgeBase) -> None:
    """Refuse answers the new check cannot take (a screen, or a finding of the old region only): a
    region's screen lists its own warning signs (the knee's "none of these" is not the hip's), so carrying it
    would take a "no" the runner never gave. The packaged knee asks only shared basics before "where"."""
    foreign = [
        step_id
        for step_id, _ in answers
        if new.screen(step_id) is not None or old.screen(step_id) is not None or step_id not in new.findings
    ]
    if foreign:
        raise AnswerError(
            f"{', '.join(dict.fromkeys(foreign))}: answered in the {old.region} check, which the "
            f"{new.region} check does not ask; the {new.region} check has to start again"
        )


def settle_region(
    region: str,
    answers: Sequence[tuple[str, Any]],
    knowledge: Callable[[str], KnowledgeBase] = default_knowledge,
) -> Settled:
    """The check that `answers` (given in order, starting in `region`) goes on with, and its state.

    The answers are recorded in order under `region`'s knowledge; when where it hurts belongs to another
    region, the answers so far are replayed under that region's knowledge (each must be one it takes too) and
    the later answers are that region's. So a shell that sends every answer again (the wizard, the API) and
    one that answers step by step (the CLI) end in the same state. `knowledge` loads a region (the CLI passes
    its --knowledge folder). Raises `interview.AnswerError` for an answer that does not fit its step, or that
    the region it moves to cannot take.
    """
    kb = knowledge(region)
    findings: dict[str, Any] = {}
    asked: frozenset[str] = frozenset()
    for i, (step_id, value) in enumerate(answers):
        findings, asked = record(step_id, value, findings, asked, kb)
        target = region_for(kb.region, findings)
        if target != kb.region:
            new = knowledge(target)
            _check_carried(answers[: i + 1], kb, new)
            findings, asked = replay(answers[: i + 1], new)
            kb = new
    return Settled(kb, findings, asked)


__all__ = ["REDIRECTS", "Settled", "region_for", "settle_region"]
