"""The threads page and API handlers run in.

FastAPI runs a sync handler through anyio's `to_thread.run_sync`: a capacity limiter, a cancel scope and a
task-group-aware hand-off, all on the event loop, which also parses every request and sends every answer.
With one runner's pages rebuilt after every edit, that hand-off was a quarter of the event loop's time
(py-spy, issue 13). A plain executor hand-off does the same in fewer steps: the handler runs in one of the
app's `threads` threads, with the caller's context variables, and its result or exception comes back to the
awaiting request.

Executors per event loop (an app serves on one loop: each process of `serve --workers`, each test client),
started and stopped with the app: the handlers' `threads`, and UPLOAD_THREADS for the upload's short
database steps. Not the loop's default executor, which the uploads' file writes use and which must not
wait behind page handlers.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

DEFAULT_THREADS = 8
# Threads of their own for the upload's short database steps (who uploads, queueing the job), so an upload
# does not wait behind page builds for them; the app's pool holds a connection for each of these too.
UPLOAD_THREADS = 2
T = TypeVar("T")
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ThreadPoolExecutor]] = (
    weakref.WeakKeyDictionary()
)


def _executors(threads: int) -> dict[str, ThreadPoolExecutor]:
    return {
        "handler": ThreadPoolExecutor(threads, thread_name_prefix="handler"),
        "upload": ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="upload-step"),
    }


def start(threads: int) -> None:
    """Give the running loop's handlers `threads` threads (the app's pool holds as many connections, plus
    UPLOAD_THREADS and the import worker's)."""
    stop()
    _pools[asyncio.get_running_loop()] = _executors(threads)


def stop() -> None:
    """Let the running loop's handler threads finish what they run, and end."""
    for pool in _pools.pop(asyncio.get_running_loop(), {}).values():
        pool.shutdown(wait=False)


def _pool(lane: str) -> ThreadPoolExecutor:
    loop = asyncio.get_running_loop()
    pools = _pools.get(loop)
    if pools is None:  # an app served without its lifespan
        pools = _pools[loop] = _executors(DEFAULT_THREADS)
    return pools[lane]


async def _run(lane: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` run in one of `lane`'s threads with the caller's context variables.

    Every request's database work runs in these threads (the handlers', or the upload's), each thread using
    at most one connection at a time, so no more connections are wanted at once than the pool holds. Work
    in other threads as well would make them wait for each other's connections, up to the pool's time-out
    and a 503 (issue 13: club uploads answered 503 while anyio's threads took connections)."""
    bound = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool(lane), bound)


async def call_upload_step(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` run in one of the UPLOAD_THREADS threads kept for the upload's short
    database steps, awaited: an upload neither waits behind page builds for a thread nor takes one from
    them."""
    return await _run("upload", function, *args, **kwargs)


def run_in_handler_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """An async endpoint that runs the sync `function` in a handler thread (FastAPI sees a coroutine, so
    it awaits it on the event loop instead of handing it to anyio)."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return await _run("handler", function, *args, **kwargs)

    return endpoint
