"""Edits while others browse never stall (issue 13): on the club, each view after an edit waited in steps
of the pool's 3 s time-out. FastAPI turns a sync handler's result into JSON in a handler thread, after the
handler and before the session's teardown; a finished edit still held its connection while every handler
thread waited for one. In-process with one handler thread, so the order is fixed: no timing involved (a
stall shows as 503 after the pool's time-out)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import anyio.to_thread
import httpx

import test_web_upload_stream
from strideguard.storage import activities as store
from strideguard.web.app import WORKER_CONNECTIONS, create_app
from strideguard.web.common import Settings
from strideguard.web.handler_threads import UPLOAD_THREADS

served = test_web_upload_stream.served  # the real `strideguard serve` with one stored run


def test_more_edits_at_once_than_connections_all_succeed(db_url, engine, session, athlete_id, tmp_path):
    start = datetime.now(UTC) - timedelta(days=1)
    activity_id = store.save_activity(
        session, athlete_id, store.manual_activity(start, 8000.0, 2700.0, name="Easy")
    ).activity_id
    session.commit()
    app = create_app(
        Settings(
            db_url=db_url,
            data_dir=tmp_path / "web",
            secret_key=b"k" * 32,
            run_worker=False,
            threads=1,
            pool_timeout_s=20.0,
        )
    )
    edits = 1 + UPLOAD_THREADS + WORKER_CONNECTIONS + 4  # more than the pool holds

    async def edit_all() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as http:
            responses = await asyncio.gather(
                *(
                    http.patch(f"/api/activities/{activity_id}", json={"rpe": float(2 + k % 7)})
                    for k in range(edits)
                )
            )
            page = await http.get("/")
        return [r.status_code for r in responses] + [page.status_code]

    try:
        statuses = asyncio.run(edit_all())
    finally:
        app.state.engine.dispose()
    assert statuses == [200] * (edits + 1)


def test_edits_and_pages_answer_while_uploads_are_held_open(served, data_dir):
    """The real `strideguard serve`: uploads held mid-file (more than the pool's connections) while a
    burst of edits, more than the handler threads, and page views run; every one answers 200."""
    from concurrent.futures import ThreadPoolExecutor

    from test_web_upload_stream import RUN_FIT, csrf, open_upload, part

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
        for i in range(Settings(db_url="").threads + UPLOAD_THREADS + WORKER_CONNECTIONS + 2)
    ]
    try:
        for sock in held:
            sock.sendall(fit[:4096])
        deadline = time.monotonic() + 120
        while len(list(uploads.glob("*/held*.fit"))) < len(held):  # each upload's file is open
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (activity_id,) = [
            a["id"] for a in httpx.get(base + "/api/activities", timeout=60).json()["activities"]
        ]

        def edit(k: int) -> int:
            response = httpx.patch(
                f"{base}/api/activities/{activity_id}", json={"rpe": float(2 + k % 7)}, timeout=120
            )
            return response.status_code

        def view(path: str) -> int:
            return httpx.get(base + path, timeout=120).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            edits = list(pool.map(edit, range(3 * Settings(db_url="").threads)))
            pages = list(
                pool.map(view, ["/", "/shoes", "/activities", f"/activities/{activity_id}", "/pain"] * 3)
            )
        assert edits == [200] * len(edits)
        assert pages == [200] * len(pages)
        assert len(list(uploads.glob("*/held*.fit"))) == len(held)  # still held: nothing finished them
    finally:
        for sock in held:
            sock.close()
