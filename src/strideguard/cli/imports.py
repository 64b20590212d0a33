"""`strideguard import` (files, folders, Strava and Garmin export archives) and `strideguard imports`."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from strideguard.activities.formats import expand_paths, format_of
from strideguard.activities.formats.dates import given_start
from strideguard.cli.common import (
    EXIT_INTERRUPTED,
    AppContext,
    InputError,
    console,
    database_error,
    err_console,
    pass_app,
    plural,
)
from strideguard.importing.service import (
    DiskFull,
    ImportOptions,
    ProgressEvent,
    default_workers,
    get_import,
    list_imports,
    run_import,
)
from strideguard.model import DEFAULT_IMPORT_SPORTS, SPORTS
from strideguard.storage import activities as store

SHOWN_PER_LIST = 20
PROGRESS_ABOVE = 3  # "more than a few files" get a progress bar
_KIND_NAMES = {
    "strava": "Strava export",
    "garmin": "Garmin export",
    "zip": "ZIP archive",
    "files": "files",
    "archive": "archive",
}


def parse_sports(text: str | None) -> frozenset[str] | None:
    """'all' or a comma list of sports ('run,trail_run,walk'); None keeps the defaults."""
    if text is None:
        return None
    if text.strip().lower() == "all":
        return frozenset(SPORTS)
    chosen = {
        part.strip().lower().replace("-", "_").replace(" ", "_") for part in text.split(",") if part.strip()
    }
    unknown = sorted(chosen - set(SPORTS))
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown sport {', '.join(unknown) or text!r}; use 'all' or a comma list of {', '.join(SPORTS)}",
            param_hint="--sports",
        )
    return frozenset(chosen)


class _RateColumn(ProgressColumn):
    """Files per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if not speed else f"{speed:,.0f} files/s", style="progress.data.speed")


class _ProgressDisplay:
    """A rich progress bar per source, shown only for more than a few files."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage == "wait":  # said even without a progress bar: the command would seem to hang
            err_console.print(
                f"Another import of {_source_label(event.source)} is running; waiting for it to finish...",
                markup=False,
            )
            return
        if not self.enabled:
            return
        if self.progress is None:
            if event.stage != "import" or event.total <= PROGRESS_ABOVE:
                return
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=err_console,
                transient=False,
            )
            self.progress.start()
        if event.source not in self.tasks:
            self.tasks[event.source] = self.progress.add_task(
                f"Reading {escape(_source_label(event.source))}", total=event.total
            )
        self.progress.update(self.tasks[event.source], completed=event.done, total=event.total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _source_label(source: str) -> str:
    """The source being read, short enough for a progress bar: an archive's file name, or the paths given."""
    if not source:
        return "files"
    parts = [Path(p.strip()).name or p.strip() for p in source.split(", ")]
    label = ", ".join(parts)
    return label if len(label) <= 40 else label[:39] + "…"


def _print_list(title: str, entries: list[dict[str, str]], total: int, key: str, import_id: Any) -> None:
    console.print(f"  {title}: {total}")
    for entry in entries[:SHOWN_PER_LIST]:
        console.print(f"    {entry['file']}: {entry[key]}", markup=False, soft_wrap=True)
    if total > SHOWN_PER_LIST:
        console.print(f"    ... and {total - SHOWN_PER_LIST} more (strideguard imports {import_id} --all)")


def print_source(data: dict[str, Any], show_all: bool = False, this_run_only: bool = False) -> None:
    """The human summary of one import (from its JSON form, so stored summaries print the same).

    `this_run_only`: the summary of the run just done, which says what this run imported when an
    earlier run of the same import had done part of it."""
    global SHOWN_PER_LIST
    kind = _KIND_NAMES.get(str(data.get("kind")), str(data.get("kind")))
    source = data.get("source") or "files"
    # Sources, reasons and file names come from the disk and from files: never read as rich markup.
    console.print(
        Text.assemble((str(source), "bold"), f" ({kind}, import #{data.get('import_id')})"),
        highlight=False,
        soft_wrap=True,
    )
    if data.get("refused"):
        console.print(
            Text.assemble("  ", ("refused", "red"), f": {data['refused']}"), highlight=False, soft_wrap=True
        )
        return
    if data.get("error"):  # an upload whose job failed for good: what stopped it
        console.print(
            Text.assemble("  ", ("failed", "red"), f": {data['error']}"), highlight=False, soft_wrap=True
        )
    for note in data.get("notes", []):
        console.print(f"  note: {note}", markup=False)
    manual = data.get("manual") or 0
    extra = f" ({manual} without a file, from the export's activity list)" if manual else ""
    imported = data.get("imported", 0)
    this_run = data.get("this_run") if this_run_only else None
    resumed = this_run is not None and any(this_run[k] != data.get(k, 0) for k in this_run)
    if resumed:
        assert this_run is not None
        console.print(
            f"  imported: {plural(this_run['imported'], 'activity')} this run; {imported:,} over all runs "
            f"of import #{data.get('import_id')}{extra}"
        )
    else:
        console.print(f"  imported: {plural(imported, 'activity')}{extra}")
    # A resumed import's lists cover all its runs: show only those this run added to.
    shown_lists = {
        key: not resumed or bool(this_run and this_run.get(key))
        for key in ("duplicates", "skipped", "failed")
    }
    shown = SHOWN_PER_LIST
    if show_all:
        SHOWN_PER_LIST = 10**9
    try:
        import_id = data.get("import_id")
        if data.get("duplicates") and shown_lists["duplicates"]:
            _print_list(
                "duplicates", data.get("duplicate_list", []), data["duplicates"], "duplicate_of", import_id
            )
        if data.get("skipped") and shown_lists["skipped"]:
            _print_list(
                "skipped (not an activity)",
                data.get("skipped_list", []),
                data["skipped"],
                "reason",
                import_id,
            )
        by_sport = data.get("skipped_by_sport") or {}
        if by_sport and not resumed:
            parts = ", ".join(f"{label} {count}" for label, count in sorted(by_sport.items()))
            console.print(f"  skipped by sport: {parts} (use --sports all to import them)", markup=False)
        if data.get("damaged_list") and not (resumed and this_run and not this_run.get("imported")):
            _print_list(
                "imported but damaged", data["damaged_list"], len(data["damaged_list"]), "reason", import_id
            )
        if data.get("failed") and shown_lists["failed"]:
            _print_list("[red]failed[/]", data.get("failed_list", []), data["failed"], "reason", import_id)
    finally:
        SHOWN_PER_LIST = shown
    if data.get("shoes_created"):
        console.print(f"  shoes created: {', '.join(data['shoes_created'])}", markup=False)
    if data.get("resumed_items") and not this_run_only:
        console.print(f"  already done by an earlier run: {plural(data['resumed_items'], 'item')}")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--sports",
    metavar="LIST",
    default=None,
    help="Sports to import: 'all' or a comma list of "
    + ",".join(SPORTS)
    + ". Default for archives: "
    + ",".join(s for s in SPORTS if s in DEFAULT_IMPORT_SPORTS)
    + "; for files and folders: all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no progress bar).")
@click.option(
    "--workers",
    type=click.IntRange(0, 16),
    default=default_workers(),
    show_default=True,
    help="Parser processes for many files (0 parses in the main process).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=200,
    show_default=True,
    help="Activities written per database transaction.",
)
@click.option("--no-progress", is_flag=True, help="Do not show a progress bar.")
@click.option(
    "--start",
    "start_text",
    metavar="'YYYY-MM-DD HH:MM'",
    default=None,
    help="Start of the run, for one FIT, GPX or TCX file without a usable calendar date (a watch clock "
    "that was never set, or a track without times). Local time unless an offset is given (+02:00, Z).",
)
@pass_app
def import_command(
    app: AppContext,
    paths: tuple[Path, ...],
    sports: str | None,
    as_json: bool,
    workers: int,
    batch_size: int,
    no_progress: bool,
    start_text: str | None,
) -> None:
    """Import activity files, folders and export archives.

    PATH can be a .fit, .gpx or .tcx file (each also .gz), a folder (searched recursively), a Strava bulk
    export ZIP (export_12345.zip) or a Garmin Connect export ZIP (detected by content). A ZIP made by
    `strideguard export` is restored whole into an empty database. Duplicates of stored
    activities are reported, not stored again. An interrupted archive import resumes where it stopped when
    you run the same command again; it then reports what that run did. Exit code 0 when nothing failed,
    1 otherwise, 130 when interrupted.

    \b
    Example:
      strideguard import ~/Downloads/export_12345.zip
      strideguard import ~/watch/ --json
      strideguard import garmin_export.zip --sports all
      strideguard import old-watch.fit --start "2026-05-01 07:30"
    """
    if len(paths) == 1 and paths[0].suffix.lower() == ".zip" and paths[0].is_file():
        from strideguard.storage.athlete_export import is_export

        if is_export(paths[0]):  # a `strideguard export` archive: restore it (cli/owndata.py)
            from strideguard.cli.owndata import restore_export

            restore_export(app, paths[0], as_json=as_json)
            return
    chosen = parse_sports(sports)
    start_utc = _parse_start(start_text, paths) if start_text is not None else None
    options = ImportOptions(sports=chosen, workers=workers, batch_activities=batch_size, start_utc=start_utc)
    readable, unread, empty = _check_paths(paths)
    display = _ProgressDisplay(enabled=not (as_json or no_progress))
    try:
        summary = run_import(app.engine, readable, options, on_progress=display) if readable else None
    except KeyboardInterrupt:
        display.close()
        err_console.print("Interrupted; run the same command again to resume.", markup=False)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except DiskFull as exc:
        display.close()
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        display.close()
        raise click.ClickException(
            f"during import: {database_error(app.db_url, exc, opening=False)}"
        ) from None
    finally:
        display.close()
    data = summary.to_json() if summary is not None else _empty_total()
    data["failed"] += len(unread)
    data["this_run"]["failed"] += len(unread)
    if as_json:
        # Paths that could not be read are not imports: they are listed here, never in the history.
        data["unread_paths"] = [{"path": p, "reason": r} for p, r in unread]
        data["empty_folders"] = empty
        click.echo(json.dumps(data, indent=2))
    else:
        for path, reason in unread:
            console.print(Text.assemble(("failed", "red"), f": {path}: {reason}"), soft_wrap=True)
        for folder in empty:
            console.print(f"no activity files found in {folder}", markup=False, soft_wrap=True)
        for source in summary.sources if summary is not None else []:
            print_source(source.to_json(), this_run_only=True)
        if (summary is not None and summary.sources) or unread:
            done = data["this_run"]
            seconds = command_seconds()  # the whole command, as the runner waited for it
            console.print(
                f"[bold]Total[/]: {done['imported']:,} imported, {plural(done['duplicates'], 'duplicate')}, "
                f"{done['skipped']:,} skipped, {done['failed']:,} failed in {seconds:.1f} s",
                highlight=False,
            )
    if data["this_run"]["failed"]:  # this run's failures (a resumed import's earlier ones were reported)
        raise SystemExit(1)


_LOADED = time.perf_counter()


def command_seconds() -> float:
    """Seconds since this process started (Linux: from /proc, so start-up and opening the database count);
    elsewhere since this module was loaded."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _LOADED


def _parse_start(text: str, paths: tuple[Path, ...]) -> datetime:
    """`--start`: a local (or offset) date and time, plausible by the importers' date rule, for one file."""
    if len(paths) != 1 or paths[0].is_dir() or format_of(paths[0].name) is None:
        one_file = "dates one file: name exactly one FIT, GPX or TCX file"
        raise click.BadParameter(one_file, param_hint="--start")
    try:
        return given_start(text)  # without an offset: the runner's wall-clock time on this machine
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from None


def _check_paths(paths: tuple[Path, ...]) -> tuple[list[Path], list[tuple[str, str]], list[str]]:
    """Split the arguments into paths to import, paths that cannot be read (path, reason) and folders
    without activity files, so that a typo is reported without an empty import in the history."""
    readable: list[Path] = []
    unread: list[tuple[str, str]] = []
    empty: list[str] = []
    for path in paths:
        try:
            if path.is_dir():
                if next(iter(expand_paths([path])), None) is None:
                    empty.append(str(path))
                else:
                    readable.append(path)
                continue
            if not path.exists():
                unread.append((str(path), "no such file or folder"))
            elif not path.is_file():
                unread.append((str(path), "not a file or folder"))
            else:
                with path.open("rb"):
                    pass
                readable.append(path)
        except OSError as exc:
            unread.append((str(path)[:200], f"cannot read ({exc.strerror or exc})"))
    return readable, unread, empty


def _empty_total() -> dict[str, Any]:
    zero = {"imported": 0, "duplicates": 0, "skipped": 0, "failed": 0}
    return {**zero, "this_run": dict(zero), "sources": []}


@click.command("imports")
@click.argument("import_id", type=int, required=False)
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Show at most this many."
)
@click.option("--all", "show_all", is_flag=True, help="With IMPORT_ID: list every file, not the first 20.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def imports_command(
    app: AppContext, import_id: int | None, limit: int, show_all: bool, as_json: bool
) -> None:
    """List past imports, or show one import's summary.

    Each `strideguard import` records what it did: files imported, duplicates, skipped and failed files.
    An import still marked "unfinished" was interrupted: run the same import command again to resume it.

    \b
    Example:
      strideguard imports
      strideguard imports 3 --all
      strideguard imports --json
    """
    with app.session() as (session, athlete_id):
        if import_id is not None:
            try:
                row = get_import(session, athlete_id, import_id)
            except store.NotFound as exc:
                raise InputError(f"{exc}; see `strideguard imports`") from None
            data = dict(row.summary or {})
            data.update(_row_json(row))
            if as_json:
                click.echo(json.dumps(data, indent=2, default=str))
            else:
                print_source(data, show_all=show_all)
            return
        rows = list_imports(session, athlete_id, limit)
        if as_json:
            click.echo(json.dumps([_row_json(r) for r in rows], indent=2))
            return
        if not rows:
            console.print("No imports yet. Try: strideguard import ~/Downloads/export_12345.zip")
            return
        table = Table(title="Imports", title_justify="left")
        for column in (
            "#",
            "Started (UTC)",
            "Kind",
            "Source",
            "Status",
            "Imported",
            "Duplicates",
            "Skipped",
            "Failed",
        ):
            table.add_column(
                column,
                justify="right" if column in {"#", "Imported", "Duplicates", "Skipped", "Failed"} else "left",
            )
        for row in rows:
            data = _row_json(row)
            table.add_row(
                str(row.id),
                row.started_at.strftime("%Y-%m-%d %H:%M"),
                _KIND_NAMES.get(row.kind, row.kind),
                Text(_shorten(row.source)),
                data["status"],
                str(row.n_imported),
                str(row.n_duplicates),
                str(row.n_skipped),
                str(row.n_failed),
            )
        console.print(table)


def _row_json(row: Any) -> dict[str, Any]:
    status = row.status
    if status == "running":
        status = "unfinished"
    return {
        "import_id": row.id,
        "source": row.source,
        "kind": row.kind,
        "status": status,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "items": row.n_total,
        "imported": row.n_imported,
        "duplicates": row.n_duplicates,
        "skipped": row.n_skipped,
        "failed": row.n_failed,
    }


def _shorten(text: str, width: int = 50) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def register(group: click.Group) -> None:
    group.add_command(import_command)
    group.add_command(imports_command)
