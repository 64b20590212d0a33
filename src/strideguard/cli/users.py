"""`strideguard users`: accounts of a club server (`serve --accounts`), for its admin at the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from strideguard.cli.common import AppContext, console, pass_app


@contextmanager
def _session(app: AppContext) -> Iterator[Session]:
    from strideguard.storage import engine as db

    with db.session_factory(app.engine)() as session:
        yield session


def _user(session: Session, email: str):  # type: ignore[no-untyped-def]
    from strideguard.storage import auth as store

    user = store.find_user(session, email)
    if user is None:
        raise click.ClickException(f"no account with the email {email.strip().lower()!r}")
    return user


def _new_password(from_stdin: bool) -> str:
    """A new password: one line of standard input (scripts), or typed twice at a hidden prompt."""
    from strideguard.storage.auth import MIN_PASSWORD

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD} characters")
    return password


PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from one line of standard input (for scripts)."
)


@click.group("users")
def users_group() -> None:
    """Accounts of a club server: list, add, disable or enable, reset a password, delete.

    \b
    Example:
      strideguard users list
      strideguard users add coach@club.example --coach
      strideguard users reset-password ann@club.example
      strideguard users delete ann@club.example
    """


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_users(app: AppContext, as_json: bool) -> None:
    """Every account: email, role, whether it is disabled, when it was created, its open sessions.

    \b
    Example:
      strideguard users list
      strideguard users list --json
    """
    import sqlalchemy as sa

    from strideguard.storage import auth as store
    from strideguard.storage.tables import UserRow, utcnow

    with _session(app) as session:
        users = session.scalars(sa.select(UserRow).order_by(UserRow.email)).all()
        rows = [
            {
                "email": u.email,
                "role": "admin" if u.is_admin else ("coach" if u.is_coach else "runner"),
                "disabled": u.disabled,
                "created": u.created_at.date().isoformat(),
                "sessions": store.live_sessions(session, u.id, utcnow()),
            }
            for u in users
        ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        console.print("No accounts yet. Add one with: strideguard users add EMAIL --admin")
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        console.print(
            f"{row['email']}  {row['role']}  {state}  created {row['created']}  "
            f"{row['sessions']} session{'' if row['sessions'] == 1 else 's'}",
            highlight=False,
        )


@users_group.command("add")
@click.argument("email")
@click.option("--name", default="", help="The athlete's name shown to people they share with.")
@click.option("--admin", is_flag=True, help="An admin: may create invite links.")
@click.option("--coach", is_flag=True, help="A coach: may create invite links for their athletes.")
@PASSWORD_STDIN
@pass_app
def add_user(app: AppContext, email: str, name: str, admin: bool, coach: bool, password_stdin: bool) -> None:
    """Create an account (with any registration policy, also `closed`); the password is asked twice.

    \b
    Example:
      strideguard users add admin@club.example --admin
      strideguard users add coach@club.example --coach --name "Sam Coach"
      echo 'a long password' | strideguard users add ann@club.example --password-stdin
    """
    from strideguard.storage import auth as store
    from strideguard.web import security

    email = email.strip().lower()
    if not store.EMAIL.match(email):
        raise click.ClickException(f"{email!r} is not an email address like runner@example.org")
    with _session(app) as session:
        if store.find_user(session, email) is not None:
            raise click.ClickException(f"there is already an account with the email {email!r}")
        password = _new_password(password_stdin)
        store.create_user(
            session, email, security.hash_password(password), name, is_admin=admin, is_coach=coach
        )
        session.commit()
    role = "admin" if admin else ("coach" if coach else "runner")
    console.print(f"Added {email} ({role}).", highlight=False)


def _set_disabled(app: AppContext, email: str, disabled: bool) -> None:
    from strideguard.storage import auth as store

    with _session(app) as session:
        user = _user(session, email)
        user.disabled = disabled
        ended = store.revoke_user_sessions(session, user.id) if disabled else 0
        session.commit()
        shown = user.email
    if disabled:
        console.print(
            f"Disabled {shown}: it cannot log in; {ended} session{'' if ended == 1 else 's'} ended.",
            highlight=False,
        )
    else:
        console.print(f"Enabled {shown}: it can log in again.", highlight=False)


@users_group.command("disable")
@click.argument("email")
@pass_app
def disable_user(app: AppContext, email: str) -> None:
    """Stop an account from logging in and end its sessions now (its data stays).

    \b
    Example:
      strideguard users disable ann@club.example
    """
    _set_disabled(app, email, True)


@users_group.command("enable")
@click.argument("email")
@pass_app
def enable_user(app: AppContext, email: str) -> None:
    """Let a disabled account log in again.

    \b
    Example:
      strideguard users enable ann@club.example
    """
    _set_disabled(app, email, False)


@users_group.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["runner", "coach", "admin"]))
@pass_app
def set_role(app: AppContext, email: str, role: str) -> None:
    """Make an account a runner, a coach or an admin (coaches and admins may create invite links).

    \b
    Example:
      strideguard users role sam@club.example coach
    """
    with _session(app) as session:
        user = _user(session, email)
        user.is_admin, user.is_coach = role == "admin", role == "coach"
        session.commit()
        shown = user.email
    article = "an" if role == "admin" else "a"
    console.print(f"{shown} is now {article} {role}.", highlight=False)


@users_group.command("reset-password")
@click.argument("email")
@PASSWORD_STDIN
@pass_app
def reset_password(app: AppContext, email: str, password_stdin: bool) -> None:
    """Set a new password for an account; its sessions end and its failed-login lock is lifted.

    \b
    Example:
      strideguard users reset-password ann@club.example
    """
    from strideguard.storage import auth as store
    from strideguard.web import security

    with _session(app) as session:
        user = _user(session, email)
        password = _new_password(password_stdin)
        user.password_hash = security.hash_password(password)
        store.revoke_user_sessions(session, user.id)
        store.clear_failures(session, store.account_key(user.email))
        session.commit()
        shown = user.email
    console.print(f"New password set for {shown}; every session of it was logged out.", highlight=False)


@users_group.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def delete_user(app: AppContext, email: str, yes: bool) -> None:
    """Delete an account and all of its data: activities, shoes, pain diary, hip checks, settings, shares,
    sessions and uploaded files. Other accounts are untouched. This cannot be undone.

    \b
    Example:
      strideguard users delete ann@club.example
      strideguard users delete ann@club.example --yes
    """
    from strideguard.storage.accounts_delete import delete_account
    from strideguard.storage.audit import record_audit

    with _session(app) as session:
        user = _user(session, email)
        shown, user_id = user.email, user.id
        if not yes:
            click.confirm(f"Delete {shown} and all of its data? This cannot be undone", abort=True)
        delete_account(session, user_id)
        record_audit(session, None, "account_deleted", f"account #{user_id}, by an admin")
        session.commit()
    console.print(f"Deleted {shown} and all of its data.", highlight=False)


@users_group.command("invite")
@click.option(
    "--base-url", default="", help="The server's address, to print a whole link (e.g. https://club.example)."
)
@pass_app
def invite_user(app: AppContext, base_url: str) -> None:
    """Create a single-use registration link, valid 7 days (registration policy `invite`).

    \b
    Example:
      strideguard users invite --base-url https://club.example
    """
    from strideguard.storage import auth as store
    from strideguard.storage.tables import utcnow

    with _session(app) as session:
        token = store.create_invite(session, None, utcnow())
        session.commit()
    click.echo(f"{base_url.rstrip('/')}/register?invite={token}")


def register(group: click.Group) -> None:
    group.add_command(users_group)
