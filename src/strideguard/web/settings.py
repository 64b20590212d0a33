"""Settings: kilometres or miles for every page, chart, the report and the API's display fields.

Its own page and template (/settings), reachable in local and server mode; stored per athlete (the
viewer's own: a coach reads a shared log in their own unit). `GET|PATCH /api/settings` does the same for
scripts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from strideguard import units
from strideguard.storage import settings as store
from strideguard.web.common import (
    DbSession,
    FormFields,
    ReleasingRoute,
    Viewer,
    own_athlete,
    render,
    resolve_viewer,
    viewer_default_unit,
)

router = APIRouter(tags=["settings"], route_class=ReleasingRoute)
CHOICES = ("km", "mi", "auto")


def _state(request: Request, session: Any, viewer: Viewer) -> dict[str, Any]:
    chosen = store.stored_unit(session, own_athlete(viewer))
    default = viewer_default_unit(request)
    return {"distance_unit": chosen or default, "chosen": chosen, "default": default}


@router.get("/settings", response_class=HTMLResponse, include_in_schema=False)
def settings_page(request: Request, session: DbSession) -> Response:
    """The settings page: kilometres or miles."""
    viewer = resolve_viewer(request, session)
    return render(
        request,
        "settings.html",
        saved=request.query_params.get("saved") == "1",
        errors=[],
        unit_names=units.UNIT_NAMES,
        **_state(request, session, viewer),
    )


@router.post("/settings", response_class=HTMLResponse, include_in_schema=False)
def save_settings(request: Request, form: FormFields, session: DbSession) -> Response:
    """Store the choice (or go back to the default with 'auto'); a coach may set their own units too."""
    viewer = resolve_viewer(request, session)
    choice = form.get("distance_unit", "")
    if choice not in CHOICES:
        return render(
            request,
            "settings.html",
            status_code=422,
            saved=False,
            errors=["Distances: choose kilometres, miles, or as your locale measures."],
            unit_names=units.UNIT_NAMES,
            **_state(request, session, viewer),
        )
    store.set_distance_unit(session, own_athlete(viewer), None if choice == "auto" else choice)
    session.commit()
    return RedirectResponse("/settings?saved=1", status_code=303)


class SettingsChanges(BaseModel):
    """`distance_unit`: "km", "mi", or null for the default (the browser's or the server's locale)."""

    distance_unit: str | None = Field(..., pattern="^(km|mi)$")


@router.get("/api/settings", tags=["settings"])
def api_settings(request: Request, session: DbSession) -> dict[str, Any]:
    """The unit every display field is written in, whether it was chosen, and the default."""
    viewer = resolve_viewer(request, session)
    return _state(request, session, viewer)


@router.patch("/api/settings", tags=["settings"])
def api_change_settings(changes: SettingsChanges, request: Request, session: DbSession) -> dict[str, Any]:
    """Choose km or mi (null: back to the default)."""
    viewer = resolve_viewer(request, session)
    if changes.distance_unit not in (None, *units.UNITS):
        raise HTTPException(422, "distance_unit: km, mi or null")
    store.set_distance_unit(session, own_athlete(viewer), changes.distance_unit)
    session.commit()
    return _state(request, session, viewer)
