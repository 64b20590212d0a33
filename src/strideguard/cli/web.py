"""`strideguard serve`: the web dashboard (local mode: one athlete, no login; server mode: accounts)."""

from __future__ import annotations

import errno
import signal
import socket
import threading

import click

from strideguard import config
from strideguard.cli.common import AppContext, console, pass_app


def serve_app(
    db_url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    accounts: bool = False,
    run_worker: bool = True,
) -> None:
    """Run the dashboard on `host:port` against `db_url` until interrupted (Ctrl+C).

    With `run_worker` (the default) the app imports browser uploads itself; without, uploads wait in the
    queue for `strideguard worker` processes.
    """
    import uvicorn

    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    problem = _cannot_listen(host, port)
    if problem:  # say it in one line before uvicorn would log its own error and a traceback-like line
        raise click.ClickException(f"could not listen on {host}:{port}: {problem}")
    try:
        settings = Settings(
            db_url=db_url, accounts=accounts, data_dir=config.data_dir(), run_worker=run_worker
        )
        app = create_app(settings)
    except Exception as exc:  # a driver error opening the database: one line, no traceback
        raise click.ClickException(f"cannot open the database: {str(exc).strip().splitlines()[0]}") from None
    shown = "localhost" if host in {"127.0.0.1", "::1"} else host
    mode = "server mode (accounts)" if accounts else "local mode (one athlete, no login)"
    console.print(f"StrideGuard dashboard on [bold]http://{shown}:{port}/[/] ({mode}). Press Ctrl+C to stop.")
    if host not in {"127.0.0.1", "::1", "localhost"} and not accounts:
        console.print(
            "[yellow]warning:[/] listening beyond this machine without --accounts: anyone on the network "
            "can read and change this log."
        )
    if not run_worker:
        console.print("Uploads are queued for `strideguard worker` (--no-worker).")
    _exit_quietly_on_sigterm()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    except SystemExit as exc:
        if exc.code not in (0, None):  # uvicorn exits 1 when it cannot bind (it logged the reason)
            raise click.ClickException(f"could not listen on {host}:{port}; is the port in use?") from None
    finally:
        app.state.engine.dispose()
    console.print("StrideGuard dashboard stopped.")


def _cannot_listen(host: str, port: int) -> str | None:
    """Why `host:port` cannot be bound now (e.g. "the port is in use"), or None if it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"unknown host ({exc.strerror or exc})"
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use (is StrideGuard already running? try --port 8001)"
            return exc.strerror or str(exc)
    return None


def _exit_quietly_on_sigterm() -> None:
    """Make SIGTERM (a service manager, `kill`) end the process with status 0, as Ctrl+C does.

    uvicorn shuts down gracefully on SIGTERM, then re-raises the signal; without a handler of ours the
    default action would end the process with status 143 as if it had crashed.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread (e.g. not inside a test runner)

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


@click.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: whole network)."
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on."
)
@click.option(
    "--accounts",
    is_flag=True,
    help="Server mode: registration and login, each user their own athlete (for a club or coach server).",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not import uploads in this process; leave them queued for `strideguard worker` processes.",
)
@pass_app
def serve_command(app: AppContext, host: str, port: int, accounts: bool, no_worker: bool) -> None:
    """Open the web dashboard in your browser: activities, load and warnings, shoes, pain, hip check.

    Local mode (the default) shows the one local athlete without a login and listens only on this
    computer. With --accounts, people register and log in, and each sees only their own data unless
    they share it read-only (e.g. with a coach). Uploaded files are imported by a worker inside this
    process, unless --no-worker leaves them to `strideguard worker` (e.g. on other machines).

    \b
    Example:
      strideguard serve
      strideguard serve --port 8080
      strideguard --db postgresql://club@db/strideguard serve --host 0.0.0.0 --accounts
      strideguard --db postgresql://club@db/strideguard serve --host 0.0.0.0 --accounts --no-worker
    """
    serve_app(app.db_url, host=host, port=port, accounts=accounts, run_worker=not no_worker)


def register(group: click.Group) -> None:
    group.add_command(serve_command)
