"""Shoes: add, edit, default per sport, wear against the retirement threshold, retire and restore."""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from strideguard import config, units
from strideguard.model import SPORTS
from strideguard.storage import aggregates
from strideguard.storage import shoes as shoe_store
from strideguard.storage.activities import NotFound
from strideguard.training import shoes
from strideguard.web import pagecache, queries
from strideguard.web.common import (
    DbSession,
    FormFields,
    ReleasingRoute,
    Viewer,
    render,
    require_writable,
    resolve_viewer,
)

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)


def parse_distance(
    text: str, label: str, errors: list[str], default: float | None = None, unit: str = "km"
) -> float | None:
    """'450', '450 km', '280 mi' or '450,5' -> metres (a bare number is in the viewer's unit); a message in
    `errors` when it is not a distance."""
    text = text.strip().lower().replace(",", ".")
    for suffix, given in (("km", "km"), ("mi", "mi"), ("miles", "mi")):
        if text.endswith(suffix):
            text, unit = text.removesuffix(suffix).strip(), given
            break
    if not text:
        return default
    try:
        value = float(text)
        if not math.isfinite(value) or value < 0 or value > 100_000:
            raise ValueError
    except ValueError:
        example = "450" if unit == "km" else "280"
        errors.append(f"{label}: enter a distance in {units.UNIT_NAMES[unit]}, e.g. {example}.")
        return default
    return units.to_metres(value, unit)


def distance_field(distance_m: float, unit: str) -> str:
    """A stored distance in a form field, in the viewer's unit, precise enough that saving it unchanged
    keeps the value to the metre."""
    return f"{units.distance_value(distance_m, unit):.6g}"


def default_retire_field(unit: str) -> str:
    """The default limit as the add form shows it: 450 km, or 280 mi."""
    return "450" if unit == "km" else units.number(units.distance_value(shoes.DEFAULT_RETIRE_AT_M, "mi"))


def parse_shoe_form(form: dict[str, str], unit: str = "km") -> tuple[dict[str, Any], list[str]]:
    """Name, brand, model, start distance and retirement distance from a form (in the viewer's unit); or
    what is wrong with it."""
    errors: list[str] = []
    name = form.get("name", "").strip()
    if not name:
        errors.append("Name: a shoe needs a name.")
    if len(name) > 200:
        errors.append("Name: at most 200 characters.")
    start = parse_distance(form.get("start_km", ""), "Already run", errors, 0.0, unit)
    retire = parse_distance(form.get("retire_km", ""), "Retire at", errors, shoes.DEFAULT_RETIRE_AT_M, unit)
    if retire is not None and retire <= 0:
        errors.append(f"Retire at: must be more than 0 {unit}.")
    values = {
        "name": name,
        "brand": form.get("brand", "").strip()[:200] or None,
        "model": form.get("model", "").strip()[:200] or None,
        "start_distance_m": start or 0.0,
        "retire_at_m": retire or shoes.DEFAULT_RETIRE_AT_M,
        "in_use_from": parse_day(form.get("in_use_from", ""), "In use from", errors),
        "in_use_until": parse_day(form.get("in_use_until", ""), "In use until", errors),
    }
    return values, errors


def parse_day(text: str, label: str, errors: list[str]) -> date | None:
    """A YYYY-MM-DD date field (empty: None) between 1990 and today; a message in `errors` otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors.append(f"{label}: enter a date as YYYY-MM-DD.")
        return None
    if day < date(1990, 1, 1) or day > config.today_local():
        errors.append(f"{label}: {day.isoformat()} is not between 1990 and today.")
        return None
    return day


def shoes_context(session: Session, athlete_id: int, unit: str = "km") -> dict[str, Any]:
    wears = aggregates.shoes_with_wear(session, athlete_id)  # the totals the database keeps
    defaults = shoe_store.defaults(session, athlete_id)
    by_shoe: dict[int, list[str]] = {}
    for sport in SPORTS:  # in SPORTS order, whatever order the database returns them in
        if sport in defaults:
            by_shoe.setdefault(defaults[sport], []).append(sport)
    return {
        "active": [w for w in wears if not w.shoe.retired],
        "retired": [w for w in wears if w.shoe.retired],
        "defaults": by_shoe,
        "sports": SPORTS,
        "limit_hint": shoes.limit_hint(unit),
        "default_retire": default_retire_field(unit),
        **TEXT,
    }


# Text helpers for the shoe templates (readable sport names, one wear vocabulary, the limit's rationale).
TEXT = {
    "sport_label": units.sport_label,
    "sport_list": units.sport_list,
    "wear_labels": shoes.WEAR_LABELS,
}


def past_limit_note(wear: shoes.ShoeWear, unit: str = "km") -> str | None:
    """A limit below what the pair has already run is accepted, but said."""
    if wear.fraction < 1.0:
        return None
    return (
        f"{wear.shoe.name} is already past its limit: {units.distance_number(wear.distance_m, unit, 0)} of "
        f"{units.distance(wear.shoe.retire_at_m, unit, 0)}. Replace it, or raise the limit if it still feels "
        "right."
    )


def _done_notes(params: dict[str, str], context: dict[str, Any], unit: str = "km") -> list[str]:
    """Follow-up notes for the shoe named in the redirect (?shoe=ID): defaults cleared, past its limit."""
    wear = next(
        (w for w in context["active"] + context["retired"] if str(w.shoe.id) == params.get("shoe")), None
    )
    if wear is None:
        return []
    notes: list[str] = []
    cleared = [s for s in params.get("cleared", "").split(",") if s in SPORTS]
    if params.get("done") == "retired" and cleared:
        notes.append(
            f"{wear.shoe.name} was the default for {units.sport_list(cleared)}; "
            "choose another default with Make default."
        )
    if params.get("done") == "restored":
        notes.append(f"{wear.shoe.name} is the default for no sport now; use Make default to set it again.")
    if params.get("done") in {"added", "saved"} and (note := past_limit_note(wear, unit)):
        notes.append(note)
    return notes


@router.get("/shoes", response_class=HTMLResponse)
def shoes_page(request: Request, session: DbSession) -> Response:
    """All shoes with their wear, defaults, and the form to add one."""
    viewer = resolve_viewer(request, session)
    return pagecache.cached_page(request, session, viewer, lambda: _shoes_page(request, session, viewer))


def _shoes_page(request: Request, session: Session, viewer: Viewer) -> Response:
    context = shoes_context(session, viewer.athlete_id, viewer.unit)
    message = {
        "added": "Shoe added.",
        "saved": "Saved.",
        "retired": "Shoe retired.",
        "restored": "Shoe restored.",
        "default": "Default shoe set.",
    }.get(request.query_params.get("done", ""))
    return render(
        request,
        "shoes.html",
        form={},
        errors=[],
        message=message,
        notes=_done_notes(dict(request.query_params), context, viewer.unit) if message else [],
        **context,
    )


@router.post("/shoes", response_class=HTMLResponse)
def add_shoe(request: Request, form: FormFields, session: DbSession) -> Response:
    """Add a shoe; on bad input show the form again with what was typed and store nothing."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    values, errors = parse_shoe_form(form, viewer.unit)
    added = None
    if not errors:
        try:
            added = shoe_store.add_shoe(session, viewer.athlete_id, **values)
        except shoe_store.ShoeInputError as exc:
            errors.append(str(exc).capitalize() + ".")
    if errors:
        session.rollback()
        context = shoes_context(session, viewer.athlete_id, viewer.unit)
        return render(
            request,
            "shoes.html",
            status_code=422,
            form=form,
            errors=errors,
            message=None,
            notes=[],
            **context,
        )
    session.commit()
    assert added is not None
    return RedirectResponse(f"/shoes?done=added&shoe={added.id}", status_code=303)


RECENT_RUNS = 10


def edit_context(session: Session, athlete_id: int, shoe: shoes.Shoe, unit: str = "km") -> dict[str, Any]:
    """The shoe's wear (the same numbers as the list) and its most recent activities."""
    wear = aggregates.shoe_wears(session, athlete_id, [shoe])[0]
    recent = queries.latest_in_shoe(session, athlete_id, shoe.id, RECENT_RUNS)
    return {
        "wear": wear,
        "recent": recent,
        "past_limit": past_limit_note(wear, unit),
        "in_use": shoe_store.in_use(session, athlete_id)[shoe.id],
        "limit_hint": shoes.limit_hint(unit),
        "default_retire": default_retire_field(unit),
        **TEXT,
    }


def _shoe(session: Session, athlete_id: int, shoe_id: int) -> shoes.Shoe:
    try:
        return shoe_store.get_shoe(session, athlete_id, shoe_id)
    except NotFound:
        raise HTTPException(404, f"No shoe #{shoe_id}.") from None


@router.get("/shoes/{shoe_id}", response_class=HTMLResponse)
def shoe_page(shoe_id: int, request: Request, session: DbSession) -> Response:
    """Edit one shoe."""
    viewer = resolve_viewer(request, session)
    shoe = _shoe(session, viewer.athlete_id, shoe_id)
    form = {
        "name": shoe.name,
        "brand": shoe.brand or "",
        "model": shoe.model or "",
        "start_km": distance_field(shoe.start_distance_m, viewer.unit),
        "retire_km": distance_field(shoe.retire_at_m, viewer.unit),
        "in_use_from": shoe.in_use_from.isoformat() if shoe.in_use_from else "",
        "in_use_until": shoe.in_use_until.isoformat() if shoe.in_use_until else "",
    }
    return render(
        request,
        "shoe_edit.html",
        shoe=shoe,
        form=form,
        errors=[],
        **edit_context(session, viewer.athlete_id, shoe, viewer.unit),
    )


@router.post("/shoes/{shoe_id}", response_class=HTMLResponse)
def edit_shoe(
    shoe_id: int,
    request: Request,
    form: FormFields,
    session: DbSession,
) -> Response:
    """Save a shoe's name, brand, model and distances."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    shoe = _shoe(session, viewer.athlete_id, shoe_id)
    values, errors = parse_shoe_form(form, viewer.unit)
    if errors:
        context = edit_context(session, viewer.athlete_id, shoe, viewer.unit)
        return render(
            request, "shoe_edit.html", status_code=422, shoe=shoe, form=form, errors=errors, **context
        )
    try:
        shoe_store.update_shoe(session, viewer.athlete_id, shoe_id, **values)
    except shoe_store.ShoeInputError as exc:
        session.rollback()
        errors = [str(exc).capitalize() + "."]
        context = edit_context(session, viewer.athlete_id, shoe, viewer.unit)
        return render(
            request, "shoe_edit.html", status_code=422, shoe=shoe, form=form, errors=errors, **context
        )
    session.commit()
    return RedirectResponse(f"/shoes?done=saved&shoe={shoe_id}", status_code=303)


@router.post("/shoes/{shoe_id}/retire")
def retire_shoe(shoe_id: int, request: Request, session: DbSession) -> Response:
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    _shoe(session, viewer.athlete_id, shoe_id)
    cleared = shoe_store.default_sports(session, viewer.athlete_id, shoe_id)
    shoe_store.retire(session, viewer.athlete_id, shoe_id)
    session.commit()
    query = urlencode({"done": "retired", "shoe": shoe_id, "cleared": ",".join(cleared)})
    return RedirectResponse(f"/shoes?{query}", status_code=303)


@router.post("/shoes/{shoe_id}/restore")
def restore_shoe(shoe_id: int, request: Request, session: DbSession) -> Response:
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    _shoe(session, viewer.athlete_id, shoe_id)
    try:
        shoe_store.restore(session, viewer.athlete_id, shoe_id)
    except shoe_store.ShoeInputError as exc:  # e.g. an active pair has taken its name meanwhile
        session.rollback()
        return _shoes_error(request, session, viewer.athlete_id, str(exc))
    session.commit()
    return RedirectResponse(f"/shoes?done=restored&shoe={shoe_id}", status_code=303)


@router.post("/shoes/{shoe_id}/default", response_class=HTMLResponse)
def default_shoe(
    shoe_id: int,
    request: Request,
    form: FormFields,
    session: DbSession,
) -> Response:
    """Make this shoe the default for a sport (applied to new imports of that sport)."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    _shoe(session, viewer.athlete_id, shoe_id)
    try:
        shoe_store.set_default(session, viewer.athlete_id, shoe_id, form.get("sport", ""))
    except shoe_store.ShoeInputError as exc:
        session.rollback()
        return _shoes_error(request, session, viewer.athlete_id, str(exc))
    session.commit()
    return RedirectResponse("/shoes?done=default", status_code=303)


def _shoes_error(request: Request, session: Session, athlete_id: int, problem: str) -> Response:
    """The shoe list again with one problem explained (status 422)."""
    viewer = getattr(request.state, "viewer", None)
    context = shoes_context(session, athlete_id, viewer.unit if viewer is not None else "km")
    errors = [problem[:1].upper() + problem[1:] + "."]
    return render(
        request, "shoes.html", status_code=422, form={}, errors=errors, message=None, notes=[], **context
    )
