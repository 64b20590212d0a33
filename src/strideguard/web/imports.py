"""Import from the browser: upload files or a whole export ZIP; a worker imports them from the job queue.

The upload is saved under <data dir>/uploads/<job>/ and queued as an `import_jobs` row (`import_jobs`); a
worker (the app's own thread, or `strideguard worker` elsewhere) hands the folder to `importing.run_import`,
the same function `strideguard import` calls. Progress lives in the database (the job row, the import
records and their items), so the progress page survives a reload and the final summary is the one the CLI
prints.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from strideguard.importing import jobs as import_jobs
from strideguard.importing.service import get_import, list_imports
from strideguard.model import SPORTS
from strideguard.storage import activities as store
from strideguard.storage.tables import ImportItemRow, ImportJobRow, ImportRow
from strideguard.web.common import DbSession, render, require_writable, resolve_viewer

router = APIRouter(tags=["pages"], include_in_schema=False)

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


def safe_name(name: str) -> str:
    """The file's base name with anything but letters, digits, dot, dash and underscore replaced."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return cleaned[:150] or "upload"


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


# --- the job ------------------------------------------------------------------------------------------------


def job_status(session: Session, root: Path | None, job: str, athlete_id: int) -> dict[str, Any] | None:
    """Progress of an upload job from the database: counts, rate, errors, and the summaries when done.

    None when there is no such job for this athlete. (`root` is unused: the job row names its folder.)
    """
    row = session.get(ImportJobRow, job) if JOB_ID.match(job) else None
    if row is None or row.athlete_id != athlete_id:
        return None
    folder = row.folder
    # An archive's record is named by its path in the job folder; loose files are found by their items.
    in_folder = sa.select(ImportItemRow.import_id).where(ImportItemRow.member.startswith(folder + "/"))
    rows = session.scalars(
        sa.select(ImportRow)
        .where(
            ImportRow.athlete_id == athlete_id,
            sa.or_(ImportRow.source.startswith(folder), ImportRow.id.in_(in_folder)),
        )
        .order_by(ImportRow.id)
    ).all()
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
    finished = row.status in {"finished", "failed"}
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


def _page(
    request: Request, session: Session, athlete_id: int, status_code: int = 200, **values: Any
) -> Response:
    imports = list_imports(session, athlete_id, limit=20)
    root = str(uploads_dir(request).resolve())
    shown = [(r, display_source(r.source, root)) for r in imports]
    values.setdefault("errors", [])
    values.setdefault("sports_choice", "default")
    return render(request, "import.html", status_code=status_code, imports=shown, sports=SPORTS, **values)


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, session: DbSession) -> Response:
    """The upload form and the import history."""
    viewer = resolve_viewer(request, session)
    return _page(request, session, viewer.athlete_id)


@router.post("/import", response_class=HTMLResponse)
async def upload(request: Request, session: DbSession) -> Response:
    """Save the uploaded files and queue their import for a worker; show the progress page."""
    viewer = resolve_viewer(request, session)
    require_writable(viewer)
    form = await request.form(max_files=MAX_FILES + 1)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    sports_choice = str(form.get("sports", "default"))
    names = [f.filename or "" for f in files]
    errors = check_upload_names(names)
    if sports_choice not in {"default", "all"}:
        errors.append(f"Sports {sports_choice!r}: choose the default or all sports.")
    if errors:
        return _page(request, session, viewer.athlete_id, 422, errors=errors, sports_choice=sports_choice)
    root = uploads_dir(request)
    job = secrets.token_urlsafe(18)
    folder = root / job
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[str] = []
    used: set[str] = set()
    try:
        for upload_file in files:
            name = safe_name(upload_file.filename or "upload")
            stem, dot, suffix = name.partition(".")
            counter = 1
            while name.lower() in used:
                counter += 1
                name = f"{stem}-{counter}{dot}{suffix}"
            used.add(name.lower())
            with (folder / name).open("wb") as out:
                await _copy(upload_file, out)
            saved.append(upload_file.filename or name)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        message = f"Could not store the upload on the server ({exc.strerror or exc}); nothing was imported."
        return _page(request, session, viewer.athlete_id, 507, errors=[message], sports_choice=sports_choice)
    sports = frozenset(SPORTS) if sports_choice == "all" else None
    import_jobs.enqueue(session, job, viewer.athlete_id, folder, saved, sports)
    session.commit()
    worker = getattr(request.app.state, "import_worker", None)
    if worker is not None:
        worker.wake()
    return RedirectResponse(f"/import/jobs/{job}", status_code=303)


async def _copy(upload_file: UploadFile, out: Any) -> None:
    while True:
        block = await upload_file.read(1 << 20)
        if not block:
            break
        out.write(block)


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
