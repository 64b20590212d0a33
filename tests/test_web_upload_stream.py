"""Uploads while others browse (issue 13), refused before their body is stored (issue 14 item 5), and a
busy database answered quickly. The served tests run the real `strideguard serve` and hold uploads
mid-body over raw sockets, so nothing depends on timing: a page either answers while the upload is held
or the test fails at its (generous) time-out."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.web.app import WORKER_CONNECTIONS, create_app
from strideguard.web.common import Settings
from strideguard.web.handler_threads import UPLOAD_THREADS
from test_web_serve import free_port, start_serve, wait_until_up

RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"
BOUNDARY = "sgboundary7MA4YWxk"
PAGES = ("/", "/shoes", "/activities", "/pain", "/import")


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename:
        head += "Content-Type: application/octet-stream\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def csrf(base: str) -> tuple[str, str]:
    """(cookie value, form token) of a fresh browser: the CSRF cookie and the token in the import form."""
    response = httpx.get(base + "/import", timeout=30)
    token = BeautifulSoup(response.text, "html.parser").select_one('input[name="csrf_token"]')["value"]
    return response.cookies["sg_csrf"], token


def open_upload(
    base_port: int, cookie: str, content_length: int, first: bytes, extra: str = ""
) -> socket.socket:
    """A POST /import whose headers and first bytes are sent, the rest held back."""
    sock = socket.create_connection(("127.0.0.1", base_port), timeout=30)
    head = (
        f"POST /import HTTP/1.1\r\nHost: 127.0.0.1:{base_port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {content_length}\r\n"
        f"Cookie: sg_csrf={cookie}{extra}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def read_response(sock: socket.socket) -> tuple[int, str]:
    """Status code and head of the answer on `sock` (the body need not be complete)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.decode("latin-1")


@pytest.fixture
def served(cli_env, session, athlete_id, tmp_path):
    """The real `strideguard serve` (local mode, its import worker running) with one stored run."""
    store.save_activity(session, athlete_id, store.manual_activity(_yesterday(), 8000.0, 2700.0, name="Easy"))
    session.commit()
    port = free_port()
    server = start_serve(cli_env, port)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(server, base)
    yield server, base, port, Path(cli_env["STRIDEGUARD_DATA_DIR"]) / "uploads"
    if server.poll() is None:
        server.kill()
        server.communicate()


def _yesterday():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(days=1)


def pages_answer(base: str) -> None:
    for path in PAGES:
        assert httpx.get(base + path, timeout=20).status_code == 200, path


def test_uploads_held_mid_body_hold_no_connection_and_pages_still_answer(served, data_dir):
    """More uploads stalled mid-file than the server has database connections: every page still answers,
    then a complete upload is queued and imported."""
    _server, base, port, uploads = served
    cookie, token = csrf(base)
    fit = (data_dir / RUN_FIT).read_bytes()
    held = [
        open_upload(
            port,
            cookie,
            10_000_000,
            part("csrf_token", token.encode()) + part("files", b"", f"held{i}.fit")[:-2],
        )
        for i in range(Settings(db_url="").threads + 8)
    ]
    try:
        for sock in held:  # each upload's first bytes arrived (its file is open), none finished
            sock.sendall(fit[:4096])
        deadline = time.monotonic() + 120
        while len(list(uploads.glob("*/held*.fit"))) < len(held) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(uploads.glob("*/held*.fit"))) == len(held)
        pages_answer(base)
        body = (
            part("csrf_token", token.encode()) + part("files", fit, "done.fit") + part("sports", b"default")
        )
        body += end()
        with httpx.Client(base_url=base, cookies={"sg_csrf": cookie}, timeout=30) as http:
            response = http.post(
                "/import", content=body, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
            )
            assert response.status_code == 303
            job = response.headers["location"].rsplit("/", 1)[1]
            deadline = time.monotonic() + 120
            while (status := http.get(f"/api/import-jobs/{job}").json())["status"] not in {
                "finished",
                "failed",
            }:
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
        assert (status["status"], status["imported"]) == ("finished", 1)
    finally:
        for sock in held:
            sock.close()


def test_pages_answer_while_an_upload_waits_for_the_sqlite_write_lock(served, data_dir, db_url):
    """The old handler queued the job on the event loop: while SQLite's write lock was held (an import
    writing a batch), every page of the server stalled with it."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    _server, base, _port, uploads = served
    cookie, token = csrf(base)
    fit = (data_dir / RUN_FIT).read_bytes()
    body = (
        part("csrf_token", token.encode())
        + part("files", fit, "locked.fit")
        + part("sports", b"default")
        + end()
    )
    lock = sqlite3.connect(str(db.sqlite_file(db_url)), timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # what a worker's import batch holds while it writes
    answer: dict[str, int] = {}

    def post() -> None:
        with httpx.Client(base_url=base, cookies={"sg_csrf": cookie}, timeout=60) as http:
            response = http.post(
                "/import", content=body, headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
            )
            answer["status"] = response.status_code

    poster = threading.Thread(target=post)
    try:
        poster.start()
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size == len(fit) for p in uploads.glob("*/locked.fit")):
            assert time.monotonic() < deadline, "the upload never arrived"
            time.sleep(0.05)
        pages_answer(base)  # the upload is now queuing its job and waits for the lock
        assert "status" not in answer
    finally:
        lock.execute("COMMIT")
        lock.close()
        poster.join(timeout=60)
    assert answer["status"] == 303


def test_upload_over_the_size_limit_is_refused_before_its_body_is_read(served):
    _server, base, port, uploads = served
    cookie, token = csrf(base)
    sock = open_upload(port, cookie, 5 * 1024**3, part("csrf_token", token.encode()))  # 5 GiB declared
    try:
        status, _head = read_response(sock)
    finally:
        sock.close()
    assert status == 413
    assert not list(uploads.glob("*/*"))


def test_file_before_the_form_token_is_refused_before_it_is_stored(served, data_dir):
    _server, base, port, uploads = served
    cookie, _token = csrf(base)
    sock = open_upload(port, cookie, 50_000_000, part("files", b"", "sneaky.fit")[:-2] + b"x" * 65536)
    try:
        status, _head = read_response(sock)  # answered while 50 MB are still to come
    finally:
        sock.close()
    assert status == 403
    assert not list(uploads.glob("*/*"))


def test_unauthenticated_upload_is_refused_before_its_body_is_read(cli_env, tmp_path):
    """Issue 14 item 5: a stranger's upload on a server with accounts is answered (sent to the login page)
    after its headers, while the 1 GiB it announces is still unsent."""
    port = free_port()
    server = subprocess.Popen(
        _serve_args(port, "--accounts"),
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, base)
        cookie, token = "c" * 43, "c" * 43
        sock = open_upload(port, cookie, 1024**3, part("csrf_token", token.encode()) + b"x" * 65536)
        try:
            status, head = read_response(sock)
        finally:
            sock.close()
        assert status == 303 and "location: /login" in head.lower()
        assert not list((Path(cli_env["STRIDEGUARD_DATA_DIR"]) / "uploads").glob("*/*"))
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _serve_args(port: int, *extra: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "strideguard", "serve", "--port", str(port), *extra]


def test_chunked_upload_is_cut_off_at_the_size_limit(db_url, engine, tmp_path, data_dir):
    """Without a Content-Length the limit applies as the bytes arrive: nothing past it is stored."""
    app = create_app(
        Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"k" * 32, max_upload_bytes=200_000)
    )
    with TestClient(app) as client:
        token = BeautifulSoup(client.get("/import").text, "html.parser").select_one(
            'input[name="csrf_token"]'
        )
        sent = {"bytes": 0}

        def body():
            for chunk in (part("csrf_token", token["value"].encode()), part("files", b"", "big.fit")[:-2]):
                sent["bytes"] += len(chunk)
                yield chunk
            for _ in range(100):  # 6.4 MB offered
                sent["bytes"] += 65536
                yield b"\0" * 65536

        response = client.post(
            "/import", content=body(), headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
        )
        assert response.status_code == 413
        page = BeautifulSoup(response.text, "html.parser")
        assert "larger than this server accepts (195.312 KiB)" in page.select_one(".error").get_text(" ")
        assert not list((tmp_path / "web" / "uploads").glob("*/*"))
    app.state.engine.dispose()


def test_no_free_database_connection_is_answered_503_with_retry_after(db_url, engine, tmp_path):
    """Every pooled connection taken: a page is answered 503 with Retry-After within the pool time-out,
    never left hanging; once one is free the page works again."""
    app = create_app(
        Settings(
            db_url=db_url,
            data_dir=tmp_path / "web",
            secret_key=b"k" * 32,
            threads=2,
            pool_timeout_s=0.2,
            run_worker=False,
        )
    )
    with TestClient(app) as client:
        assert client.get("/activities").status_code == 200
        taken = []
        try:
            while True:  # take every connection the pool holds (threads, the upload's, the worker's)
                taken.append(app.state.engine.connect())
                taken[-1].exec_driver_sql("select 1")
                if len(taken) > 20:
                    pytest.fail("the pool was not bounded")
        except Exception:
            pass
        try:
            assert len(taken) == 2 + UPLOAD_THREADS + WORKER_CONNECTIONS
            page = client.get("/activities")
            api = client.get("/api/activities")
        finally:
            for connection in taken:
                connection.close()
        assert (page.status_code, page.headers["retry-after"]) == (503, "2")
        assert "busy" in BeautifulSoup(page.text, "html.parser").select_one("main").get_text(" ")
        assert (api.status_code, api.headers["retry-after"]) == (503, "2")
        assert client.get("/activities").status_code == 200
    app.state.engine.dispose()
