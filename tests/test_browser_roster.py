"""The coach's roster in headless Chromium (Debian's /usr/bin/chromium) against a real server in accounts
mode: log in as the coach, read the roster, open the athlete who needs attention first. Screenshots at 1280
and 375 px go to docs/screenshots/ when STRIDEGUARD_SCREENSHOTS=1 (roster.png, roster-phone.png)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts_helpers import PASSWORD, add_pain, add_run, add_urgent_triage, steady_weeks, today
from strideguard.storage import sharing
from strideguard.storage import shoes as shoe_store
from strideguard.storage.tables import AthleteRow, UserRow
from strideguard.web import security
from test_browser import CHROMIUM, live_server, shots_dir  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

WAIT_MS = 120_000


def _user(session, email: str, name: str) -> tuple[int, int]:
    user = UserRow(email=email, password_hash=security.hash_password(PASSWORD))
    session.add(user)
    session.flush()
    athlete = AthleteRow(name=name, user_id=user.id)
    session.add(athlete)
    session.flush()
    return user.id, athlete.id


@pytest.fixture
def club(db_url, engine, session, tmp_path):
    """A coach and eight athletes who share with them at various levels; the app on a loopback port."""
    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    coach_user, _ = _user(session, "coach@example.org", "Coach Kim")
    team = [
        ("Ana", "training", True, "hip"),
        ("Ben", "everything", True, "spike"),
        ("Chloé", "training_pain", True, "pain"),
        ("Dev", "training", True, "shoes"),
        ("Eli", "training", False, "hip"),
        ("Femi", "training_pain", True, "ramp"),
        ("Greta", "training", True, ""),
        ("Hugo", "everything", True, ""),
    ]
    ids = {}
    for i, (name, level, flags, trouble) in enumerate(team):
        _, athlete_id = _user(session, f"{name.lower()}@example.org", name)
        ids[name] = athlete_id
        sharing.add_share(session, athlete_id, coach_user, level, flags)
        session.commit()
        steady_weeks(session, athlete_id, weeks=5, km=6.0 + i)
        if trouble == "hip":
            add_urgent_triage(session, athlete_id)
        elif trouble == "spike":
            add_run(session, athlete_id, today(), 24.0, "Long one")
        elif trouble == "pain":
            add_pain(session, athlete_id, score=7)
        elif trouble == "shoes":
            shoe_store.add_shoe(session, athlete_id, "Old trainers", start_distance_m=640_000)
            session.commit()
        elif trouble == "ramp":
            for back in range(1, 7):
                add_run(session, athlete_id, today() - timedelta(days=back), 9.0)
    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"r" * 32))
    with live_server(app) as base:
        yield base, ids


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser
        browser.close()


def _login(page, base: str) -> None:
    page.goto(base + "/login", timeout=WAIT_MS)
    page.fill("input[name=email]", "coach@example.org")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation(timeout=WAIT_MS):
        page.click("form button[type=submit]")


def test_coach_reads_the_roster_and_opens_an_athlete(club, browser, shots_dir):  # noqa: F811
    base, ids = club
    for width, height, name in ((1280, 900, "roster"), (375, 812, "roster-phone")):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m, out=problems: out.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, out=problems: out.append(str(e)))
        _login(page, base)
        page.goto(base + "/coach", timeout=WAIT_MS)
        page.wait_for_selector("table.roster tr.roster-row", timeout=WAIT_MS)
        rows = page.locator("table.roster tr.roster-row")
        assert rows.count() == 8
        first = rows.first.locator("td.name a").inner_text()
        assert first == "Ana"  # the urgent hip check the athlete let the coach see
        assert "Urgent hip or knee check" in rows.first.inner_text()
        eli = page.locator(f'tr.roster-row[data-athlete="{ids["Eli"]}"]')
        assert "Urgent hip or knee check" not in eli.inner_text()  # Eli turned the plain flags off
        if width < 400:  # on a phone each row is a card: no sideways scrolling
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        page.screenshot(path=str(shots_dir / f"{name}.png"), full_page=False)
        assert (shots_dir / f"{name}.png").stat().st_size > 1000
        with page.expect_navigation(timeout=WAIT_MS):
            rows.first.locator("td.name a").click()
        assert "Ana's log, shared with you read-only" in page.inner_text("p.banner")
        assert problems == []
        context.close()
