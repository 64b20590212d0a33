"""The routers are matched hottest first (web/app.ROUTERS); that order must not change which handler a
URL reaches: every route's own URL (its parameters filled in) is matched by that route and no earlier one,
also with the routers in reverse order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Match

from strideguard.web import app as web_app
from strideguard.web.app import create_app
from strideguard.web.common import Settings


def _flat(routes):
    """The routes in the order they are tried: an included router's own routes where it is included."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI keeps an included router as one entry
            yield from _flat(route.original_router.routes)
        else:
            yield route


def _first_match(routes, method: str, path: str):
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


@pytest.mark.parametrize("order", ["as shipped", "reversed"])
def test_every_route_is_reached_by_its_own_url_whatever_the_router_order(
    order: str, tmp_path: Path, monkeypatch
):
    if order == "reversed":
        monkeypatch.setattr(web_app, "ROUTERS", tuple(reversed(web_app.ROUTERS)))
    app = create_app(
        Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path, run_worker=False)
    )
    every = list(_flat(app.router.routes))
    routes = [r for r in every if getattr(r, "methods", None)]
    checked = 0
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in route.methods:
            found = _first_match(every, method, path)
            assert found is not None and found.endpoint is route.endpoint, (method, path, found)
            checked += 1
    assert checked > 70  # every page, form and API route
    app.state.engine.dispose()
