"""Server mode accounts: register, log in, log out, share read-only with another user, switch athlete.

Passwords are hashed with scrypt; the session cookie is HMAC-signed (security.py). In local mode these
pages answer 404: there is one athlete and no login.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strideguard.storage.tables import AthleteRow, ShareRow, UserRow
from strideguard.web import security
from strideguard.web.common import (
    VIEW_COOKIE,
    DbSession,
    FormFields,
    render,
    resolve_viewer,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MIN_PASSWORD = 10


def _server_mode(request: Request) -> None:
    if not request.app.state.settings.accounts:
        raise HTTPException(404, "This StrideGuard runs in local mode: there are no accounts.")


def _safe_next(target: str) -> str:
    """Only redirect to a path on this site (never to another host)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _login_response(request: Request, user_id: int, target: str) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    token = security.make_session_token(request.app.state.secret, user_id)
    response.set_cookie(
        security.SESSION_COOKIE,
        token,
        max_age=security.SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
    )
    response.delete_cookie(VIEW_COOKIE)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    _server_mode(request)
    return render(
        request, "login.html", mode="login", errors=[], email="", next=request.query_params.get("next", "/")
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: FormFields, session: DbSession) -> Response:
    _server_mode(request)
    email = form.get("email", "").strip().lower()
    user = session.scalar(sa.select(UserRow).where(UserRow.email == email))
    if user is None or not security.verify_password(form.get("password", ""), user.password_hash):
        return render(
            request,
            "login.html",
            status_code=401,
            mode="login",
            errors=["Wrong email or password."],
            email=email,
            next=form.get("next", "/"),
        )
    return _login_response(request, user.id, form.get("next", "/"))


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request) -> Response:
    _server_mode(request)
    return render(request, "login.html", mode="register", errors=[], email="", next="/")


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, form: FormFields, session: DbSession) -> Response:
    """Create an account and its athlete, then log in."""
    _server_mode(request)
    email = form.get("email", "").strip().lower()
    password = form.get("password", "")
    errors = []
    if not EMAIL.match(email):
        errors.append("Email: enter an address like runner@example.org.")
    if len(password) < MIN_PASSWORD:
        errors.append(f"Password: at least {MIN_PASSWORD} characters.")
    if password != form.get("password2", ""):
        errors.append("Password: the two passwords differ.")
    if not errors and session.scalar(sa.select(UserRow.id).where(UserRow.email == email)) is not None:
        errors.append("Email: there is already an account with this address; log in instead.")
    if errors:
        return render(
            request, "login.html", status_code=422, mode="register", errors=errors, email=email, next="/"
        )
    user = UserRow(email=email, password_hash=security.hash_password(password))
    session.add(user)
    session.flush()
    session.add(AthleteRow(name=form.get("name", "").strip()[:200] or email.split("@")[0], user_id=user.id))
    session.commit()
    return _login_response(request, user.id, "/")


@router.post("/logout")
def logout(request: Request) -> Response:
    _server_mode(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE)
    response.delete_cookie(VIEW_COOKIE)
    return response


@router.post("/view")
def switch_athlete(request: Request, form: FormFields, session: DbSession) -> Response:
    """Look at another athlete's log (only one shared with you) or back at your own."""
    _server_mode(request)
    viewer = resolve_viewer(request, session)
    wanted = form.get("athlete_id", "")
    if not any(str(aid) == wanted for aid, _ in viewer.athletes):
        raise HTTPException(403, "That athlete's log is not shared with you.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(VIEW_COOKIE, wanted, httponly=True, samesite="lax")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: DbSession) -> Response:
    """Your account: who can see your log, and sharing it read-only with another user (e.g. a coach)."""
    _server_mode(request)
    viewer = resolve_viewer(request, session)
    own_id = viewer.athletes[0][0]
    shares = session.execute(
        sa.select(ShareRow.id, UserRow.email)
        .join(UserRow, UserRow.id == ShareRow.user_id)
        .where(ShareRow.athlete_id == own_id)
    ).all()
    return render(request, "account.html", shares=shares, errors=[], message=request.query_params.get("done"))


@router.post("/account/shares", response_class=HTMLResponse)
def add_share(request: Request, form: FormFields, session: DbSession) -> Response:
    _server_mode(request)
    viewer = resolve_viewer(request, session)
    own_id = viewer.athletes[0][0]
    email = form.get("email", "").strip().lower()
    other = session.scalar(sa.select(UserRow).where(UserRow.email == email))
    errors = []
    if other is None:
        errors.append(f"No account with the address {email!r}; they must register first.")
    elif other.id == viewer.user_id:
        errors.append("That is your own account.")
    elif session.scalar(
        sa.select(ShareRow.id).where(ShareRow.athlete_id == own_id, ShareRow.user_id == other.id)
    ):
        errors.append(f"Your log is already shared with {email}.")
    if errors:
        shares = session.execute(
            sa.select(ShareRow.id, UserRow.email)
            .join(UserRow, UserRow.id == ShareRow.user_id)
            .where(ShareRow.athlete_id == own_id)
        ).all()
        return render(request, "account.html", status_code=422, shares=shares, errors=errors, message=None)
    assert other is not None
    session.add(ShareRow(athlete_id=own_id, user_id=other.id))
    session.commit()
    return RedirectResponse("/account?done=shared", status_code=303)


@router.post("/account/shares/{share_id}/delete")
def remove_share(share_id: int, request: Request, session: DbSession) -> Response:
    _server_mode(request)
    viewer = resolve_viewer(request, session)
    session.execute(
        sa.delete(ShareRow).where(ShareRow.id == share_id, ShareRow.athlete_id == viewer.athletes[0][0])
    )
    session.commit()
    return RedirectResponse("/account?done=unshared", status_code=303)
