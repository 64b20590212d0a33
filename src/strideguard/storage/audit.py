"""The account's audit log: logins, shares, exports and deletions, shown to the account (web /account/audit).

`record_audit` adds a row in the caller's transaction (the caller commits with the change it records, so a
refused or rolled-back change leaves no entry). Details are short plain text, never a password or token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strideguard.storage.tables import AuditRow

ACTIONS = {
    "login": "Logged in",
    "logout": "Logged out",
    "password_changed": "Password changed",
    "share_added": "Shared your log",
    "share_changed": "Changed what a share shows",
    "share_revoked": "Stopped sharing",
    "export": "Exported your data",
    "import": "Imported an export",
    "account_deleted": "Account deleted",
}
DETAIL_MAX = 500


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    action: str
    label: str
    detail: str


def record_audit(session: Session, user_id: int | None, action: str, detail: str = "") -> None:
    """Add one entry for `user_id` (None: local mode, no account). Unknown actions are kept as given."""
    session.add(AuditRow(user_id=user_id, action=action[:40], detail=(detail or "")[:DETAIL_MAX] or None))
    session.flush()


def list_audit(session: Session, user_id: int | None, limit: int = 200) -> list[AuditEntry]:
    """The newest `limit` entries of this account, newest first."""
    where = AuditRow.user_id.is_(None) if user_id is None else AuditRow.user_id == user_id
    rows = session.execute(
        sa.select(AuditRow.at, AuditRow.action, AuditRow.detail)
        .where(where)
        .order_by(AuditRow.at.desc(), AuditRow.id.desc())
        .limit(limit)
    ).all()
    return [AuditEntry(at, action, ACTIONS.get(action, action), detail or "") for at, action, detail in rows]
