"""Issue 11 in headless Chromium: the one-click "It was a run" on an activity stored as another sport, and a
shoe's "in use from" date on its page moving only the runs assigned by date."""

from __future__ import annotations

from datetime import date

import pytest

from strideguard.importing.service import ImportOptions, run_import
from strideguard.storage import activities as store
from strideguard.storage import shoes as shoe_store
from test_browser import page, server, shots_dir  # noqa: F401  (fixtures)
from test_sport_check import CYCLING, gpx_text

pytestmark = pytest.mark.browser


def test_one_click_counts_an_inferred_ride_as_a_run(server, page, engine, session, athlete_id, tmp_path):  # noqa: F811
    path = tmp_path / "ride.gpx"
    path.write_text(gpx_text(CYCLING, name="Cycling 10/2/17"))
    run_import(engine, [path], ImportOptions(workers=0))
    (ride,) = [a for a in store.list_activities(session, athlete_id) if a.source_name == "ride.gpx"]
    assert ride.sport == "other"
    page.goto(f"{server}/activities/{ride.id}")
    page.wait_for_selector(".sport-note", timeout=120_000)
    assert "Cycling 10/2/17" in page.inner_text(".sport-note")
    with page.expect_navigation(timeout=120_000):
        page.click(".sport-note button[value=run]")
    page.wait_for_selector("p.ok", timeout=120_000)
    assert page.locator(".sport-note").count() == 0
    session.expire_all()
    again = store.get_activity(session, athlete_id, ride.id, with_streams=False)
    assert (again.sport, again.sport_note) == ("run", None)
    assert page.problems == []  # type: ignore[attr-defined]


def test_shoe_dates_on_the_shoe_page(server, page, session, athlete_id):  # noqa: F811
    shoe = shoe_store.add_shoe(session, athlete_id, "Daily", in_use_from=date(2020, 1, 1))
    shoe_store.set_default(session, athlete_id, shoe.id, "run")
    session.commit()
    runs = store.list_activities(session, athlete_id, sports={"run"}, newest_first=False)
    assert runs and all(a.shoe_auto and a.shoe_id == shoe.id for a in runs)
    page.goto(f"{server}/shoes/{shoe.id}")
    page.wait_for_selector(".shoe-dates", timeout=120_000)
    assert page.locator(".shoe-runs .tag").count() >= 1
    later = runs[-1].local_date.isoformat()
    page.fill("#edit-from", later)
    with page.expect_navigation(timeout=120_000):
        page.click("form.card button[type=submit]")
    session.expire_all()
    moved = store.list_activities(session, athlete_id, sports={"run"}, newest_first=False)
    assert [a.shoe_id for a in moved[:-1]] == [None] * (len(moved) - 1) and moved[-1].shoe_id == shoe.id
    assert page.problems == []  # type: ignore[attr-defined]
