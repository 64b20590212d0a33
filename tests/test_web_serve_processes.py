"""`strideguard serve --workers N` (uvicorn's process manager) and stopping a server while an upload is
slow or stalled (issue 11): within the grace period, the complete files kept and queued, the cut-off one
named, a second SIGTERM stopping at once, never a traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from strideguard.cli.web import GRACE_S, PARENT_WAIT_S
from strideguard.storage import engine as db
from strideguard.storage.tables import ImportJobRow
from test_web_serve import free_port, wait_until_up
from test_web_upload_stream import BOUNDARY, csrf, open_upload, part

RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"


def serve(cli_env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "strideguard", "serve", "--port", str(port), *extra],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_serve_with_two_processes_serves_imports_and_agrees_after_an_edit(cli_env, data_dir, db_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(cli_env, port, "--workers", "2")
    try:
        wait_until_up(server, base)
        deadline = time.monotonic() + 120
        while len(children(server.pid)) < 3 and time.monotonic() < deadline:  # 2 servers + the tracker
            time.sleep(0.1)
        assert len(children(server.pid)) >= 2
        cookie, token = csrf(base)
        fit = (data_dir / RUN_FIT).read_bytes()
        body = part("csrf_token", token.encode()) + part("files", fit, "run.fit") + part("sports", b"default")
        body += f"--{BOUNDARY}--\r\n".encode()
        with httpx.Client(base_url=base, cookies={"sg_csrf": cookie}, timeout=30) as http:
            response = http.post(
                "/import", content=body, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
            )
            assert response.status_code == 303
            job = response.headers["location"].rsplit("/", 1)[1]
            while (status := http.get(f"/api/import-jobs/{job}").json())["status"] not in {
                "finished",
                "failed",
            }:
                assert time.monotonic() < deadline + 60, status
                time.sleep(0.2)
            assert status["imported"] == 1
            activity = http.get("/api/activities").json()["activities"][0]["id"]
        for rpe in (3.0, 8.0):
            assert (
                httpx.patch(f"{base}/api/activities/{activity}", json={"rpe": rpe}, timeout=30).status_code
                == 200
            )
            # Each request on a new connection, so both processes answer some: all see the edit.
            seen = {
                httpx.get(f"{base}/api/activities/{activity}", timeout=30).json()["rpe"] for _ in range(12)
            }
            assert seen == {rpe}
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=PARENT_WAIT_S + 30)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    assert "2 processes" in out and "dashboard stopped" in out


def held_upload(base: str, port: int, fit: bytes):
    """An upload with one complete file and a second one cut off mid-way, its connection left open."""
    cookie, token = csrf(base)
    first = (
        part("csrf_token", token.encode())
        + part("files", fit, "whole.fit")
        + part("files", b"", "cut.fit")[:-2]
    )
    sock = open_upload(port, cookie, 10_000_000, first + fit[:3000])
    return sock


def wait_until_refused(port: int) -> None:
    """Until the server has closed its listening socket: it has begun to shut down."""
    import socket

    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return
        assert time.monotonic() < deadline, "the server never began to shut down"
        time.sleep(0.05)


def wait_for_file(folder: Path, name: str) -> None:
    deadline = time.monotonic() + 120
    while not list(folder.glob(f"*/{name}")):
        assert time.monotonic() < deadline, f"{name} never arrived"
        time.sleep(0.05)


def test_sigterm_during_a_stalled_upload_stops_within_the_grace_period_and_keeps_the_whole_files(
    cli_env, data_dir, db_url
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(cli_env, port)
    uploads = Path(cli_env["STRIDEGUARD_DATA_DIR"]) / "uploads"
    sock = None
    try:
        wait_until_up(server, base)
        sock = held_upload(base, port, (data_dir / RUN_FIT).read_bytes())
        wait_for_file(uploads, "cut.fit")
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=GRACE_S + 20)
    finally:
        if sock is not None:
            sock.close()
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "Traceback" not in err and "CancelledError" not in err
    assert "timeout graceful shutdown exceeded" in err  # the stalled upload was waited for, then stopped
    assert "kept 1 complete file" in err and "dropped 'cut.fit'" in err
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as connection:
            jobs = connection.execute(sa.select(ImportJobRow.status, ImportJobRow.files)).all()
    finally:
        engine.dispose()
    assert [(status, files) for status, files in jobs] == [("queued", ["whole.fit"])]
    assert [p.name for p in uploads.glob("*/*")] == ["whole.fit"]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "double-ctrl-c"])
def test_second_signal_stops_at_once_without_tracebacks(cli_env, data_dir, stop_signal):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(cli_env, port)
    uploads = Path(cli_env["STRIDEGUARD_DATA_DIR"]) / "uploads"
    sock = None
    try:
        wait_until_up(server, base)
        sock = held_upload(base, port, (data_dir / RUN_FIT).read_bytes())
        wait_for_file(uploads, "cut.fit")
        server.send_signal(stop_signal)
        wait_until_refused(port)  # the first signal was handled (two at once could merge into one)
        server.send_signal(stop_signal)
        out, err = server.communicate(timeout=GRACE_S + 20)
    finally:
        if sock is not None:
            sock.close()
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "timeout graceful shutdown exceeded" not in err  # it did not wait out the grace period
    assert "Traceback" not in err and "CancelledError" not in err
    assert "dashboard stopped" in out


def _lock_job_queue(db_url: str):
    """Hold the write lock on the job queue (as a busy database would): returns the release function."""
    if db_url.startswith("sqlite"):
        import sqlite3

        from strideguard.storage.engine import sqlite_file

        raw = sqlite3.connect(sqlite_file(db_url), isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")

        def release() -> None:
            raw.execute("ROLLBACK")
            raw.close()

        return release
    engine = db.make_engine(db_url)
    connection = engine.connect()
    connection.execute(sa.text("LOCK TABLE import_jobs IN EXCLUSIVE MODE"))

    def release_pg() -> None:
        connection.rollback()
        connection.close()
        engine.dispose()

    return release_pg


def test_stalled_upload_kept_without_traceback_when_queueing_it_outlasts_the_grace(
    cli_env, data_dir, db_url, engine
):
    """The files received whole are queued after the grace period, while the server is closing: a busy
    database makes that take a while, and the request is cancelled again meanwhile (a second SIGTERM).
    Once printed a CancelledError traceback on PostgreSQL; now the files are queued, quietly."""
    import threading

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(cli_env, port)
    uploads = Path(cli_env["STRIDEGUARD_DATA_DIR"]) / "uploads"
    lines: list[str] = []
    sock = None
    release = None
    try:
        wait_until_up(server, base)
        reader = threading.Thread(target=lambda: lines.extend(iter(server.stderr.readline, "")), daemon=True)
        reader.start()
        sock = held_upload(base, port, (data_dir / RUN_FIT).read_bytes())
        wait_for_file(uploads, "cut.fit")
        release = _lock_job_queue(db_url)
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 120
        while not any("timeout graceful shutdown exceeded" in line for line in lines):
            assert time.monotonic() < deadline and server.poll() is None, "".join(lines)
            time.sleep(0.05)
        server.send_signal(signal.SIGTERM)  # impatient: cancels the request again while it queues the files
        time.sleep(3)  # the files are being queued against the lock while the server closes around them
        release()
        release = None
        server.wait(timeout=120)
        reader.join(timeout=30)
    finally:
        if release is not None:
            release()
        if sock is not None:
            sock.close()
        if server.poll() is None:
            server.kill()
    err = "".join(lines)
    assert server.returncode == 0, err
    assert "Traceback" not in err and "CancelledError" not in err
    assert "kept 1 complete file" in err and "dropped 'cut.fit'" in err
    with engine.connect() as connection:
        jobs = connection.execute(sa.select(ImportJobRow.status, ImportJobRow.files)).all()
    assert [(status, files) for status, files in jobs] == [("queued", ["whole.fit"])]


def _port_sockets(port: int) -> dict[int, str]:
    """Socket inode -> TCP state ('0A' listening, '01' established) of every socket whose local port is
    `port` (the kernel's tables in /proc/net)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found[int(fields[9])] = fields[3]
    return found


def _held(pid: int, inodes: set[int]) -> set[int]:
    """Which of `inodes` process `pid` has open."""
    held = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inode = int(target[8:-1])
                    if inode in inodes:
                        held.add(inode)
    return held


@pytest.mark.skipif(sys.platform != "linux", reason="one socket per process needs Linux's SO_REUSEPORT")
def test_connections_opened_at_once_spread_over_the_processes(cli_env):
    """A kept-alive connection stays with the process that accepted it. Forty browsers connecting at once
    all went to one of the two processes (uvicorn's one shared socket: the first process to wake accepts
    everything waiting); with a socket per process the kernel spreads them (cli/listen.py)."""
    port = free_port()
    server = serve(cli_env, port, "--workers", "2", "--no-worker")
    connections: list[socket.socket] = []
    try:
        wait_until_up(server, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while True:  # both processes listening (each holds a listening socket on the port)
            listening = {i for i, state in _port_sockets(port).items() if state == "0A"}
            processes = [pid for pid in children(server.pid) if _held(pid, listening)]
            if len(processes) == 2:
                break
            assert time.monotonic() < deadline, "two server processes did not start listening"
            time.sleep(0.1)
        connections = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(40)]
        while True:  # every connection accepted by one process or the other
            established = {i for i, state in _port_sockets(port).items() if state == "01"}
            counts = [len(_held(pid, established)) for pid in processes]
            if sum(counts) >= 40:
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.1)
        # Spread by a hash of each connection's addresses: 20 +- 3 each; fewer than 8 of 40 on one process
        # would happen by chance about once in 24,000 runs (binomial, p = 1/2).
        assert min(counts) >= 8, counts
        for connection in connections:  # and each answers on the connection it holds
            connection.sendall(b"GET /static/app.css HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert connection.recv(12).startswith(b"HTTP/1.1 200")
    finally:
        for connection in connections:
            connection.close()
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
