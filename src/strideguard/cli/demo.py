"""`strideguard demo`: build the demo athlete and show it."""

from __future__ import annotations

import shutil
from datetime import date

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from strideguard import config, units
from strideguard.cli.common import AppContext, console, display_unit, hms
from strideguard.demo import athlete as demo
from strideguard.importing.service import run_import
from strideguard.storage import activities as store
from strideguard.training import load

DEMO_DB_NAME = "demo.sqlite"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def build_demo(app: AppContext, weeks: int, seed: int, end: date) -> None:
    """Write the files, import them through the importer, add shoes, ratings and pain."""
    folder = config.data_dir() / "demo-files"
    shutil.rmtree(folder, ignore_errors=True)
    with _progress() as progress:
        task = progress.add_task("Writing FIT/GPX files", total=None)
        paths = demo.write_files(
            folder,
            end,
            weeks,
            seed,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    with _progress() as progress:
        task = progress.add_task("Importing", total=len(paths))
        summary = run_import(
            app.engine,
            [folder],
            on_progress=lambda event: progress.update(task, completed=event.done, total=event.total),
        )
    for source in summary.sources:
        for name, reason in source.failed:
            console.print(f"[red]failed[/] {escape(name)}: {escape(reason)}")
    with app.session() as (session, athlete_id):
        try:
            from strideguard.demo.extras import add_demo_extras
        except ImportError:  # shoes/pain land with the load-and-risk feature
            return
        import numpy as np

        activities = store.list_activities(session, athlete_id, newest_first=False)
        add_demo_extras(session, athlete_id, activities, np.random.default_rng(seed))


def print_summary(app: AppContext) -> None:
    with app.session() as (session, athlete_id):
        activities = store.list_activities(session, athlete_id, newest_first=False)
        unit = display_unit(session, athlete_id)
    runs = [a for a in activities if a.is_run]
    total_m = sum(a.distance_m or 0 for a in runs)
    total_s = sum(a.moving_time_s or 0 for a in runs)
    first, last = runs[0].local_date, runs[-1].local_date
    console.print(
        f"\n[bold]Demo athlete[/]: {len(runs)} runs from {first} to {last}, "
        f"{units.distance_value(total_m, unit):,.0f} {unit} in {hms(total_s)}."
    )
    weeks = load.weekly_volume(runs)[-8:]
    console.print(
        f"Last {len(weeks)} weeks: "
        + "  ".join(f"{w.label} {units.distance(w.distance_m, unit, 0)}" for w in weeks)
    )
    shown = f"--db {app.db_url}"
    console.print(
        "\nLook around:\n"
        f"  strideguard {shown} runs --limit 10\n"
        f"  strideguard {shown} weeks\n"
        f"  strideguard {shown} status\n"
        f"  strideguard {shown} serve      (the dashboard on this demo)\n"
        "Your own log (strideguard import, runs, serve without --db) is kept apart from the demo.\n"
    )


@click.command("demo")
@click.option(
    "--weeks", type=click.IntRange(4, 520), default=52, show_default=True, help="Weeks of training."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same athlete).")
@click.option("--serve", is_flag=True, help="Open the dashboard on the demo athlete afterwards.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port for --serve.")
@click.option("--force", is_flag=True, help="Add the demo to a --db database that already holds activities.")
@click.pass_context
def demo_command(ctx: click.Context, weeks: int, seed: int, serve: bool, port: int, force: bool) -> None:
    """Build a realistic demo athlete (a year of runs as real FIT/GPX files) and show a summary.

    The demo lives in its own database (demo.sqlite in your user data folder) unless --db is given, so your
    own log is never touched. Running it again rebuilds it.

    \b
    Example:
      strideguard demo
      strideguard demo --serve
    """
    parent: AppContext = ctx.obj
    explicit = ctx.find_root().params.get("db_url")
    url = explicit or f"sqlite:///{config.data_dir() / DEMO_DB_NAME}"
    if not explicit:
        for suffix in ("", "-wal", "-shm"):
            (config.data_dir() / f"{DEMO_DB_NAME}{suffix}").unlink(missing_ok=True)
    app = AppContext(url) if url != parent.db_url else parent
    if explicit:
        with app.session() as (session, athlete_id):
            existing = len(store.list_activities(session, athlete_id, limit=1))
        if existing and not force:
            raise click.ClickException(
                f"{app.shown_url} already holds activities; the demo would mix into them. "
                "Use an empty database, leave out --db, or add --force."
            )
    build_demo(app, weeks, seed, config.today_local())
    print_summary(app)
    if serve:
        from strideguard.cli.web import serve_app

        serve_app(app.db_url, host="127.0.0.1", port=port)


def register(group: click.Group) -> None:
    group.add_command(demo_command)
