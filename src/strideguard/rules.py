"""A tiny rule evaluator over findings: `all` / `any` / `not` around leaves `{finding, op, value}`.

Rules use three-valued (Kleene) logic because an absent finding means *unknown*, never "no":
a leaf on an unknown finding is `None`, `all` is False if any part is False, `any` is True if any part is
True, and `not None` stays `None`. A rule *fires* only when it is definitely True. The only leaf that is
never unknown is `op: known`, which asks whether the finding was answered at all.

Every evaluation returns a trace: the leaves that were true, so a result can say *why* a rule fired.
Shared by triage (red flags, condition evidence, escalations) and, later, by risk rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# op -> arity of `value`: "scalar", "list" (in / not_in), "pair" (between, inclusive), "bool" (known)
OPS: dict[str, str] = {
    "eq": "scalar",
    "ne": "scalar",
    "gt": "scalar",
    "gte": "scalar",
    "lt": "scalar",
    "lte": "scalar",
    "in": "list",
    "not_in": "list",
    "between": "pair",
    "known": "bool",
}
NUMERIC_OPS = frozenset({"gt", "gte", "lt", "lte", "between"})


class RuleError(ValueError):
    """A rule that is not well formed (unknown op, wrong value shape, unknown keys)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test of one finding that was true; the `why` of a fired rule."""

    finding: str
    op: str
    value: Any
    actual: Any

    def describe(self) -> str:
        if self.op == "known":
            return f"{self.finding} {'answered' if self.value else 'not answered'}"
        return f"{self.finding}={self.actual!r} ({self.op} {self.value!r})"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of a rule: `value` is True, False or None (unknown); `trace` the true leaves that matter."""

    value: bool | None
    trace: tuple[Leaf, ...] = ()

    @property
    def fired(self) -> bool:
        return self.value is True


def leaves(rule: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """All `{finding, op, value}` leaves of a rule, depth first (used by validation and question choice)."""
    if "all" in rule or "any" in rule:
        parts = rule.get("all", rule.get("any")) or []
        return [leaf for part in parts for leaf in leaves(part)]
    if "not" in rule:
        return leaves(rule["not"])
    return [rule]


def check(rule: Any, where: str) -> list[str]:
    """Shape errors of a rule (not finding-vocabulary errors, which the knowledge loader checks)."""
    if not isinstance(rule, Mapping):
        return [f"{where}: a rule must be a mapping, got {type(rule).__name__}"]
    keys = set(rule)
    for combinator in ("all", "any"):
        if combinator in keys:
            if keys != {combinator}:
                return [f"{where}: '{combinator}' must be the only key, got {sorted(keys)}"]
            parts = rule[combinator]
            if not isinstance(parts, list) or not parts:
                return [f"{where}: '{combinator}' needs a non-empty list"]
            return [e for i, part in enumerate(parts) for e in check(part, f"{where}.{combinator}[{i}]")]
    if "not" in keys:
        if keys != {"not"}:
            return [f"{where}: 'not' must be the only key, got {sorted(keys)}"]
        return check(rule["not"], f"{where}.not")
    if keys != {"finding", "op", "value"}:
        return [f"{where}: a leaf needs exactly finding, op, value; got {sorted(keys)}"]
    op, value = rule["op"], rule["value"]
    if op not in OPS:
        return [f"{where}: unknown op {op!r} (use one of {', '.join(OPS)})"]
    shape = OPS[op]
    if shape == "list" and not isinstance(value, list):
        return [f"{where}: op {op!r} needs a list value"]
    if shape == "pair" and not (isinstance(value, list) and len(value) == 2):
        return [f"{where}: op 'between' needs [low, high]"]
    if shape == "bool" and not isinstance(value, bool):
        return [f"{where}: op 'known' needs true or false"]
    if op in NUMERIC_OPS:
        numbers = value if isinstance(value, list) else [value]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            return [f"{where}: op {op!r} needs numbers, got {value!r}"]
    return []


def _leaf(rule: Mapping[str, Any], findings: Mapping[str, Any]) -> bool | None:
    finding, op, expected = rule["finding"], rule["op"], rule["value"]
    if op == "known":
        return (finding in findings and findings[finding] is not None) == expected
    if finding not in findings or findings[finding] is None:
        return None
    actual = findings[finding]
    try:
        match op:
            case "eq":
                return bool(actual == expected)
            case "ne":
                return bool(actual != expected)
            case "in":
                return actual in expected
            case "not_in":
                return actual not in expected
            case "gt":
                return bool(actual > expected)
            case "gte":
                return bool(actual >= expected)
            case "lt":
                return bool(actual < expected)
            case "lte":
                return bool(actual <= expected)
            case "between":
                return bool(expected[0] <= actual <= expected[1])
    except TypeError:  # e.g. comparing a string with a number: the rule does not apply
        return False
    raise RuleError(f"unknown op {op!r}")


def evaluate(rule: Mapping[str, Any], findings: Mapping[str, Any]) -> Outcome:
    """Evaluate `rule` over `findings` (id -> value; absent = unknown) with Kleene logic and a trace."""
    if "all" in rule:
        return _combine([evaluate(part, findings) for part in rule["all"]], want=False)
    if "any" in rule:
        return _combine([evaluate(part, findings) for part in rule["any"]], want=True)
    if "not" in rule:
        inner = evaluate(rule["not"], findings)
        return Outcome(None if inner.value is None else not inner.value)
    value = _leaf(rule, findings)
    trace = (
        (Leaf(rule["finding"], rule["op"], rule["value"], findings.get(rule["finding"])),) if value else ()
    )
    return Outcome(value, trace)


def _combine(parts: Sequence[Outcome], want: bool) -> Outcome:
    """`all` (want=False: a False decides) or `any` (want=True: a True decides)."""
    deciding = [p for p in parts if p.value is want]
    if deciding:
        return Outcome(want, tuple(leaf for p in deciding for leaf in p.trace) if want else ())
    if any(p.value is None for p in parts):
        return Outcome(None)
    return Outcome(not want, tuple(leaf for p in parts for leaf in p.trace) if not want else ())
