"""The FastAPI app factory: `create_app(settings)` wires the database, templates, security and routers."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
import sqlalchemy.exc
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strideguard import config
from strideguard.importing import jobs as import_jobs
from strideguard.storage import engine as db
from strideguard.storage.tables import utcnow
from strideguard.web import handler_threads, security, serving_gc
from strideguard.web.common import STATIC_DIR, LoginRequired, Settings, make_templates, render, verify_csrf
from strideguard.web.pagecache import PageCache

# Feature routers, each a module of strideguard.web with a `router`. A request is matched against their
# routes in this order, so the pages a busy server answers most come first (matching was a twentieth of
# the server's Python time under the club benchmark, issue 13); no path of one router matches another's.
ROUTERS = (
    "dashboard",
    "activities",
    "api",
    "imports",
    "shoes",
    "pain",
    "auth",
    "triage",
    "routines",
    "settings",
    "sharing",
    "roster",
    "owndata",
)


class _StaticFiles(StaticFiles):
    """Static files with a long cache life: their URLs carry a content hash (?v=...)."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = "public, max-age=86400"
        return response


class _HeadAsGet:
    """Answer HEAD like GET without the body (uptime monitors and `curl -I` use HEAD; FastAPI routes are
    GET-only and would say 405)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body"):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


# Connections beyond the page threads: the import worker thread, its heartbeat and progress writes, and
# on PostgreSQL the import's source lock (storage/engine.source_lock).
WORKER_CONNECTIONS = 4
RETRY_AFTER_S = 2
WORKER_STOP_S = 3.0  # at shutdown: a running import stops at its next file; wait this long for it


def _no_telemetry() -> dict[str, object]:
    """FastAPI >= 0.165 asks OpenTelemetry on every request whether to trace it (about 7 % of a cached
    page's CPU). A self-hosted health log sends nothing anywhere, so it is switched off where it exists."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(settings: Settings) -> FastAPI:
    """A ready-to-serve app for `settings` (the database is migrated to the current schema first).

    Every request's database work runs in `settings.threads` handler threads, or in the upload's own few
    (web/handler_threads.py), each using at most one database connection at a time, so the pool holds
    that many plus the worker's: a request never waits for a connection that another thread could hold
    for long. If it still finds none within `settings.pool_timeout_s` it is answered 503 with Retry-After
    rather than left hanging.
    """
    engine = db.make_engine(
        settings.db_url,
        pool_size=settings.threads + handler_threads.UPLOAD_THREADS + WORKER_CONNECTIONS,
        pool_timeout_s=settings.pool_timeout_s,
    )
    db.ensure_schema(engine)
    app = FastAPI(
        title="StrideGuard",
        summary="Injury-aware training log for runners: activities, load and risk, shoes, pain, triage.",
        version=_version(),
        docs_url=None,  # Swagger UI loads from a CDN; the offline app links the OpenAPI document instead
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(verify_csrf)],
        lifespan=_lifespan,
        **_no_telemetry(),
    )
    data_dir: Path = settings.data_dir or config.data_dir()
    app.state.settings = settings
    app.state.engine = engine
    # Requests' sessions: on PostgreSQL their reads run without BEGIN and COMMIT (storage/engine.py).
    app.state.session_factory = db.session_factory(db.reads_outside_transactions(engine))
    app.state.templates = make_templates()
    app.state.page_cache = PageCache()
    app.state.secret = settings.secret_key or security.load_secret(data_dir)
    app.state.data_dir = data_dir
    app.state.clock = utcnow  # sessions, throttles and invites read the time here (tests set it)
    app.state.import_worker = None  # started by _lifespan unless settings.run_worker is off
    app.add_middleware(security.SecurityMiddleware, secure_cookies=settings.secure_cookies)
    app.add_middleware(_HeadAsGet)
    app.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")
    for name in ROUTERS:
        module = importlib.import_module(f"strideguard.web.{name}")
        app.include_router(module.router)
    _add_error_pages(app)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/static/icon.svg", status_code=301)

    @app.get("/charts.css", include_in_schema=False)
    def chart_styles() -> Response:
        """The charts' colours: the same stylesheet the report embeds (training/charts.py)."""
        from strideguard.training.charts import CHART_CSS

        return Response(CHART_CSS, media_type="text/css", headers={"cache-control": "public, max-age=86400"})

    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Size the handler threads, and run the in-process import worker while the app serves."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.threads
    handler_threads.start(app.state.settings.threads)
    worker = None
    if app.state.settings.run_worker:
        worker = import_jobs.WorkerThread(app.state.engine, poll_s=2.0)
        worker.start()
        app.state.import_worker = worker
    try:
        yield
    finally:
        if worker is not None:
            app.state.import_worker = None
            # A running import stops at its next file and goes back to the queue; resumed on next start.
            await asyncio.to_thread(worker.stop, WORKER_STOP_S)
        handler_threads.stop()


SETTINGS_ENV = "STRIDEGUARD_SERVE_SETTINGS"


def settings_to_environment(settings: Settings) -> None:
    """Put `settings` where `app_from_environment` finds them (the processes of `serve --workers`)."""
    import json

    os.environ[SETTINGS_ENV] = json.dumps(
        {
            "db_url": settings.db_url,
            "accounts": settings.accounts,
            "data_dir": str(settings.data_dir) if settings.data_dir else None,
            "run_worker": settings.run_worker,
            "threads": settings.threads,
            "secure_cookies": settings.secure_cookies,
            "registration": settings.registration,
            "max_upload_bytes": settings.max_upload_bytes,
        }
    )


def settings_from_environment() -> Settings:
    import json

    values = json.loads(os.environ[SETTINGS_ENV])
    data_dir = values.pop("data_dir")
    return Settings(**values, data_dir=Path(data_dir) if data_dir else None)


def app_from_environment() -> FastAPI:
    """The app of one `serve --workers N` process (uvicorn imports and calls this in each)."""
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    app = create_app(settings_from_environment())
    serving_gc.tune_for_serving()
    return app


def _version() -> str:
    from strideguard import __version__

    return __version__


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _busy(request: Request, exc: Exception) -> bool:
    """A database that is momentarily saturated: no free pooled connection, or SQLite's write lock held
    past the busy timeout; or a connection the server ended (a restart) while a request used it, which
    the pool has replaced. The request can simply be retried."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sqlalchemy.exc.OperationalError) and "database is locked" in str(exc)


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(sqlalchemy.exc.SQLAlchemyError)
    async def database_busy(request: Request, exc: sqlalchemy.exc.SQLAlchemyError) -> Response:
        if not _busy(request, exc):
            raise exc
        message = "The server is busy right now; please try again in a moment."
        headers = {"retry-after": str(RETRY_AFTER_S)}
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=503, headers=headers)
        response = render(request, "error.html", status_code=503, status=503, message=message)
        response.headers.update(headers)
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return render(
            request, "error.html", status_code=exc.status_code, status=exc.status_code, message=exc.detail
        )

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", None) or "Page not found."
        if _wants_json(request):
            return JSONResponse({"detail": detail}, status_code=404)
        return render(request, "error.html", status_code=404, status=404, message=detail)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'input'}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse({"detail": problems}, status_code=422)
        return render(request, "error.html", status_code=422, status=422, message="; ".join(problems))
