"""Shared web plumbing: settings, templates, the per-request database session and whose data is shown."""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from strideguard import units
from strideguard.storage import activities as store
from strideguard.storage import auth as auth_store
from strideguard.storage import engine as db
from strideguard.storage import settings as settings_store
from strideguard.storage import sharing
from strideguard.storage.tables import AthleteRow, AthleteSettingsRow
from strideguard.web import handler_threads, security

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
VIEW_COOKIE = "sg_view"


@dataclass(frozen=True, slots=True)
class Settings:
    """How the web app runs: database, accounts (server mode) or one local athlete, and the data folder."""

    db_url: str
    accounts: bool = False
    data_dir: Path | None = None
    secret_key: bytes | None = None
    secure_cookies: bool = False
    # Largest upload accepted by the import page (a whole Strava/Garmin export can be a few GB).
    max_upload_bytes: int = 4 * 1024**3
    # Run an import worker thread in the app (local mode); off when `strideguard worker` processes run them.
    run_worker: bool = True
    # Threads that run page handlers, and database connections for them (web/app.py sizes the pool).
    threads: int = handler_threads.DEFAULT_THREADS
    # How long a request waits for a free database connection before it is answered 503 (busy).
    pool_timeout_s: float = 3.0
    # Who may create an account (server mode): "open" (anyone who reaches the server), "invite" (only with
    # a single-use link from an admin or coach) or "closed" (only `strideguard users add`).
    registration: str = "open"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose data this request shows, and whether the person looking may change it."""

    athlete_id: int
    athlete_name: str
    user_id: int | None = None
    email: str | None = None
    read_only: bool = False
    # (athlete_id, name) of every athlete this user may look at: their own first, then shared ones.
    athletes: tuple[tuple[int, str], ...] = field(default=())
    # How the person looking reads distances: their own setting (a coach reads a shared log in theirs).
    unit: str = "km"
    # What of this athlete the person looking may see (storage/sharing.py): everything for the owner.
    access: sharing.Access = sharing.OWNER


class LoginRequired(Exception):
    """Server mode and no valid session: pages redirect to /login, the API answers 401."""


def static_version() -> str:
    """A short hash of the static files, appended to their URLs so browsers refetch after an upgrade."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


# --- formatting filters (units in, human text out) ---------------------------------------------------------


def fmt_distance(distance_m: float | None, unit: str = "km", digits: int = 1) -> str:
    """Metres -> '12.3 km' or '7.6 mi' (strideguard.units: one format everywhere); blank when unknown."""
    return units.distance(distance_m, unit, digits)


def fmt_distance_number(distance_m: float | None, unit: str = "km", digits: int = 1) -> str:
    """Metres -> '12.3' in km or mi, under a heading that names the unit."""
    return units.distance_number(distance_m, unit, digits)


fmt_hms = units.duration  # seconds -> 'm:ss' or 'h:mm:ss', as the CLI and the report


def fmt_num(value: float | None, digits: int = 0) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and not math.isfinite(value))
        else f"{value:.{digits}f}"
    )


def fmt_local_time(value: datetime | None, offset_s: int | None = None) -> str:
    if value is None:
        return ""
    from datetime import timedelta

    return (value + timedelta(seconds=offset_s or 0)).strftime("%H:%M")


def fmt_date(value: date | None) -> str:
    return "" if value is None else value.strftime("%a %d %b %Y")


def make_templates() -> jinja2.Environment:
    """The Jinja2 environment; autoescape is on for every template, so user text is always escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # the templates ship with the package; checking their files costs every page
    )
    env.filters.update(
        dist=fmt_distance,
        dnum=fmt_distance_number,
        hms=fmt_hms,
        num=fmt_num,
        pct=units.percent,
        day=fmt_date,
        clock=fmt_local_time,
    )
    env.globals["rate_text"] = units.format_rate
    env.globals["unit_names"] = units.UNIT_NAMES
    env.globals["static_version"] = static_version()
    from strideguard.training.charts import CHART_CSS

    env.globals["charts_version"] = hashlib.sha256(CHART_CSS.encode()).hexdigest()[:10]
    return env


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render `template` with the viewer, CSRF token and navigation in the context."""
    env: jinja2.Environment = request.app.state.templates
    viewer = getattr(request.state, "viewer", None)
    context = {
        "request": request,
        "csrf_token": request.scope.get("state", {}).get("csrf_token", ""),
        "viewer": viewer,
        "unit": viewer.unit if viewer is not None else viewer_default_unit(request),
        "accounts": request.app.state.settings.accounts,
        "path": request.url.path,
        **values,
    }
    html = env.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code)


def svg(markup: str) -> Markup:
    """Mark SVG built by our own drawing code (every text in it already escaped) as safe to embed."""
    return Markup(markup)


# --- dependencies -------------------------------------------------------------------------------------------


async def db_session(request: Request) -> Session:
    """A session for this request, with no connection yet (its first query checks one out); handlers commit
    what they change.

    The handler's route (ReleasingRoute) closes it in the handler thread as the handler returns or fails,
    which hands its connection back to the pool there: a teardown after the response would wait for
    another thread while every handler thread could be waiting for a connection that only such a teardown
    gives back (issue 13). A plain function, not a generator: FastAPI then skips an exit stack and a
    context manager per request (about a seventh of the event loop's time for a club's pages, issue 13)."""
    if not isinstance(request.scope.get("route"), ReleasingRoute):  # nothing else would close it
        raise RuntimeError(f"{request.url.path}: a database session needs a ReleasingRoute")
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory()


def viewer_default_unit(request: Request) -> str:
    """The unit before anyone chose one: on a club server the browser's language (en-US: miles), else, and
    always in local mode, this machine's locale (the same default as the CLI)."""
    if request.app.state.settings.accounts:
        from_browser = units.unit_from_accept_language(request.headers.get("accept-language"))
        if from_browser is not None:
            return from_browser
    return units.default_unit()


_LOCAL_VIEW = (
    sa.select(AthleteRow.id, AthleteRow.data_version, AthleteSettingsRow.distance_unit)
    .outerjoin(AthleteSettingsRow, AthleteSettingsRow.athlete_id == AthleteRow.id)
    .where(AthleteRow.local_key == store.LOCAL_KEY)
)


def resolve_viewer(request: Request, session: Session) -> Viewer:
    """Local mode: the single local athlete. Server mode: the user's own athlete, or one shared with them."""
    settings: Settings = request.app.state.settings
    if not settings.accounts:
        # One query for the athlete, its data version (the page cache's key, web/pagecache.py) and unit:
        # every page asks, so each query saved is a share of every page's time.
        local = db.plain_rows(session, _LOCAL_VIEW).first()
        if local is None:  # a new database: create the local athlete (race-free), then read it back
            store.local_athlete(session)
            session.commit()
            return resolve_viewer(request, session)
        athlete_id, version, stored = local
        request.state.data_versions = {athlete_id: int(version or 0)}
        unit = stored if stored in units.UNITS else viewer_default_unit(request)
        viewer = Viewer(athlete_id, store.LOCAL_ATHLETE_NAME, unit=unit)
        request.state.viewer = viewer
        return viewer
    token = request.cookies.get(security.SESSION_COOKIE)
    now = request.app.state.clock()
    view = auth_store.session_view(session, token, now)  # the usual case, in one query
    has_shares = view is None or view.has_shares  # the long way below does not know: it reads the list
    if view is not None:
        user_id, email, own, stored = (
            view.user_id,
            view.email,
            (view.athlete_id, view.athlete_name, view.data_version),
            view.unit,
        )
    else:  # the long way: expired sessions deleted, last_seen_at moved on, a missing athlete repaired
        user = auth_store.session_user(session, token, now)
        if user is None:
            raise LoginRequired
        user_id, email = user.id, user.email
        found = session.execute(
            sa.select(AthleteRow.id, AthleteRow.name, AthleteRow.data_version)
            .where(AthleteRow.user_id == user_id)
            .order_by(AthleteRow.id)
        ).first()
        if found is None:  # every account gets its athlete at registration; repair if one was deleted
            row = AthleteRow(name=email.split("@")[0], user_id=user_id)
            session.add(row)
            session.commit()
            found = (row.id, row.name, row.data_version)
        own = (found[0], found[1], int(found[2] or 0))
        stored = settings_store.stored_unit(session, own[0])
    request.state.data_versions = {own[0]: own[2]}  # for the page cache, as above
    shared = sharing.shared_with(session, user_id) if has_shares else []
    athletes = ((own[0], own[1]), *((a, n) for a, n, _ in shared))
    wanted = request.cookies.get(VIEW_COOKIE, "")
    chosen = next((a for a in athletes if str(a[0]) == wanted), athletes[0])
    access = next((acc for a, _, acc in shared if a == chosen[0] and a != own[0]), sharing.OWNER)
    viewer = Viewer(
        athlete_id=chosen[0],
        athlete_name=chosen[1],
        user_id=user_id,
        email=email,
        read_only=chosen[0] != own[0],
        athletes=athletes,
        unit=stored if stored in units.UNITS else viewer_default_unit(request),
        access=access,
    )
    request.state.viewer = viewer
    return viewer


def require_writable(viewer: Viewer) -> None:
    """Refuse changes to an athlete that was only shared with this user (coaches read, never write)."""
    if viewer.read_only:
        raise HTTPException(403, "This athlete's data is shared with you read-only.")


def require_pain(viewer: Viewer) -> None:
    """Refuse the pain diary to a user the athlete shared "training only" with."""
    if not viewer.access.pain:
        raise HTTPException(403, f"{viewer.athlete_name} has not shared their pain diary with you.")


def require_triage(viewer: Viewer) -> None:
    """Refuse hip checks to a user the athlete did not share "everything" with."""
    if not viewer.access.triage:
        raise HTTPException(403, f"{viewer.athlete_name} has not shared their hip checks with you.")


async def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a submitted form (files are read by the handlers that take them)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def checks_csrf_in_body(endpoint: Any) -> Any:
    """Mark a handler that checks the form's CSRF token itself, before the first file of the streamed body
    (web/uploads.py), so `verify_csrf` does not read the whole body first."""
    endpoint.strideguard_csrf_in_body = True
    return endpoint


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request without the CSRF token of this browser.

    Forms send it as a hidden field, scripts as the X-CSRF-Token header. JSON requests to /api are exempt:
    a browser cannot send them cross-site without a CORS preflight, which this app never grants. Before
    the token, any unsafe request a browser marks as cross-site (Sec-Fetch-Site, Origin) is refused, even
    with a valid token (defence in depth).
    """
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    why = security.cross_site(request.headers, request.headers.get("host"))
    if why is not None:
        raise HTTPException(403, f"Refused: this change was sent from another site ({why}).")
    content_type = request.headers.get("content-type", "")
    # The path from the scope: request.url builds a URL object (a tenth of this check, on every edit).
    if request.scope["path"].startswith("/api/") and content_type.startswith("application/json"):
        return
    cookie = request.cookies.get(security.CSRF_COOKIE)
    submitted = request.headers.get(security.CSRF_HEADER)
    if submitted is None and (
        content_type.startswith("application/x-www-form-urlencoded")
        or content_type.startswith("multipart/form-data")
    ):
        if getattr(request.scope.get("endpoint"), "strideguard_csrf_in_body", False):
            return  # the handler checks the token before it stores any of the body
        form = await request.form()
        value = form.get(security.CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not security.csrf_matches(cookie, submitted):
        raise HTTPException(
            403, "The form's security token is missing or out of date; reload the page and try again."
        )


DbSession = Annotated[Session, Depends(db_session)]


class ReleasingRoute(APIRoute):
    """A route whose sync handler runs in the app's handler threads (web/handler_threads.py) and closes its
    database session as it returns.

    FastAPI checks and encodes a handler's return value (a dict for the API) after the handler and before
    the session's teardown; when that check took one of the handler threads, a session still holding its
    connection waited for a thread while every handler thread could be waiting for a connection. Closing
    the session in the handler (its result is plain data by then) gives the connection back first (issue
    13: the club's edits stalled in steps of the pool's 3 s time-out). Pages use it too: they render their
    response in the handler, and closing there saves each page a second thread hop and a wait for one of
    the few closing threads. The endpoint FastAPI sees is async, so it checks and encodes the result on the
    event loop: a shallow check for the API's dict[str, Any] (the values are not walked), and the encoding
    FastAPI did there anyway. Not for a handler whose response still reads the database as it streams."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = handler_threads.run_in_handler_thread(_closing_sessions(endpoint))
        super().__init__(path, endpoint, **kwargs)


def _closing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def handler(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            result = endpoint(*args, **kwargs)
        except BaseException:
            for session in sessions:
                session.close()
            raise
        for session in sessions:
            db.release(session)
        return result

    return handler


FormFields = Annotated[dict[str, str], Depends(form_fields)]


def require_server_mode(request: Request) -> None:
    """Accounts, sharing and the roster exist only on a server with accounts (`serve --accounts`)."""
    if not request.app.state.settings.accounts:
        raise HTTPException(404, "This StrideGuard runs in local mode: there are no accounts.")


def own_athlete(viewer: Viewer) -> int:
    """The viewer's own athlete, also while they look at a log shared with them."""
    return viewer.athletes[0][0] if viewer.athletes else viewer.athlete_id


def view_athlete_response(request: Request, athlete_id: int) -> RedirectResponse:
    """To the dashboard of `athlete_id` (the caller checked it is the viewer's or shared with them)."""
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        VIEW_COOKIE,
        str(athlete_id),
        httponly=True,
        samesite="lax",
        secure=security.is_secure(request.scope, request.app.state.settings.secure_cookies),
    )
    return response
