"""Every logged-in page reads its user, athlete and unit in one query (`auth.session_view`, issue 13). It
must never let through a session the long way (`auth.session_user`) refuses, and never skip the writes the
long way makes: each state below is checked against the long way on the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from strideguard.storage import auth
from strideguard.storage import settings as settings_store
from strideguard.storage.tables import AthleteRow, AuthSessionRow, UserRow

pytestmark = pytest.mark.db

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _user(session, email: str = "ana@example.org") -> tuple[int, str]:
    user = auth.create_user(session, email, "x" * 60, name="Ana")
    session.commit()
    token = auth.create_session(session, user.id, NOW - timedelta(minutes=10))
    session.commit()
    # As if the last request was 30 s ago: no last_seen_at write due.
    session.execute(sa.update(AuthSessionRow).values(last_seen_at=NOW - timedelta(seconds=30)))
    session.commit()
    return user.id, token


def test_a_live_session_gives_the_user_their_athlete_version_and_unit(session):
    user_id, token = _user(session)
    athlete = session.scalar(sa.select(AthleteRow).where(AthleteRow.user_id == user_id))
    settings_store.set_distance_unit(session, athlete.id, "mi")
    session.commit()
    version = session.scalar(sa.select(AthleteRow.data_version).where(AthleteRow.id == athlete.id))
    view = auth.session_view(session, token, NOW)
    assert view == auth.SessionView(user_id, "ana@example.org", athlete.id, "Ana", version, "mi")
    assert auth.session_user(session, token, NOW).id == user_id  # the long way agrees


@pytest.mark.parametrize(
    "state",
    ["unknown token", "expired", "idle too long", "touch due", "disabled", "no athlete", "overlong token"],
)
def test_every_state_the_long_way_handles_is_left_to_it(session, state):
    user_id, token = _user(session)
    seen = NOW - timedelta(seconds=30)
    if state == "unknown token":
        token = "not-a-session"
    elif state == "overlong token":
        token = "x" * 201
    elif state == "expired":
        session.execute(sa.update(AuthSessionRow).values(expires_at=NOW - timedelta(seconds=1)))
    elif state == "idle too long":
        seen = NOW - auth.SESSION_IDLE
    elif state == "touch due":
        seen = NOW - auth.TOUCH_EVERY
    elif state == "disabled":
        session.execute(sa.update(UserRow).values(disabled=True))
    elif state == "no athlete":
        session.execute(sa.delete(AthleteRow).where(AthleteRow.user_id == user_id))
    session.execute(sa.update(AuthSessionRow).values(last_seen_at=seen))
    session.commit()
    assert auth.session_view(session, token, NOW) is None
    long_way = auth.session_user(session, token, NOW)
    if state in {"touch due", "no athlete"}:  # live: the long way moves last_seen_at on, or repairs
        assert long_way is not None and long_way.id == user_id
        last_seen = session.scalar(sa.select(AuthSessionRow.last_seen_at))
        assert last_seen == (NOW if state == "touch due" else seen)
    else:
        assert long_way is None


def test_it_says_whether_anyone_shares_with_the_user_as_the_share_list_does(session):
    """Pages skip the share list when the session view says nobody shares with the user: the flag must
    follow shares given and revoked at once, as the list itself does."""
    from strideguard.storage import sharing

    coach_id, token = _user(session, "coach@example.org")
    runner = auth.create_user(session, "runner@example.org", "x" * 60, name="Runner")
    session.commit()
    runner_athlete = session.scalar(sa.select(AthleteRow.id).where(AthleteRow.user_id == runner.id))

    def agrees() -> bool:
        view = auth.session_view(session, token, NOW)
        assert view is not None
        assert view.has_shares == bool(sharing.shared_with(session, coach_id))
        return view.has_shares

    assert agrees() is False
    sharing.add_share(session, runner_athlete, coach_id, "training", False)
    session.commit()
    assert agrees() is True
    share = sharing.shares_of_athlete(session, runner_athlete)[0]
    sharing.revoke(session, runner_athlete, share.id)
    session.commit()
    assert agrees() is False
