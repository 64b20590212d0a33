"""`strideguard worker`: run the queued browser-upload imports (a club server's separate workers)."""

from __future__ import annotations

import logging
import signal
import threading

import click
from sqlalchemy.exc import SQLAlchemyError

from strideguard.cli import worker_process
from strideguard.cli.common import AppContext, console, err_console, pass_app, plural
from strideguard.importing import jobs as import_jobs
from strideguard.importing.workers import one_line


def _report(job: import_jobs.Job, outcome: import_jobs.Outcome) -> None:
    """One line per job run, for the worker's log."""
    head = f"job {job.id} (athlete #{job.athlete_id}, {plural(len(job.files), 'file')})"
    if outcome.status == "finished" and outcome.result is not None:
        r = outcome.result
        console.print(
            f"{head}: finished: {r['imported']} imported, {r['duplicates']} duplicates, "
            f"{r['skipped']} skipped, {r['failed']} failed"
        )
    elif outcome.status == "failed":
        err_console.print(f"{head}: failed: {outcome.message} [folder {job.folder}]", markup=False)
    else:
        console.print(f"{head}: {outcome.status}: {outcome.message}", markup=False)


def _stop_on_sigterm(stop: threading.Event) -> None:
    """SIGTERM (a service manager, `kill`) ends the worker cleanly: the running import stops at its next
    file and goes back to the queue, to be resumed by a worker later."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())


@click.command("worker")
@click.option(
    "--poll",
    type=click.FloatRange(0.1, 3600),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="How often to look for new jobs when the queue is empty.",
)
@click.option("--once", is_flag=True, help="Run the queued jobs, then exit when none remain.")
@click.option("--child-of", type=int, default=None, hidden=True)  # set by `serve` for its own worker
@pass_app
def worker_command(app: AppContext, poll: float, once: bool, child_of: int | None) -> None:
    """Import the files uploaded in the browser: claim queued jobs and run them, one at a time.

    `strideguard serve` starts one worker process beside the web server by default. A club server can
    instead start `serve --no-worker` and one or more workers, on this or other machines, with the same
    --db; the uploads folder must then be shared storage mounted at the same path. A job whose worker
    stopped responding for 2 minutes is queued again and resumed (finished files are not redone); after
    3 tries it is marked failed. Ctrl+C or SIGTERM puts the running job back in the queue.

    \b
    Example:
      strideguard worker
      strideguard --db postgresql://club@db/strideguard worker --poll 5
      strideguard worker --once
    """
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    engine = app.engine
    stop = threading.Event()
    _stop_on_sigterm(stop)
    ident = import_jobs.worker_id()
    on_job = _report
    if child_of is not None:  # `serve`'s own worker: quiet, nice, and gone with its parent
        worker_process.lower_priority()
        worker_process.watch_parent(child_of, stop)
        on_job = None
    elif not once:
        console.print(f"Import worker {ident} waiting for jobs (every {poll:g} s). Press Ctrl+C to stop.")
    try:
        ran = import_jobs.work(engine, stop, poll, once=once, on_job=on_job, worker=ident)
    except KeyboardInterrupt:
        console.print("Import worker stopped.")
        return
    except SQLAlchemyError as exc:
        message = f"cannot use the import queue in {app.shown_url}: {one_line(exc)}"
        raise click.ClickException(message) from None
    finally:
        engine.dispose()
    if once:
        console.print(f"No more queued import jobs ({ran} run).")
    elif child_of is None:
        console.print("Import worker stopped.")


def register(group: click.Group) -> None:
    group.add_command(worker_command)
