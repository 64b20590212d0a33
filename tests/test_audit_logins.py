"""The audit log records the account's own logins, logouts and password changes (issue 14), next to the
shares, exports and deletions recorded by their pages."""

from __future__ import annotations

import pytest

from accounts_helpers import PASSWORD, csrf, register
from strideguard.web.app import create_app
from strideguard.web.common import Settings


@pytest.fixture
def app(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"a" * 32))
    yield app
    app.state.engine.dispose()


def _actions(client) -> list[str]:
    return [entry["action"] for entry in client.get("/api/audit").json()]


def test_logins_logouts_and_password_changes_are_in_the_accounts_audit_log(app):
    ann = register(app, "ann@example.org", "Ann")  # registers, then logs in
    assert _actions(ann)[:1] == ["login"]

    new = "a brand new password"
    response = ann.post(
        "/account/password",
        data={
            "csrf_token": csrf(ann, "/account/security"),
            "current_password": PASSWORD,
            "new_password": new,
            "new_password2": new,
        },
    )
    assert response.status_code == 200, response.text
    assert _actions(ann)[:2] == ["password_changed", "login"]

    ann.post("/logout", data={"csrf_token": csrf(ann, "/account/security")})
    assert ann.get("/api/audit").status_code == 401  # logged out
    response = ann.post("/login", data={"csrf_token": csrf(ann), "email": "ann@example.org", "password": new})
    assert response.status_code == 200
    assert _actions(ann)[:3] == ["login", "logout", "password_changed"]

    # Another account's log holds none of Ann's entries.
    eve = register(app, "eve@example.org", "Eve")
    assert _actions(eve) == ["login"]
