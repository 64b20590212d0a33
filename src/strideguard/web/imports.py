"""Import from the browser: upload files or a whole export ZIP; a worker imports them from the job queue.

The upload is saved under <data dir>/uploads/<job>/ and queued as an `import_jobs` row (`import_jobs`); a
worker (the app's own thread, or `strideguard worker` elsewhere) hands the folder to `importing.run_import`,
the same function `strideguard import` calls. Progress lives in the database (the job row, the import
records and their items), so the progress page survives a reload and the final summary is the one the CLI
prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import shutil
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from strideguard.activities.formats.dates import given_start
from strideguard.importing import jobs as import_jobs
from strideguard.importing.service import get_import, import_history
from strideguard.model import SPORTS
from strideguard.storage import activities as store
from strideguard.storage.tables import ImportItemRow, ImportJobRow, ImportRow
from strideguard.web import handler_threads, pagecache, security, uploads
from strideguard.web.common import (
    DbSession,
    ReleasingRoute,
    Settings,
    Viewer,
    checks_csrf_in_body,
    render,
    require_writable,
    resolve_viewer,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ReleasingRoute)

ALLOWED_SUFFIXES = (".fit", ".gpx", ".tcx", ".fit.gz", ".gpx.gz", ".tcx.gz", ".zip")
MAX_FILES = 1000  # Starlette parses at most 1000 files per form by default
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KIND_NAMES = {
    "strava": "Strava export",
    "garmin": "Garmin export",
    "zip": "ZIP archive",
    "files": "files",
    "archive": "archive",
}


def uploads_dir(request: Request) -> Path:
    return Path(request.app.state.data_dir) / "uploads"


def check_upload_names(names: list[str]) -> list[str]:
    """Why these uploaded file names cannot be imported (empty when all are fine)."""
    problems = []
    if not names:
        problems.append("Choose at least one file: FIT, GPX or TCX (optionally .gz), or an export ZIP.")
    if len(names) > MAX_FILES:
        problems.append(f"{len(names)} files at once is too many; zip them, or upload at most {MAX_FILES}.")
    for name in names:
        if not name.lower().endswith(ALLOWED_SUFFIXES):
            problems.append(f"{name}: not a FIT, GPX or TCX file (optionally .gz) or a ZIP archive.")
    return problems


def given_upload_start(text: str, zone_name: str, names: list[str]) -> datetime | str:
    """The form's start time for its one file (wall-clock time in the browser's zone `zone_name`, else the
    server's), or why it cannot be used: one line naming the file."""
    if len(names) != 1 or names[0].lower().endswith(".zip"):
        return (
            "Start time dates one file: choose exactly one FIT, GPX or TCX file (not a ZIP), "
            "or leave the start time empty."
        )
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ValueError, OSError, ZoneInfoNotFoundError):  # not a zone name: the server's zone
        zone = None
    try:
        return given_start(text, zone)
    except ValueError as exc:
        return f"{names[0]}: start time {exc}"


# --- the job ------------------------------------------------------------------------------------------------


# A job's imports begin after it was queued; the margin allows for a worker on another host whose clock
# is behind the web server's.
JOB_CLOCK_SKEW = timedelta(minutes=5)


def _imports_by_folder(session: Session, row: ImportJobRow, athlete_id: int) -> list[ImportRow]:
    """A job's imports found without their job id (imports run before revision 0018): among the athlete's
    begun since it was queued, an archive's record named by its path in the job folder, loose files by
    their items, looked up by import (the (import, member) index)."""
    folder = row.folder
    begun = session.execute(
        sa.select(ImportRow.id, ImportRow.source).where(
            ImportRow.athlete_id == athlete_id, ImportRow.started_at >= row.created_at - JOB_CLOCK_SKEW
        )
    ).all()
    named = {import_id for import_id, source in begun if source.startswith(folder)}
    others = [import_id for import_id, _source in begun if import_id not in named]
    if others:
        named.update(
            session.scalars(
                sa.select(ImportItemRow.import_id)
                .where(ImportItemRow.import_id.in_(others), ImportItemRow.member.startswith(folder + "/"))
                .distinct()
            )
        )
    if not named:
        return []
    return list(session.scalars(sa.select(ImportRow).where(ImportRow.id.in_(named)).order_by(ImportRow.id)))


def job_status(session: Session, root: Path | None, job: str, athlete_id: int) -> dict[str, Any] | None:
    """Progress of an upload job from the database: counts, rate, errors, and the summaries when done.

    None when there is no such job for this athlete. (`root` is unused: the job row names its folder.)
    """
    row = session.get(ImportJobRow, job) if JOB_ID.match(job) else None
    if row is None or row.athlete_id != athlete_id:
        return None
    folder = row.folder
    # The job's imports carry its id (revision 0018): an index lookup, whatever else the athlete imports.
    # A job no worker has claimed yet (as read above) has begun no import: most polls right after an upload.
    rows: list[ImportRow] = (
        []
        if row.started_at is None
        else list(
            session.scalars(
                sa.select(ImportRow)
                .where(ImportRow.job_id == job, ImportRow.athlete_id == athlete_id)
                .order_by(ImportRow.id)
            )
        )
    )
    finished = row.status in {"finished", "failed"}
    # Only a job that ended can have run before revision 0018 (one running then is requeued and rerun,
    # naming itself on the imports it resumes); a running one not yet at its first import is not searched.
    if not rows and finished and row.started_at is not None:
        rows = _imports_by_folder(session, row, athlete_id)
    ids = [r.id for r in rows]
    counts: dict[str, int] = {}
    errors: list[dict[str, str]] = []
    if ids:
        counts = dict(
            session.execute(
                sa.select(ImportItemRow.status, sa.func.count())
                .where(ImportItemRow.import_id.in_(ids))
                .group_by(ImportItemRow.status)
            ).all()
        )
        errors = [
            {"file": display_source(m, folder), "reason": msg or ""}
            for m, msg in session.execute(
                sa.select(ImportItemRow.member, ImportItemRow.message)
                .where(ImportItemRow.import_id.in_(ids), ImportItemRow.status == "failed")
                .order_by(ImportItemRow.id.desc())
                .limit(5)
            ).all()
        ]
    done = sum(counts.values())
    total = max(done, sum(int(v) for v in (row.totals or {}).values()))
    started = row.started_at or row.created_at
    end = row.finished_at or datetime.now(UTC)
    elapsed = max(0.001, (end - started).total_seconds())
    if row.status == "running" and not rows:
        status = "starting"
    else:
        status = row.status  # queued | running | finished | failed
    return {
        "job": job,
        "status": status,
        "files": list(row.files or []),
        "done": done,
        "total": total,
        "imported": counts.get("imported", 0),
        "duplicates": counts.get("duplicate", 0),
        "skipped": counts.get("skipped", 0),
        "failed": counts.get("failed", 0),
        "rate_per_s": round(done / elapsed, 1),
        "elapsed_s": round(elapsed, 1),
        "recent_errors": errors,
        "error": row.error,
        "import_ids": ids,
        "summaries": [display_summary(r.summary, folder) for r in rows if r.summary] if finished else [],
    }


def display_source(text: str, folder: str) -> str:
    """Paths inside the upload folder (one job's, or the root of all jobs) shown as the uploaded names."""
    # Under the root, each upload sits in a folder named by its job token: never show the token.
    text = re.sub(re.escape(folder) + r"/[A-Za-z0-9_-]{16,64}/", "", text)
    text = re.sub(re.escape(folder) + r"/[A-Za-z0-9_-]{16,64}(?![\w./-])", "uploaded files", text)
    return text.replace(folder + "/", "").replace(folder, "uploaded files")


_ACTIVITY_REF = re.compile(r"#(\d+)\b")


def display_summary(summary: dict[str, Any], folder: str) -> dict[str, Any]:
    """A stored import summary with upload-folder paths replaced by the uploaded names, and the activity
    each duplicate repeats as a link target."""
    data = json.loads(display_source(json.dumps(summary), folder.replace("\\", "\\\\")))
    data["kind_name"] = KIND_NAMES.get(str(data.get("kind")), str(data.get("kind")))
    for entry in data.get("duplicate_list") or []:
        found = _ACTIVITY_REF.search(str(entry.get("duplicate_of", "")))
        entry["activity_id"] = int(found.group(1)) if found else None
    return data


# --- pages --------------------------------------------------------------------------------------------------


HISTORY_ROWS = 20  # imports listed on the page


def _page(
    request: Request,
    session: Session,
    athlete_id: int,
    status_code: int = 200,
    history: list[Any] | None = None,
    **values: Any,
) -> Response:
    if history is None:
        history = import_history(session, athlete_id, HISTORY_ROWS)
    root = str(uploads_dir(request).resolve())
    shown = [(r, display_source(r.source, root)) for r in history]
    values.setdefault("errors", [])
    values.setdefault("sports_choice", "default")
    values.setdefault("start", "")
    return render(request, "import.html", status_code=status_code, imports=shown, sports=SPORTS, **values)


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, session: DbSession) -> Response:
    """The upload form and the import history."""
    viewer = resolve_viewer(request, session)
    history: list[Any] = []

    def inputs() -> tuple[object, ...]:
        # The page shows these rows and nothing else of the athlete's: it is kept while they stay the same
        # (a run edited or a pain entry added elsewhere leaves it cached), and built from the same rows.
        history[:] = import_history(session, viewer.athlete_id, HISTORY_ROWS)
        return tuple(tuple(row) for row in history)

    def build() -> Response:
        return _page(request, session, viewer.athlete_id, history=history)

    return pagecache.cached_page(request, session, viewer, build, depends=inputs)


@router.post("/import", response_class=HTMLResponse)
@checks_csrf_in_body
async def upload(request: Request) -> Response:
    """Receive the uploaded files and queue their import for a worker; show the progress page.

    Everything that can block runs in threads (the event loop keeps answering other pages), the database
    steps in threads of their own whose connections the pool holds (web/handler_threads.py). Who is
    uploading is known from a short database session closed before the body is read; the body is
    streamed to the job folder (web/uploads.py) with the size limit and the CSRF token checked as it
    arrives; the job is queued in a second short session once every byte is on disk.
    """
    viewer = await handler_threads.call_upload_step(_uploader, request)
    settings: Settings = request.app.state.settings
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        message = f"The upload is larger than this server accepts ({uploads.size_text(limit)})."
        return await handler_threads.call_upload_step(_refusal_page, request, viewer, 413, message)
    # A token in the header was checked by verify_csrf; a form's token is checked before its first file.
    cookie = request.cookies.get(security.CSRF_COOKIE)
    token_ok = None if request.headers.get(security.CSRF_HEADER) else partial(security.csrf_matches, cookie)
    job = secrets.token_urlsafe(18)
    folder = uploads_dir(request) / job
    received = uploads.Received()
    try:
        await uploads.receive(
            request,
            folder,
            max_bytes=limit,
            max_files=MAX_FILES,
            allowed=lambda name: name.lower().endswith(ALLOWED_SUFFIXES),
            token_ok=token_ok,
            received=received,
        )
    except uploads.UploadRefused as refused:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        if refused.status == 403:
            raise HTTPException(403, refused.message) from None
        return await handler_threads.call_upload_step(
            _refusal_page, request, viewer, refused.status, refused.message
        )
    except ClientDisconnect:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return Response(status_code=400)  # the browser went away: nobody reads this
    except asyncio.CancelledError:
        # The server is stopping and its grace period is over: keep the complete files, say what was
        # dropped, and answer (the request ends here, so the server logs no "exception in application").
        await _finish_despite_cancel(_keep_on_shutdown, request, viewer, job, folder, received)
        return Response(
            "The server stopped while receiving your upload; the files received whole will be imported.",
            status_code=503,
            headers={"retry-after": "10", "connection": "close"},
        )
    except OSError as exc:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        message = f"Could not store the upload on the server ({exc.strerror or exc}); nothing was imported."
        return await handler_threads.call_upload_step(_refusal_page, request, viewer, 507, message)
    names = [f.sent_name for f in received.files]
    sports_choice = received.fields.get("sports", "default")
    start_text = received.fields.get("start", "").strip()
    errors = check_upload_names(names + received.refused_names)
    start: datetime | None = None
    if start_text and not errors:
        given = given_upload_start(start_text, received.fields.get("start_zone", ""), names)
        if isinstance(given, str):
            errors.append(given)
        else:
            start = given
    if received.too_many_files:
        count = len(names) + len(received.refused_names) + received.too_many_files
        errors.append(f"{count} files at once is too many; zip them, or upload at most {MAX_FILES}.")
    if sports_choice not in {"default", "all"}:
        errors.append(f"Sports {sports_choice!r}: choose the default or all sports.")
    if errors:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return await handler_threads.call_upload_step(
            _page_in_session,
            request,
            viewer,
            422,
            errors=errors,
            sports_choice=sports_choice,
            start=start_text,
        )
    sports = frozenset(SPORTS) if sports_choice == "all" else None
    await handler_threads.call_upload_step(
        _enqueue, request, job, viewer.athlete_id, folder, names, sports, start
    )
    return RedirectResponse(f"/import/jobs/{job}", status_code=303)


def _uploader(request: Request) -> Viewer:
    """Who is uploading, from a short session closed before the body is read; refuses read-only viewers."""
    with request.app.state.session_factory() as session:
        viewer = resolve_viewer(request, session)
    require_writable(viewer)
    return viewer


def _page_in_session(request: Request, viewer: Viewer, status_code: int, **values: Any) -> Response:
    with request.app.state.session_factory() as session:
        return _page(request, session, viewer.athlete_id, status_code, **values)


def _refusal_page(request: Request, viewer: Viewer, status_code: int, message: str) -> Response:
    response = _page_in_session(request, viewer, status_code, errors=[message])
    # The rest of the body is not read: the connection cannot carry another request.
    response.headers["connection"] = "close"
    return response


def _enqueue(
    request: Request,
    job: str,
    athlete_id: int,
    folder: Path,
    names: list[str],
    sports: frozenset[str] | None,
    start: datetime | None = None,
) -> None:
    """Queue the received files as one job (a short session), and wake this process's worker."""
    with request.app.state.session_factory() as session:
        import_jobs.enqueue(session, job, athlete_id, folder, names, sports, start)
        session.commit()
    worker = getattr(request.app.state, "import_worker", None)
    if worker is not None:
        worker.wake()


KEEP_ON_SHUTDOWN_S = 10.0  # at most this long is waited for the files to be queued (a locked database)


async def _finish_despite_cancel(function: Any, *args: Any) -> None:
    """Run `function(*args)` to the end in a thread of its own, waiting for it up to KEEP_ON_SHUTDOWN_S even
    when the request is cancelled again meanwhile: the server cancels it at the end of its grace period, then
    asyncio once more as its loop closes (or a second signal does). A CancelledError raised out of here would
    be logged with a traceback. The thread is no daemon and no asyncio task (which the closing loop would
    cancel), so the process waits for it before it exits: the files are queued even if the loop ends first.
    """
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()

    def run() -> None:
        try:
            function(*args)
        except Exception as exc:  # the server is stopping: say it, never raise into nothing
            log.warning("Stopped while receiving an upload: %s", exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
                loop.call_soon_threadsafe(finished.set)

    threading.Thread(target=run, name="strideguard-keep-upload", daemon=False).start()
    deadline = loop.time() + KEEP_ON_SHUTDOWN_S
    while not finished.is_set() and loop.time() < deadline:
        try:
            await asyncio.wait_for(finished.wait(), deadline - loop.time())
        except TimeoutError:
            break
        except asyncio.CancelledError:
            continue  # cancelled again: the files are being kept, finish that first


def _keep_on_shutdown(
    request: Request, viewer: Viewer, job: str, folder: Path, received: uploads.Received
) -> None:
    """The server stopped mid-upload: queue the files that arrived whole, drop the one cut off, say so.

    Runs in a thread, start to end: nothing in it can be cancelled half-way."""
    partial = received.partial
    dropped = (
        f"dropped {partial.sent_name!r} ({uploads.size_text(partial.size)} of it had arrived)"
        if partial is not None
        else "nothing was cut off"
    )
    if partial is not None:
        (folder / partial.stored_name).unlink(missing_ok=True)
    names = [f.sent_name for f in received.files]
    if not names:
        shutil.rmtree(folder, True)
        log.warning("Stopped while receiving an upload: no file had arrived whole, %s.", dropped)
        return
    try:
        _enqueue(request, job, viewer.athlete_id, folder, names, None)
    except Exception as exc:  # the database is going away too: the files stay on disk, unqueued
        log.warning(
            "Stopped while receiving an upload: could not queue %d complete files (%s).", len(names), exc
        )
        return
    log.warning(
        "Stopped while receiving an upload: kept %d complete file%s (import job %s, imported on the next "
        "start), %s.",
        len(names),
        "" if len(names) == 1 else "s",
        job,
        dropped,
    )


@router.get("/import/jobs/{job}", response_class=HTMLResponse)
def job_page(job: str, request: Request, session: DbSession) -> Response:
    """Live progress of an upload (polled by import.js), then the final summary."""
    viewer = resolve_viewer(request, session)
    status = job_status(session, uploads_dir(request), job, viewer.athlete_id)
    if status is None:
        raise HTTPException(404, "No such import job (it may belong to another athlete).")
    return render(request, "import_job.html", job=status)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def import_record(import_id: int, request: Request, session: DbSession) -> Response:
    """The stored summary of one import (from the CLI or the browser)."""
    viewer = resolve_viewer(request, session)
    try:
        row = get_import(session, viewer.athlete_id, import_id)
    except store.NotFound:
        raise HTTPException(404, f"No import #{import_id}.") from None
    root = str(uploads_dir(request).resolve())
    summary = display_summary(row.summary, root) if row.summary else None
    return render(
        request, "import_record.html", row=row, source=display_source(row.source, root), summary=summary
    )
