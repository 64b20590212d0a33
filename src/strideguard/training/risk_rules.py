"""The risk rules as data: `knowledge/risk_rules.yaml` (thresholds, messages, citations), validated at load.

`check_rules()` reports every problem of the file at once; `load_rules()` raises them together;
`default_rules()` is the packaged file, loaded once per process. Citations come from every
`knowledge/citations*.yaml`. Pure apart from reading those files; `risk.py` applies the rules.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
RULES_FILE = "risk_rules.yaml"
RULE_IDS = (
    "session_spike",
    "returning_runner",
    "weekly_increase",
    "acwr",
    "fitness_fatigue",
    "monotony_strain",
    "shoe_retirement",
    "pain_rising",
    "hold_back",
)
SEVERITIES = ("warning", "watch", "info")
# Numbers each rule must define (name -> rule).
REQUIRED_NUMBERS: dict[str, tuple[str, ...]] = {
    "session_spike": ("window_days", "small_above_pct", "moderate_above_pct", "large_above_pct"),
    "returning_runner": ("window_days",),
    "weekly_increase": ("baseline_weeks", "above_pct"),
    "acwr": ("acute_days", "chronic_days"),
    "fitness_fatigue": ("ctl_days", "atl_days"),
    "monotony_strain": ("days",),
    "shoe_retirement": ("default_retire_km", "check_at_fraction", "replace_at_fraction"),
    "pain_rising": ("max_acceptable_score", "compare_days"),
    "hold_back": ("pain_days", "triage_days"),
}


class RiskRulesError(ValueError):
    """risk_rules.yaml has problems; `.errors` lists every one."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(errors)} problem(s) in {RULES_FILE}:\n" + "\n".join(errors))


# How screens name StrideGuard's own design choices in a sources list: never as if it were an author.
OWN_RULE_LABEL = "StrideGuard's own rule (not yet reviewed by a clinician)"


@dataclass(frozen=True, slots=True)
class Source:
    """One citation. `short` is how a screen cites it ("Frandsen et al. 2025"); `own_rule` marks
    StrideGuard's own design choices, cited as OWN_RULE_LABEL."""

    id: str
    text: str
    url: str
    year: int | None
    short: str = ""
    own_rule: bool = False

    @property
    def label(self) -> str:
        """The citation as a reader sees it in a "Source:" line."""
        if self.own_rule:
            return OWN_RULE_LABEL
        if self.short:
            return self.short
        who = self.text.split(". ")[0].strip()
        if "," in who:  # an author list: the first author is enough to find it
            who = who.split(",")[0].strip() + " et al."
        return f"{who} {self.year}" if self.year else who

    @property
    def full(self) -> str:
        """The citation in a sources list: the reference, or for an own rule the label and what it does."""
        return f"{OWN_RULE_LABEL}: {self.text}" if self.own_rule else self.text


@dataclass(frozen=True, slots=True)
class RiskRule:
    """One rule: thresholds (`numbers`), a message template with `fields`, and its citations."""

    id: str
    severity: str
    summary: str
    numbers: Mapping[str, float]
    message: str
    fields: tuple[str, ...]
    citations: tuple[str, ...]
    date_reviewed: date
    next_review: date
    extra: Mapping[str, Any] = field(default_factory=dict)

    def text(self, **values: Any) -> str:
        """The message with `values` filled in, as one line."""
        return " ".join(self.message.format(**values).split())


@dataclass(frozen=True, slots=True)
class RiskRules:
    rules: Mapping[str, RiskRule]
    sources: Mapping[str, Source]

    def __getitem__(self, rule_id: str) -> RiskRule:
        return self.rules[rule_id]

    def number(self, rule_id: str, name: str) -> float:
        return float(self.rules[rule_id].numbers[name])

    def title(self, rule_id: str, category: str | None = None) -> str:
        """What a screen calls a warning ("Pain not settled by the next morning"), never its ids."""
        rule = self.rules[rule_id]
        titles = rule.extra.get("titles")
        if isinstance(titles, Mapping) and category in titles:
            return str(titles[category])
        return str(rule.extra.get("title") or rule.summary)

    def source_line(self, ids: tuple[str, ...] | list[str]) -> str:
        """'Source: Frandsen et al. 2025' or 'Sources: A; B', as a reader cites them."""
        labels = [self.sources[c].label if c in self.sources else c for c in ids]
        labels = list(dict.fromkeys(labels))
        return ("Source: " if len(labels) == 1 else "Sources: ") + "; ".join(labels)


# libyaml's loader when PyYAML was built with it: the rules are read at the start of `status`, `risk` and
# `plan`, and the C loader is several times faster than the pure-Python one (the same safe subset).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path, errors: list[str]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except OSError as exc:
        errors.append(f"{path.name}: cannot read: {exc.strerror or exc}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark else ""
        errors.append(f"{path.name}: not valid YAML{at}")
    return None


def _sources(directory: Path, errors: list[str]) -> dict[str, Source]:
    """Every citation of every knowledge/citations*.yaml (duplicates are knowledge.py's to report)."""
    sources: dict[str, Source] = {}
    for path in sorted(directory.glob("citations*.yaml")):
        data = _read_yaml(path, errors)
        if not isinstance(data, Mapping):
            continue
        for cid, entry in data.items():
            if isinstance(entry, Mapping) and isinstance(entry.get("text"), str):
                year = entry.get("year")
                sources[str(cid)] = Source(
                    str(cid),
                    " ".join(entry["text"].split()),
                    str(entry.get("url") or ""),
                    year if isinstance(year, int) else None,
                    " ".join(str(entry.get("short") or "").split()),
                    entry.get("own_rule") is True,
                )
    return sources


def _template_fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def check_rules(directory: Path | None = None) -> tuple[RiskRules | None, list[str]]:
    """Load risk_rules.yaml from `directory` (default: the packaged knowledge); (rules or None, errors)."""
    directory = Path(directory or KNOWLEDGE_DIR)
    errors: list[str] = []
    sources = _sources(directory, errors)
    data = _read_yaml(directory / RULES_FILE, errors)
    if not isinstance(data, Mapping):
        errors.append(f"{RULES_FILE}: expected a mapping of rule id -> rule")
        return None, errors
    rules: dict[str, RiskRule] = {}
    for rule_id in RULE_IDS:
        if rule_id not in data:
            errors.append(f"{RULES_FILE}: rule {rule_id} is missing")
    for rule_id, item in data.items():
        where = f"{RULES_FILE}: {rule_id}"
        if rule_id not in RULE_IDS:
            errors.append(f"{where}: unknown rule id (known: {', '.join(RULE_IDS)})")
            continue
        if not isinstance(item, Mapping):
            errors.append(f"{where}: expected a mapping")
            continue
        severity = item.get("severity")
        if severity not in SEVERITIES:
            errors.append(f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        numbers = item.get("numbers")
        if not isinstance(numbers, Mapping):
            errors.append(f"{where}: needs a 'numbers' mapping")
            numbers = {}
        for name in REQUIRED_NUMBERS[rule_id]:
            value = numbers.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(f"{where}: numbers.{name} must be a number, got {value!r}")
        message = item.get("message")
        fields = item.get("fields")
        if not isinstance(message, str) or not message.strip():
            errors.append(f"{where}: needs a non-empty 'message'")
            message = ""
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            errors.append(f"{where}: 'fields' must be a list of names")
            fields = []
        else:
            unknown = _template_fields(message) - set(fields)
            if unknown:
                errors.append(f"{where}: message uses undeclared field(s) {', '.join(sorted(unknown))}")
        citations = item.get("citations")
        if not isinstance(citations, list) or not citations:
            errors.append(f"{where}: no citations (every threshold and message must cite its source)")
            citations = []
        for cid in citations:
            if cid not in sources:
                errors.append(f"{where}: unknown citation {cid!r}")
        reviewed, due = item.get("date_reviewed"), item.get("next_review")
        if not isinstance(reviewed, date) or not isinstance(due, date):
            errors.append(f"{where}: needs date_reviewed and next_review (YYYY-MM-DD)")
            reviewed = due = date.min
        elif due <= reviewed:
            errors.append(f"{where}: next_review {due} must be after date_reviewed {reviewed}")
        known = {
            "severity",
            "summary",
            "numbers",
            "message",
            "fields",
            "citations",
            "date_reviewed",
            "next_review",
        }
        rules[rule_id] = RiskRule(
            id=rule_id,
            severity=str(severity),
            summary=str(item.get("summary") or ""),
            numbers=dict(numbers),
            message=message,
            fields=tuple(fields),
            citations=tuple(str(c) for c in citations),
            date_reviewed=reviewed,
            next_review=due,
            extra={k: v for k, v in item.items() if k not in known},
        )
    for rule_id, key, names in (
        ("session_spike", "hazard_ratios", ("small", "moderate", "large")),
        ("session_spike", "plan_messages", ("within", "spike", "returning", "ceiling")),
        ("shoe_retirement", "advice", ("check", "replace")),
        (
            "pain_rising",
            "reasons",
            (
                "over_limit",
                "not_settled",
                "not_settled_no_baseline",
                "not_settled_run_scores_only",
                "rising_weekly",
            ),
        ),
        ("hold_back", "reasons", ("pain", "triage")),
        ("hold_back", "advice", ("pain", "triage")),
        # Screens show these titles, never a rule id or category id.
        ("session_spike", "titles", ("small", "moderate", "large")),
        ("returning_runner", "titles", ("first_run", "after_gap")),
        ("weekly_increase", "titles", ("watch",)),
        ("shoe_retirement", "titles", ("check", "replace")),
        ("pain_rising", "titles", ("over_limit", "not_settled", "rising_weekly")),
    ):
        value = rules[rule_id].extra.get(key) if rule_id in rules else None
        if not isinstance(value, Mapping) or any(not isinstance(value.get(n), str) for n in names):
            errors.append(f"{RULES_FILE}: {rule_id}: needs {key} with text for {', '.join(names)}")
    spike_rule = rules.get("session_spike")
    for note in ("short_history_note", "spike_base_note"):
        if spike_rule is not None and not isinstance(spike_rule.extra.get(note), str):
            errors.append(f"{RULES_FILE}: session_spike: needs a {note} text")
    if "hold_back" in rules and not isinstance(rules["hold_back"].extra.get("title"), str):
        errors.append(f"{RULES_FILE}: hold_back: needs a title")
    if errors:
        return None, errors
    return RiskRules(rules, sources), []


def load_rules(directory: Path | None = None) -> RiskRules:
    """The validated rules; raises RiskRulesError listing every problem."""
    rules, errors = check_rules(directory)
    if rules is None:
        raise RiskRulesError(errors)
    return rules


@functools.cache
def default_rules() -> RiskRules:
    """The packaged rules, loaded once per process."""
    return load_rules(KNOWLEDGE_DIR)
