"""Routines: the list, and a player with step cards, a large countdown, side switch, beep and wake lock.

The timeline comes from `routines.schedule` (the CLI timer's too); player.js follows the same state machine
as `routines.PlayerState` (tick, skip, pause) in the browser.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from strideguard.triage import routines
from strideguard.web.common import ReleasingRoute, render

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)


@functools.cache
def all_routines() -> dict[str, routines.Routine]:
    """The packaged routines, loaded once per process."""
    return routines.load_routines()


@functools.cache
def citations() -> dict[str, routines.Citation]:
    return routines.load_citations()


def get_routine(routine_id: str) -> routines.Routine:
    try:
        return routines.find_routine(all_routines(), routine_id)
    except routines.UnknownRoutine:
        raise HTTPException(404, f"No routine {routine_id!r}.") from None


@router.get("/routines", response_class=HTMLResponse)
def routine_list(request: Request) -> Response:
    """Every routine with its kind, length and what it is for."""
    items = sorted(all_routines().values(), key=lambda r: (r.kind, r.name))
    return render(request, "routines.html", routines=items, fmt=routines.format_duration, counts=step_counts)


def step_counts(routine: routines.Routine) -> str:
    """'4 timed steps (3 exercises; 1 done on each side)': the player counts timed steps, sides apart."""
    timed = len(routines.schedule(routine))
    exercises = len(routine.steps)
    if timed == exercises:
        return f"{timed} step{'s' if timed != 1 else ''}"
    sided = sum(1 for s in routine.steps if s.sides == "each")
    return (
        f"{timed} timed steps ({exercises} exercise{'s' if exercises != 1 else ''}; "
        f"{sided} done on each side)"
    )


@router.get("/routines/{routine_id}", response_class=HTMLResponse)
def routine_player(routine_id: str, request: Request) -> Response:
    """The player page; without JavaScript it is a readable list of the timed steps."""
    routine = get_routine(routine_id)
    timeline = routines.schedule(routine)
    cites = citations()
    return render(
        request,
        "routine_player.html",
        routine=routine,
        timeline=timeline,
        fmt=routines.format_duration,
        sources=[cites[c] for c in routine.citations if c in cites],
        disclaimer=routines.DISCLAIMER,
    )


def routine_json(routine_id: str) -> dict[str, Any]:
    routine = get_routine(routine_id)
    return routines.routine_to_dict(routine, citations())
