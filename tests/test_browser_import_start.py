"""The upload form's start time in a real browser: the page sends the browser's own time zone with the
wall-clock time typed in, so a file without a date is stored at that moment in the runner's zone, whatever
the server's zone is (web/static/import.js, `uploadZone`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from strideguard.storage import activities as store
from strideguard.storage import engine as db
from test_browser import CHROMIUM, server  # noqa: F401  (fixture)
from test_import_start import ANTFS, gpx_from_1970

pytestmark = pytest.mark.browser

TYPED = "2026-05-01T07:30"  # what the runner types: 07:30 on their own clock
# The same wall-clock time in two browsers' zones (May: daylight saving time in New York).
ZONES = {
    "America/New_York": (datetime(2026, 5, 1, 11, 30, tzinfo=UTC), -4 * 3600),
    "Asia/Tokyo": (datetime(2026, 4, 30, 22, 30, tzinfo=UTC), 9 * 3600),
}


def stored_runs(engine, athlete_id: int) -> list:
    with db.session_factory(engine)() as session:
        summaries = store.list_activities(session, athlete_id)
        return [store.get_activity(session, athlete_id, a.id) for a in summaries]


def test_the_upload_form_dates_an_undated_file_in_the_browsers_time_zone(
    server,  # noqa: F811
    engine,
    athlete_id,
    data_dir,
    tmp_path,
):
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    # One undated file per zone (the same file twice would be a duplicate): a real Forerunner 70 file with
    # only seconds since power-on, and a phone's track whose clock says 1970.
    undated = {"America/New_York": tmp_path / "forerunner-70.fit", "Asia/Tokyo": tmp_path / "phone.gpx"}
    undated["America/New_York"].write_bytes((data_dir / ANTFS).read_bytes())
    undated["Asia/Tokyo"].write_bytes(gpx_from_1970())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            for zone, (expected_utc, expected_offset) in ZONES.items():
                before = {run.id for run in stored_runs(engine, athlete_id)}
                page = browser.new_context(timezone_id=zone).new_page()
                problems: list[str] = []
                page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
                page.goto(f"{server}/import")
                # The hidden field holds the browser's zone before anything is sent.
                page.wait_for_function(
                    "z => document.querySelector('input[name=start_zone]').value === z", arg=zone
                )
                page.set_input_files("#files", str(undated[zone]))
                page.fill("#start", TYPED)
                page.click("#upload-form button[type=submit]")
                page.wait_for_url("**/import/jobs/**")
                deadline = time.monotonic() + 120  # a condition, not a timing: the import's own pace
                new = []
                while not new and time.monotonic() < deadline:
                    new = [run for run in stored_runs(engine, athlete_id) if run.id not in before]
                    time.sleep(0.2)
                assert len(new) == 1, f"{zone}: the upload was not imported"
                (run,) = new
                assert run.start_utc == expected_utc, zone
                assert run.utc_offset_s == expected_offset, zone
                assert run.local_date.isoformat() == TYPED[:10], zone  # the day the runner typed
                assert problems == [], problems
                # The job page tells the runner it is done.
                page.wait_for_selector("text=finished", timeout=120_000)
                page.context.close()
        finally:
            browser.close()
