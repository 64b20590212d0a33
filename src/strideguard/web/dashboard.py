"""The dashboard: this week against recent weeks, warnings, tomorrow's longest safe run, load, shoes, pain."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import aggregates
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage import triage as triage_store
from strideguard.training import load, pain, risk, shoes
from strideguard.web.common import DbSession, render, resolve_viewer, svg
from strideguard.web.svgcharts import Series, bar_chart, line_chart

router = APIRouter(tags=["pages"], include_in_schema=False)

RECENT_WEEKS = 16
# History of the load series: enough for 42-day fitness (CTL) to settle several times over. It comes from
# the day totals the database keeps; single runs are read only for the last RUNS_DAYS.
HISTORY_DAYS = 400
LOAD_CHART_DAYS = 112
# Runs read one by one: the spike marks of the weekly and load charts (RECENT_WEEKS weeks, LOAD_CHART_DAYS
# days) and the 30 days each spike is compared with.
RUNS_DAYS = max(7 * RECENT_WEEKS + 6, LOAD_CHART_DAYS) + 31


def today_local() -> date:
    """The server's local calendar day (the runner's, in local mode)."""
    return datetime.now(UTC).astimezone().date()


def week_summary(
    week_list: list[load.WeekVolume], today: date, spikes: list[load.SessionSpike]
) -> dict[str, Any]:
    """This ISO week's running volume against the mean of the previous four weeks, and recent weeks."""
    weeks = {w.monday: w for w in week_list}
    monday = today - timedelta(days=today.weekday())
    this = weeks.get(monday)
    previous = [weeks[m] for m in (monday - timedelta(weeks=i) for i in range(1, 5)) if m in weeks]
    mean_m = sum(w.distance_m for w in previous) / 4
    spike_weeks = {s.day - timedelta(days=s.day.weekday()) for s in spikes if s.category}
    rows = []
    for i in range(RECENT_WEEKS - 1, -1, -1):
        start = monday - timedelta(weeks=i)
        week = weeks.get(start)
        rows.append(
            {
                "monday": start,
                "label": start.strftime("%d %b"),
                "km": (week.distance_m if week else 0.0) / 1000,
                "runs": week.runs if week else 0,
                "spike": start in spike_weeks,
            }
        )
    return {
        "this_km": (this.distance_m if this else 0.0) / 1000,
        "this_runs": this.runs if this else 0,
        "this_s": this.duration_s if this else 0.0,
        "mean_km": mean_m / 1000,
        "rows": rows,
        "monday": monday,
    }


def _sources(ids: tuple[str, ...], rules: risk.RiskRules) -> list[risk.Source]:
    return [rules.sources[c] for c in ids if c in rules.sources]


def safe_run(activities: list[Activity], tomorrow: date, rules: risk.RiskRules) -> dict[str, Any]:
    """Tomorrow's longest run within 10% of the 30-day longest (Frandsen et al. 2025), with its reasoning."""
    check = risk.plan(activities, 0.0, tomorrow, rules).check
    return {
        "day": tomorrow,
        "max_m": check.max_within_m,
        "longest_m": check.longest_prev_m,
        "longest_day": check.longest_prev_day,
        "longest_id": check.longest_prev_id,
        "returning": check.returning,
        "window_days": int(rules.number("session_spike", "window_days")),
        "sources": _sources(rules["session_spike"].citations, rules),
    }


def load_chart(
    daily: list[load.DayLoad], fitness: list[load.FitnessPoint], spikes: list[load.SessionSpike]
) -> str:
    """CTL, ATL and TSB lines over the last weeks, with spike days marked on the daily load line."""
    shown = fitness[-LOAD_CHART_DAYS:]
    if not any(p.ctl or p.atl for p in shown):  # nothing to draw: an empty chart would show only "0 0 0"
        return ""
    first = shown[0].day
    x = np.array([(p.day - first).days for p in shown], float)
    days_back = x - x[-1]
    series = [
        Series(days_back, np.array([p.ctl for p in shown]), "s-ctl", "Fitness (CTL, 42 days)"),
        Series(days_back, np.array([p.atl for p in shown]), "s-atl", "Fatigue (ATL, 7 days)"),
        Series(days_back, np.array([p.tsb for p in shown]), "s-tsb", "Form (TSB = CTL - ATL)"),
    ]
    chart = line_chart(
        series, "Training load: fitness, fatigue and form", "days ago", "load AU/day", zero_line=True
    )
    # Spike days as triangles on the x axis (shape, not only colour), one per run with a spike category.
    marks = []
    spike_days = sorted({s.day for s in spikes if s.category and s.day >= first})
    if chart and spike_days:
        from strideguard.web.svgcharts import HEIGHT, LEFT, RIGHT, WIDTH

        span = max(1.0, float(x[-1]))
        for day in spike_days:
            px = LEFT + (day - first).days / span * (WIDTH - LEFT - RIGHT)
            y = HEIGHT - 26
            marks.append(
                f'<path class="spike" d="M{px:.1f} {y - 10:.1f} '
                f'L{px - 5:.1f} {y:.1f} L{px + 5:.1f} {y:.1f} Z">'
                f"<title>Long-run spike on {day.isoformat()}</title></path>"
            )
        chart = chart.replace("</svg>", "".join(marks) + "</svg>")
    return chart


# Dashboard analytics keyed by the data they are computed from, so a page view with nothing changed does not
# recompute spikes, flags and fitness (a 10-year history takes a few hundred ms).
_ANALYTICS: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def _analytics(
    recent: list[Activity],
    daily: list[load.DayLoad],
    week_list: list[load.WeekVolume],
    wears: list[shoes.ShoeWear],
    pain_entries: list[pain.PainEntry],
    today: date,
    rules: risk.RiskRules,
    log_start: date | None = None,
) -> tuple[Any, ...]:
    runs = [a for a in recent if a.sport in RUNNING_SPORTS]
    window = int(rules.number("session_spike", "window_days"))
    bounds = (
        rules.number("session_spike", "small_above_pct"),
        rules.number("session_spike", "moderate_above_pct"),
        rules.number("session_spike", "large_above_pct"),
    )
    spikes = load.session_spikes(runs, window, bounds)
    # Shoe wear comes from the shoe totals: every run in the shoe, also those older than the runs read here.
    flags = risk.evaluate(recent, today, pain=pain_entries, rules=rules, log_start=log_start, wears=wears)
    info = risk.load_info(recent, today, rules, daily=daily)
    fitness = load.fitness_fatigue(
        daily,
        int(rules.number("fitness_fatigue", "ctl_days")),
        int(rules.number("fitness_fatigue", "atl_days")),
    )
    week = week_summary(week_list, today, spikes)
    week_chart = bar_chart(
        [r["label"] for r in week["rows"]],
        [r["km"] for r in week["rows"]],
        f"Running distance per week, last {RECENT_WEEKS} weeks; weeks with a long-run spike marked !",
        "km",
        marked=[r["spike"] for r in week["rows"]],
        current=len(week["rows"]) - 1,
    )
    if not any(r["km"] for r in week["rows"]):
        week_chart = ""  # no runs in these weeks: the page says so instead of drawing empty axes
    trends = pain.pain_trends(pain_entries, today)
    severity_order = {"warning": 0, "watch": 1, "info": 2}
    flags.sort(key=lambda f: (severity_order.get(f.severity, 3), f.day), reverse=False)
    chart = load_chart(daily, fitness, spikes)
    return flags, wears, info, week, week_chart, trends, chart


def recent_runs(session: Session, athlete_id: int, today: date) -> list[Activity]:
    """Activities of the last RUNS_DAYS days, oldest first, and the last run before them (within
    HISTORY_DAYS), so the first of them knows how many days it came after a break."""
    since = today - timedelta(days=RUNS_DAYS)
    recent = store.list_activities(session, athlete_id, since=since, until=today, newest_first=False)
    before = store.list_activities(
        session,
        athlete_id,
        since=today - timedelta(days=HISTORY_DAYS),
        until=since - timedelta(days=1),
        sports=RUNNING_SPORTS,
        limit=1,
    )
    return before + recent


def dashboard_context(session: Session, athlete_id: int, today: date) -> dict[str, Any]:
    """Everything the dashboard shows: the load series and weeks from the day and week totals the
    database keeps, shoe wear from the shoe totals, single runs only for the last RUNS_DAYS days."""
    rules = risk.default_rules()
    since = today - timedelta(days=HISTORY_DAYS)
    recent = recent_runs(session, athlete_id, today)
    daily = aggregates.day_loads(session, athlete_id, since, today)
    monday = today - timedelta(days=today.weekday())
    week_list = aggregates.week_volumes(
        session, athlete_id, since=monday - timedelta(weeks=RECENT_WEEKS + 4), until=monday
    )
    shoe_list = shoe_store.list_shoes(session, athlete_id)
    check_at = rules.number("shoe_retirement", "check_at_fraction")
    replace_at = rules.number("shoe_retirement", "replace_at_fraction")
    wears = aggregates.shoe_wears(session, athlete_id, shoe_list, check_at, replace_at)
    pain_entries = pain_store.list_pain(
        session, athlete_id, since=today - timedelta(days=HISTORY_DAYS), until=today
    )
    log_start = store.first_activity_date(session, athlete_id, RUNNING_SPORTS)
    # The key is the data itself (a few hundred small rows), so every server process agrees on it.
    key = (
        athlete_id,
        today,
        log_start,
        tuple(
            (a.id, a.local_date, a.sport, a.distance_m, a.moving_time_s, a.elapsed_time_s, a.rpe, a.shoe_id)
            for a in recent
        ),
        tuple(daily),  # frozen dataclasses: hashable as they are
        tuple(week_list),
        tuple((e.id, e.day, e.region, e.side, e.score, e.timing) for e in pain_entries),
        tuple(wears),
    )
    computed = _ANALYTICS.get(key)
    if computed is None:
        computed = _analytics(recent, daily, week_list, wears, pain_entries, today, rules, log_start)
        with _LOCK:
            if len(_ANALYTICS) >= _CACHE_SIZE:
                _ANALYTICS.pop(next(iter(_ANALYTICS)))
            _ANALYTICS[key] = computed
    flags, wears, info, week, week_chart, trends, chart = computed
    safe = safe_run(recent, today + timedelta(days=1), rules)
    held = risk.hold_back(
        flags, today + timedelta(days=1), rules, triage_store.latest_triage(session, athlete_id, until=today)
    )
    safe["hold"] = (
        None
        if held is None
        else {"message": held.message, "sources": _sources(held.citations, rules), "json": held.to_json()}
    )
    return {
        "today": today,
        "week": week,
        "week_chart": svg(week_chart),
        "flags": [{"flag": f, "sources": _sources(f.citations, rules)} for f in flags],
        "safe": safe,
        "info": info,
        "info_sources": {k: _sources(v, rules) for k, v in info.citations.items()},
        "load_chart": svg(chart),
        "shoe_alerts": shoes.shoe_alerts(wears),
        "wears": [w for w in wears if not w.shoe.retired],
        "pain_trends": trends,
        "regions": pain.REGIONS,
        "recent": store.list_activities(session, athlete_id, since=since, until=today, limit=5),
        "n_activities": store.count_activities(session, athlete_id, since=since, until=today),
    }


def dashboard_json(context: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's figures as JSON (units in the names)."""
    week = context["week"]
    safe = context["safe"]
    return {
        "today": context["today"].isoformat(),
        "this_week": {
            "monday": week["monday"].isoformat(),
            "distance_km": round(week["this_km"], 3),
            "runs": week["this_runs"],
            "duration_s": week["this_s"],
            "previous_4_weeks_mean_km": round(week["mean_km"], 3),
        },
        "weeks": [
            {
                "monday": r["monday"].isoformat(),
                "distance_km": round(r["km"], 3),
                "runs": r["runs"],
                "spike": r["spike"],
            }
            for r in week["rows"]
        ],
        "warnings": [item["flag"].to_json() for item in context["flags"]],
        "longest_safe_run": {
            "date": safe["day"].isoformat(),
            "max_distance_m": safe["max_m"],
            "longest_30d_m": safe["longest_m"],
            "returning": safe["returning"],
            "hold_back": safe["hold"]["json"] if safe["hold"] else None,
        },
        "load": context["info"].to_json(),
        "shoes": [
            {
                "id": w.shoe.id,
                "name": w.shoe.name,
                "distance_m": w.distance_m,
                "fraction": round(w.fraction, 4),
                "level": w.level,
            }
            for w in context["wears"]
        ],
        "pain_trends": [
            {
                "region": t.region,
                "side": t.side,
                "direction": t.direction,
                "current_mean": t.current_mean,
                "previous_mean": t.previous_mean,
                "latest_score": t.latest_score,
                "latest_date": t.latest_day.isoformat(),
            }
            for t in context["pain_trends"]
        ],
    }


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: DbSession) -> Response:
    """The dashboard page."""
    viewer = resolve_viewer(request, session)
    return render(request, "dashboard.html", **dashboard_context(session, viewer.athlete_id, today_local()))
