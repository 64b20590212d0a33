"""The runner's own data: export it all as a ZIP, see the account's audit log, delete the account.

Export works in both modes and always exports the person's own athlete (a coach viewing a shared log still
exports their own). The audit log and deleting the account exist in server mode; deleting asks for the
password again, then removes every row and uploaded file of the account (storage/accounts_delete.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from strideguard.storage import athlete_export
from strideguard.storage import engine as db
from strideguard.storage.accounts_delete import delete_account
from strideguard.storage.audit import list_audit, record_audit
from strideguard.storage.tables import UserRow
from strideguard.web import security
from strideguard.web.common import (
    VIEW_COOKIE,
    DbSession,
    FormFields,
    ReleasingRoute,
    own_athlete,
    render,
    require_server_mode,
    resolve_viewer,
)

# Pages say include_in_schema=False; the /api routes are in the OpenAPI document.
router = APIRouter(route_class=ReleasingRoute)

CHUNK = 1 << 16
CONFIRM_WORD = "delete"


@router.get("/data", response_class=HTMLResponse, include_in_schema=False)
def data_page(request: Request, session: DbSession) -> Response:
    """Your data: export everything, the audit log, delete the account."""
    resolve_viewer(request, session)
    return render(request, "data.html", not_exported=athlete_export.NOT_EXPORTED)


@router.post("/data/export", include_in_schema=False)
def export(request: Request, session: DbSession) -> Response:
    """Everything of your own athlete as one ZIP (docs/cli.md, "Export and restore")."""
    viewer = resolve_viewer(request, session)
    athlete_id = own_athlete(viewer)
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # closed by the response stream
    athlete_export.export_athlete(
        session,
        athlete_id,
        spool,  # type: ignore[arg-type]
        user_id=viewer.user_id,
        schema_revision=db.current_revision(request.app.state.engine),
    )
    record_audit(session, viewer.user_id, "export", "web")
    session.commit()
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while block := spool.read(CHUNK):
                yield block
        finally:
            spool.close()

    name = f"strideguard-export-{datetime.now(UTC).date().isoformat()}.zip"
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"},
    )


@router.get("/account/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, session: DbSession) -> Response:
    """The account's audit log: logins, shares, exports, deletions."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    return render(request, "audit.html", entries=list_audit(session, viewer.user_id))


@router.get("/api/audit", tags=["account"])
def api_audit(request: Request, session: DbSession) -> list[dict[str, str]]:
    """The account's audit log, newest first (server mode)."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    return [
        {"at": e.at.isoformat(), "action": e.action, "label": e.label, "detail": e.detail}
        for e in list_audit(session, viewer.user_id)
    ]


@router.get("/account/delete", response_class=HTMLResponse, include_in_schema=False)
def delete_page(request: Request, session: DbSession) -> Response:
    require_server_mode(request)
    resolve_viewer(request, session)
    return render(request, "delete_account.html", errors=[], word=CONFIRM_WORD)


@router.post("/account/delete", response_class=HTMLResponse, include_in_schema=False)
def delete(request: Request, form: FormFields, session: DbSession) -> Response:
    """Delete the account after the password is given again and the word typed."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    user = session.get(UserRow, viewer.user_id)
    errors = []
    if user is None or not security.verify_password(form.get("password", ""), user.password_hash):
        errors.append("Password: that is not your password; nothing was deleted.")
    if form.get("confirm", "").strip().lower() != CONFIRM_WORD:
        errors.append(f"Type the word {CONFIRM_WORD} to confirm.")
    if errors or user is None:
        return render(request, "delete_account.html", status_code=422, errors=errors, word=CONFIRM_WORD)
    deleted = delete_account(session, user.id)
    # The deletion itself is kept without the address: the account and its own log are gone.
    record_audit(session, None, "account_deleted", f"account #{deleted.user_id}, by its holder")
    session.commit()
    response = RedirectResponse("/login?deleted=1", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE)
    response.delete_cookie(VIEW_COOKIE)
    return response
