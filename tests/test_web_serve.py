"""The real `strideguard serve` command: a subprocess on a free loopback port against the test's database,
serving the dashboard and the OpenAPI document, and stopping cleanly on Ctrl+C (SIGINT) and SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from bs4 import BeautifulSoup

from strideguard.storage import activities as store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(cli_env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "strideguard", "serve", "--port", str(port)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_up(server: subprocess.Popen[str], base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            out, err = server.communicate()
            pytest.fail(f"serve exited with {server.returncode} before answering: {out}{err}")
        try:
            httpx.get(base + "/api/openapi.json", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    pytest.fail(f"serve did not answer on {base} within {seconds:.0f} s")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_serve_answers_dashboard_and_openapi_then_stops_cleanly_on_signal(
    cli_env, session, athlete_id, stop_signal
):
    store.save_activity(
        session,
        athlete_id,
        store.manual_activity(datetime.now(UTC) - timedelta(days=1), 8_000.0, 2_700.0, name="Served <run>"),
    )
    session.commit()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_serve(cli_env, port)
    try:
        wait_until_up(server, base)
        dashboard = httpx.get(base + "/", timeout=30)
        assert dashboard.status_code == 200
        page = BeautifulSoup(dashboard.text, "html.parser")
        assert page.select_one("main h1").get_text(" ", strip=True).startswith("Dashboard ")
        assert page.select_one("footer a[href='/api/openapi.json']") is not None
        listing = BeautifulSoup(httpx.get(base + "/activities", timeout=30).text, "html.parser")
        assert [a.get_text() for a in listing.select("table.activities td.name a")] == ["Served <run>"]
        spec = httpx.get(base + "/api/openapi.json", timeout=30)
        assert spec.status_code == 200 and spec.headers["content-type"].startswith("application/json")
        assert {"/api/dashboard", "/api/activities", "/api/shoes"} <= set(spec.json()["paths"])
        assert httpx.get(base + "/docs", timeout=30).status_code == 404  # Swagger UI needs a CDN: off
    finally:
        server.send_signal(stop_signal)
        try:
            out, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
            pytest.fail(f"serve did not stop within 20 s of {stop_signal.name}")
    assert server.returncode == 0, err
    assert "Traceback" not in err
    assert "dashboard stopped" in out
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


def test_serve_on_a_port_in_use_fails_with_one_line(cli_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = start_serve(cli_env, port)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 1
    assert err.strip().splitlines() == [
        f"Error: could not listen on 127.0.0.1:{port}: the port is in use "
        "(is StrideGuard already running? try --port 8001)"
    ]
    assert "dashboard on" not in out  # no banner for a server that never started
