"""The triage result: the conditions scored, red flags hit or left unchecked, the reasons for the level, the
routines suggested, and its stable JSON contract (docs/triage.md). Frozen dataclasses, no logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DISCLAIMER = (
    "StrideGuard gives guidance, not a diagnosis. It cannot examine you, and its advice does not replace a "
    "doctor or physiotherapist. If you are worried, if the pain gets worse, or if anything new appears, get "
    "checked; in an emergency call your local emergency number."
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finding that moved a condition's score: its odds were multiplied by `lr`."""

    finding: str
    value: Any
    lr: float
    citations: tuple[str, ...]
    note: str | None = None
    basis: str = "design"  # where the number comes from: sourced | derived | design

    @property
    def effect(self) -> str:
        return "raises" if self.lr > 1 else "lowers"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "finding": self.finding,
            "value": self.value,
            "effect": self.effect,
            "likelihood_ratio": self.lr,
            "basis": self.basis,
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
    pulled_by: tuple[str, ...] = ()  # red flags that put this condition at the top of the list

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "score": round(self.score, 4),
            "prior": self.prior,
            "triage_level": self.triage_level,
            "evidence": [e.to_json() for e in self.evidence],
            "citations": list(self.citations),
            "pulled_by": list(self.pulled_by),
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
    region: str = "hip"  # the body region whose knowledge gave this result (hip or knee)

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
            "region": self.region,
        }
