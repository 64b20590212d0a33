"""Accounts in the database: server-side sessions, login throttles, invite links, deleting an account.

Every token (session cookie, invite link) is random and only its SHA-256 is stored, so a copy of the
database opens no session. Throttles live here, not in memory, so they hold across `serve --workers N`
processes and restarts. Times come from the caller (`now`), which keeps the rules testable without a clock.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.orm import Session

from strideguard.storage.engine import plain_rows
from strideguard.storage.tables import (
    AthleteRow,
    AthleteSettingsRow,
    AuthSessionRow,
    InviteRow,
    LoginThrottleRow,
    ShareRow,
    UserRow,
)

# A session ends after this long without a request, and in any case this long after the login.
SESSION_IDLE = timedelta(days=14)
SESSION_MAX = timedelta(days=30)
# Writing last_seen_at on every request would make every page a write; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)
INVITE_VALID = timedelta(days=7)
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MIN_PASSWORD = 10


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- sessions -----------------------------------------------------------------------------------------------


def create_session(session: Session, user_id: int, now: datetime, max_age: timedelta = SESSION_MAX) -> str:
    """A new login for `user_id`: returns the random id for the cookie (the caller commits). Sessions that
    have ended, anyone's, are deleted on the way (a login is rare enough to pay for it)."""
    session.execute(
        sa.delete(AuthSessionRow).where(
            sa.or_(AuthSessionRow.expires_at <= now, AuthSessionRow.last_seen_at <= now - SESSION_IDLE)
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSessionRow(
            token_sha256=digest(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + max_age,
        )
    )
    return token


def session_user(
    session: Session, token: str | None, now: datetime, idle: timedelta = SESSION_IDLE
) -> UserRow | None:
    """The enabled user of a live session `token`, else None. An expired session row is deleted; a live one
    has its last_seen_at moved on (committed here, at most once a minute)."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(sa.select(AuthSessionRow).where(AuthSessionRow.token_sha256 == digest(token)))
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        session.delete(row)
        session.commit()
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or user.disabled:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return user


@dataclass(frozen=True, slots=True)
class SessionView:
    """What every page of a logged-in user needs: the user, their own athlete and its chosen unit."""

    user_id: int
    email: str
    athlete_id: int
    athlete_name: str
    data_version: int
    unit: str | None
    has_shares: bool = False  # someone shares their log with this user (then the page reads who)


# Built once: every logged-in page runs it. Whether anyone shares with the user rides along, so the many
# users with no shares are spared a second query on every page.
_SESSION_VIEW = (
    sa.select(
        AuthSessionRow.expires_at,
        AuthSessionRow.last_seen_at,
        UserRow.id,
        UserRow.email,
        UserRow.disabled,
        AthleteRow.id,
        AthleteRow.name,
        AthleteRow.data_version,
        AthleteSettingsRow.distance_unit,
        sa.exists().where(ShareRow.user_id == UserRow.id).label("has_shares"),
    )
    .join(UserRow, UserRow.id == AuthSessionRow.user_id)
    .outerjoin(AthleteRow, AthleteRow.user_id == UserRow.id)
    .outerjoin(AthleteSettingsRow, AthleteSettingsRow.athlete_id == AthleteRow.id)
    .where(AuthSessionRow.token_sha256 == sa.bindparam("token"))
    .order_by(AthleteRow.id)
    .limit(1)
)


def session_view(
    session: Session, token: str | None, now: datetime, idle: timedelta = SESSION_IDLE
) -> SessionView | None:
    """`session_user`, the user's own athlete and its stored unit in one query, for a live session that
    needs no write; None otherwise (no such session, expired, disabled, no athlete, or its last_seen_at is
    due), and the caller then takes the long way, `session_user`, which does the writes."""
    if not token or len(token) > 200:
        return None
    row = plain_rows(session, _SESSION_VIEW, {"token": digest(token)}).first()
    if row is None:
        return None
    expires, seen, user_id, email, disabled, athlete_id, name, version, unit, has_shares = row
    if expires <= now or seen + idle <= now or now - seen >= TOUCH_EVERY or disabled or athlete_id is None:
        return None
    return SessionView(user_id, email, athlete_id, name, int(version or 0), unit, bool(has_shares))


def revoke_session(session: Session, token: str | None) -> int | None:
    """Log out one browser (the caller commits); the user it belonged to, if it was live."""
    if not token:
        return None
    user_id = session.scalar(
        sa.select(AuthSessionRow.user_id).where(AuthSessionRow.token_sha256 == digest(token))
    )
    session.execute(sa.delete(AuthSessionRow).where(AuthSessionRow.token_sha256 == digest(token)))
    return user_id


def revoke_user_sessions(session: Session, user_id: int, keep_token: str | None = None) -> int:
    """Log out every browser of `user_id` (but the one holding `keep_token`); how many (caller commits)."""
    statement = sa.delete(AuthSessionRow).where(AuthSessionRow.user_id == user_id)
    if keep_token:
        statement = statement.where(AuthSessionRow.token_sha256 != digest(keep_token))
    return session.execute(statement).rowcount or 0


def live_sessions(session: Session, user_id: int, now: datetime) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(AuthSessionRow)
            .where(AuthSessionRow.user_id == user_id, AuthSessionRow.expires_at > now)
        )
        or 0
    )


# --- login throttling ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """After `free` failures each further one makes the next attempt wait (1 s, 2 s, 4 s ... up to
    `max_delay`); `lock_after` failures lock the key for `lock`. Failures older than `forget` start over."""

    free: int
    lock_after: int
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=60)
    lock: timedelta = timedelta(minutes=15)
    forget: timedelta = timedelta(hours=24)

    def blocked_until(self, failures: int, now: datetime) -> datetime | None:
        if failures >= self.lock_after:
            return now + self.lock
        if failures > self.free:
            return now + min(self.base_delay * 2 ** (failures - self.free - 1), self.max_delay)
        return None


# One account: a person mistyping gets 3 free tries; a guesser is locked after 10.
ACCOUNT_POLICY = ThrottlePolicy(free=3, lock_after=10)
# One address: a club behind one NAT address shares it, so it allows more before it slows down.
ADDRESS_POLICY = ThrottlePolicy(free=10, lock_after=50)


# Registrations from one address (each costs a password hash): a club night signing up its members on the
# club's wifi gets 30 an hour before it slows down; a script creating accounts or burning CPU locks at 100.
REGISTRATION_POLICY = ThrottlePolicy(free=30, lock_after=100, forget=timedelta(hours=1))


def registration_key(address: str | None) -> str:
    return "register:" + (address or "unknown")[:60]


def account_key(email: str) -> str:
    return "account:" + email.strip().lower()[:320]


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:60]


@dataclass(frozen=True, slots=True)
class Block:
    """Why a login may not be tried now: until when, and whether it is the lock (not just a delay)."""

    until: datetime
    locked: bool

    def seconds(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 0.999))


def login_block(session: Session, keys: list[tuple[str, ThrottlePolicy]], now: datetime) -> Block | None:
    """The longest block on any of `keys` at `now`, or None when a login may be tried."""
    rows = session.execute(
        sa.select(LoginThrottleRow.key, LoginThrottleRow.failures, LoginThrottleRow.blocked_until).where(
            LoginThrottleRow.key.in_([key for key, _ in keys])
        )
    ).all()
    policies = dict(keys)
    blocks = [
        Block(until, failures >= policies[key].lock_after)
        for key, failures, until in rows
        if until is not None and until > now
    ]
    return max(blocks, key=lambda b: b.until) if blocks else None


def record_failure(session: Session, key: str, policy: ThrottlePolicy, now: datetime) -> LoginThrottleRow:
    """Count one failed login for `key` and set its block; committed here, so a concurrent request and
    the other server processes see it at once."""
    forget_before = now - policy.forget
    counted = sa.case(
        (LoginThrottleRow.last_failure_at < forget_before, 1), else_=LoginThrottleRow.failures + 1
    )
    for _attempt in range(2):
        # One atomic UPDATE: two processes failing at once both count.
        updated = session.execute(
            sa.update(LoginThrottleRow)
            .where(LoginThrottleRow.key == key)
            .values(failures=counted, last_failure_at=now)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount:
            break
        try:
            with session.begin_nested():
                session.add(LoginThrottleRow(key=key, failures=1, last_failure_at=now))
            break
        except sqlalchemy.exc.IntegrityError:  # another process inserted it first: count on its row
            continue
    row = session.get(LoginThrottleRow, key, populate_existing=True)
    assert row is not None
    row.blocked_until = policy.blocked_until(row.failures, now)
    # Counters nobody added to for a day are forgotten anyway: delete them, so the table stays small.
    session.execute(
        sa.delete(LoginThrottleRow).where(
            LoginThrottleRow.last_failure_at < now - policy.forget,
            sa.or_(LoginThrottleRow.blocked_until.is_(None), LoginThrottleRow.blocked_until < now),
        )
    )
    session.commit()
    return row


def clear_failures(session: Session, key: str) -> None:
    """A successful login (or a password reset) forgives the account's failures (the caller commits)."""
    session.execute(sa.delete(LoginThrottleRow).where(LoginThrottleRow.key == key))


# --- invites ------------------------------------------------------------------------------------------------


def create_invite(
    session: Session, created_by: int | None, now: datetime, valid: timedelta = INVITE_VALID
) -> str:
    """A single-use registration token (the caller commits and builds the link)."""
    token = secrets.token_urlsafe(24)
    session.add(
        InviteRow(token_sha256=digest(token), created_by=created_by, created_at=now, expires_at=now + valid)
    )
    return token


def invite_usable(session: Session, token: str | None, now: datetime) -> bool:
    if not token or len(token) > 200:
        return False
    return (
        session.scalar(
            sa.select(InviteRow.id).where(
                InviteRow.token_sha256 == digest(token),
                InviteRow.used_at.is_(None),
                InviteRow.expires_at > now,
            )
        )
        is not None
    )


def use_invite(session: Session, token: str | None, now: datetime) -> bool:
    """Spend the invite (one atomic UPDATE, so two registrations racing on one link cannot both win)."""
    if not token or len(token) > 200:
        return False
    spent = session.execute(
        sa.update(InviteRow)
        .where(
            InviteRow.token_sha256 == digest(token), InviteRow.used_at.is_(None), InviteRow.expires_at > now
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1


# --- deleting an account ------------------------------------------------------------------------------------


def find_user(session: Session, email: str) -> UserRow | None:
    return session.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))


def create_user(
    session: Session,
    email: str,
    password_hash: str,
    name: str = "",
    is_admin: bool = False,
    is_coach: bool = False,
) -> UserRow:
    """A new account and its athlete (the caller has checked the address is free; the caller commits)."""
    email = email.strip().lower()
    user = UserRow(email=email, password_hash=password_hash, is_admin=is_admin, is_coach=is_coach)
    session.add(user)
    session.flush()
    session.add(AthleteRow(name=name.strip()[:200] or email.split("@")[0], user_id=user.id))
    return user
