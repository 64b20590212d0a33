"""Server mode accounts: register, log in, log out, change password, share read-only, switch athlete.

Passwords are hashed with scrypt (security.py); a login is a row in `auth_sessions` and the cookie holds
only its random id (storage/auth.py), so logging out, changing the password and "log out everywhere"
end sessions at once. Failed logins are throttled per account and per client address in the database.
Answers never tell whether an email has an account. In local mode these pages answer 404.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strideguard.storage import auth as auth_store
from strideguard.storage import sharing
from strideguard.storage.audit import record_audit
from strideguard.storage.tables import ShareRow, UserRow
from strideguard.web import security
from strideguard.web.common import (
    VIEW_COOKIE,
    DbSession,
    FormFields,
    ReleasingRoute,
    Viewer,
    own_athlete,
    render,
    require_server_mode,
    resolve_viewer,
    view_athlete_response,
)

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)

EMAIL = auth_store.EMAIL
MIN_PASSWORD = auth_store.MIN_PASSWORD
WRONG_LOGIN = "Wrong email or password."
# The same answer whether or not the address already had an account (no way to learn who is registered).
REGISTERED = "Registration received: log in with your email and password."
SHARED = "If {email} has an account here, your log is now shared with it read-only."


def _now(request: Request) -> datetime:
    return request.app.state.clock()


def _safe_next(target: str) -> str:
    """Only redirect to a path on this site (never to another host)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        security.SESSION_COOKIE,
        token,
        max_age=int(auth_store.SESSION_MAX.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=security.is_secure(request.scope, request.app.state.settings.secure_cookies),
    )


def _login_response(request: Request, session: DbSession, user_id: int, target: str) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    token = auth_store.create_session(session, user_id, _now(request))
    session.commit()
    _set_session_cookie(request, response, token)
    response.delete_cookie(VIEW_COOKIE)
    return response


def _login_page(request: Request, status_code: int = 200, **values: object) -> Response:
    context: dict[str, object] = {"mode": "login", "errors": [], "email": "", "next": "/", "message": None}
    context.update(values)
    return render(request, "login.html", status_code=status_code, **context)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    require_server_mode(request)
    message = REGISTERED if request.query_params.get("registered") else None
    return _login_page(request, next=request.query_params.get("next", "/"), message=message)


def _throttle_keys(request: Request, email: str) -> list[tuple[str, auth_store.ThrottlePolicy]]:
    address = request.client.host if request.client else None
    return [
        (auth_store.account_key(email), auth_store.ACCOUNT_POLICY),
        (auth_store.address_key(address), auth_store.ADDRESS_POLICY),
    ]


def _blocked_message(block: auth_store.Block, now: datetime) -> str:
    if block.locked:
        minutes = max(1, round((block.until - now).total_seconds() / 60))
        return (
            f"Too many failed logins for this account or from your address: logging in is locked for "
            f"{minutes} minutes (until {block.until:%H:%M} UTC). If you forgot your password, ask the "
            "server's admin to reset it."
        )
    seconds = block.seconds(now)
    return f"Too many failed logins: wait {seconds} second{'' if seconds == 1 else 's'}, then try again."


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: FormFields, session: DbSession) -> Response:
    """Check the password (throttled per account and per address; the same hash work for any email)."""
    require_server_mode(request)
    email = form.get("email", "").strip().lower()[:320]
    target = form.get("next", "/")
    now = _now(request)
    keys = _throttle_keys(request, email)
    block = auth_store.login_block(session, keys, now)
    if block is not None:  # not even checked: a guesser learns nothing while blocked
        response = _login_page(request, 429, errors=[_blocked_message(block, now)], email=email, next=target)
        response.headers["retry-after"] = str(block.seconds(now))
        return response
    user = auth_store.find_user(session, email)
    matched = security.verify_login(form.get("password", ""), user.password_hash if user else None)
    if not matched or user is None:
        for key, policy in keys:
            auth_store.record_failure(session, key, policy, now)
        return _login_page(request, 401, errors=[WRONG_LOGIN], email=email, next=target)
    if user.disabled:
        return _login_page(
            request,
            403,
            errors=["This account is disabled; ask the server's admin."],
            email=email,
            next=target,
        )
    auth_store.clear_failures(session, keys[0][0])
    record_audit(session, user.id, "login")
    return _login_response(request, session, user.id, target)


# --- registration -------------------------------------------------------------------------------------------


def _registration_refusal(request: Request, session: DbSession, invite: str | None) -> str | None:
    """Why this visitor may not register now (the server's policy), or None."""
    policy = request.app.state.settings.registration
    if policy == "open":
        return None
    if policy == "invite":
        if invite and auth_store.invite_usable(session, invite, _now(request)):
            return None
        if invite:
            return "This invite link has been used or has expired: ask for a new one."
        return (
            "This server registers new accounts by invitation: ask a coach or the admin for an invite link."
        )
    return "Registration is closed on this server: ask its admin to create your account."


def _register_page(request: Request, status_code: int = 200, **values: object) -> Response:
    context: dict[str, object] = {"mode": "register", "errors": [], "email": "", "next": "/", "message": None}
    context["invite"] = request.query_params.get("invite", "")
    context.update(values)
    return render(request, "login.html", status_code=status_code, **context)


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, session: DbSession) -> Response:
    require_server_mode(request)
    refusal = _registration_refusal(request, session, request.query_params.get("invite"))
    if refusal:
        return render(request, "error.html", status_code=403, status=403, message=refusal)
    return _register_page(request)


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, form: FormFields, session: DbSession) -> Response:
    """Create an account and its athlete, then send to the login page.

    An address that already has an account gets exactly the same answer (and the same hash work), and
    nothing changes for that account: whether an address is registered cannot be learnt here.
    """
    require_server_mode(request)
    invite = form.get("invite") or None
    refusal = _registration_refusal(request, session, invite)
    if refusal:
        return render(request, "error.html", status_code=403, status=403, message=refusal)
    email = form.get("email", "").strip().lower()
    password = form.get("password", "")
    errors = []
    if not EMAIL.match(email):
        errors.append("Email: enter an address like runner@example.org.")
    if len(password) < MIN_PASSWORD:
        errors.append(f"Password: at least {MIN_PASSWORD} characters.")
    if password != form.get("password2", ""):
        errors.append("Password: the two passwords differ.")
    if errors:
        return _register_page(request, 422, errors=errors, email=email, invite=invite or "")
    # Throttled per address before the hash work: a script cannot create accounts or burn the CPU at will.
    now = _now(request)
    key = auth_store.registration_key(request.client.host if request.client else None)
    block = auth_store.login_block(session, [(key, auth_store.REGISTRATION_POLICY)], now)
    if block is not None:
        seconds = block.seconds(now)
        response = _register_page(
            request,
            429,
            errors=[
                f"Too many registrations from your address: wait {seconds} "
                f"second{'' if seconds == 1 else 's'}, then try again."
            ],
            email=email,
            invite=invite or "",
        )
        response.headers["retry-after"] = str(seconds)
        return response
    auth_store.record_failure(session, key, auth_store.REGISTRATION_POLICY, now)  # counts every attempt
    password_hash = security.hash_password(password)  # before the lookup: the same work either way
    if invite and not auth_store.use_invite(session, invite, _now(request)):
        session.rollback()
        return render(
            request,
            "error.html",
            status_code=403,
            status=403,
            message=_registration_refusal(request, session, invite),
        )
    if auth_store.find_user(session, email) is None:
        auth_store.create_user(session, email, password_hash, form.get("name", ""))
    session.commit()
    return RedirectResponse(f"/login?registered=1&email={quote(email)}", status_code=303)


@router.post("/logout")
def logout(request: Request, session: DbSession) -> Response:
    """End this browser's session (the row goes: a copy of the cookie no longer works)."""
    require_server_mode(request)
    user_id = auth_store.revoke_session(session, request.cookies.get(security.SESSION_COOKIE))
    if user_id is not None:
        record_audit(session, user_id, "logout")
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE)
    response.delete_cookie(VIEW_COOKIE)
    return response


# --- password, sessions and invites (/account/security) -----------------------------------------------------


def _may_invite(session: DbSession, viewer: Viewer) -> bool:
    user = session.get(UserRow, viewer.user_id)
    return user is not None and (user.is_admin or user.is_coach)


def _security_page(
    request: Request,
    session: DbSession,
    viewer: Viewer,
    status_code: int = 200,
    errors: list[str] | None = None,
    message: str | None = None,
    invite_link: str | None = None,
) -> Response:
    return render(
        request,
        "account_security.html",
        status_code=status_code,
        errors=errors or [],
        message=message,
        sessions=auth_store.live_sessions(session, viewer.user_id or 0, _now(request)),
        may_invite=_may_invite(session, viewer) and request.app.state.settings.registration == "invite",
        registration=request.app.state.settings.registration,
        invite_link=invite_link,
    )


@router.get("/account/security", response_class=HTMLResponse)
def security_page(request: Request, session: DbSession) -> Response:
    """Change the password, log out everywhere, and (admins, coaches) create invite links."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    done = {"password": "Password changed; every other session was logged out."}
    return _security_page(request, session, viewer, message=done.get(request.query_params.get("done", "")))


@router.post("/account/password", response_class=HTMLResponse)
def change_password(request: Request, form: FormFields, session: DbSession) -> Response:
    """A new password (the current one is asked again); every session ends, this browser gets a new one."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    user = session.get(UserRow, viewer.user_id)
    assert user is not None
    new = form.get("new_password", "")
    errors = []
    if not security.verify_password(form.get("current_password", ""), user.password_hash):
        errors.append("Current password: that is not your password.")
    if len(new) < MIN_PASSWORD:
        errors.append(f"New password: at least {MIN_PASSWORD} characters.")
    if new != form.get("new_password2", ""):
        errors.append("New password: the two passwords differ.")
    if errors:
        return _security_page(request, session, viewer, status_code=422, errors=errors)
    user.password_hash = security.hash_password(new)
    auth_store.revoke_user_sessions(session, user.id)
    record_audit(session, user.id, "password_changed")
    response = _login_response(request, session, user.id, "/account/security?done=password")
    response.delete_cookie(VIEW_COOKIE)
    return response


@router.post("/account/sessions/revoke")
def log_out_everywhere(request: Request, session: DbSession) -> Response:
    """End every session of this account, this browser's too."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    ended = auth_store.revoke_user_sessions(session, viewer.user_id or 0)
    record_audit(session, viewer.user_id, "logout", f"everywhere: {ended} session(s) ended")
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE)
    response.delete_cookie(VIEW_COOKIE)
    return response


@router.post("/account/invites", response_class=HTMLResponse)
def create_invite(request: Request, session: DbSession) -> Response:
    """A single-use registration link, valid 7 days (admins and coaches, registration policy `invite`)."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    if not _may_invite(session, viewer):
        raise HTTPException(403, "Only an admin or a coach can create invite links.")
    token = auth_store.create_invite(session, viewer.user_id, _now(request))
    session.commit()
    link = f"{str(request.base_url).rstrip('/')}/register?invite={token}"
    return _security_page(request, session, viewer, invite_link=link, message="Invite link created.")


@router.post("/view")
def switch_athlete(request: Request, form: FormFields, session: DbSession) -> Response:
    """Look at another athlete's log (only one shared with you) or back at your own."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    wanted = form.get("athlete_id", "")
    if not any(str(aid) == wanted for aid, _ in viewer.athletes):
        raise HTTPException(403, "That athlete's log is not shared with you.")
    return view_athlete_response(request, int(wanted))


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: DbSession) -> Response:
    """Your account: who can see your log, and sharing it read-only with another user (e.g. a coach)."""
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    shares = sharing.shares_of_athlete(session, own_athlete(viewer))
    done = request.query_params.get("done")
    message = {
        "shared": SHARED.format(email=request.query_params.get("email", "")),
        "unshared": "Sharing stopped.",
    }
    return render(request, "account.html", shares=shares, errors=[], message=message.get(done or ""))


@router.post("/account/shares", response_class=HTMLResponse)
def add_share(request: Request, form: FormFields, session: DbSession) -> Response:
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    own_id = own_athlete(viewer)
    email = form.get("email", "").strip().lower()
    other = session.scalar(sa.select(UserRow).where(UserRow.email == email))
    errors = []
    if not EMAIL.match(email):
        errors.append("Email: enter an address like coach@example.org.")
    elif other is not None and other.id == viewer.user_id:
        errors.append("That is your own account.")
    if errors:
        shares = sharing.shares_of_athlete(session, own_id)
        return render(request, "account.html", status_code=422, shares=shares, errors=errors, message=None)
    # Unknown address, or already shared: the same answer as a new share (no way to learn who has an account).
    if other is not None and not session.scalar(
        sa.select(ShareRow.id).where(ShareRow.athlete_id == own_id, ShareRow.user_id == other.id)
    ):
        session.add(ShareRow(athlete_id=own_id, user_id=other.id))
        session.commit()
    return RedirectResponse(f"/account?done=shared&email={quote(email)}", status_code=303)


@router.post("/account/shares/{share_id}/delete")
def remove_share(share_id: int, request: Request, session: DbSession) -> Response:
    require_server_mode(request)
    viewer = resolve_viewer(request, session)
    if sharing.revoke(session, own_athlete(viewer), share_id) is None:
        # someone else's share, or none: nothing changed, so do not say it did
        raise HTTPException(404, "No such share of your log.")
    session.commit()
    return RedirectResponse("/account?done=unshared", status_code=303)
