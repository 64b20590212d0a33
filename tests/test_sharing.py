"""Share levels (storage/sharing.py): the server enforces training only / training and pain / everything on
every page and API route, the athlete sees what is shared with whom and revokes it at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from accounts_helpers import (
    add_pain,
    add_run,
    add_urgent_triage,
    athlete_of,
    csrf,
    register,
    share,
    soup,
    steady_weeks,
    today,
    view,
)
from strideguard.storage import audit, sharing
from strideguard.storage.tables import ShareRow, UserRow
from strideguard.web.app import create_app
from strideguard.web.common import Settings


@pytest.fixture
def app(db_url, engine, tmp_path):
    app = create_app(Settings(db_url=db_url, accounts=True, data_dir=tmp_path / "web", secret_key=b"s" * 32))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def ann_and_coach(app, session):
    ann, coach = register(app, "ann@example.org", "Ann"), register(app, "coach@example.org", "Coach")
    ann_id = athlete_of(session, "ann@example.org")
    steady_weeks(session, ann_id)
    add_pain(session, ann_id, score=8, region="groin-hip-front", note="sharp when climbing stairs")
    add_urgent_triage(session, ann_id)
    return ann, coach, ann_id


def _warnings(client: TestClient) -> dict[str, dict]:
    return {w["rule"]: w for w in client.get("/api/dashboard").json()["warnings"]}


def test_training_only_hides_pain_and_hip_checks_everywhere(ann_and_coach):
    ann, coach, ann_id = ann_and_coach
    share(ann, "coach@example.org", "training", show_flags=True)
    view(coach, ann_id)
    assert coach.get("/api/activities").json()["activities"]  # training is shared
    assert coach.get("/pain").status_code == 403
    assert coach.get("/api/pain").status_code == 403
    assert coach.get("/triage").status_code == 403
    dashboard = coach.get("/").text
    assert "(training only)" in soup(coach.get("/")).select_one("p.banner").get_text()
    assert "sharp when climbing stairs" not in dashboard and "Groin / front of hip" not in dashboard
    assert "has not shared their pain diary" in dashboard
    warnings = _warnings(coach)
    assert "pain_rising" not in warnings
    # the plain flags the athlete allowed: no region, score or result
    assert set(warnings) >= {"pain_over_limits", "urgent_hip_check"}
    flat = str(coach.get("/api/dashboard").json())
    assert "Groin" not in flat and "8/10" not in flat and "Secret condition" not in flat
    assert coach.get("/api/dashboard").json()["pain_trends"] == []
    activity_id = coach.get("/api/activities").json()["activities"][0]["id"]
    assert "has not shared their pain diary" in coach.get(f"/activities/{activity_id}").text


def test_training_only_without_flags_shows_no_pain_or_hip_flag(ann_and_coach):
    ann, coach, ann_id = ann_and_coach
    share(ann, "coach@example.org", "training", show_flags=False)
    view(coach, ann_id)
    warnings = _warnings(coach)
    assert not {"pain_rising", "pain_over_limits", "urgent_hip_check"} & set(warnings)
    hold = coach.get("/api/dashboard").json()["longest_safe_run"]["hold_back"]
    # the figure stays held back (a safety signal), without the reason
    assert hold is not None and "hip check" not in hold["message"] and hold["date"] is None


def test_training_and_pain_shows_the_diary_but_only_a_plain_hip_flag(ann_and_coach):
    ann, coach, ann_id = ann_and_coach
    share(ann, "coach@example.org", "training_pain")
    view(coach, ann_id)
    assert coach.get("/pain").status_code == 200
    assert [e["score"] for e in coach.get("/api/pain").json()] == [8]
    assert coach.get("/triage").status_code == 403
    warnings = _warnings(coach)
    assert "pain_rising" in warnings and "urgent_hip_check" in warnings
    assert "Secret condition" not in str(coach.get("/api/dashboard").json())


def test_everything_shows_hip_checks_in_detail(ann_and_coach, session):
    ann, coach, ann_id = ann_and_coach
    share(ann, "coach@example.org", "everything")
    view(coach, ann_id)
    assert coach.get("/pain").status_code == 200
    assert coach.get("/triage").status_code == 200
    warnings = _warnings(coach)
    assert "urgent_hip_check" not in warnings  # the real hold-back reason is shown instead
    assert "hip check" in coach.get("/api/dashboard").json()["longest_safe_run"]["hold_back"]["message"]


def test_the_athlete_sees_who_sees_what_changes_it_and_revokes_at_once(ann_and_coach, session):
    ann, coach, ann_id = ann_and_coach
    share(ann, "coach@example.org", "everything")
    page = soup(ann.get("/account/sharing"))
    item = page.select_one("li.share")
    assert "coach@example.org" in item.get_text() and "Everything" in item.get_text()
    assert ann.get("/api/sharing").json()[0]["level"] == "everything"
    share_id = ann.get("/api/sharing").json()[0]["id"]
    view(coach, ann_id)
    assert coach.get("/triage").status_code == 200
    # narrowed: the very next request is refused
    ann.post(
        f"/account/sharing/{share_id}",
        data={"csrf_token": csrf(ann, "/account/sharing"), "level": "training"},
    )
    assert coach.get("/triage").status_code == 403
    assert coach.get("/pain").status_code == 403
    # revoked: the coach is back on their own log and cannot open Ann's
    ann.post(f"/account/sharing/{share_id}/revoke", data={"csrf_token": csrf(ann, "/account/sharing")})
    assert coach.get("/api/activities").json()["activities"] == []
    assert coach.get(f"/coach/athletes/{ann_id}", follow_redirects=False).status_code == 404
    assert session.query(ShareRow).count() == 0
    user_id = session.query(UserRow).filter_by(email="ann@example.org").one().id
    actions = [e.action for e in audit.list_audit(session, user_id)]
    assert actions == ["share_revoked", "share_changed", "share_added", "login"]


def test_another_users_share_cannot_be_changed_or_revoked(ann_and_coach, app, session):
    ann, _coach, _ann_id = ann_and_coach
    share(ann, "coach@example.org", "training")
    share_id = ann.get("/api/sharing").json()[0]["id"]
    eve = register(app, "eve@example.org")
    token = csrf(eve, "/account/sharing")
    assert eve.post(f"/account/sharing/{share_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert (
        eve.post(
            f"/account/sharing/{share_id}", data={"csrf_token": token, "level": "everything"}
        ).status_code
        == 404
    )
    session.expire_all()
    assert session.get(ShareRow, share_id).level == "training"


def test_sharing_with_an_unknown_address_answers_as_for_a_known_one(ann_and_coach, session):
    ann, _, _ = ann_and_coach
    known = ann.post(
        "/account/sharing",
        data={"csrf_token": csrf(ann, "/account/sharing"), "email": "coach@example.org", "level": "training"},
    )
    unknown = ann.post(
        "/account/sharing",
        data={
            "csrf_token": csrf(ann, "/account/sharing"),
            "email": "nobody@example.org",
            "level": "training",
        },
    )
    assert known.status_code == unknown.status_code == 200
    assert soup(known).select_one("p.ok").get_text() == soup(unknown).select_one("p.ok").get_text()
    assert session.query(ShareRow).count() == 1


def test_shares_from_before_levels_keep_everything(session, athlete_id):
    """Migration 0012: a share row without a level (made before it) reads as everything."""
    user = UserRow(email="c@example.org", password_hash="x")
    session.add(user)
    session.flush()
    # as a row from before the migration: no level named, the database's default applies
    session.execute(
        sa.text("INSERT INTO shares (athlete_id, user_id, created_at) VALUES (:a, :u, CURRENT_TIMESTAMP)"),
        {"a": athlete_id, "u": user.id},
    )
    session.commit()
    (access,) = [a for _, _, a in sharing.shared_with(session, user.id)]
    assert access.level == "everything" and access.triage


def test_a_coach_sees_training_in_a_run_link(ann_and_coach, session):
    ann, coach, ann_id = ann_and_coach
    run = add_run(session, ann_id, today(), 5.0, "Shakeout")
    share(ann, "coach@example.org", "training")
    view(coach, ann_id)
    assert coach.get(f"/api/activities/{run}").json()["name"] == "Shakeout"


def test_a_share_made_without_a_level_gets_the_least(ann_and_coach, session):
    """The older /account share form names no level: the coach gets training only, not everything."""
    ann, coach, ann_id = ann_and_coach
    response = ann.post(
        "/account/shares", data={"csrf_token": csrf(ann, "/account"), "email": "coach@example.org"}
    )
    assert response.status_code == 200
    view(coach, ann_id)
    assert coach.get("/api/activities").status_code == 200
    assert coach.get("/pain").status_code == 403
    assert ann.get("/api/sharing").json()[0]["level"] == "training"


@pytest.mark.parametrize(
    ("level", "pain_link", "checks_link"),
    [("training", False, False), ("training_pain", True, False), ("everything", True, True)],
)
def test_a_coachs_navigation_offers_only_the_pages_the_share_opens(
    ann_and_coach, level, pain_link, checks_link
):
    ann, coach, ann_id = ann_and_coach
    share(ann, "coach@example.org", level)
    view(coach, ann_id)
    links = {a["href"]: a for a in soup(coach.get("/")).select('nav[aria-label="Main"] a')}
    assert ("/pain" in links) is pain_link
    assert ("/triage" in links) is checks_link
    assert "/import" not in links and "/routines" not in links  # read-only: nothing to change
    for href in links:  # every link offered opens
        assert coach.get(href).status_code == 200, href
