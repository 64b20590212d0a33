"""End to end in headless Chromium (Debian's /usr/bin/chromium) against a real server on a loopback port.

Takes a screenshot of each main page: into pytest's temporary folder by default (so a test run leaves the
working tree clean), and into docs/screenshots/ for the README when STRIDEGUARD_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
RUN_FIT = "fit/fitparse__2013-02-06-12-11-14.fit"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port (waits until it answers); its base URL."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        app.state.engine.dispose()


@pytest.fixture
def server(db_url, engine, session, athlete_id, tmp_path):
    """The app on a free loopback port, with a few weeks of demo runs so the dashboard has charts."""
    from strideguard.demo import athlete as demo
    from strideguard.storage import activities as store
    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    end = datetime.now(UTC).date()
    for activity in demo.athlete_activities(end, weeks=6):
        store.save_activity(session, athlete_id, activity)
    session.commit()
    app = create_app(Settings(db_url=db_url, data_dir=tmp_path / "web", secret_key=b"b" * 32))
    with live_server(app) as base:
        yield base


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory) -> Path:
    """Where screenshots go: docs/screenshots/ only when asked (STRIDEGUARD_SCREENSHOTS=1)."""
    if os.environ.get("STRIDEGUARD_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(shots_dir):
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        pg = context.new_page()
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.problems = problems  # type: ignore[attr-defined]
        pg.shots_dir = shots_dir  # type: ignore[attr-defined]
        yield pg
        browser.close()


def shot(page, name: str) -> None:
    """Save a screenshot of the visible page as NAME.png in the screenshots folder of this run."""
    path = page.shots_dir / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 1000


def test_runner_journey_in_a_real_browser(server, page, data_dir):
    # dashboard: charts drawn, no CSP violations or script errors
    page.goto(server + "/")
    assert page.locator("#chart-weekly svg rect.bar").count() == 16
    assert page.locator("#chart-load svg path.line").count() == 3
    shot(page, "dashboard")

    # activity detail: route and charts
    page.goto(server + "/activities")
    shot(page, "activities")
    with page.expect_navigation():
        page.locator("table.activities tbody tr td.name a").first.click()
    assert page.locator("svg.route path.route-line").count() == 1
    shot(page, "activity")

    # import a real FIT through the upload form; live progress then the summary; the run is listed
    page.goto(server + "/import")
    page.set_input_files("#files", str(data_dir / RUN_FIT))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(".summary-card", timeout=30_000)
    assert "Imported: 1 activity" in page.inner_text(".summary-card")
    shot(page, "import")
    page.goto(server + "/activities?since=2013-02-01&until=2013-02-28")
    assert page.locator("table.activities tbody tr").count() == 1

    # pain on the body map: click the left groin (front view), pick a score, save
    page.goto(server + "/pain")
    page.click('svg.bodymap a[data-region="groin-hip-front"][data-side="left"]')
    assert page.input_value("#p-region") == "groin-hip-front"
    assert page.is_checked('input[name="side"][value="left"]')
    page.check('input[name="score"][value="4"]')
    page.check('input[name="timing"][value="during"]')
    page.click("#log button[type=submit]")
    assert page.inner_text("p.ok") == "Pain entry saved."
    assert "Groin / front of hip" in page.inner_text("#history h2")
    shot(page, "pain")

    # triage: walk to an urgent result. Groups of warning signs: "none of these", except "yes" to the pain
    # pattern (hopping hurts), which then asks its items one by one; "don't know" for what we do not answer.
    page.goto(server + "/triage")
    answers = {"age": "29", "pain_location": "groin", "pain_on_hop": "yes", "limp": "no"}
    screens_seen = []

    def submit(selector: str) -> None:
        # A plain POST form: wait for the next page, or the next check could read the old one.
        with page.expect_navigation():
            page.click(selector)

    for _ in range(60):
        if page.locator("section.level-banner").count():
            break
        step = page.get_attribute('input[name="question"]', "value")
        if page.locator('form#question[data-kind="screen"]').count():
            screens_seen.append(step)
            assert page.locator("ul.screen-items li").count() >= 2
            if step == "emergency_signs":
                shot(page, "triage-screen")
            if page.locator('form#question[data-mode="each"]').count():
                submit('button[value="answer"]')  # the follow-up page: "don't know" is preselected
            elif step == "pain_pattern":
                page.check('input[name="tick:pain_on_hop"]')  # tick every one that applies
                submit('button[value="yes"]')
            else:
                submit('button[value="none"]')
            continue
        value = answers.get(step)
        if value is None:
            submit('button[value="dont_know"]')
        elif page.locator("#answer-number").count():
            page.fill("#answer-number", value)
            submit('button[value="answer"]')
        else:
            page.check(f'input[name="value"][value="{value}"]')
            submit('button[value="answer"]')
    assert screens_seen[:2] == ["emergency_signs", "pain_pattern"]
    banner = page.locator("section.level-banner")
    assert "level-urgent" in banner.get_attribute("class")
    assert page.inner_text("section.level-banner h1").startswith("Urgent")
    shot(page, "triage-result")

    # routine player: start, let the countdown run, pause
    page.goto(server + "/routines/hip_mobility_flow")
    page.wait_for_selector("#player[data-ready='1']")
    before = page.inner_text("#countdown")
    page.click("#btn-start")
    page.wait_for_timeout(2300)
    assert page.get_attribute("#player", "data-state") == "playing"
    after = page.inner_text("#countdown")
    assert after != before
    page.click("#btn-pause")
    assert page.get_attribute("#player", "data-state") == "paused"
    page.click("#btn-skip")
    assert page.get_attribute("#player", "data-position") == "1"
    shot(page, "routine-player")
    assert page.problems == []  # type: ignore[attr-defined]


def test_phone_width_layout_has_no_horizontal_scroll(server, page, session, athlete_id):
    from strideguard.storage import pain as pain_store
    from strideguard.storage import shoes as shoe_store
    from strideguard.training.pain import PainEntry

    # Entries and shoes fill the pages' tables, the widest parts at 375 px.
    pain_store.add_pain(
        session,
        athlete_id,
        PainEntry(datetime.now(UTC).date(), "knee-front", "left", 3, "during", note="x" * 80),
    )
    shoe_store.add_shoe(session, athlete_id, "A daily trainer with a long name", "Brand", "Model 4")
    session.commit()
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/", "/activities", "/pain", "/shoes", "/import", "/routines", "/triage"):
        page.goto(server + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375px"
    page.goto(server + "/")
    shot(page, "dashboard-phone")


def test_keyboard_alone_reaches_content_and_logs_pain_on_the_body_map(server, page):
    page.goto(server + "/pain")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Tab to the first body-map region (a link) and open it with Enter: region and side are chosen.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('region-link')"):
            break
    region = page.evaluate("document.activeElement.dataset.region")
    side = page.evaluate("document.activeElement.dataset.side")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('#p-region').value === '{region}'")
    assert page.is_checked(f'input[name="side"][value="{side}"]')
    page.focus('input[name="score"][value="0"]')
    for _ in range(3):  # arrow keys move through a radio group
        page.keyboard.press("ArrowRight")
    assert page.is_checked('input[name="score"][value="3"]')
    page.focus("#p-note")
    page.keyboard.type("typed by keyboard")
    page.focus("#log button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("p.ok")
    assert page.inner_text("p.ok") == "Pain entry saved."
    assert page.problems == []  # type: ignore[attr-defined]


def test_player_shows_the_instruction_while_playing_and_keeps_keyboard_focus(server, page):
    page.goto(server + "/routines/piriformis_foam_roll")
    page.wait_for_selector("#player[data-ready='1']")
    first = page.inner_text("#step-instruction")
    assert len(first) > 20  # the server-rendered instruction survives player.js
    start_bg = page.eval_on_selector("#btn-start", "b => getComputedStyle(b).backgroundColor")
    skip_disabled_bg = page.eval_on_selector("#btn-skip", "b => getComputedStyle(b).backgroundColor")
    assert page.eval_on_selector("#btn-skip", "b => b.disabled")
    assert skip_disabled_bg != start_bg and skip_disabled_bg != "rgb(255, 255, 255)"  # visibly disabled
    page.focus("#btn-start")
    page.keyboard.press("Enter")
    assert page.get_attribute("#player", "data-state") == "playing"
    assert page.evaluate("document.activeElement.id") == "btn-pause"  # not dropped to <body>
    page.wait_for_timeout(400)  # a few ticks of the player's clock
    assert page.inner_text("#step-instruction") == first
    page.keyboard.press("Tab")  # to Skip
    page.keyboard.press("Enter")
    assert page.get_attribute("#player", "data-position") == "1"
    second = page.inner_text("#step-instruction")
    assert second and second != first and page.text_content("#step-side") == "left side"
    for _ in range(4):  # Skip keeps focus while it is usable; at the end it is disabled and Start is focused
        assert page.evaluate("document.activeElement.id") == "btn-skip"
        page.keyboard.press("Enter")
    assert page.get_attribute("#player", "data-state") == "done"
    assert page.evaluate("document.activeElement.id") == "btn-start"
    assert page.problems == []  # type: ignore[attr-defined]


def test_phone_shoes_pain_and_activity_edit(server, page, session, athlete_id):
    from strideguard.storage import shoes as shoe_store

    shoe = shoe_store.add_shoe(session, athlete_id, "Daily trainer", "Asics", "Novablast 4")
    for sport in ("run", "treadmill", "trail_run"):
        shoe_store.set_default(session, athlete_id, shoe.id, sport)
    session.commit()
    page.set_viewport_size({"width": 375, "height": 800})
    # Shoes: every action inside the 375 px screen, no sideways scrolling, sports in full.
    page.goto(server + "/shoes")
    for selector in ("button:text('Make default')", "button:text('Retire')", "td[data-label='Default for']"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, selector
    assert page.inner_text("td[data-label='Default for']").endswith("run, trail run, treadmill")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # Pain: every body-map area is at least 24 x 24 CSS px to tap.
    page.goto(server + "/pain")
    boxes = page.eval_on_selector_all(
        "svg.bodymap a.region-link",
        "links => links.map(a => { const r = a.getBoundingClientRect();"
        " return [a.getAttribute('aria-label'), r.width, r.height]; })",
    )
    small = [(label, round(w), round(h)) for label, w, h in boxes if w < 24 or h < 24]
    assert boxes and not small, small
    # Activity edit: a rejected RPE lands on the error, in view.
    page.goto(server + "/activities")
    with page.expect_navigation():
        page.locator("table.activities tbody tr td.name a").first.click()
    page.fill("#e-rpe", "15")
    with page.expect_navigation():
        page.click("#edit button[type=submit]")
    top = page.eval_on_selector("#edit .error", "e => e.getBoundingClientRect().top")
    assert 0 <= top < 800, top
    # the rejected form is answered 422 on purpose; nothing else may go wrong
    assert [p for p in page.problems if "422" not in p] == []  # type: ignore[attr-defined]


def test_miles_chosen_on_the_settings_page_reach_every_chart_axis(server, page):
    page.goto(server + "/settings")
    page.check('input[name="distance_unit"][value="mi"]')
    shot(page, "settings")
    with page.expect_navigation():
        page.click("#units button[type=submit]")
    assert page.inner_text("p.ok") == "Saved: distances in miles."
    page.goto(server + "/")
    assert page.text_content("#chart-weekly svg text.axis-label") == "mi"
    assert page.inner_text("#this-week .big-number").endswith(" mi")
    shot(page, "dashboard-miles")
    page.goto(server + "/activities")
    with page.expect_navigation():
        page.locator("table.activities tbody tr td.name a").first.click()
    labels = page.locator(".chart-card figcaption").all_inner_texts()
    assert any("min/mi" in label for label in labels)
    assert page.problems == []  # type: ignore[attr-defined]
