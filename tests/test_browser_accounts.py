"""Accounts in headless Chromium against a real server with accounts on (issue 14): a real browser's form
posts carry Origin and Sec-Fetch-Site, and must pass the cross-site check; register, log in, change the
password, and log out so that a copied cookie stops working."""

from __future__ import annotations

import httpx
import pytest

from test_browser import CHROMIUM, live_server, page, shot, shots_dir  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def club(db_url, engine, tmp_path):
    from strideguard.web.app import create_app
    from strideguard.web.common import Settings

    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"b" * 32))
    with live_server(app) as base:
        yield base


def test_register_login_change_password_and_logout_in_a_real_browser(club, page):  # noqa: F811
    page.goto(club + "/")
    page.wait_for_url("**/login**", timeout=120_000)
    assert [a.get_attribute("href") for a in page.locator("nav a").all()] == ["/login", "/register"]
    page.goto(club + "/register")
    page.fill("#a-email", "ann@example.org")
    page.fill("#a-password", "correct horse")
    page.fill("#a-password2", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_selector("p.ok", timeout=120_000)
    assert "Registration received" in page.inner_text("p.ok")
    page.fill("#a-email", "ann@example.org")
    page.fill("#a-password", "correct horse")
    page.click("main button[type=submit]")
    page.wait_for_selector("a[href='/account']", timeout=120_000)
    page.goto(club + "/account/security")
    shot(page, "account-security")
    page.fill("#p-current", "correct horse")
    page.fill("#p-new", "a new long password")
    page.fill("#p-new2", "a new long password")
    page.click("text=Change password")
    page.wait_for_selector("p.ok", timeout=120_000)
    assert "Password changed" in page.inner_text("p.ok")  # the browser's own POST passed the Origin check
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "sg_session")
    copied = httpx.get(club + "/api/activities", cookies={"sg_session": cookie}, timeout=30)
    assert copied.status_code == 200
    page.click("text=Log out")
    page.wait_for_url("**/login", timeout=120_000)
    after = httpx.get(club + "/api/activities", cookies={"sg_session": cookie}, timeout=30)
    assert after.status_code == 401
    assert page.problems == []  # type: ignore[attr-defined]
