"""`strideguard export`, `backup` and `restore`: the runner's data out of StrideGuard and back.

`export` writes one athlete's ZIP of open formats (storage/athlete_export.py); `strideguard import` of that
ZIP restores it (cli/imports.py hands it to `restore_export` here). `backup` copies the whole database.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from strideguard.cli.common import AppContext, console, pass_app, sqlite_path


def _athlete_for(session, email: str | None) -> tuple[int, int | None]:  # type: ignore[no-untyped-def]
    """(athlete id, user id): the local athlete, or the athlete of the account `email` (club server)."""
    import sqlalchemy as sa

    from strideguard.storage import activities as store
    from strideguard.storage.tables import AthleteRow, UserRow

    if email is None:
        return store.local_athlete(session), None
    user = session.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no account with the email {email}")
    athlete_id = session.scalar(
        sa.select(AthleteRow.id).where(AthleteRow.user_id == user.id).order_by(AthleteRow.id).limit(1)
    )
    if athlete_id is None:
        athlete = AthleteRow(name=user.email.split("@")[0], user_id=user.id)
        session.add(athlete)
        session.flush()
        athlete_id = athlete.id
    return athlete_id, user.id


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="The ZIP file to write.")
@click.option("--user", "email", metavar="EMAIL", help="On a club server: the account whose data to export.")
@click.option(
    "--no-fit",
    is_flag=True,
    help="Leave out the FIT files written for activities with no original file (smaller, faster).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest's counts as JSON.")
@pass_app
def export_command(app: AppContext, out: Path, email: str | None, no_fit: bool, as_json: bool) -> None:
    """Export everything of one athlete to a ZIP of open formats.

    Activities, laps, samples, shoes, pain diary, RPE and feel, hip checks and settings, as JSON (what
    `strideguard import FILE.zip` restores from) and CSV; each imported activity's original FIT, GPX or
    TCX file as it was imported (a FIT written from the stored data for the others), and a manifest.json
    listing every file with its SHA-256. See docs/cli.md, "Export and restore".

    \b
    Example:
      strideguard export --out my-running.zip
      strideguard import my-running.zip      # into an empty database
    """
    from strideguard.storage import athlete_export
    from strideguard.storage import engine as db
    from strideguard.storage.audit import record_audit

    if out.exists():
        raise click.ClickException(f"{out}: already exists; choose a new file name")
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    with app.session() as (session, _):
        athlete_id, user_id = _athlete_for(session, email)
        try:
            manifest = athlete_export.export_athlete(
                session,
                athlete_id,
                partial,
                fit_files=not no_fit,
                user_id=user_id,
                schema_revision=db.current_revision(app.engine),
            )
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        record_audit(session, user_id, "export", f"command line, to {out.name}")
    partial.replace(out)
    counts = {name: entry["rows"] for name, entry in manifest["tables"].items()}
    if as_json:
        files = {"fit_files": manifest["fit"]["files"], "original_files": manifest["originals"]["files"]}
        click.echo(json.dumps({"file": str(out), "rows": counts, **files}))
        return
    console.print(
        f"Exported {counts['activities']:,} activities, {counts['laps']:,} laps, "
        f"{counts['activity_streams']:,} sample files, {counts['source_files']:,} original files, "
        f"{counts['shoes']:,} shoes, "
        f"{counts['pain_entries']:,} pain entries and {counts['triage_sessions']:,} hip checks to {out}",
        markup=False,
        highlight=False,
    )


def restore_export(app: AppContext, path: Path, email: str | None = None, as_json: bool = False) -> None:
    """`strideguard import EXPORT.zip`: restore a StrideGuard export into the (empty) athlete."""
    from strideguard.storage import athlete_export
    from strideguard.storage.audit import record_audit

    with app.session() as (session, _):
        athlete_id, user_id = _athlete_for(session, email)
        try:
            result = athlete_export.restore_athlete(session, path, athlete_id)
        except athlete_export.ExportError as exc:
            raise click.ClickException(str(exc)) from None
        record_audit(session, user_id, "import", f"restored {path.name}")
    if as_json:
        click.echo(json.dumps({"restored": str(path), "rows": result.rows}))
        return
    rows = result.rows
    console.print(
        f"Restored {rows.get('activities', 0):,} activities, {rows.get('shoes', 0):,} shoes, "
        f"{rows.get('pain_entries', 0):,} pain entries and {rows.get('triage_sessions', 0):,} hip checks "
        f"from {path}",
        markup=False,
        highlight=False,
    )


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@pass_app
def backup_command(app: AppContext, file: Path) -> None:
    """Copy the whole database to FILE, safely while StrideGuard is running.

    SQLite: a consistent copy through SQLite's online backup API (a server or import may keep writing).
    PostgreSQL: prints the pg_dump command to run (and pg_restore to put it back); see docs/deployment.md.

    \b
    Example:
      strideguard backup ~/backups/strideguard-2026-12-03.sqlite
      strideguard restore ~/backups/strideguard-2026-12-03.sqlite
    """
    from strideguard.storage import backup

    db_path = sqlite_path(app.db_url) if app.db_url.lower().startswith("sqlite") else None
    if not app.db_url.lower().startswith("sqlite"):
        dump, restore = backup.pg_commands(app.db_url, file)
        click.echo("PostgreSQL: back up with pg_dump (a consistent snapshot while the server runs):")
        click.echo(f"  {dump}")
        click.echo("and restore into an empty database with:")
        click.echo(f"  {restore}")
        return
    if db_path is None:
        raise click.ClickException("an in-memory database cannot be backed up")
    try:
        size = backup.backup_sqlite(db_path, file)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"Backed up {db_path} to {file} ({size / 1e6:.1f} MB)", markup=False, highlight=False)


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the current database without asking.")
@pass_app
def restore_command(app: AppContext, file: Path, yes: bool) -> None:
    """Replace the whole database with a backup FILE made by `strideguard backup` (SQLite).

    Everything now in the database is replaced. The backup is checked first (an SQLite file with a
    StrideGuard schema, not damaged); afterwards it is migrated to this version's schema if older.
    For PostgreSQL use pg_restore (`strideguard backup` prints the command).

    \b
    Example:
      strideguard restore ~/backups/strideguard-2026-12-03.sqlite
      strideguard restore backup.sqlite --yes
    """
    from strideguard.storage import backup
    from strideguard.storage import engine as db

    if not app.db_url.lower().startswith("sqlite"):
        _, restore = backup.pg_commands(app.db_url, file)
        click.echo(f"PostgreSQL: restore with pg_restore:\n  {restore}")
        return
    db_path = sqlite_path(app.db_url)
    if db_path is None:
        raise click.ClickException("an in-memory database cannot be restored into")
    try:
        revision = backup.check_backup(file)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes and not click.confirm(f"Replace everything in {db_path} with {file}?", default=False):
        raise click.ClickException("nothing restored")
    try:
        backup.restore_sqlite(file, db_path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    engine = db.make_engine(app.db_url)
    try:
        db.ensure_schema(engine)
    finally:
        engine.dispose()
    console.print(f"Restored {db_path} from {file} (schema {revision})", markup=False, highlight=False)


def register(group: click.Group) -> None:
    for command in (export_command, backup_command, restore_command):
        group.add_command(command)
