"""`strideguard serve` imports uploads in a worker process of its own (issue 13): at a lower priority than
the pages, stopped with serve, gone when serve is killed, started again when it dies, and never given
the database URL on its command line. Real `serve` subprocesses; every wait is bounded and waits for a
condition, never for a time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from test_web_serve import free_port, start_serve, wait_until_up

RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"
WAIT_S = 60


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def import_worker_of(serve_pid: int, other_than: int | None = None) -> int:
    """The pid of serve's import worker child (waiting for it to start, or to be started again)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for pid in children(serve_pid):
            try:
                args = cmdline(pid)
            except OSError:
                continue
            if "worker" in args and "--child-of" in args and pid != other_than:
                return pid
        time.sleep(0.05)
    pytest.fail(f"serve {serve_pid} has no import worker process after {WAIT_S} s")


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still running after {WAIT_S} s"
        time.sleep(0.05)


def upload_and_wait(base: str, fit: bytes, name: str) -> dict:
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/import")
        token = BeautifulSoup(form.text, "html.parser").select_one('input[name="csrf_token"]')["value"]
        response = http.post(
            "/import",
            data={"csrf_token": token, "sports": "default"},
            files={"files": (name, fit, "application/octet-stream")},
        )
        assert response.status_code == 303, response.text
        job = response.headers["location"].rsplit("/", 1)[1]
        deadline = time.monotonic() + WAIT_S
        while (status := http.get(f"/api/import-jobs/{job}").json())["status"] not in {"finished", "failed"}:
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
    return status


@pytest.fixture
def served(cli_env):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_serve(cli_env, port)
    wait_until_up(server, base)
    yield server, base
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_uploads_are_imported_by_a_lower_priority_child_that_stops_with_serve(served, data_dir, cli_env):
    server, base = served
    worker = import_worker_of(server.pid)
    deadline = time.monotonic() + WAIT_S  # it lowers its priority once it has started
    while nice_of(worker) < nice_of(server.pid) + 10:  # pages come first for the CPU
        assert time.monotonic() < deadline, (nice_of(worker), nice_of(server.pid))
        time.sleep(0.05)
    assert cli_env["STRIDEGUARD_DATABASE_URL"] not in " ".join(cmdline(worker))  # not visible in `ps`
    status = upload_and_wait(base, (data_dir / RUN_FIT).read_bytes(), "run.fit")
    assert (status["status"], status["imported"]) == ("finished", 1)
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "Traceback" not in err and "dashboard stopped" in out
    wait_gone(worker)


def test_a_killed_serve_leaves_no_import_worker_behind(served):
    server, _base = served
    worker = import_worker_of(server.pid)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    wait_gone(worker)  # it saw its parent go and stopped itself


def test_an_import_worker_that_dies_is_started_again_and_imports(served, data_dir):
    server, base = served
    first = import_worker_of(server.pid)
    os.kill(first, signal.SIGKILL)
    second = import_worker_of(server.pid, other_than=first)
    assert second != first
    status = upload_and_wait(base, (data_dir / RUN_FIT).read_bytes(), "again.fit")
    assert (status["status"], status["imported"]) == ("finished", 1)
