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

from strideguard import units
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
    "HoldBack",
    "LoadInfo",
    "Plan",
    "RiskRule",
    "RiskRules",
    "RiskRulesError",
    "Source",
    "active_pain_flags",
    "check_rules",
    "default_rules",
    "evaluate",
    "hold_back",
    "load_info",
    "load_rules",
    "longest_safe_run_m",
    "pain_flag",
    "pain_reason",
    "plan",
]

DEFAULT_WINDOW_DAYS = 7

# ---------------------------------------------------------------------------------------------------------
# flags


@dataclass(frozen=True, slots=True)
class Flag:
    """One explained warning. `value` and `threshold` are in the rule's own unit (percent, days, score).

    Screens show `title` and `message`; `rule` and `category` are ids for scripts, never shown. A pain flag
    for the hip or groin has `details["triage"]`: each shell adds its own way to the hip check.
    """

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
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
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
    while decimals < most and (units.rounded(value, decimals) > threshold) != (value > threshold):
        decimals += 1
    return decimals


def spike_numbers(
    distance_m: float,
    longest_m: float,
    max_within_m: float,
    pct: float,
    limit_pct: float,
    unit: str = "km",
) -> dict[str, str]:
    """The numbers of a spike sentence as text in the runner's unit. At the 10% edge one decimal is not
    enough: 11.44 km after 10.4 km is 10.03% longer, which must not read "10% longer ... keep runs within
    11.4 km". So every distance of the sentence gets two decimals when one would show two of them equal."""
    decimals = 1
    shown = units.distance_number(distance_m, unit)
    if shown in (units.distance_number(max_within_m, unit), units.distance_number(longest_m, unit)):
        decimals = 2
    scale = 10**decimals
    # The ceiling is rounded down, so "within" stays true of the number shown.
    within = math.floor(units.distance_value(max_within_m, unit) * scale + 1e-9) / scale
    pct_decimals = _decimals_apart(limit_pct, pct)
    return {
        "distance": units.distance(distance_m, unit, decimals),
        "longest": units.distance(longest_m, unit, decimals),
        "max_within": f"{within:.{decimals}f} {unit}",
        "spike_pct": units.percent(abs(pct), pct_decimals),
        "comparison": _comparison(pct, pct_decimals),
    }


def _ceiling_numbers(longest_m: float, max_within_m: float, unit: str) -> tuple[str, str]:
    """The 30-day longest and the ceiling over it as text, the ceiling rounded down ("within" stays true)."""
    decimals = 1 if units.distance_number(longest_m, unit) != units.distance_number(max_within_m, unit) else 2
    scale = 10**decimals
    within = math.floor(units.distance_value(max_within_m, unit) * scale + 1e-9) / scale
    return units.distance(longest_m, unit, decimals), f"{within:.{decimals}f} {unit}"


def _comparison(pct: float, decimals: int) -> str:
    """'12% shorter than', 'as long as', '5% longer than': a planned run against the 30-day longest."""
    if units.rounded(pct, decimals) == 0:
        return "as long as"
    return f"{units.percent(abs(pct), decimals)} {'longer' if pct > 0 else 'shorter'} than"


def _spike_flags(
    spikes: list[load.SessionSpike],
    since: date,
    until: date,
    rules: RiskRules,
    log_start: date | None = None,
    unit: str = "km",
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
        numbers = spike_numbers(
            spike.distance_m,
            spike.longest_prev_m,
            spike.longest_prev_m * (1 + small / 100),
            spike.spike_pct,
            small,
            unit,
        )
        message = rule.text(
            date=spike.day.isoformat(),
            category=spike.category,
            hazard_ratio=rule.extra["hazard_ratios"][spike.category],
            distance=numbers["distance"],
            longest=numbers["longest"],
            max_within=numbers["max_within"],
            spike_pct=numbers["spike_pct"],
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
                rules.title(rule.id, spike.category),
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
                rules.title(rule.id, category),
            )
        )
    return flags


def _weekly_flags(
    daily: list[load.DayLoad], since: date, until: date, rules: RiskRules, unit: str = "km"
) -> list[Flag]:
    """One flag per stretch of consecutive run days over the threshold, at its peak day."""
    rule = rules["weekly_increase"]
    above = rules.number("weekly_increase", "above_pct")
    weeks = int(rules.number("weekly_increase", "baseline_weeks"))
    # The baseline weeks must lie within the runner's history: before the first logged run we do not know.
    first_run = next((d.day for d in daily if d.runs), None)
    # The days a change in [since, until] looks back on: a year of day totals would be walked once per day.
    reach = since - timedelta(days=7 * (weeks + 1))
    daily = [d for d in daily if d.day >= reach]
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
            last7=units.distance(peak.last7_m, unit),
            change_pct=units.percent(peak.change_pct),
            baseline_weeks=weeks,
            baseline=units.distance(peak.baseline_mean_m, unit),
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
                rules.title(rule.id, "watch"),
            )
        )
    return flags


def evidence_distance(km: float, unit: str = "km") -> str:
    """A rounded distance from the evidence in the runner's unit: 500 km, or about 310 mi."""
    if unit == "km":
        return f"{km:g} km"
    return f"{units.number(units.rounded(units.distance_value(km * 1000, unit) / 10) * 10)} mi"


def _shoe_flags(wears: Iterable[ShoeWear], day: date, rules: RiskRules, unit: str = "km") -> list[Flag]:
    rule = rules["shoe_retirement"]
    check_at = rules.number("shoe_retirement", "check_at_fraction")
    replace_at = rules.number("shoe_retirement", "replace_at_fraction")
    replace_from = evidence_distance(rules.number("shoe_retirement", "evidence_replace_from_km"), unit)
    replace_to = evidence_distance(rules.number("shoe_retirement", "evidence_replace_to_km"), unit)
    flags: list[Flag] = []
    for wear in shoe_alerts(wears):
        threshold = 100 * (replace_at if wear.level == "replace" else check_at)
        message = rule.text(
            shoe=wear.shoe.label,
            distance=units.distance(wear.distance_m, unit, 0),
            percent=units.percent(wear.percent),
            retire=units.distance(wear.shoe.retire_at_m, unit, 0),
            advice=rule.extra["advice"][wear.level],
            evidence_check=evidence_distance(rules.number("shoe_retirement", "evidence_check_km"), unit),
            evidence_replace=f"{replace_from.split()[0]} and {replace_to}",
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
                rules.title(rule.id, wear.level),
            )
        )
    return flags


def _entries_text(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


def pain_reason(breach: PainBreach, rules: RiskRules) -> str:
    """Why a pain entry broke the model, in words built from the facts the rule used (`breach`), so the
    sentence is true of the diary: which earlier entry set the level, or what the two weeks before held."""
    reasons = rules["pain_rising"].extra["reasons"]
    if breach.reason == "over_limit":
        return reasons["over_limit"].format(
            score=f"{breach.score:g}",
            timing=f" {breach.timing} a run" if breach.timing in ("during", "after") else "",
        )
    if breach.reason == "rising_weekly":
        return " ".join(
            reasons["rising_weekly"]
            .format(
                previous=units.number(breach.baseline or 0.0, 1),
                current=units.number(breach.score, 1),
                previous_count=_entries_text(breach.previous_count),
                current_count=_entries_text(breach.current_count),
                date=breach.day.isoformat(),
            )
            .split()
        )
    source = breach.baseline_entry
    if source is not None:
        when = "before a run on" if source.timing == "before" else "on the morning of"
        text = reasons["not_settled"].format(
            score=f"{breach.score:g}",
            baseline=f"{source.score:g}",
            baseline_when=when,
            baseline_date=source.day.isoformat(),
        )
    elif breach.earlier:
        kinds = sorted({e.timing for e in breach.earlier}, key=lambda t: ("during", "after").index(t))
        top = max(e.score for e in breach.earlier)
        what = (
            f"{kinds[0]} a run ({top}/10)"
            if len(breach.earlier) == 1
            else f"all {' or '.join(kinds)} a run (up to {top}/10)"
        )
        text = reasons["not_settled_run_scores_only"].format(
            score=f"{breach.score:g}", earlier=_entries_text(len(breach.earlier)), earlier_what=what
        )
    else:
        text = reasons["not_settled_no_baseline"].format(score=f"{breach.score:g}")
    return " ".join(text.split())


def pain_flag(breach: PainBreach, rules: RiskRules) -> Flag:
    """The explained flag for one breach of the pain-monitoring model."""
    rule = rules["pain_rising"]
    limit = rules.number("pain_rising", "max_acceptable_score")
    message = rule.text(
        region=REGIONS[breach.region].label,
        side=breach.side,
        date=breach.day.isoformat(),
        reason=pain_reason(breach, rules),
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
        rules.title(rule.id, breach.reason),
    )


def evaluate(
    activities: Iterable[Activity],
    until: date,
    since: date | None = None,
    shoes: Iterable[Shoe] = (),
    pain: Iterable[PainEntry] = (),
    rules: RiskRules | None = None,
    log_start: date | None = None,
    unit: str = "km",
    wears: Iterable[ShoeWear] | None = None,
    daily: list[load.DayLoad] | None = None,
) -> list[Flag]:
    """Every flag dated in [since, until] (default: the 7 days ending `until`), oldest first.

    Pass the history from at least 30 days before `since` so spikes have their comparison window. Shoe
    alerts are dated `until` (they describe the shoe now) and count all of `activities`, unless `wears`
    gives each shoe's wear already (from totals kept by the database). `log_start` (the first logged run)
    lets a spike say when its 30 days reach back before the log began. Messages give distances in `unit`
    (km or mi). `daily` is the running load series up to `until` when the caller has it (the database's day
    totals, as for `load_info`); otherwise it is computed from `activities`.
    """
    rules = rules or default_rules()
    since = since or until - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    activities = list(activities)
    runs = [a for a in activities if a.sport in RUNNING_SPORTS and a.local_date <= until]
    window = int(rules.number("session_spike", "window_days"))
    spikes = load.session_spikes(runs, window, _bounds(rules))
    daily = load.daily_series(runs, end=until) if daily is None else [d for d in daily if d.day <= until]
    flags = _spike_flags(spikes, since, until, rules, log_start, unit)
    flags += _returning_flags(spikes, since, until, rules)
    flags += _weekly_flags(daily, since, until, rules, unit)
    shoes = list(shoes)
    if wears is not None:
        flags += _shoe_flags(wears, until, rules, unit)
    elif shoes:
        check_at = rules.number("shoe_retirement", "check_at_fraction")
        replace_at = rules.number("shoe_retirement", "replace_at_fraction")
        flags += _shoe_flags(shoe_wear(shoes, activities, check_at, replace_at), until, rules, unit)
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
    """Why no longer run is suggested now: pain outside the monitoring model, or a recent urgent hip check.

    `day` is the date of the pain warning or the hip check; `for_day` the day the withheld figure was for.
    """

    reason: str  # pain | triage
    day: date
    message: str
    citations: tuple[str, ...]
    for_day: date | None = None
    title: str = "Hold back"

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "title": self.title,
            "date": self.day.isoformat(),
            "for_date": None if self.for_day is None else self.for_day.isoformat(),
            "message": self.message,
            "citations": list(self.citations),
        }


def active_pain_flags(flags: Iterable[Flag], today: date, rules: RiskRules | None = None) -> list[Flag]:
    """The pain_rising flags of the `pain_days` days ending `today`: the same 7 days as the warnings a
    screen shows, so every pain warning on a screen holds the longest-run figure back."""
    rules = rules or default_rules()
    days = rules.number("hold_back", "pain_days")
    return [f for f in flags if f.rule == "pain_rising" and 0 <= (today - f.day).days < days]


def recent_urgent_check(
    triage: tuple[Any, ...] | None, today: date, rules: RiskRules | None = None
) -> date | None:
    """The day of a saved hip or knee check (`(day, level, *region)`) that said urgent or emergency within
    the hold-back's `triage_days` before `today`, else None."""
    if triage is None:
        return None
    day, level = triage[0], triage[1]
    days = (rules or default_rules()).number("hold_back", "triage_days")
    return day if level in URGENT_LEVELS and 0 <= (today - day).days < days else None


def hold_back(
    flags: Iterable[Flag],
    today: date,
    rules: RiskRules | None = None,
    triage: tuple[date, str] | tuple[date, str, str] | None = None,
    for_day: date | None = None,
    when: str | None = None,
) -> HoldBack | None:
    """Whether to withhold the longest-run figure: a hip or knee check of the last two weeks (to `today`) at
    urgent or emergency (`triage` = (its date, level[, region]); hip without one) comes first, then any
    pain_rising warning of the 7 days ending `today` (the flags were evaluated to `today`).

    `for_day` (default the day after `today`) is the day the figure was for; `when` how the message names
    it (default "tomorrow (DATE)"; `plan` says "your run on DATE"). A longest-run figure next to "cut your
    load" reads as a target; holding it back says the load advice wins.
    """
    rules = rules or default_rules()
    rule = rules["hold_back"]
    for_day = for_day or today + timedelta(days=1)
    if when is None:
        when = (
            f"tomorrow ({for_day.isoformat()})"
            if for_day == today + timedelta(days=1)
            else f"your run on {for_day.isoformat()}"
        )
    title = rules.title("hold_back")
    if triage is not None and recent_urgent_check(triage, today, rules) is not None:
        triage_day, level, *region = triage
        reason = rule.extra["reasons"]["triage"].format(
            date=triage_day.isoformat(), level=level, region=region[0] if region else "hip"
        )
        message = rule.text(when=when, reason=reason, advice=rule.extra["advice"]["triage"].strip())
        return HoldBack("triage", triage_day, message, rule.citations, for_day, title)
    recent = active_pain_flags(flags, today, rules)
    if recent:
        latest = max(recent, key=lambda f: f.day)
        region = REGIONS[latest.details["region"]].label if latest.details.get("region") in REGIONS else "The"
        reason = rule.extra["reasons"]["pain"].format(region=region, date=latest.day.isoformat())
        message = rule.text(when=when, reason=reason, advice=rule.extra["advice"]["pain"].strip())
        return HoldBack("pain", latest.day, message, rule.citations, for_day, title)
    return None


# ---------------------------------------------------------------------------------------------------------
# before a run, and the informational trend


@dataclass(frozen=True, slots=True)
class Plan:
    """A planned run checked against the 30-day longest, with a plain-words verdict.

    `base_spike` is set when the 30-day longest run was itself a spike: a ceiling built on it says so
    (`base_note`, also at the end of `message`). `ceiling` is the longest-run figure as one sentence
    (status, dashboard), to be shown with `base_note`.
    """

    check: load.PlannedCheck
    message: str
    citations: tuple[str, ...]
    hazard_ratio: str | None
    base_spike: load.SessionSpike | None = None
    base_note: str = ""
    ceiling: str = ""
    unit: str = "km"
    max_within_text: str = ""  # the ceiling as `ceiling` writes it ("15.4 km"), rounded down

    def to_json(self) -> dict[str, Any]:
        c = self.check
        base = self.base_spike
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
            "longest_30d_was_spike": None
            if base is None
            else {
                "category": base.category,
                "spike_pct": None if base.spike_pct is None else round(base.spike_pct, 3),
                "longest_before_m": base.longest_prev_m,
            },
            "message": self.message,
            "citations": list(self.citations),
        }


def _base_spike(
    activities: list[Activity], check: load.PlannedCheck, window: int, bounds: tuple[float, float, float]
) -> load.SessionSpike | None:
    """The spike of the run the ceiling is built on, when that run was itself a spike (needs the history
    from 30 days before that run, i.e. about 60 days before the planned day)."""
    if check.longest_prev_day is None:
        return None
    for spike in load.session_spikes(activities, window, bounds):
        same = (
            spike.activity_id == check.longest_prev_id
            if check.longest_prev_id is not None
            else spike.distance_m == check.longest_prev_m
        )
        if spike.day == check.longest_prev_day and same and spike.category is not None:
            return spike
    return None


def plan(
    activities: Iterable[Activity],
    planned_m: float,
    day: date,
    rules: RiskRules | None = None,
    unit: str = "km",
) -> Plan:
    """Check a planned run of `planned_m` metres on `day` before it happens (Frandsen 2025). Pass the runs
    of the 60 days before `day` so a ceiling built on a run that was itself a spike can say so."""
    rules = rules or default_rules()
    activities = [a for a in activities if a.local_date < day]
    window = int(rules.number("session_spike", "window_days"))
    small = rules.number("session_spike", "small_above_pct")
    check = load.check_planned(activities, planned_m, day, window, _bounds(rules))
    rule = rules["session_spike"]
    templates = rule.extra["plan_messages"]
    if check.returning:
        text = templates["returning"].format(window_days=window, date=day.isoformat())
        return Plan(check, " ".join(text.split()), rule.citations, None, unit=unit)
    assert check.longest_prev_m is not None and check.max_within_m is not None and check.spike_pct is not None
    hazard = rule.extra["hazard_ratios"][check.category] if check.category else None
    numbers = spike_numbers(planned_m, check.longest_prev_m, check.max_within_m, check.spike_pct, small, unit)
    values = {
        "planned": numbers["distance"],
        "date": day.isoformat(),
        "window_days": window,
        "longest": numbers["longest"],
        "longest_date": check.longest_prev_day,
        "comparison": numbers["comparison"],
        "max_within": numbers["max_within"],
        "category": check.category,
        "hazard_ratio": hazard,
    }
    text = " ".join(templates["within" if check.category is None else "spike"].format(**values).split())
    # The longest-run figure on its own: the ceiling against the 30-day longest, one decimal unless the
    # two would read equal.
    longest_shown, ceiling_shown = _ceiling_numbers(check.longest_prev_m, check.max_within_m, unit)
    shown = {**values, "max_within": ceiling_shown, "longest": longest_shown}
    ceiling = " ".join(templates["ceiling"].format(**shown).split())
    base = _base_spike(activities, check, window, _bounds(rules))
    note = ""
    if base is not None:
        assert base.longest_prev_m is not None and base.spike_pct is not None
        note = " ".join(
            rule.extra["spike_base_note"]
            .format(
                longest=units.distance(check.longest_prev_m, unit),
                longest_date=check.longest_prev_day,
                base_category=base.category,
                base_pct=units.percent(base.spike_pct),
                base_longest=units.distance(base.longest_prev_m, unit),
                base_ceiling=units.distance(base.longest_prev_m * (1 + small / 100), unit),
            )
            .split()
        )
        text = f"{text} {note}"
    return Plan(check, text, rule.citations, hazard, base, note, ceiling, unit, ceiling_shown)


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
    fitness_series: list[load.FitnessPoint] | None = None,
) -> LoadInfo:
    """ACWR (7 d vs the 21 d before), CTL/ATL/TSB (42/7 d) and monotony/strain (7 d) on `day`.

    `daily` is the running load series ending `day` when the caller has it (from the database's day
    totals); otherwise it is computed from `activities`. `fitness_series`: `load.fitness_fatigue` of
    `daily` with the rules' days, when the caller computed it already (the dashboard charts it).
    """
    rules = rules or default_rules()
    if daily is None:
        runs = [a for a in activities if a.sport in RUNNING_SPORTS and a.local_date <= day]
        daily = load.daily_series(runs, end=day)
    acwr = load.acwr_uncoupled(daily, day) if daily else None
    if fitness_series is None:
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
