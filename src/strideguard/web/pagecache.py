"""Rendered pages, cached per athlete data version, computed once per key while other requests wait.

The key is everything a page depends on: the athlete's `data_version` (raised by triggers on every change,
revision 0014, so every server process sees the same version the moment a change is committed), the
viewer (who looks, in which unit, which athletes they may switch to), the URL with its query and today's
date. The page is rendered with a placeholder where the browser's CSRF token goes and the token is put in
per request, so one rendering serves every browser of that viewer.

Single flight: the first request for a key computes the page; requests for the same key that arrive
meanwhile wait for it (up to WAIT_S, then compute themselves) instead of all computing the same page at
once, which is what a burst of views after an import would otherwise do.

The version is read before the page's data, so a page can only be stored under a version older than its
data (recomputed at the next view), never newer.

One build at a time per page (its key without the version, a "lane"), and the newest page serves every
request that read its version or an older one: a page built from data at version 7 holds every change a
request that read version 5 can have seen. So while uploads or edits raise the version faster than the
dashboard renders (one runner's 10 uploads at once: 14 a second), requests wait for the build under way,
then one of them builds from the data as it is by then, for all of them; before, each version got a build
of its own, and several ran at once, each slowing the others.

A page that shows few rows can be keyed on those rows instead (`depends`): an activity's page then stays
cached while other runs are imported or edited, which on a busy server is most of the time. Such a page is
kept only when the athlete's version did not move while it was built, so it never mixes rows from before
and after a change under a key that a later state could match again.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from strideguard import config
from strideguard.storage.tables import AthleteRow
from strideguard.web.common import Viewer

MAX_BYTES = 32 * 1024 * 1024  # per process; least recently used pages go first
WAIT_S = 10.0
# Stands for the CSRF token in a stored page (letters only, so escaping leaves it as it is).
TOKEN_PLACEHOLDER = "sgCsrfTokenPlaceholderQx"


class _DoNotKeep(bytes):
    """A page body to answer with but not to store (its data changed while it was built)."""


class PageCache:
    """Rendered page bodies by key, bounded in bytes, with single-flight computation."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._flights: dict[tuple[Any, ...], threading.Event] = {}
        self._versions: dict[tuple[Any, ...], int] = {}  # lane -> the version its stored page was built at
        self.computed = 0  # pages rendered (a miss); tests count them

    def get_or_compute(self, key: tuple[Any, ...], compute: Callable[[], bytes | None]) -> bytes | None:
        """The stored page of `key`, or `compute()`'s (None: not cacheable, e.g. an error page): a key
        that holds everything the page depends on is a lane whose one version never changes."""
        return self.get_or_compute_latest(key, 0, lambda waited: (0, compute()))

    def get_or_compute_latest(
        self,
        lane: tuple[Any, ...],
        version: int,
        compute: Callable[[bool], tuple[int, bytes | None]],
    ) -> bytes | None:
        """The stored page of `lane` if it was built from data at `version` or later; else the page
        `compute(waited)` builds (it returns the version of the data it read, and the page, None when not
        cacheable; `waited`: this request waited for another build first, so `version` may be old). One
        build per lane at a time; requests that need a newer page than the one being built wait for it and
        then build once more, together."""
        waited = False
        while True:
            with self._lock:
                body = self._pages.get(lane)
                if body is not None and self._versions.get(lane, -1) >= version:
                    self._pages.move_to_end(lane)
                    return body
                flight = self._flights.get(lane)
                first = flight is None
                if first:
                    flight = self._flights[lane] = threading.Event()
            assert flight is not None
            if first:
                return self._build_latest(lane, functools.partial(compute, waited), flight)
            waited = True
            if not flight.wait(WAIT_S):
                return compute(True)[1]  # the build under way is stuck; do not wait behind it any longer
            with self._lock:
                if lane in self._pages or lane in self._flights:
                    continue  # stored (new enough, or build again) or another build began: look again
            return compute(True)[1]  # the build failed or was not cacheable: compute our own

    def _build_latest(
        self,
        lane: tuple[Any, ...],
        compute: Callable[[], tuple[int, bytes | None]],
        flight: threading.Event,
    ) -> bytes | None:
        try:
            built, body = compute()
            self.computed += 1
            if body is not None and not isinstance(body, _DoNotKeep) and len(body) <= self.max_bytes // 4:
                with self._lock:
                    if self._versions.get(lane, -1) <= built:  # a version is kept only beside its page
                        self._bytes -= len(self._pages.pop(lane, b""))
                        self._versions[lane] = built
                        self._add(lane, body)
            return body
        finally:  # however the build ends, the requests waiting on it go on
            with self._lock:
                self._flights.pop(lane, None)
            flight.set()

    def _add(self, key: tuple[Any, ...], body: bytes) -> None:
        """Store `body` (the lock is held) and drop the least recently used pages beyond the bound."""
        self._pages[key] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            old, dropped = self._pages.popitem(last=False)
            self._bytes -= len(dropped)
            self._versions.pop(old, None)


def data_version(session: Session, athlete_id: int) -> int:
    """The athlete's data version (revision 0014's triggers raise it on every change)."""
    return int(session.scalar(sa.select(AthleteRow.data_version).where(AthleteRow.id == athlete_id)) or 0)


def cached_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    build: Callable[[], Response],
    depends: Callable[[], tuple[Any, ...]] | None = None,
) -> Response:
    """`build()`'s page (an HTMLResponse from `render`) from the cache of this process when the athlete's
    data has not changed since it was rendered for this viewer and URL; or, with `depends`, when the rows
    it returns (everything the page shows) have not changed."""
    cache: PageCache | None = getattr(request.app.state, "page_cache", None)
    state = request.scope.setdefault("state", {})
    token = state.get("csrf_token", "")
    if cache is None or not token:
        return build()
    version = getattr(request.state, "data_versions", {}).get(viewer.athlete_id)
    if version is None:
        version = data_version(session, viewer.athlete_id)
    query = tuple(sorted(request.query_params.multi_items()))
    today = config.today_local()

    def compute() -> bytes | None:
        state["csrf_token"] = TOKEN_PLACEHOLDER
        try:
            response = build()
        finally:
            state["csrf_token"] = token
        if response.status_code != 200 or not isinstance(response, HTMLResponse):
            return None
        if depends is not None and data_version(session, viewer.athlete_id) != version:
            return _DoNotKeep(response.body)
        return bytes(response.body)

    def compute_latest(waited: bool) -> tuple[int, bytes | None]:
        # The version of the data the page is built from, read before it: the page then serves every
        # request that read this version or an older one. The version this request read a moment ago in
        # its transaction will do (one round trip less a build), unless it waited for another build
        # meanwhile: then the version now, so that the one build serves every request that waited.
        return (data_version(session, viewer.athlete_id) if waited else version), compute()

    if depends is None:
        body = cache.get_or_compute_latest((viewer, request.url.path, query, today), version, compute_latest)
    else:
        body = cache.get_or_compute((viewer, ("rows", depends()), request.url.path, query, today), compute)
    if body is None:
        return build()
    html = body.replace(TOKEN_PLACEHOLDER.encode(), token.encode())
    return HTMLResponse(html)
