"""The dashboard: this week against recent weeks, warnings, tomorrow's longest run, load, shoes, pain.

Three steps, kept apart: `dashboard_data` fetches the athlete's rows, `_analytics` computes from them
(cached per data version), `dashboard_context` puts together what the template and the API show. The page
speaks with one voice: a pain warning on it holds the longest-run figure back, a figure built on a run that
was itself a spike says so, and "this week" is the calendar week.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from strideguard import config, units
from strideguard.model import RUNNING_SPORTS, Activity
from strideguard.storage import activities as store
from strideguard.storage import aggregates, overview
from strideguard.storage import pain as pain_store
from strideguard.storage import triage as triage_store
from strideguard.storage.overview import HISTORY_DAYS, LOAD_CHART_DAYS, RECENT_WEEKS, RUNS_DAYS
from strideguard.training import charts, load, pain, risk, shoes
from strideguard.triage import from_diary
from strideguard.web import pagecache
from strideguard.web.common import DbSession, ReleasingRoute, render, resolve_viewer, svg
from strideguard.web.shared_view import redact_dashboard

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)


def today_local() -> date:
    """The server's local calendar day (the runner's, in local mode; see config.today_local)."""
    return config.today_local()


# --- data: what the page reads from the database ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DashboardData:
    """The athlete's rows the dashboard computes from: single runs only for the last RUNS_DAYS days, the load
    series, weeks and shoe wear from the totals the database keeps (so the page scales with the history)."""

    recent: list[Activity]  # the last RUNS_DAYS days and the last run before them, oldest first
    daily: list[load.DayLoad]  # HISTORY_DAYS of day totals
    week_list: list[load.WeekVolume]
    shoe_list: list[shoes.Shoe]
    wears: list[shoes.ShoeWear]  # every run in each shoe, from the shoe totals
    pain_entries: list[pain.PainEntry]
    log_start: date | None
    last_run: date | None
    triage: tuple[date, str, str] | None


def dashboard_data(session: Session, athlete_id: int, today: date, rules: risk.RiskRules) -> DashboardData:
    """Everything the dashboard reads, athlete-scoped."""
    since = today - timedelta(days=HISTORY_DAYS)
    read = overview.read(session, athlete_id, today, rules)
    monday = today - timedelta(days=today.weekday())
    week_list = aggregates.week_volumes(
        session, athlete_id, since=monday - timedelta(weeks=RECENT_WEEKS + 4), until=monday
    )
    pain_entries = pain_store.list_pain(session, athlete_id, since=since, until=today)
    triage = triage_store.latest_triage(session, athlete_id, until=today)
    return DashboardData(
        read.recent,
        read.daily,
        week_list,
        read.shoes,
        read.wears,
        pain_entries,
        read.log_start,
        read.last_run,
        triage,
    )


# --- computation -------------------------------------------------------------------------------------------


def week_summary(
    week_list: list[load.WeekVolume], today: date, spikes: list[load.SessionSpike]
) -> dict[str, Any]:
    """This calendar week's running volume against the mean of the previous four weeks, and recent weeks."""
    monday = today - timedelta(days=today.weekday())
    weeks = load.fill_weeks(week_list, monday - timedelta(weeks=RECENT_WEEKS - 1), monday)
    this = weeks[-1]
    previous = weeks[-5:-1]
    mean_m = sum(w.distance_m for w in previous) / 4
    spike_weeks = {s.day - timedelta(days=s.day.weekday()) for s in spikes if s.category}
    rows = [
        {
            "monday": w.monday,
            "label": charts.week_label(w.monday),
            "km": w.distance_m / 1000,
            "distance_m": w.distance_m,
            "runs": w.runs,
            "spike": w.monday in spike_weeks,
        }
        for w in weeks
    ]
    return {
        "this_km": this.distance_m / 1000,
        "this_m": this.distance_m,
        "this_runs": this.runs,
        "this_s": this.duration_s,
        "mean_km": mean_m / 1000,
        "mean_m": mean_m,
        "rows": rows,
        "weeks": weeks,
        "monday": monday,
    }


def _sources(ids: tuple[str, ...], rules: risk.RiskRules) -> list[risk.Source]:
    return [rules.sources[c] for c in ids if c in rules.sources]


def safe_run(
    activities: list[Activity], tomorrow: date, rules: risk.RiskRules, unit: str = "km"
) -> dict[str, Any]:
    """Tomorrow's longest run within 10% of the 30-day longest (Frandsen et al. 2025), with its reasoning;
    `base_note` says when the 30-day longest was itself a spike."""
    plan = risk.plan(activities, 0.0, tomorrow, rules, unit)
    check = plan.check
    return {
        "day": tomorrow,
        "max_m": check.max_within_m,
        "longest_m": check.longest_prev_m,
        "longest_day": check.longest_prev_day,
        "longest_id": check.longest_prev_id,
        "returning": check.returning,
        "window_days": int(rules.number("session_spike", "window_days")),
        "ceiling": plan.ceiling,
        "max_text": plan.max_within_text,
        "base_note": plan.base_note,
        "base_spike": plan.to_json()["longest_30d_was_spike"],
        "sources": _sources(rules["session_spike"].citations, rules),
    }


class _HashedOnce:
    """A key of several hundred rows, hashed once (a tuple is hashed again at every lookup)."""

    __slots__ = ("hash", "key")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.hash = hash(key)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _HashedOnce) and self.hash == other.hash and self.key == other.key


# Dashboard analytics keyed by the data they are computed from, so a page view with nothing changed does not
# recompute spikes, flags and fitness (a 10-year history takes a few hundred ms).
_ANALYTICS: dict[_HashedOnce, tuple[Any, ...]] = {}
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def _analytics(data: DashboardData, today: date, rules: risk.RiskRules, unit: str = "km") -> tuple[Any, ...]:
    runs = [a for a in data.recent if a.sport in RUNNING_SPORTS]
    window = int(rules.number("session_spike", "window_days"))
    bounds = (
        rules.number("session_spike", "small_above_pct"),
        rules.number("session_spike", "moderate_above_pct"),
        rules.number("session_spike", "large_above_pct"),
    )
    spikes = load.session_spikes(runs, window, bounds)
    # Shoe wear comes from the shoe totals: every run in the shoe, also those older than the runs read here;
    # the load series from the day totals, for the warnings as for the load figures.
    flags = risk.evaluate(
        data.recent,
        today,
        pain=data.pain_entries,
        rules=rules,
        log_start=data.log_start,
        wears=data.wears,
        unit=unit,
        daily=data.daily,
    )
    fitness = load.fitness_fatigue(
        data.daily,
        int(rules.number("fitness_fatigue", "ctl_days")),
        int(rules.number("fitness_fatigue", "atl_days")),
    )
    info = risk.load_info(data.recent, today, rules, daily=data.daily, fitness_series=fitness)
    week = week_summary(data.week_list, today, spikes)
    week_chart = charts.weekly_distance_chart(
        week["weeks"],
        unit,
        spikes,
        week["monday"],
        f"Running distance per week ({unit}), last {RECENT_WEEKS} weeks; a long-run spike's week marked !",
    )
    trends = pain.pain_trends(data.pain_entries, today)
    severity_order = {"warning": 0, "watch": 1, "info": 2}
    flags.sort(key=lambda f: (severity_order.get(f.severity, 3), f.day), reverse=False)
    chart = charts.load_chart(fitness[-LOAD_CHART_DAYS:], spikes)
    return flags, data.wears, info, week, week_chart, trends, chart


def _latest(
    session: Session, athlete_id: int, recent: list[Activity], since: date, today: date, count: int = 5
) -> list[Activity]:
    """The `count` newest activities from `since` to `today`, newest first: from the runs already read when
    the last RUNS_DAYS days hold that many (one query less a view), else from the database."""
    window_start = today - timedelta(days=RUNS_DAYS)
    window = [a for a in recent if window_start <= a.local_date <= today]
    if len(window) >= count:  # `recent` is oldest first by (start, id), as list_activities sorts
        return window[: -count - 1 : -1]
    return store.list_activities(session, athlete_id, since=since, until=today, limit=count)


def dashboard_context(session: Session, athlete_id: int, today: date, unit: str = "km") -> dict[str, Any]:
    """Everything the dashboard shows, in `unit`: the load series and weeks from the day and week totals the
    database keeps, shoe wear from the shoe totals, single runs only for the last RUNS_DAYS days."""
    rules = risk.default_rules()
    data = dashboard_data(session, athlete_id, today, rules)
    # The key is the data itself (a few hundred small rows), so every server process agrees on it.
    key = (
        athlete_id,
        today,
        unit,
        data.log_start,
        tuple(
            (a.id, a.local_date, a.sport, a.distance_m, a.moving_time_s, a.elapsed_time_s, a.rpe, a.shoe_id)
            for a in data.recent
        ),
        tuple(data.daily),  # frozen dataclasses: hashable as they are
        tuple(data.week_list),
        tuple((e.id, e.day, e.region, e.side, e.score, e.timing) for e in data.pain_entries),
        tuple(data.wears),
    )
    hashed = _HashedOnce(key)
    computed = _ANALYTICS.get(hashed)
    if computed is None:
        computed = _analytics(data, today, rules, unit)
        with _LOCK:
            if len(_ANALYTICS) >= _CACHE_SIZE:
                _ANALYTICS.pop(next(iter(_ANALYTICS)))
            _ANALYTICS[hashed] = computed
    flags, wears, info, week, week_chart, trends, chart = computed
    tomorrow = today + timedelta(days=1)
    since = today - timedelta(days=HISTORY_DAYS)
    safe = safe_run(data.recent, tomorrow, rules, unit)
    # The same flags as the warnings on the page: any pain warning there holds the figure back.
    held = risk.hold_back(flags, today, rules, data.triage, for_day=tomorrow)
    safe["hold"] = (
        None
        if held is None
        else {
            "title": held.title,
            "message": held.message,
            "sources": _sources(held.citations, rules),
            "json": held.to_json(),
        }
    )
    return {
        "today": today,
        "unit": unit,
        "week": week,
        "week_chart": svg(week_chart),
        "last_run": data.last_run,
        "flags": [{"flag": f, "sources": _sources(f.citations, rules)} for f in flags],
        # body-map regions whose pain warnings link to the knee check (hip ones carry details.triage)
        "knee_regions": [r for r in pain.REGIONS if from_diary.triage_region(r) == "knee"],
        "safe": safe,
        "info": info,
        "info_sources": {k: _sources(v, rules) for k, v in info.citations.items()},
        "load_chart": svg(chart),
        "shoe_alerts": shoes.shoe_alerts(wears),
        "wears": [w for w in wears if not w.shoe.retired],
        "pain_trends": trends,
        "regions": pain.REGIONS,
        # Also says whether there is any activity in the last HISTORY_DAYS (the page's "no runs" note).
        "recent": _latest(session, athlete_id, data.recent, since, today),
        "latest_triage": data.triage,  # (date, level): web/shared_view.py makes the plain flag of it
    }


# --- presentation: JSON for the API (the HTML is templates/dashboard.html) ----------------------------------


def dashboard_json(context: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's figures as JSON: stored values in SI units (names say so), and `display` text in the
    viewer's unit, exactly as the page shows it. A held-back longest-run figure is null here too."""
    week = context["week"]
    safe = context["safe"]
    unit = context["unit"]
    held = safe["hold"]
    return {
        "today": context["today"].isoformat(),
        "unit": unit,
        "this_week": {
            "monday": week["monday"].isoformat(),
            "distance_km": round(week["this_km"], 3),
            "runs": week["this_runs"],
            "duration_s": week["this_s"],
            "previous_4_weeks_mean_km": round(week["mean_km"], 3),
            "display": {
                "distance": units.distance(week["this_m"], unit),
                "duration": units.duration(week["this_s"]),
                "previous_4_weeks_mean": units.distance(week["mean_m"], unit),
            },
        },
        "last_run_date": None if context["last_run"] is None else context["last_run"].isoformat(),
        "weeks": [
            {
                "monday": r["monday"].isoformat(),
                "distance_km": round(r["km"], 3),
                "runs": r["runs"],
                "spike": r["spike"],
                "display": {"distance": units.distance(r["distance_m"], unit)},
            }
            for r in week["rows"]
        ],
        "warnings": [item["flag"].to_json() for item in context["flags"]],
        "longest_safe_run": {
            "date": safe["day"].isoformat(),
            "max_distance_m": None if held else safe["max_m"],
            "longest_30d_m": safe["longest_m"],
            "returning": safe["returning"],
            "longest_30d_was_spike": safe["base_spike"],
            "hold_back": held["json"] if held else None,
            "display": {
                "max_distance": None
                if held or safe["max_m"] is None
                else units.distance(safe["max_m"], unit),
                "message": held["message"]
                if held
                else " ".join(p for p in (safe["ceiling"], safe["base_note"]) if p) or None,
            },
        },
        "load": context["info"].to_json(),
        "shoes": [
            {
                "id": w.shoe.id,
                "name": w.shoe.name,
                "distance_m": w.distance_m,
                "fraction": round(w.fraction, 4),
                "level": w.level,
                "display": {
                    "distance": units.distance(w.distance_m, unit, 0),
                    "limit": units.distance(w.shoe.retire_at_m, unit, 0),
                },
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

    def build() -> Response:
        context = dashboard_context(session, viewer.athlete_id, today_local(), viewer.unit)
        return render(request, "dashboard.html", **redact_dashboard(context, viewer.access))

    return pagecache.cached_page(request, session, viewer, build)
