"""Pain diary: a clickable front/back body map, the entry form, and each region's history against load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from strideguard import units
from strideguard.storage import activities as store
from strideguard.storage import aggregates
from strideguard.storage import pain as pain_store
from strideguard.training import charts, load, pain
from strideguard.triage import from_diary
from strideguard.web import pagecache
from strideguard.web.common import (
    DbSession,
    FormFields,
    ReleasingRoute,
    render,
    require_pain,
    require_writable,
    resolve_viewer,
    svg,
)
from strideguard.web.dashboard import today_local

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)

HISTORY_WEEKS = 12
TIMING_LABELS = {
    "before": "Before a run",
    "during": "During a run",
    "after": "After a run",
    "next-morning": "Next morning",
}


@dataclass(frozen=True, slots=True)
class Shape:
    """One clickable area of the body map: a rectangle in the 200 x 440 drawing, for a region and side.

    `hit` is the invisible rectangle that takes taps (x, y, w, h): at least MIN_HIT units each way, so a
    finger can hit the narrow areas (side of knee, side of hip, ankle) on a phone.
    """

    region: str
    side: str
    x: float
    y: float
    w: float
    h: float
    hit: tuple[float, float, float, float]


# The map is drawn at most 16rem (256 px) wide, 1.28 px per unit: 20 units is about 25 CSS px, above the
# 24 x 24 px minimum target size (WCAG 2.5.8), at a 375 px wide phone.
MIN_HIT = 20.0
# Hit areas that grow in a chosen direction (for the leg on the viewer's left), so they do not cover a
# neighbouring region: outwards for the sides of knee and hip, down for the ankle and the foot.
_HIT = {
    "knee-side": (55, 288, 20, 22),
    "hip-lateral": (52, 176, 20, 28),
    "ankle": (76, 374, 20, 20),
    "foot": (72, 394, 24, 20),
    "achilles": (76, 364, 20, 28),
}


# Front view: the runner faces you, so their right side is on your left.
# Back view: their left is on your left.
# Each leg's areas are drawn once per side; "mirror" gives the other leg's x.
_LEG = (
    # region, x, y, w, h for the leg on the viewer's left (x from 72 to 98)
    ("thigh-front", 74, 212, 24, 70, "front"),
    ("knee-front", 76, 288, 20, 22, "front"),
    ("knee-side", 66, 288, 9, 22, "both"),
    ("shin", 77, 314, 18, 60, "front"),
    ("ankle", 77, 378, 18, 12, "front"),
    ("foot", 72, 394, 24, 14, "both"),
    ("groin-hip-front", 78, 182, 20, 24, "front"),
    ("hip-lateral", 62, 176, 10, 28, "both"),
    ("buttock", 74, 172, 25, 34, "back"),
    ("thigh-back", 74, 212, 24, 70, "back"),
    ("knee-back", 76, 288, 20, 22, "back"),
    ("calf", 77, 314, 18, 48, "back"),
    ("achilles", 81, 366, 10, 24, "back"),
)


def _grown(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    """The rectangle grown about its centre to at least MIN_HIT each way (shin and calf are 18 wide)."""
    gw, gh = max(w, MIN_HIT), max(h, MIN_HIT)
    return (x - (gw - w) / 2, y - (gh - h) / 2, gw, gh)


def body_shapes(view: str) -> list[Shape]:
    """The clickable areas of one view ('front' or 'back')."""
    viewer_left_side = "right" if view == "front" else "left"
    other = "left" if viewer_left_side == "right" else "right"
    shapes: list[Shape] = []
    for region, x, y, w, h, views in _LEG:
        if views not in (view, "both") or region not in pain.REGIONS:
            continue
        hx, hy, hw, hh = _HIT.get(region) or _grown(x, y, w, h)
        shapes.append(Shape(region, viewer_left_side, x, y, w, h, (hx, hy, hw, hh)))
        shapes.append(Shape(region, other, 200 - x - w, y, w, h, (200 - hx - hw, hy, hw, hh)))
    if view == "back" and "lower-back" in pain.REGIONS:
        shapes.append(Shape("lower-back", "both", 78, 138, 44, 30, (78, 138, 44, 30)))
    return shapes


def body_map_svg(view: str, selected: tuple[str, str] | None, logged: set[str]) -> str:
    """The body outline and its regions as links (keyboard-focusable; they work without JavaScript)."""
    title = f"Body map, {view} view: choose where it hurts"
    out = [
        f'<svg class="bodymap" viewBox="0 0 200 440" role="group" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<circle class="silhouette" cx="100" cy="30" r="20"/>',
        '<rect class="silhouette" x="68" y="52" width="64" height="124" rx="12"/>',
        '<rect class="silhouette" x="44" y="58" width="20" height="112" rx="9"/>',
        '<rect class="silhouette" x="136" y="58" width="20" height="112" rx="9"/>',
        '<rect class="silhouette" x="70" y="168" width="60" height="44" rx="8"/>',
        '<rect class="silhouette" x="72" y="206" width="27" height="206" rx="9"/>',
        '<rect class="silhouette" x="101" y="206" width="27" height="206" rx="9"/>',
        f'<text x="6" y="14">{"their right" if view == "front" else "their left"}</text>',
        f'<text x="194" y="14" text-anchor="end">{"their left" if view == "front" else "their right"}</text>',
    ]
    for shape in body_shapes(view):
        label = f"{pain.REGIONS[shape.region].label}, {shape.side if shape.side != 'both' else 'middle'}"
        css = "region"
        if selected == (shape.region, shape.side):
            css += " selected"
        if shape.region in logged:
            css += " logged"
        href = "/pain?" + urlencode({"region": shape.region, "side": shape.side}) + "#log"
        hx, hy, hw, hh = shape.hit
        out.append(
            f'<a href="{escape(href)}" class="region-link" data-region="{escape(shape.region)}" '
            f'data-side="{escape(shape.side)}" aria-label="{escape(label)}">'
            f'<rect class="hit" x="{hx:g}" y="{hy:g}" width="{hw:g}" height="{hh:g}"/>'
            f'<rect class="{css}" x="{shape.x:g}" y="{shape.y:g}" '
            f'width="{shape.w:g}" height="{shape.h:g}" rx="3">'
            f"<title>{escape(label)}</title></rect></a>"
        )
    out.append("</svg>")
    return "".join(out)


def side_text(side: str) -> str:
    """'left' -> 'left side', 'both' -> 'both sides' (for headings)."""
    return "both sides" if side == "both" else f"{side} side" if side in pain.SIDES else ""


def region_history(
    entries: list[pain.PainEntry],
    week_list: list[load.WeekVolume],
    region: str,
    today: date,
    side: str = "",
    unit: str = "km",
) -> dict[str, Any]:
    """One region's scores over the last weeks, beside weekly running distance (is it load-related?).

    With a side (left or right) only that side's entries and those logged for both sides count, as the
    heading says. Both charts are the report's (training/charts.py): the pain axis is 0-10 with the 5/10
    limit labelled.
    """
    # The same weeks as the distance chart below: from its first Monday to the end of this week.
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=HISTORY_WEEKS - 1)
    sides = {side, "both"} if side in ("left", "right") else set(pain.SIDES)
    mine = [e for e in entries if e.region == region and e.day >= first and e.side in sides]
    title = f"{pain.REGIONS[region].label}{', ' + side_text(side) if side else ''}: pain score (0-10) by day"
    pain_svg = charts.pain_chart(mine, first, monday + timedelta(days=6), today, title)
    weeks = load.fill_weeks(week_list, first, monday)
    load_svg = charts.bar_chart(
        [charts.week_label(w.monday) for w in weeks],
        [units.distance_value(w.distance_m, unit) for w in weeks],
        f"Running distance per week ({unit}) over the same weeks",
        unit,
        current=len(weeks) - 1,
    )
    return {"entries": list(reversed(mine)), "pain_svg": svg(pain_svg), "load_svg": svg(load_svg)}


def pain_context(
    session: Session,
    athlete_id: int,
    params: dict[str, str],
    form: dict[str, str] | None = None,
    unit: str = "km",
) -> dict[str, Any]:
    today = today_local()
    entries = pain_store.list_pain(
        session, athlete_id, since=today - timedelta(weeks=HISTORY_WEEKS * 2), until=today
    )
    form = (
        form
        if form is not None
        else {
            "region": params.get("region", ""),
            "side": params.get("side", ""),
            "date": params.get("date", today.isoformat()),
            "activity_id": params.get("activity_id", ""),
            "timing": "after",
            "score": "",
            "note": "",
        }
    )
    region = form.get("region", "")
    selected = (region, form.get("side", "")) if region in pain.REGIONS else None
    logged = {e.region for e in entries if e.day > today - timedelta(days=14)}
    history = None
    if region in pain.REGIONS:
        monday = today - timedelta(days=today.weekday())
        week_list = aggregates.week_volumes(
            session, athlete_id, since=monday - timedelta(weeks=HISTORY_WEEKS), until=monday
        )
        history = region_history(entries, week_list, region, today, form.get("side", ""), unit)
    return {
        "front_map": svg(body_map_svg("front", selected, logged)),
        "back_map": svg(body_map_svg("back", selected, logged)),
        "regions": pain.REGIONS,
        "sides": pain.SIDES,
        "timings": TIMING_LABELS,
        "form": form,
        "history": history,
        "recent": list(reversed(entries))[:15],
        # body-map regions with a matching check ("Check this knee" next to a knee entry)
        "check_regions": {r: c for r in pain.REGIONS if (c := from_diary.triage_region(r))},
        "trends": pain.pain_trends(entries, today),
        "today": today,
        "side_text": side_text,
        "confirm_delete": None,
    }


@router.get("/pain", response_class=HTMLResponse)
def pain_page(request: Request, session: DbSession) -> Response:
    """The body map and form, recent entries, and the chosen region's history against load."""
    viewer = resolve_viewer(request, session)
    require_pain(viewer)

    def build() -> Response:
        saved = request.query_params.get("saved") == "1"
        deleted = request.query_params.get("deleted") == "1"
        context = pain_context(session, viewer.athlete_id, dict(request.query_params), unit=viewer.unit)
        return render(request, "pain.html", errors=[], saved=saved, deleted=deleted, **context)

    return pagecache.cached_page(request, session, viewer, build)


def parse_pain_form(form: dict[str, str], today: date) -> tuple[pain.PainEntry | None, list[str]]:
    """A validated PainEntry from the form, or the list of problems (in the order of the fields)."""
    errors: list[str] = []
    region = form.get("region", "")
    if region not in pain.REGIONS:
        errors.append("Where: click the body map or choose a region.")
    side = form.get("side", "")
    if side not in pain.SIDES:
        errors.append("Side: choose left, right or both.")
    score_text = form.get("score", "").strip()
    score = -1
    if not score_text.isdigit() or not 0 <= int(score_text) <= 10:
        errors.append(
            f"Pain score {score_text!r}: choose a whole number from 0 (none) to 10 (worst)."
            if score_text
            else "Pain score: choose 0 to 10."
        )
    else:
        score = int(score_text)
    timing = form.get("timing", "")
    if timing not in pain.TIMINGS:
        errors.append("When: choose before, during or after a run, or next morning.")
    day = today
    text = form.get("date", "").strip()
    if text:
        try:
            day = date.fromisoformat(text)
            if day > today:
                errors.append(f"Date {text}: cannot be in the future.")
        except ValueError:
            errors.append(f"Date {text!r}: use YYYY-MM-DD.")
    activity_id = None
    if form.get("activity_id", "").strip():
        if form["activity_id"].strip().isdigit():
            activity_id = int(form["activity_id"])
        else:
            errors.append("Run: not a valid activity.")
    note = form.get("note", "").strip()
    if len(note) > 2000:
        errors.append("Note: at most 2000 characters.")
    if errors:
        return None, errors
    try:
        return pain.PainEntry(day, region, side, score, timing, activity_id, note or None), []
    except pain.PainInputError as exc:
        return None, [str(exc)]


@router.post("/pain", response_class=HTMLResponse)
def add_pain(request: Request, form: FormFields, session: DbSession) -> Response:
    """Log a pain entry; on bad input the form comes back with what was chosen and nothing is stored."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    entry, errors = parse_pain_form(form, today_local())
    if entry is not None:
        try:
            pain_store.add_pain(session, viewer.athlete_id, entry)
        except store.NotFound as exc:
            errors = [f"Run: {exc}."]
    if errors:
        session.rollback()
        context = pain_context(session, viewer.athlete_id, {}, form, viewer.unit)
        return render(
            request, "pain.html", status_code=422, errors=errors, saved=False, deleted=False, **context
        )
    session.commit()
    assert entry is not None
    return RedirectResponse(
        "/pain?" + urlencode({"region": entry.region, "side": entry.side, "saved": "1"}), status_code=303
    )


@router.get("/pain/{entry_id}/delete", response_class=HTMLResponse)
def confirm_delete_pain(entry_id: int, request: Request, session: DbSession) -> Response:
    """Ask before deleting: the entry, and a form (with the CSRF token) that deletes it, or a way back."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    try:
        entry = pain_store.get_pain(session, viewer.athlete_id, entry_id)
    except store.NotFound:
        raise HTTPException(404, f"No pain entry #{entry_id}.") from None
    context = pain_context(session, viewer.athlete_id, {}, unit=viewer.unit)
    context["confirm_delete"] = entry
    return render(request, "pain.html", errors=[], saved=False, deleted=False, **context)


@router.post("/pain/{entry_id}/delete")
def delete_pain(entry_id: int, request: Request, form: FormFields, session: DbSession) -> Response:
    """Delete an entry confirmed on the confirmation form; without `confirm=yes`, ask first."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    if form.get("confirm") != "yes":
        return RedirectResponse(f"/pain/{entry_id}/delete#confirm-delete", status_code=303)
    try:
        pain_store.delete_pain(session, viewer.athlete_id, entry_id)
    except store.NotFound:
        raise HTTPException(404, f"No pain entry #{entry_id}.") from None
    session.commit()
    return RedirectResponse("/pain?deleted=1", status_code=303)
