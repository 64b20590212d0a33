"""The threads page and API handlers run in.

FastAPI runs a sync handler through anyio's `to_thread.run_sync`: a capacity limiter, a cancel scope and a
task-group-aware hand-off, all on the event loop, which also parses every request and sends every answer.
With one runner's pages rebuilt after every edit, that hand-off was a quarter of the event loop's time
(py-spy, issue 13). A plain executor hand-off does the same in fewer steps: the handler runs in one of the
app's `threads` threads, with the caller's context variables, and its result or exception comes back to the
awaiting request.

One executor per event loop (an app serves on one loop: each process of `serve --workers`, each test
client), started and stopped with the app; not the loop's default executor, which the uploads' file writes
use and which must not wait behind page handlers.
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
T = TypeVar("T")
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor] = weakref.WeakKeyDictionary()


def start(threads: int) -> None:
    """Give the running loop's handlers `threads` threads (the app's pool holds as many connections)."""
    stop()
    _pools[asyncio.get_running_loop()] = ThreadPoolExecutor(threads, thread_name_prefix="handler")


def stop() -> None:
    """Let the running loop's handler threads finish what they run, and end."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        pool.shutdown(wait=False)


def _pool() -> ThreadPoolExecutor:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:  # an app served without its lifespan
        pool = _pools[loop] = ThreadPoolExecutor(DEFAULT_THREADS, thread_name_prefix="handler")
    return pool


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` run in a handler thread with the caller's context variables, awaited.

    Every request's database work runs in these threads (an async handler's steps too, such as the
    upload's short sessions), so no more connections are wanted at once than there are handler threads:
    the pool holds that many (plus the import worker's). Work in other threads as well would make them
    wait for each other's connections, up to the pool's time-out and a 503 (issue 13: club uploads)."""
    bound = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool(), bound)


def run_in_handler_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """An async endpoint that runs the sync `function` in a handler thread (FastAPI sees a coroutine, so
    it awaits it on the event loop instead of handing it to anyio)."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return await call(function, *args, **kwargs)

    return endpoint
