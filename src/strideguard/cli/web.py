"""`strideguard serve`: the web dashboard (local mode: one athlete, no login; server mode: accounts)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import threading
import time

import click

from strideguard import config
from strideguard.cli import listen
from strideguard.cli.common import AppContext, console, open_error, pass_app

# A stop (SIGTERM, Ctrl+C) waits this long for requests in progress (a slow or stalled upload), then
# cancels them; the app's shutdown then gives its import worker WORKER_STOP_S to put its job back.
GRACE_S = 7
PARENT_WAIT_S = 15  # --workers: how long the parent waits for its processes before killing them


def serve_app(
    db_url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    accounts: bool = False,
    run_worker: bool = True,
    workers: int = 1,
    behind_proxy: bool = False,
    forwarded_allow_ips: str = "127.0.0.1",
    registration: str | None = None,
) -> None:
    """Run the dashboard on `host:port` against `db_url` until interrupted (Ctrl+C, SIGTERM).

    With `run_worker` (the default) browser uploads are imported by one `strideguard worker` child
    process started here (cli/worker_process.py); without, they wait in the queue for `strideguard worker`
    processes started elsewhere. `workers` > 1 runs that many server processes (uvicorn's
    process manager) on one socket; each is stateless apart from caches keyed by the data they cache.
    `behind_proxy`: a TLS proxy in front (its X-Forwarded-For/-Proto trusted from `forwarded_allow_ips`),
    so cookies are Secure and HSTS is sent. `registration` (server mode): open, invite or closed; by
    default open on this machine only, invite when listening beyond it.
    """
    import uvicorn

    from strideguard.web import security, serving_gc
    from strideguard.web.app import create_app, settings_from_environment, settings_to_environment
    from strideguard.web.common import Settings

    problem = _cannot_listen(host, port)
    if problem:  # say it in one line before uvicorn would log its own error and a traceback-like line
        raise click.ClickException(f"could not listen on {host}:{port}: {problem}")
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    data_dir = config.data_dir()
    registration = registration or default_registration(host, behind_proxy)
    settings = Settings(
        db_url=db_url,
        accounts=accounts,
        data_dir=data_dir,
        run_worker=False,  # never in the server's own process: see cli/worker_process.py
        secure_cookies=behind_proxy,
        registration=registration,
    )
    try:
        if workers > 1:
            from strideguard.storage import engine as db

            # Migrate once here, and give every process the same cookie key, before they start.
            engine = db.make_engine(db_url)
            try:
                db.ensure_schema(engine)
            finally:
                engine.dispose()
            os.environ.setdefault(security.SECRET_ENV, security.load_secret(data_dir).decode())
            settings_to_environment(settings)
            settings_from_environment()  # the same check the processes make
            app = None
        else:
            app = create_app(settings)
            serving_gc.tune_for_serving()
    except Exception as exc:  # opening the database failed: the one line every command gives
        raise click.ClickException(open_error(db_url, exc)) from None
    shown = "localhost" if host in {"127.0.0.1", "::1"} else host
    mode = "server mode (accounts)" if accounts else "local mode (one athlete, no login)"
    processes = f", {workers} processes" if workers > 1 else ""
    console.print(
        f"StrideGuard dashboard on [bold]http://{shown}:{port}/[/] ({mode}{processes}). Press Ctrl+C to stop."
    )
    for warning in serve_warnings(host, accounts, behind_proxy):
        console.print(f"[yellow]warning:[/] {warning}")
    if accounts:
        console.print(f"Registration: {REGISTRATION_TEXT[registration]}")
    if not run_worker:
        console.print("Uploads are queued for `strideguard worker` (--no-worker).")
    _exit_quietly_on_sigterm()
    import_worker = None
    if run_worker:
        from strideguard.cli.worker_process import ImportWorkerProcess

        import_worker = ImportWorkerProcess(db_url)
        import_worker.start()
    common = {
        "host": host,
        "port": port,
        "log_level": "warning",
        # At "warning" the access lines are never written; without this each answer still builds one.
        "access_log": False,
        **proxy_options(behind_proxy, forwarded_allow_ips),
    }
    try:
        if app is not None:
            server = _server_class()(uvicorn.Config(app, timeout_graceful_shutdown=GRACE_S, **common))
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C: uvicorn re-raises it after stopping
                server.run()
            if not server.started and not server.should_exit:
                raise SystemExit(1)
        else:
            _serve_processes(
                uvicorn.Config(
                    "strideguard.web.app:app_from_environment",
                    factory=True,
                    workers=workers,
                    timeout_graceful_shutdown=GRACE_S,
                    **common,
                )
            )
    except SystemExit as exc:
        if exc.code not in (0, None):  # uvicorn exits 1 when it cannot bind (it logged the reason)
            raise click.ClickException(f"could not listen on {host}:{port}; is the port in use?") from None
    finally:
        if import_worker is not None:
            import_worker.stop()
        if app is not None:
            app.state.engine.dispose()
    console.print("StrideGuard dashboard stopped.")


REGISTRATION_TEXT = {
    "open": "open (anyone who reaches this server can create an account).",
    "invite": "by invite (admins and coaches create single-use links; `strideguard users add` works too).",
    "closed": "closed (accounts are created with `strideguard users add`).",
}


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_registration(host: str, behind_proxy: bool = False) -> str:
    """Open when only this machine can reach the server; by invite when the network can (directly, or
    through a proxy in front of a loopback address)."""
    return "open" if is_loopback(host) and not behind_proxy else "invite"


def serve_warnings(host: str, accounts: bool, behind_proxy: bool) -> list[str]:
    """What `serve` warns about before it starts (one line each)."""
    if is_loopback(host):
        return []
    if not accounts:
        return [
            "listening beyond this machine without --accounts: anyone on the network can read and change "
            "this log."
        ]
    if not behind_proxy:
        return [
            "accounts on a network address over plain HTTP: passwords and session cookies cross the network "
            "readable. Put an HTTPS proxy in front and pass --behind-proxy (see docs/deployment.md)."
        ]
    return []


def proxy_options(behind_proxy: bool, forwarded_allow_ips: str) -> dict[str, object]:
    """uvicorn's options: trust X-Forwarded-For/-Proto only behind a proxy, and only from its addresses."""
    if not behind_proxy:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips}


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, where a second SIGTERM (as a second Ctrl+C already did) stops at once."""

        def handle_exit(self, sig: int, frame: object) -> None:
            if self.should_exit and sig in (signal.SIGTERM, signal.SIGINT):
                self.force_exit = True
                self._captured_signals.append(sig)
                return
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            _STOPPING.set()
            await super().shutdown(sockets)
            if self.force_exit:  # uvicorn skips the rest: end the requests and the app ourselves, quietly
                import asyncio

                tasks = list(self.server_state.tasks)
                for task in tasks:
                    task.cancel()
                if tasks:
                    from strideguard.web.imports import KEEP_ON_SHUTDOWN_S

                    # An upload cut off by the stop keeps queueing its whole files up to KEEP_ON_SHUTDOWN_S.
                    await asyncio.wait(tasks, timeout=KEEP_ON_SHUTDOWN_S + 1)
                await self.lifespan.shutdown()

    return Server


def _serve_processes(config: object) -> None:
    """uvicorn's process manager, with a bounded stop: the processes get SIGTERM and GRACE_S to finish
    their requests; any still running after PARENT_WAIT_S (or at a second signal) is killed."""
    from uvicorn.supervisors import Multiprocess

    class Processes(Multiprocess):
        def join_all(self) -> None:
            deadline = time.monotonic() + PARENT_WAIT_S
            for process in self.processes:
                while process.process.is_alive() and time.monotonic() < deadline:
                    process.process.join(0.2)
                    if self.signal_queue:  # a second signal: do not wait any longer
                        deadline = 0.0
                if process.process.is_alive():
                    process.kill()
                    process.process.join(5)

    # One socket per process where the kernel can spread connections over them (cli/listen.py).
    sock = listen.reserve(config.host, config.port) or config.bind_socket()  # type: ignore[attr-defined]
    Processes(config, sockets=[sock]).run()  # type: ignore[arg-type]


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


_STOPPING = threading.Event()  # set once the server has begun to shut down


def _exit_quietly_on_sigterm() -> None:
    """Make SIGTERM (a service manager, `kill`) end the process with status 0, as Ctrl+C does.

    uvicorn shuts down gracefully on SIGTERM, then re-raises the signal; without a handler of ours the
    default action would end the process with status 143 as if it had crashed.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread (e.g. not inside a test runner)

    def stop(_signum: int, _frame: object) -> None:
        if _STOPPING.is_set():
            # The server has stopped taking requests and is ending the last ones: an upload cut off by the
            # stop still queues its whole files (bounded by web/imports.py's KEEP_ON_SHUTDOWN_S), and the
            # process exits with status 0 once that is done. Raising here would cut it short.
            return
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
    help="Start no import worker; leave uploads queued for `strideguard worker` processes.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port (a club server: one or two per CPU core).",
)
@click.option(
    "--behind-proxy",
    is_flag=True,
    help="An HTTPS proxy (Caddy, nginx) is in front: trust its forwarded headers; Secure cookies and HSTS.",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="With --behind-proxy: the proxy's addresses (comma-separated, or * on a private container network).",
)
@click.option(
    "--registration",
    type=click.Choice(["open", "invite", "closed"]),
    default=None,
    help="Who may create accounts (--accounts). [default: open on 127.0.0.1, else and behind a proxy invite]",
)
@pass_app
def serve_command(
    app: AppContext,
    host: str,
    port: int,
    accounts: bool,
    no_worker: bool,
    workers: int,
    behind_proxy: bool,
    forwarded_allow_ips: str,
    registration: str | None,
) -> None:
    """Open the web dashboard in your browser: activities, load and warnings, shoes, pain, hip check.

    Local mode (the default) shows the one local athlete without a login and listens only on this
    computer. With --accounts, people register and log in, and each sees only their own data unless
    they share it read-only (e.g. with a coach). Uploaded files are imported by a worker process that
    serve starts beside itself at a lower priority, unless --no-worker leaves them to `strideguard worker`
    (e.g. on other machines).

    \b
    Example:
      strideguard serve
      strideguard serve --port 8080
      strideguard --db postgresql://club@db/strideguard serve --host 0.0.0.0 --accounts --behind-proxy
      strideguard --db postgresql://club@db/strideguard serve --host 0.0.0.0 --accounts --no-worker
      strideguard --db postgresql://club@db/strideguard serve --accounts --workers 4 --no-worker
    """
    serve_app(
        app.db_url,
        host=host,
        port=port,
        accounts=accounts,
        run_worker=not no_worker,
        workers=workers,
        behind_proxy=behind_proxy,
        forwarded_allow_ips=forwarded_allow_ips,
        registration=registration,
    )


def register(group: click.Group) -> None:
    group.add_command(serve_command)
