"""Server mode: what the athlete shares with whom (training only / training and pain / everything), changed
or revoked at any time. The levels and what each shows: storage/sharing.py; how a shared dashboard is
redacted: shared_view.py. Every change goes into the account's audit log."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from strideguard.storage import sharing
from strideguard.storage.audit import record_audit
from strideguard.storage.tables import UserRow
from strideguard.web.common import (
    DbSession,
    FormFields,
    ReleasingRoute,
    Viewer,
    own_athlete,
    render,
    require_server_mode,
    resolve_viewer,
)

# Pages say include_in_schema=False; the /api routes are in the OpenAPI document.
router = APIRouter(route_class=ReleasingRoute)

DONE = {
    "shared": "Shared.",
    "changed": "What that share shows is changed.",
    "revoked": "Sharing stopped: they no longer see any of your log.",
}


def _page(
    request: Request, session: Session, viewer: Viewer, errors: list[str], status: int = 200
) -> Response:
    return render(
        request,
        "sharing.html",
        status_code=status,
        shares=sharing.shares_of_athlete(session, own_athlete(viewer)),
        levels=sharing.LEVELS,
        level_detail=sharing.LEVEL_DETAIL,
        errors=errors,
        message=DONE.get(request.query_params.get("done", "")),
    )


def _level(form: dict[str, str]) -> tuple[str, bool, list[str]]:
    level = form.get("level", "")
    errors = (
        []
        if level in sharing.LEVELS
        else ["Choose what to share: training only, training and pain, or everything."]
    )
    return level, form.get("show_flags") == "1", errors


@router.get("/account/sharing", response_class=HTMLResponse, include_in_schema=False)
def sharing_page(request: Request, session: DbSession) -> Response:
    """Who sees your log and exactly what; add, change or stop a share."""
    require_server_mode(request)
    return _page(request, session, resolve_viewer(request, session), [])


@router.post("/account/sharing", response_class=HTMLResponse, include_in_schema=False)
def add_share(request: Request, form: FormFields, session: DbSession) -> Response:
    """Share with an account at a level. The answer is the same whether or not the address has an account,
    so the form cannot be used to learn who is registered."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    email = form.get("email", "").strip().lower()
    level, show_flags, errors = _level(form)
    if not email or "@" not in email:
        errors.append("Email: enter the address of their StrideGuard account.")
    if email == (viewer.email or ""):
        errors.append("That is your own account.")
    if errors:
        return _page(request, session, viewer, errors, 422)
    other = session.scalar(sa.select(UserRow.id).where(UserRow.email == email))
    if other is not None:
        made = sharing.add_share(session, own_athlete(viewer), other, level, show_flags)
        action = "share_added" if made else "share_changed"
        record_audit(session, viewer.user_id, action, f"with {email}: {sharing.LEVELS[level]}")
        session.commit()
    return RedirectResponse("/account/sharing?done=shared", status_code=303)


@router.post("/account/sharing/{share_id}", response_class=HTMLResponse, include_in_schema=False)
def change_share(share_id: int, request: Request, form: FormFields, session: DbSession) -> Response:
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    level, show_flags, errors = _level(form)
    if errors:
        return _page(request, session, viewer, errors, 422)
    share = sharing.set_level(session, own_athlete(viewer), share_id, level, show_flags)
    if share is None:
        raise HTTPException(404, "You have no such share.")
    record_audit(session, viewer.user_id, "share_changed", f"with {share.email}: {sharing.LEVELS[level]}")
    session.commit()
    return RedirectResponse("/account/sharing?done=changed", status_code=303)


@router.post("/account/sharing/{share_id}/revoke", include_in_schema=False)
def revoke_share(share_id: int, request: Request, session: DbSession) -> Response:
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    email = sharing.revoke(session, own_athlete(viewer), share_id)
    if email is None:
        raise HTTPException(404, "You have no such share.")
    record_audit(session, viewer.user_id, "share_revoked", f"with {email}")
    session.commit()
    return RedirectResponse("/account/sharing?done=revoked", status_code=303)


@router.get("/api/sharing", tags=["sharing"])
def api_sharing(request: Request, session: DbSession) -> list[dict[str, object]]:
    """Who sees your log and what (server mode)."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    return [
        {
            "id": s.id,
            "email": s.email,
            "level": s.level,
            "shows": sharing.LEVEL_DETAIL[s.level] if s.level in sharing.LEVEL_DETAIL else "",
            "plain_flags": s.show_flags,
            "since": s.created_at.isoformat(),
        }
        for s in sharing.shares_of_athlete(session, own_athlete(viewer))
    ]
