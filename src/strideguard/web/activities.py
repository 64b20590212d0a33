"""Activities: the list (filter, sort, paginate) and one activity (route, charts, laps, shoe, RPE, feel)."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import date
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.activities.route_drawing import route_drawing
from strideguard.model import SPORTS, Activity, Lap, Streams
from strideguard.storage import activities as store
from strideguard.training import load, pain
from strideguard.training.charts import Series, line_chart, percentile_range
from strideguard.web import pagecache, queries
from strideguard.web.common import (
    DbSession,
    FormFields,
    ReleasingRoute,
    Viewer,
    render,
    require_writable,
    resolve_viewer,
    svg,
)
from strideguard.web.shared_view import redact_activity

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)

PER_PAGE = 50
FEELS = load.FEELS  # the vocabulary the load module understands
SORT_LABELS = {
    "date": "Date",
    "distance": "Distance",
    "duration": "Time",
    "pace": "Pace or speed",
    "heart_rate": "Heart rate",
    "ascent": "Ascent",
}
# Text helpers the list and detail templates call, the same the CLI uses (strideguard.units).
TEXT = {
    "pace_s_text": units.format_pace_s,
    "sport_label": units.sport_label,
    "device_label": units.device_label,
    "rpe_text": units.format_rpe,
    "rate_label": units.rate_label,
    "rate_kind": units.rate_kind,
}


def parse_list_filters(params: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Filters from the query string, with a message for each value that could not be used."""
    problems: list[str] = []
    sport = params.get("sport", "")
    if sport and sport not in SPORTS:
        problems.append(f"Unknown sport {sport!r}; showing all sports.")
        sport = ""
    dates: dict[str, date | None] = {}
    for key, label in (("since", "From"), ("until", "To")):  # the labels of the filter form's fields
        text = params.get(key, "").strip()
        dates[key] = None
        if text:
            try:
                dates[key] = date.fromisoformat(text)
            except ValueError:
                problems.append(f"{label} {text!r} is not a date (use YYYY-MM-DD); ignored.")
    if dates["since"] and dates["until"] and dates["since"] > dates["until"]:
        problems.append(
            f"From {dates['since'].isoformat()} is after To {dates['until'].isoformat()}: "
            "no day is in this range; swap the dates."
        )
    sort = params.get("sort", "date")
    if sort not in SORT_LABELS:
        problems.append(f"Unknown sort {sort!r}; sorted by date.")
        sort = "date"
    order = "asc" if params.get("order") == "asc" else "desc"
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    return (
        {
            "sport": sport,
            "since": dates["since"],
            "until": dates["until"],
            "q": params.get("q", "").strip()[:200],
            "sort": sort,
            "order": order,
            "page": page,
        },
        problems,
    )


@router.get("/activities", response_class=HTMLResponse)
def activity_list(request: Request, session: DbSession) -> Response:
    """The filtered, sorted, paginated list of activities."""
    viewer = resolve_viewer(request, session)
    return pagecache.cached_page(request, session, viewer, lambda: _activity_list(request, session, viewer))


def _activity_list(request: Request, session: Session, viewer: Viewer) -> Response:
    filters, problems = parse_list_filters(dict(request.query_params))
    result = queries.activity_page(
        session,
        viewer.athlete_id,
        sports=frozenset({filters["sport"]}) if filters["sport"] else None,
        since=filters["since"],
        until=filters["until"],
        text=filters["q"] or None,
        sort=filters["sort"],
        descending=filters["order"] == "desc",
        page=filters["page"],
        per_page=PER_PAGE,
    )
    base = {k: ("" if v is None else str(v)) for k, v in filters.items() if k != "page"}
    base = {k: v for k, v in base.items() if v}

    def link(**changes: Any) -> str:
        query = {**base, **{k: str(v) for k, v in changes.items()}}
        return "/activities?" + urlencode(query)

    def sort_link(key: str) -> str:
        order = "asc" if filters["sort"] == key and filters["order"] == "desc" else "desc"
        return link(sort=key, order=order)

    return render(
        request,
        "activities.html",
        page=result,
        filters=filters,
        problems=problems,
        sports=SPORTS,
        sort_labels=SORT_LABELS,
        sort_link=sort_link,
        link=link,
        shoes=queries.shoe_names(session, viewer.athlete_id),
        filtered=bool(filters["sport"] or filters["since"] or filters["until"] or filters["q"]),
        **TEXT,
    )


def stream_charts(streams: Streams | None, unit: str = "km", kind: str = "pace") -> list[dict[str, Any]]:
    """SVG charts (pace, or speed for rides, heart rate, cadence, elevation) against distance in km or mi,
    or time without a distance. `kind` is units.rate_kind of the activity."""
    if streams is None or len(streams) < 2:
        return []
    per_unit = units.METRES_PER[unit]
    if streams.distance_m is not None and np.isfinite(streams.distance_m).sum() > 1:
        x = np.asarray(streams.distance_m, float) / per_unit
        x_label, x_fmt = unit, None
        if not np.all(np.isfinite(x)):
            x = np.fmax.accumulate(np.nan_to_num(x, nan=0.0))
    else:
        x = np.asarray(streams.time_s, float)
        x_label, x_fmt = "time", "hms"
    charts: list[dict[str, Any]] = []
    speed = streams.speed_m_s
    if speed is None and streams.distance_m is not None:
        dt = np.gradient(np.asarray(streams.time_s, float))
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = np.gradient(np.asarray(streams.distance_m, float)) / dt
    if speed is not None:
        speed = np.asarray(speed, float)
        # Smooth over ~30 samples: 1 Hz GPS speed is noisy; pace slower than 15:00/km is walking or standing.
        smooth = _moving_mean(speed, 30) if len(speed) > 60 else speed
        if kind == "pace":
            with np.errstate(divide="ignore", invalid="ignore"):
                pace = np.where(smooth > 1000 / 900, per_unit / smooth, np.nan)
            if np.isfinite(pace).sum() > 1:
                label = units.pace_label(unit)
                series = Series(x, pace, "s-pace", "pace")
                charts.append(_chart("pace", "Pace", series, x_label, x_fmt, label, "pace", True))
        elif kind == "speed":
            per_hour = np.where(smooth >= 0, smooth * 3600 / per_unit, np.nan)
            if np.isfinite(per_hour).sum() > 1:
                label = units.speed_label(unit)
                series = Series(x, per_hour, "s-pace", "speed")
                charts.append(_chart("speed", "Speed", series, x_label, x_fmt, label, ".0f"))
    for name, title, label, css in (
        ("heart_rate_bpm", "Heart rate", "bpm", "s-hr"),
        ("cadence_spm", "Cadence", "steps/min", "s-cad"),
        ("altitude_m", "Elevation", "m", "s-alt"),
    ):
        values = getattr(streams, name)
        if values is None:
            continue
        values = np.asarray(values, float)
        if name == "cadence_spm":  # 0 while standing and sensor glitches are not cadence
            values = plausible_cadence(values)
        if np.isfinite(values).sum() > 1:
            charts.append(_chart(name, title, Series(x, values, css, title), x_label, x_fmt, label))
    return charts


def plausible_cadence(values: np.ndarray) -> np.ndarray:
    """Cadence samples with zeros and implausible values (outside units.PLAUSIBLE_CADENCE_SPM) as NaN."""
    low, high = units.PLAUSIBLE_CADENCE_SPM
    values = np.asarray(values, float)
    with np.errstate(invalid="ignore"):
        return np.where((values >= low) & (values <= high), values, np.nan)


def _moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean over the finite samples only: no zero padding, so the first and last samples
    are not dragged towards 0 (which drew a 14:00/km pace at both ends of every run)."""
    finite = np.isfinite(values)
    kernel = np.ones(window)
    sums = np.convolve(np.where(finite, values, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _chart(
    key: str,
    title: str,
    series: Series,
    x_label: str,
    x_fmt: str | None,
    unit: str,
    y_fmt: str | None = ".0f",
    invert: bool = False,
) -> dict[str, Any]:
    values = series.y[np.isfinite(series.y)]
    # The range the caption states is the range the chart draws: line_chart scales its y axis to the 1st-99th
    # percentile and pins the rare samples beyond it to the edge, so stating min-max would name values that
    # are not on the axis.
    low, high = percentile_range(values) if len(values) else (math.nan, math.nan)
    return {
        "key": key,
        "title": title,
        "unit": unit,
        "svg": svg(
            line_chart([series], f"{title} ({unit}) along the activity", x_label, unit, x_fmt, y_fmt, invert)
        ),
        "low": low,
        "high": high,
        "clipped": bool(len(values) and (values.min() < low or values.max() > high)),
    }


def lap_cadences(activity: Activity) -> list[float | None]:
    """Each lap's average cadence: from the file's lap, else the mean of the cadence samples in the lap."""
    streams = activity.streams
    samples = None
    if streams is not None and streams.cadence_spm is not None:
        samples = (np.asarray(streams.time_s, float), plausible_cadence(streams.cadence_spm))
    out: list[float | None] = []
    for lap in activity.laps:
        out.append(lap.avg_cadence_spm if lap.avg_cadence_spm else _lap_mean(activity, lap, samples))
    return out


def _lap_mean(activity: Activity, lap: Lap, samples: tuple[np.ndarray, np.ndarray] | None) -> float | None:
    length = lap.elapsed_time_s or lap.moving_time_s
    if samples is None or not length:
        return None
    time_s, cadence = samples
    start = (lap.start_utc - activity.start_utc).total_seconds()
    inside = cadence[(time_s >= start) & (time_s < start + length)]
    inside = inside[np.isfinite(inside)]
    return float(inside.mean()) if len(inside) else None


def _load(session: Session, athlete_id: int, activity_id: int, with_streams: bool = True) -> Activity:
    try:
        return store.get_activity(session, athlete_id, activity_id, with_streams=with_streams)
    except store.NotFound:
        raise HTTPException(404, f"No activity #{activity_id}.") from None


class _StreamViews:
    """The route drawing and stream charts of recently shown activities, per process.

    A recorded activity's streams never change, but drawing them is most of an activity page's work, and
    every change to the athlete's data (an import, an RPE edit) makes the page cache render the page
    again. The key holds what identifies the recording (an id SQLite may give again after a delete comes
    with its file's hash and start) and what the drawing depends on (unit, pace or speed).
    """

    def __init__(self, max_entries: int = 512) -> None:  # about 40 KB each
        self.max_entries = max_entries
        self._views: OrderedDict[tuple[Any, ...], tuple[Any, list[dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, activity: Activity, unit: str, kind: str) -> tuple[Any, list[dict[str, Any]]]:
        streams = activity.streams
        if streams is None:
            return route_drawing(None, None), []
        key = (
            activity.id,
            activity.start_utc,
            activity.source_sha256,
            activity.source_part,
            len(streams),
            unit,
            kind,
        )
        with self._lock:
            views = self._views.get(key)
            if views is not None:
                self._views.move_to_end(key)
                return views
        views = (route_drawing(streams.lat_deg, streams.lon_deg), stream_charts(streams, unit, kind))
        with self._lock:
            self._views[key] = views
            while len(self._views) > self.max_entries:
                self._views.popitem(last=False)
        return views


stream_views = _StreamViews().get


def detail_context(
    session: Session,
    athlete_id: int,
    activity: Activity,
    form: dict[str, str] | None = None,
    unit: str = "km",
    rows: queries.ActivityPageRows | None = None,
) -> dict[str, Any]:
    """The page's context; with `rows` (read for the page cache's key) its shoes and pain from them."""
    kind = units.rate_kind(activity.sport, activity.name or activity.source_name)
    route, charts = stream_views(activity, unit, kind)
    if rows is None or rows.activity is None:
        shoes = queries.shoe_rows(session, athlete_id)
        day_pain = queries.day_pain(session, athlete_id, activity.local_date)
    else:
        shoes, day_pain = rows.shoes, rows.pain
    return {
        "activity": activity,
        "route": route,
        "charts": charts,
        "kind": kind,
        "shoes": queries.active_shoes(shoes),
        "shoe_names": queries.names_of(shoes),
        "pain": day_pain,
        "feels": FEELS,
        "sports": SPORTS,
        "form": form or {},
        "lap_cadence": lap_cadences(activity),
        "pain_regions": pain.REGIONS,
        **TEXT,
    }


@router.get("/activities/{activity_id}", response_class=HTMLResponse)
def activity_detail(activity_id: int, request: Request, session: DbSession) -> Response:
    """One activity: summary, route, charts, laps, shoe, RPE and feel, and the day's pain entries."""
    viewer = resolve_viewer(request, session)
    read: list[queries.ActivityPageRows] = []  # the rows the cache's key was made of, when it asked

    def build() -> Response:
        activity = _load(session, viewer.athlete_id, activity_id)
        saved = request.query_params.get("saved") == "1"
        context = detail_context(
            session, viewer.athlete_id, activity, unit=viewer.unit, rows=read[-1] if read else None
        )
        return render(
            request, "activity.html", saved=saved, errors=[], **redact_activity(context, viewer.access)
        )

    def inputs() -> tuple[object, ...]:
        read.append(queries.activity_page_rows(session, viewer.athlete_id, activity_id))
        return read[-1].key

    return pagecache.cached_page(request, session, viewer, build, depends=inputs)


def parse_edit_form(form: dict[str, str], shoe_ids: set[int]) -> tuple[dict[str, Any], list[str]]:
    """Changes from the edit form, or the problems with it (nothing is stored if there is any)."""
    changes: dict[str, Any] = {}
    errors: list[str] = []
    name = form.get("name", "").strip()
    if len(name) > 200:
        errors.append("Name: at most 200 characters.")
    changes["name"] = name or None
    rpe_text = form.get("rpe", "").strip()
    if rpe_text:
        try:
            rpe = float(rpe_text.replace(",", "."))
            if not 0 <= rpe <= 10 or not math.isfinite(rpe):
                raise ValueError
            changes["rpe"] = rpe
        except ValueError:
            errors.append(f"RPE {rpe_text!r}: enter a number from 0 (rest) to 10 (maximal).")
    else:
        changes["rpe"] = None
    feel = form.get("feel", "")
    if feel and feel not in FEELS:
        errors.append(f"Feel {feel!r}: choose one of {', '.join(FEELS)}.")
    changes["feel"] = feel or None
    shoe = form.get("shoe_id", "")
    if shoe:
        if not shoe.isdigit() or int(shoe) not in shoe_ids:
            errors.append("Shoe: choose one of your shoes.")
        else:
            changes["shoe_id"] = int(shoe)
    else:
        changes["shoe_id"] = None
    sport = form.get("sport", "")
    if sport:
        if sport not in SPORTS:
            errors.append(f"Sport {sport!r}: choose one of {', '.join(SPORTS)}.")
        else:
            changes["sport"] = sport
    return changes, errors


@router.post("/activities/{activity_id}", response_class=HTMLResponse)
def activity_edit(
    activity_id: int,
    request: Request,
    form: FormFields,
    session: DbSession,
) -> Response:
    """Save the name, sport, shoe, RPE and feel; on bad input show the form again with what was typed."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    activity = _load(session, viewer.athlete_id, activity_id)
    shoe_ids = set(queries.shoe_names(session, viewer.athlete_id))
    changes, errors = parse_edit_form(form, shoe_ids)
    if errors:
        context = detail_context(session, viewer.athlete_id, activity, form, viewer.unit)
        return render(request, "activity.html", status_code=422, saved=False, errors=errors, **context)
    if changes.get("shoe_id", activity.shoe_id) != activity.shoe_id:
        changes["shoe_auto"] = False  # the runner's choice: never moved by a shoe's dates
    sport = changes.pop("sport", activity.sport)
    store.update_activity(session, viewer.athlete_id, activity_id, **changes)
    if sport != activity.sport:
        store.set_sport(session, viewer.athlete_id, activity_id, sport)
    session.commit()
    return RedirectResponse(f"/activities/{activity_id}?saved=1#edit", status_code=303)


@router.post("/activities/{activity_id}/sport")
def activity_sport(activity_id: int, request: Request, form: FormFields, session: DbSession) -> Response:
    """The runner's one-click word on an inferred sport ("It was a run"): stored, the note cleared, and the
    activity counted in (or kept out of) the running load from now on."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    _load(session, viewer.athlete_id, activity_id, with_streams=False)
    sport = form.get("sport", "")
    if sport not in SPORTS:
        raise HTTPException(422, f"Sport {sport!r}: choose one of {', '.join(SPORTS)}.")
    store.set_sport(session, viewer.athlete_id, activity_id, sport)
    session.commit()
    return RedirectResponse(f"/activities/{activity_id}?saved=1", status_code=303)
