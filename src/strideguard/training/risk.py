"""Injury-risk rules over load facts, shoes and the pain diary -> explained flags with citations. Pure.

Thresholds, messages and sources are data in `knowledge/risk_rules.yaml` (citations in
`knowledge/citations_load.yaml`), loaded and validated by `risk_rules.load_rules()`, which reports every
problem at once.
`evaluate()` returns the flags dated in a window; `plan()` checks a run before it happens; `load_info()` gives
the informational trend numbers (ACWR, CTL/ATL/TSB, monotony/strain) that never raise an alarm.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.training import load
from strideguard.training.pain import REGIONS, PainBreach, PainEntry, check_pain
from strideguard.training.risk_rules import (
    KNOWLEDGE_DIR,
    REQUIRED_NUMBERS,
    RULE_IDS,
    RULES_FILE,
    SEVERITIES,
    RiskRule,
    RiskRules,
    RiskRulesError,
    Source,
    check_rules,
    default_rules,
    load_rules,
)
from strideguard.training.shoes import Shoe, ShoeWear, shoe_alerts, shoe_wear

# The rules loader lives in risk_rules.py; its names stay importable from here (risk.load_rules, ...).
__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "KNOWLEDGE_DIR",
    "REQUIRED_NUMBERS",
    "RULES_FILE",
    "RULE_IDS",
    "SEVERITIES",
    "Flag",
    "LoadInfo",
    "Plan",
    "RiskRule",
    "RiskRules",
    "RiskRulesError",
    "Source",
    "check_rules",
    "default_rules",
    "evaluate",
    "load_info",
    "load_rules",
    "longest_safe_run_m",
    "pain_flag",
    "plan",
]

DEFAULT_WINDOW_DAYS = 7

# ---------------------------------------------------------------------------------------------------------
# flags


@dataclass(frozen=True, slots=True)
class Flag:
    """One explained warning. `value` and `threshold` are in the rule's own unit (percent, days, score)."""

    rule: str
    severity: str
    category: str | None
    day: date
    activity_id: int | None
    value: float | None
    threshold: float | None
    message: str
    citations: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "category": self.category,
            "date": self.day.isoformat(),
            "activity_id": self.activity_id,
            "value": None if self.value is None else round(self.value, 3),
            "threshold": self.threshold,
            "message": self.message,
            "citation": self.citations[0] if self.citations else None,
            "citations": list(self.citations),
            **({"details": dict(self.details)} if self.details else {}),
        }


def _bounds(rules: RiskRules) -> tuple[float, float, float]:
    return (
        rules.number("session_spike", "small_above_pct"),
        rules.number("session_spike", "moderate_above_pct"),
        rules.number("session_spike", "large_above_pct"),
    )


def _decimals_apart(threshold: float, value: float, start: int = 0, most: int = 2) -> int:
    """Fewest decimals (from `start`) at which `value` still shows on its own side of `threshold`."""
    decimals = start
    while decimals < most and (round(value, decimals) > threshold) != (value > threshold):
        decimals += 1
    return decimals


def spike_numbers(
    distance_m: float,
    longest_m: float,
    max_within_m: float,
    pct: float,
    limit_pct: float,
    signed: bool = False,
) -> dict[str, str]:
    """The numbers of a spike message as text. At the 10% edge one decimal is not enough: 11.44 km after
    10.4 km is 10.03% longer, which must not read "10% longer ... keep runs within 11.4 km"."""
    km = 1
    shown = f"{distance_m / 1000:.1f}"
    if shown in (f"{max_within_m / 1000:.1f}", f"{longest_m / 1000:.1f}"):
        km = 2
    scale = 10**km
    within = math.floor(max_within_m / 1000 * scale + 1e-9) / scale  # rounded down: "within" stays true
    decimals = _decimals_apart(limit_pct, pct)
    return {
        "distance_km": f"{distance_m / 1000:.{km}f}",
        "longest_km": f"{longest_m / 1000:.{km}f}",
        "max_within_km": f"{within:.{km}f}",
        "spike_pct": f"{pct:{'+' if signed else ''}.{decimals}f}",
    }


def _spike_flags(
    spikes: list[load.SessionSpike], since: date, until: date, rules: RiskRules, log_start: date | None = None
) -> list[Flag]:
    rule = rules["session_spike"]
    small = rules.number("session_spike", "small_above_pct")
    window = int(rules.number("session_spike", "window_days"))
    flags: list[Flag] = []
    for spike in spikes:
        if not since <= spike.day <= until or spike.category is None:
            continue
        assert spike.longest_prev_m is not None and spike.spike_pct is not None
        short = log_start is not None and (spike.day - log_start).days < window
        message = rule.text(
            date=spike.day.isoformat(),
            category=spike.category,
            hazard_ratio=rule.extra["hazard_ratios"][spike.category],
            **spike_numbers(
                spike.distance_m,
                spike.longest_prev_m,
                spike.longest_prev_m * (1 + small / 100),
                spike.spike_pct,
                small,
            ),
        )
        if short:
            note = rule.extra["short_history_note"].format(log_start=log_start.isoformat())  # type: ignore[union-attr]
            message = f"{message} {' '.join(note.split())}"
        flags.append(
            Flag(
                rule.id,
                rule.severity,
                spike.category,
                spike.day,
                spike.activity_id,
                spike.spike_pct,
                small,
                message,
                rule.citations,
                {
                    "distance_m": spike.distance_m,
                    "longest_prev_m": spike.longest_prev_m,
                    "short_history": short,
                },
            )
        )
    return flags


def _returning_flags(
    spikes: list[load.SessionSpike], since: date, until: date, rules: RiskRules
) -> list[Flag]:
    rule = rules["returning_runner"]
    window = rules.number("returning_runner", "window_days")
    flags: list[Flag] = []
    seen: set[date] = set()
    for spike in spikes:
        if not since <= spike.day <= until or spike.day in seen:
            continue
        gap = spike.days_since_last_run
        if gap is not None and gap <= window:
            continue
        seen.add(spike.day)
        if gap is None:
            context = "your first logged run, so there is no history to compare with"
            category = "first_run"
        else:
            context = f"your first run after {gap} days without running"
            category = "after_gap"
        flags.append(
            Flag(
                rule.id,
                rule.severity,
                category,
                spike.day,
                spike.activity_id,
                None if gap is None else float(gap),
                window,
                rule.text(date=spike.day.isoformat(), context=context),
                rule.citations,
                {"distance_m": spike.distance_m},
            )
        )
    return flags


def _weekly_flags(daily: list[load.DayLoad], since: date, until: date, rules: RiskRules) -> list[Flag]:
    """One flag per stretch of consecutive run days over the threshold, at its peak day."""
    rule = rules["weekly_increase"]
    above = rules.number("weekly_increase", "above_pct")
    weeks = int(rules.number("weekly_increase", "baseline_weeks"))
    # The baseline weeks must lie within the runner's history: before the first logged run we do not know.
    first_run = next((d.day for d in daily if d.runs), None)
    episodes: list[list[load.WeeklyChange]] = []
    current: list[load.WeeklyChange] = []
    for d in daily:
        if d.runs == 0 or not since <= d.day <= until:
            continue
        if first_run is None or first_run > d.day - timedelta(days=7 * (weeks + 1) - 1):
            continue
        change = load.weekly_change(daily, d.day, weeks)
        if change.change_pct is not None and change.change_pct > above:
            current.append(change)
        elif current:
            episodes.append(current)
            current = []
    if current:
        episodes.append(current)
    flags: list[Flag] = []
    for episode in episodes:
        peak = max(episode, key=lambda c: c.change_pct or 0.0)
        assert peak.change_pct is not None
        message = rule.text(
            date=peak.day.isoformat(),
            last7_km=peak.last7_m / 1000,
            change_pct=peak.change_pct,
            baseline_weeks=weeks,
            baseline_km=peak.baseline_mean_m / 1000,
        )
        flags.append(
            Flag(
                rule.id,
                rule.severity,
                "watch",
                peak.day,
                None,
                peak.change_pct,
                above,
                message,
                rule.citations,
                {"last7_m": peak.last7_m, "baseline_mean_m": peak.baseline_mean_m},
            )
        )
    return flags


def _shoe_flags(wears: Iterable[ShoeWear], day: date, rules: RiskRules) -> list[Flag]:
    rule = rules["shoe_retirement"]
    check_at = rules.number("shoe_retirement", "check_at_fraction")
    replace_at = rules.number("shoe_retirement", "replace_at_fraction")
    flags: list[Flag] = []
    for wear in shoe_alerts(wears):
        threshold = 100 * (replace_at if wear.level == "replace" else check_at)
        message = rule.text(
            shoe=wear.shoe.label,
            distance_km=wear.distance_m / 1000,
            percent=wear.percent,
            retire_km=wear.shoe.retire_at_m / 1000,
            advice=rule.extra["advice"][wear.level],
        )
        flags.append(
            Flag(
                rule.id,
                rule.severity,
                wear.level,
                day,
                None,
                wear.percent,
                threshold,
                message,
                rule.citations,
                {"shoe_id": wear.shoe.id, "shoe": wear.shoe.label, "distance_m": wear.distance_m},
            )
        )
    return flags


def pain_flag(breach: PainBreach, rules: RiskRules) -> Flag:
    """The explained flag for one breach of the pain-monitoring model."""
    rule = rules["pain_rising"]
    limit = rules.number("pain_rising", "max_acceptable_score")
    reason_key = breach.reason
    if reason_key == "not_settled" and not breach.baseline_logged:
        reason_key = "not_settled_no_baseline"
    template = rule.extra["reasons"][reason_key]
    reason = template.format(
        score=f"{breach.score:g}",
        timing=f" {breach.timing} a run" if breach.timing in ("during", "after") else "",
        baseline=f"{(breach.baseline or 0):g}",
        previous=breach.baseline or 0.0,
        current=breach.score,
    )
    message = rule.text(
        region=REGIONS[breach.region].label,
        side=breach.side,
        date=breach.day.isoformat(),
        reason=reason,
        triage_hint=rule.extra["triage_hint"] if breach.hip_or_groin else "",
    )
    threshold = limit if breach.reason == "over_limit" else breach.baseline
    return Flag(
        rule.id,
        rule.severity,
        breach.reason,
        breach.day,
        breach.activity_id,
        breach.score,
        threshold,
        message,
        rule.citations,
        {"region": breach.region, "side": breach.side, "triage": breach.hip_or_groin},
    )


def evaluate(
    activities: Iterable[Activity],
    until: date,
    since: date | None = None,
    shoes: Iterable[Shoe] = (),
    pain: Iterable[PainEntry] = (),
    rules: RiskRules | None = None,
    log_start: date | None = None,
    wears: Iterable[ShoeWear] | None = None,
) -> list[Flag]:
    """Every flag dated in [since, until] (default: the 7 days ending `until`), oldest first.

    Pass the history from at least 30 days before `since` so spikes have their comparison window. Shoe
    alerts are dated `until` (they describe the shoe now) and count all of `activities`, unless `wears`
    gives each shoe's wear already (from totals kept by the database). `log_start` (the first logged run)
    lets a spike say when its 30 days reach back before the log began.
    """
    rules = rules or default_rules()
    since = since or until - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    activities = list(activities)
    runs = [a for a in activities if a.sport in RUNNING_SPORTS and a.local_date <= until]
    window = int(rules.number("session_spike", "window_days"))
    spikes = load.session_spikes(runs, window, _bounds(rules))
    daily = load.daily_series(runs, end=until)
    flags = _spike_flags(spikes, since, until, rules, log_start)
    flags += _returning_flags(spikes, since, until, rules)
    flags += _weekly_flags(daily, since, until, rules)
    shoes = list(shoes)
    if wears is not None:
        flags += _shoe_flags(wears, until, rules)
    elif shoes:
        check_at = rules.number("shoe_retirement", "check_at_fraction")
        replace_at = rules.number("shoe_retirement", "replace_at_fraction")
        flags += _shoe_flags(shoe_wear(shoes, activities, check_at, replace_at), until, rules)
    breaches = check_pain(
        pain,
        since,
        until,
        int(rules.number("pain_rising", "max_acceptable_score")),
        int(rules.number("pain_rising", "compare_days")),
    )
    flags += [pain_flag(b, rules) for b in breaches]
    order = {"warning": 0, "watch": 1, "info": 2}
    flags.sort(key=lambda f: (f.day, order[f.severity], f.rule, f.activity_id or 0))
    return flags


# ---------------------------------------------------------------------------------------------------------
# holding back: no longer-run suggestion while it hurts


URGENT_LEVELS = ("emergency", "urgent")


@dataclass(frozen=True, slots=True)
class HoldBack:
    """Why no longer run is suggested now: pain outside the monitoring model, or a recent urgent hip check."""

    reason: str  # pain | triage
    day: date
    message: str
    citations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "date": self.day.isoformat(),
            "message": self.message,
            "citations": list(self.citations),
        }


def hold_back(
    flags: Iterable[Flag],
    day: date,
    rules: RiskRules | None = None,
    triage: tuple[date, str] | None = None,
) -> HoldBack | None:
    """Whether to withhold the "longest run for tomorrow" figure on `day`: a recent hip check at urgent or
    emergency (`triage` = (its date, level)) comes first, then a pain_rising warning of the last days.

    A longest-run figure next to "cut your load" reads as a target; holding it back says the load advice wins.
    """
    rules = rules or default_rules()
    rule = rules["hold_back"]
    if triage is not None:
        triage_day, level = triage
        if level in URGENT_LEVELS and 0 <= (day - triage_day).days < rules.number("hold_back", "triage_days"):
            reason = rule.extra["reasons"]["triage"].format(date=triage_day.isoformat(), level=level)
            message = rule.text(reason=reason, advice=rule.extra["advice"]["triage"].strip())
            return HoldBack("triage", triage_day, message, rule.citations)
    recent = [
        f
        for f in flags
        if f.rule == "pain_rising" and 0 <= (day - f.day).days < rules.number("hold_back", "pain_days")
    ]
    if recent:
        latest = max(recent, key=lambda f: f.day)
        region = REGIONS[latest.details["region"]].label if latest.details.get("region") in REGIONS else "The"
        reason = rule.extra["reasons"]["pain"].format(region=region, date=latest.day.isoformat())
        message = rule.text(reason=reason, advice=rule.extra["advice"]["pain"].strip())
        return HoldBack("pain", latest.day, message, rule.citations)
    return None


# ---------------------------------------------------------------------------------------------------------
# before a run, and the informational trend


@dataclass(frozen=True, slots=True)
class Plan:
    """A planned run checked against the 30-day longest, with a plain-words verdict."""

    check: load.PlannedCheck
    message: str
    citations: tuple[str, ...]
    hazard_ratio: str | None

    def to_json(self) -> dict[str, Any]:
        c = self.check
        return {
            "date": c.day.isoformat(),
            "planned_m": c.planned_m,
            "longest_30d_m": c.longest_prev_m,
            "longest_30d_activity_id": c.longest_prev_id,
            "longest_30d_date": c.longest_prev_day.isoformat() if c.longest_prev_day else None,
            "max_within_10pct_m": None if c.max_within_m is None else round(c.max_within_m, 1),
            "spike_pct": None if c.spike_pct is None else round(c.spike_pct, 3),
            "category": c.category,
            "returning": c.returning,
            "hazard_ratio": self.hazard_ratio,
            "message": self.message,
            "citations": list(self.citations),
        }


def plan(activities: Iterable[Activity], planned_m: float, day: date, rules: RiskRules | None = None) -> Plan:
    """Check a planned run of `planned_m` metres on `day` before it happens (Frandsen 2025)."""
    rules = rules or default_rules()
    window = int(rules.number("session_spike", "window_days"))
    check = load.check_planned(activities, planned_m, day, window, _bounds(rules))
    rule = rules["session_spike"]
    templates = rule.extra["plan_messages"]
    if check.returning:
        text = templates["returning"].format(window_days=window, date=day.isoformat())
        return Plan(check, " ".join(text.split()), rule.citations, None)
    assert check.longest_prev_m is not None and check.max_within_m is not None and check.spike_pct is not None
    hazard = rule.extra["hazard_ratios"][check.category] if check.category else None
    numbers = spike_numbers(
        planned_m,
        check.longest_prev_m,
        check.max_within_m,
        check.spike_pct,
        rules.number("session_spike", "small_above_pct"),
        signed=True,
    )
    text = templates["within" if check.category is None else "spike"].format(
        planned_km=numbers["distance_km"],
        date=day.isoformat(),
        window_days=window,
        longest_km=numbers["longest_km"],
        longest_date=check.longest_prev_day,
        spike_pct=numbers["spike_pct"],
        max_within_km=numbers["max_within_km"],
        category=check.category,
        hazard_ratio=hazard,
    )
    return Plan(check, " ".join(text.split()), rule.citations, hazard)


def longest_safe_run_m(
    activities: Iterable[Activity], day: date, rules: RiskRules | None = None
) -> float | None:
    """The longest run on `day` that stays within 10% of the 30-day longest; None with no run in 30 days."""
    return plan(activities, 0.0, day, rules).check.max_within_m


@dataclass(frozen=True, slots=True)
class LoadInfo:
    """Informational load trend on `day` (never an alarm), each with its explanation."""

    day: date
    acwr: float | None
    fitness: load.FitnessPoint | None
    monotony: load.MonotonyStrain
    messages: Mapping[str, str]
    citations: Mapping[str, tuple[str, ...]]

    def to_json(self) -> dict[str, Any]:
        f = self.fitness
        return {
            "date": self.day.isoformat(),
            "acwr_7_21": None if self.acwr is None else round(self.acwr, 3),
            "ctl": None if f is None else round(f.ctl, 2),
            "atl": None if f is None else round(f.atl, 2),
            "tsb": None if f is None else round(f.tsb, 2),
            "week_load_au": round(self.monotony.week_load_au, 1),
            "monotony": None if self.monotony.monotony is None else round(self.monotony.monotony, 3),
            "strain": None if self.monotony.strain is None else round(self.monotony.strain, 1),
            "messages": dict(self.messages),
            "citations": {k: list(v) for k, v in self.citations.items()},
        }


def load_info(
    activities: Iterable[Activity],
    day: date,
    rules: RiskRules | None = None,
    daily: list[load.DayLoad] | None = None,
) -> LoadInfo:
    """ACWR (7 d vs the 21 d before), CTL/ATL/TSB (42/7 d) and monotony/strain (7 d) on `day`.

    `daily` is the running load series ending `day` when the caller has it (from the database's day
    totals); otherwise it is computed from `activities`.
    """
    rules = rules or default_rules()
    if daily is None:
        runs = [a for a in activities if a.sport in RUNNING_SPORTS and a.local_date <= day]
        daily = load.daily_series(runs, end=day)
    acwr = load.acwr_uncoupled(daily, day) if daily else None
    fitness_series = load.fitness_fatigue(
        daily,
        int(rules.number("fitness_fatigue", "ctl_days")),
        int(rules.number("fitness_fatigue", "atl_days")),
    )
    fitness = fitness_series[-1] if fitness_series else None
    mono = load.monotony_strain(daily, day)
    messages: dict[str, str] = {}
    if acwr is not None:
        messages["acwr"] = rules["acwr"].text(value=acwr)
    if fitness is not None:
        messages["fitness_fatigue"] = rules["fitness_fatigue"].text(
            ctl=fitness.ctl, atl=fitness.atl, tsb=fitness.tsb
        )
    messages["monotony_strain"] = rules["monotony_strain"].text(
        monotony="n/a" if mono.monotony is None else f"{mono.monotony:.2f}",
        strain="n/a" if mono.strain is None else f"{mono.strain:.0f}",
        week_load=mono.week_load_au,
    )
    citations = {k: rules[k].citations for k in ("acwr", "fitness_fatigue", "monotony_strain")}
    return LoadInfo(day, acwr, fitness, mono, messages, citations)
